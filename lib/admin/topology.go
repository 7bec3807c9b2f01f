package admin

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
)

// Net is what the checks of the clouds need to know of the pool's network.
type Net struct {
	// Pool holds pool.central_manager and pool.ha_peer, what workers are
	// told where their cloud and region give none.
	Pool config.Pool
	// CMNetwork is the central manager's PRIVATE_NETWORK_NAME
	// (install-master.sh --private-network; default <pool>-cm).
	CMNetwork string
	// MasterGroup, when set, is the central manager's own security group,
	// in cloud Master (region MasterRegion; default its first): it must let
	// 9618/TCP in from wherever workers come from.
	MasterGroup, MasterRegion string
	Master                    *cloud.Config
}

// DefaultCMNetwork is the central manager's PRIVATE_NETWORK_NAME when
// install-master.sh is not told one.
func DefaultCMNetwork(pool string) string { return pool + "-cm" }

// Topology is how one cloud region's workers and the central manager reach
// each other, as ehos.yaml and ehos's worker config (the broker on) set it.
type Topology struct {
	CentralManager string // the address the workers are told
	// Peer is the other central manager of an HA pair as the workers are
	// told it, host[:port]; "" without one.
	Peer           string
	PrivateNetwork string // the workers' PRIVATE_NETWORK_NAME
	CMNetwork      string // the central manager's
}

// TopologyOf is the topology of cloud c's workers in region, the central
// managers resolved as the templates resolve them.
func TopologyOf(n Net, c cloud.Config, region string) Topology {
	rc := c.InRegion(region)
	cm, peer := n.Pool.CentralManagersAt(rc)
	return Topology{CentralManager: cm, Peer: peer, PrivateNetwork: rc.PrivateNetwork, CMNetwork: n.CMNetwork}
}

// Direct says the schedd connects to these workers directly (they share
// the central manager's private network name); otherwise through the
// collector as their broker (CCB).
func (t Topology) Direct() bool { return t.PrivateNetwork == t.CMNetwork }

func (t Topology) String() string {
	at := t.CentralManager
	if t.Peer != "" {
		at += " (and its HA peer " + t.Peer + ")"
	}
	if t.Direct() {
		return fmt.Sprintf("direct: workers share the central manager's network %s, join it at %s and are claimed directly (the central manager connects to their 9618/tcp)", t.CMNetwork, at)
	}
	return fmt.Sprintf("brokered: workers on network %s join the collector at %s and are claimed through it (CCB): they need no inbound port", t.PrivateNetwork, at)
}

// neededPorts is what the workers' security groups must let in.
func neededPorts(t Topology) []Port {
	if t.Direct() {
		return []Port{{"tcp", 9618, true}}
	}
	return nil
}

// sshPort is the admins' optional way in.
var sshPort = Port{"tcp", 22, false}

// addressFindings checks the address the workers are told against where
// they sit.
func addressFindings(where string, t Topology) Findings {
	var fs Findings
	switch misplaced(t.CentralManager, t) {
	case "private":
		fs.add(Warn, where, fmt.Sprintf("topology %s; but %s is a private address and these workers are not on the central manager's network %s: they reach it only where a route joins the two networks",
			t, t.CentralManager, t.CMNetwork),
			fmt.Sprintf("give clouds[].central_manager (region_overrides.REGION.central_manager) the central manager's floating IP or DNS name, and install-master.sh --public-address that address; "+
				"if these workers do share its network, set clouds[].private_network to %s", t.CMNetwork))
	case "public":
		fs.add(Warn, where, fmt.Sprintf("topology %s; but %s is not a private address: workers on the central manager's own network reach its floating address only where the router sends it back (hairpin NAT)", t, t.CentralManager),
			"give clouds[].central_manager (region_overrides.REGION.central_manager) the central manager's private address")
	default:
		fs.ok(where, "topology %s", t)
	}
	return append(fs, peerAddressFindings(where, t)...)
}

// misplaced says how an address the workers are told (a host, no port)
// does not suit topology t: "private" for brokered workers off the central
// manager's network, "public" for direct ones on it; "" when it suits or
// is a name.
func misplaced(addr string, t Topology) string {
	ip := net.ParseIP(addr)
	switch {
	case ip == nil:
		return ""
	case !t.Direct() && ip.IsPrivate():
		return "private"
	case t.Direct() && !ip.IsPrivate() && !ip.IsLoopback():
		return "public"
	}
	return ""
}

// peerAddressFindings checks the HA peer's address as addressFindings
// checks the central manager's: workers that cannot reach it report to
// one collector of the pair only, and are lost when that one goes down.
func peerAddressFindings(where string, t Topology) Findings {
	var fs Findings
	if t.Peer == "" {
		return fs
	}
	host, _, err := config.SplitPeer(t.Peer)
	if err != nil {
		return fs // config validation names it
	}
	switch misplaced(host, t) {
	case "private":
		fs.add(Warn, where, fmt.Sprintf("HA peer %s is a private address and these workers on network %s are not on the central manager's network %s: they reach it only where a route joins the two networks, else they report to one central manager of the pair and leave the pool when it goes down",
			host, t.PrivateNetwork, t.CMNetwork),
			fmt.Sprintf("give clouds[].ha_peer (region_overrides.REGION.ha_peer) the other central manager's floating IP or DNS name, and install-master.sh --public-address that address on it; "+
				"if these workers do share its network, set clouds[].private_network to %s", t.CMNetwork))
	case "public":
		fs.add(Warn, where, fmt.Sprintf("HA peer %s is not a private address: workers on the central manager's own network %s reach its floating address only where the router sends it back (hairpin NAT)", host, t.CMNetwork),
			"give clouds[].ha_peer (region_overrides.REGION.ha_peer) the other central manager's private address")
	}
	return fs
}

// workerGroupFindings checks the rules of the workers' security groups
// (ids: their ids) for topology t: what it needs, and what it opens for
// nothing.
func workerGroupFindings(where string, groups []string, ids map[string]bool, t Topology, rules []cloud.SecurityRule) Findings {
	var fs Findings
	names := strings.Join(groups, ", ")
	for _, p := range neededPorts(t) {
		if allowed(p, ids, rules) {
			fs.ok(where, "security groups [%s] allow %s from the nodes", names, p)
		} else {
			fs.fail(where, fmt.Sprintf("`ehos clouds setup --cloud %s` adds it (or openstack security group rule create --ingress --protocol %s --dst-port %d --remote-ip CM-ADDRESS/32 GROUP)", cloudOf(where), p.Proto, p.Port),
				"security groups [%s]: no ingress rule allows %s from the central manager, which claims these workers directly", names, p)
		}
	}
	for _, p := range []Port{{"tcp", 9618, true}, {"udp", 9618, true}} {
		if slices.Contains(neededPorts(t), p) {
			continue
		}
		var from []string
		for _, r := range rules {
			if r.Allows(p.Proto, p.Port) {
				from = append(from, ruleSource(r))
			}
		}
		if len(from) == 0 {
			continue
		}
		why := "brokered workers need no inbound port"
		if p.Proto == "udp" {
			why = "HTCondor 23.9 and 25 send every update over TCP"
		}
		fs.add(Warn, where, fmt.Sprintf("security groups [%s] let %s in from %s for nothing: %s", names, p, strings.Join(from, ", "), why),
			fmt.Sprintf("remove the rule (openstack security group rule list --ingress --protocol %s GROUP; openstack security group rule delete ID)", p.Proto))
	}
	if allowed(sshPort, ids, rules) {
		fs.ok(where, "security groups [%s] allow %s from admins", names, sshPort)
	} else {
		fs.add(Warn, where, fmt.Sprintf("security groups [%s] let no %s in: admins cannot log in to a worker (optional)", names, sshPort),
			fmt.Sprintf("`ehos clouds setup --cloud %s --admin-cidr ADMIN-CIDR` adds it", cloudOf(where)))
	}
	return fs
}

// masterGroupFindings checks the central manager's security group: every
// worker opens its connections to the collector on 9618/TCP; workers behind
// a router come from the router's outside address, which a rule naming a
// security group does not match.
func masterGroupFindings(where, group string, rules []cloud.SecurityRule, behindRouter []string) Findings {
	var fs Findings
	var cidrs, groups []string
	for _, r := range rules {
		if !r.Allows("tcp", 9618) {
			continue
		}
		if r.RemoteGroupID != "" {
			groups = append(groups, ruleSource(r))
		} else {
			cidrs = append(cidrs, ruleSource(r))
		}
	}
	const create = "openstack security group rule create --ingress --protocol tcp --dst-port 9618 --remote-ip CIDR "
	switch {
	case len(cidrs) == 0 && len(groups) == 0:
		fs.fail(where, create+group+" for each network workers come from (their routers' outside addresses; 0.0.0.0/0 where those are not known)",
			"the central manager's security group %q lets no 9618/tcp in: no worker can join the collector", group)
	case len(cidrs) == 0 && len(behindRouter) > 0:
		fs.add(Warn, where, fmt.Sprintf("the central manager's security group %q lets 9618/tcp in only from %s; the workers of %s come through a router, from its outside address, which no group rule matches",
			group, strings.Join(groups, ", "), strings.Join(behindRouter, ", ")), create+group+" with each router's outside address")
	default:
		fs.ok(where, "the central manager's security group %q lets 9618/tcp in from %s", group, strings.Join(append(cidrs, groups...), ", "))
	}
	return fs
}

// allowed says some rule lets p in: from the nodes means the groups
// themselves or an address range; from admins, an address range.
func allowed(p Port, own map[string]bool, rules []cloud.SecurityRule) bool {
	for _, r := range rules {
		if !r.Allows(p.Proto, p.Port) {
			continue
		}
		if r.RemoteGroupID != "" && (!p.Nodes || !own[r.RemoteGroupID]) {
			continue
		}
		return true
	}
	return false
}

func ruleSource(r cloud.SecurityRule) string {
	switch {
	case r.RemoteGroupID != "":
		return "group " + r.RemoteGroupID
	case r.RemoteIPPrefix != "":
		return r.RemoteIPPrefix
	}
	return "anywhere"
}

func cloudOf(where string) string {
	c, _, _ := strings.Cut(where, "/")
	return c
}

// network is the pool's network as doctor finds it: the central manager's
// PRIVATE_NETWORK_NAME from its HTCondor configuration, else the default.
func (d Doctor) network(ctx context.Context, cfg *config.Config) Net {
	n := Net{Pool: cfg.Pool, CMNetwork: DefaultCMNetwork(cfg.Pool.Name)}
	if vals, err := d.Condor.ConfigVal(ctx, "PRIVATE_NETWORK_NAME"); err == nil && vals["PRIVATE_NETWORK_NAME"] != "" {
		n.CMNetwork = vals["PRIVATE_NETWORK_NAME"]
	}
	return n
}
