package admin

import (
	"strings"
	"testing"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
)

func TestAddressFollowsTheTopology(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Topology
		want string // the finding's start; a WARN names its problem
	}{
		{"brokered at a floating address", Topology{CentralManager: "203.0.113.10", PrivateNetwork: "alpha.RegionOne.private", CMNetwork: "demo-cm"}, "OK   alpha/RegionOne: topology brokered"},
		{"brokered at a DNS name", Topology{CentralManager: "cm.example.org", PrivateNetwork: "alpha.RegionOne.private", CMNetwork: "demo-cm"}, "OK   alpha/RegionOne: topology brokered"},
		{"brokered at a private address of another network", Topology{CentralManager: "10.0.0.10", PrivateNetwork: "alpha.RegionOne.private", CMNetwork: "demo-cm"},
			"WARN alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 10.0.0.10 and are claimed through it (CCB): they need no inbound port; but 10.0.0.10 is a private address and these workers are not on the central manager's network demo-cm"},
		{"direct at the private address", Topology{CentralManager: "10.0.0.10", PrivateNetwork: "demo-cm", CMNetwork: "demo-cm"}, "OK   alpha/RegionOne: topology direct"},
		{"direct at the floating address", Topology{CentralManager: "203.0.113.10", PrivateNetwork: "demo-cm", CMNetwork: "demo-cm"}, "WARN alpha/RegionOne: topology direct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := addressFindings("alpha/RegionOne", tc.t)
			if len(fs) != 1 || !strings.HasPrefix(fs[0].String(), tc.want) {
				t.Errorf("%v\nwant %q", fs, tc.want)
			}
		})
	}
}

func TestTopologyOfTakesTheRegionsAddress(t *testing.T) {
	c := cloud.Config{Name: "alpha", Network: "private", CentralManager: "203.0.113.10",
		RegionOverrides: map[string]cloud.RegionConfig{"RegionTwo": {CentralManager: "10.0.0.10", PrivateNetwork: "demo-cm"}}}
	n := Net{Pool: config.Pool{CentralManager: "cm.example.org"}, CMNetwork: "demo-cm"}
	if got := TopologyOf(n, c, "RegionOne"); got.Direct() || got.CentralManager != "203.0.113.10" || got.PrivateNetwork != "alpha.RegionOne.private" || got.Peer != "" {
		t.Errorf("RegionOne: %+v", got)
	}
	if got := TopologyOf(n, c, "RegionTwo"); !got.Direct() || got.CentralManager != "10.0.0.10" {
		t.Errorf("RegionTwo: %+v", got)
	}
	c.CentralManager = ""
	if got := TopologyOf(n, c, "RegionOne"); got.CentralManager != "cm.example.org" {
		t.Errorf("without a cloud address: %+v, want pool.central_manager", got)
	}
}

// The HA peer comes from the same place as the central manager: the
// region's override, else the cloud's, else the pool's.
func TestTopologyOfTakesThePeerOfTheRegion(t *testing.T) {
	n := Net{Pool: config.Pool{CentralManager: "cm1.example.org", HAPeer: "cm2.example.org"}, CMNetwork: "demo-cm"}
	c := cloud.Config{Name: "alpha", Network: "private", CentralManager: "203.0.113.10", HAPeer: "203.0.113.11",
		RegionOverrides: map[string]cloud.RegionConfig{
			"RegionTwo":   {CentralManager: "10.0.0.10", HAPeer: "10.0.0.11:9619", PrivateNetwork: "demo-cm"},
			"RegionThree": {PrivateNetwork: "site3"},
		}}
	for _, tc := range []struct {
		cloud        cloud.Config
		region       string
		cm, peer, at string // at: how the topology line names them
	}{
		{c, "RegionOne", "203.0.113.10", "203.0.113.11", "join the collector at 203.0.113.10 (and its HA peer 203.0.113.11) and are claimed through it"},
		{c, "RegionTwo", "10.0.0.10", "10.0.0.11:9619", "join it at 10.0.0.10 (and its HA peer 10.0.0.11:9619) and are claimed directly"},
		{c, "RegionThree", "203.0.113.10", "203.0.113.11", "join the collector at 203.0.113.10 (and its HA peer 203.0.113.11)"},
		{alpha(), "RegionOne", "cm1.example.org", "cm2.example.org", "join the collector at cm1.example.org (and its HA peer cm2.example.org)"},
	} {
		got := TopologyOf(n, tc.cloud, tc.region)
		if got.CentralManager != tc.cm || got.Peer != tc.peer || !strings.Contains(got.String(), tc.at) {
			t.Errorf("%s/%s: %+v\n%s\nwant %s and %s, %q", tc.cloud.Name, tc.region, got, got, tc.cm, tc.peer, tc.at)
		}
		// The templates tell the workers the same pair.
		cfg := config.Config{Pool: n.Pool, Clouds: []cloud.Config{tc.cloud}}
		if cm, peer := cfg.CentralManagers(tc.cloud.Name, tc.region); cm != got.CentralManager || peer != got.Peer {
			t.Errorf("%s/%s: the templates tell %s and %s, the topology %s and %s", tc.cloud.Name, tc.region, cm, peer, got.CentralManager, got.Peer)
		}
	}
}

// The peer's address is checked as the central manager's is; a pool
// without a peer reads as it always did.
func TestPeerAddressFollowsTheTopology(t *testing.T) {
	const brok, dir = "alpha.RegionOne.private", "demo-cm"
	top := func(cm, peer, private string) Topology {
		return Topology{CentralManager: cm, Peer: peer, PrivateNetwork: private, CMNetwork: "demo-cm"}
	}
	for _, tc := range []struct {
		name string
		t    Topology
		want []string // every finding, whole
	}{
		{"no peer, brokered at a private address", top("10.0.0.10", "", brok), []string{
			"WARN alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 10.0.0.10 and are claimed through it (CCB): they need no inbound port; " +
				"but 10.0.0.10 is a private address and these workers are not on the central manager's network demo-cm: they reach it only where a route joins the two networks — " +
				"fix: give clouds[].central_manager (region_overrides.REGION.central_manager) the central manager's floating IP or DNS name, and install-master.sh --public-address that address; " +
				"if these workers do share its network, set clouds[].private_network to demo-cm"}},
		{"no peer, direct at a floating address", top("203.0.113.10", "", dir), []string{
			"WARN alpha/RegionOne: topology direct: workers share the central manager's network demo-cm, join it at 203.0.113.10 and are claimed directly (the central manager connects to their 9618/tcp); " +
				"but 203.0.113.10 is not a private address: workers on the central manager's own network reach its floating address only where the router sends it back (hairpin NAT) — " +
				"fix: give clouds[].central_manager (region_overrides.REGION.central_manager) the central manager's private address"}},
		{"no peer, brokered at a floating address", top("203.0.113.10", "", brok), []string{
			"OK   alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 203.0.113.10 and are claimed through it (CCB): they need no inbound port"}},
		{"brokered, a private peer", top("203.0.113.10", "10.0.0.11", brok), []string{
			"OK   alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 203.0.113.10 (and its HA peer 10.0.0.11) and are claimed through it (CCB): they need no inbound port",
			"WARN alpha/RegionOne: HA peer 10.0.0.11 is a private address and these workers on network alpha.RegionOne.private are not on the central manager's network demo-cm: " +
				"they reach it only where a route joins the two networks, else they report to one central manager of the pair and leave the pool when it goes down — " +
				"fix: give clouds[].ha_peer (region_overrides.REGION.ha_peer) the other central manager's floating IP or DNS name, and install-master.sh --public-address that address on it; " +
				"if these workers do share its network, set clouds[].private_network to demo-cm"}},
		{"brokered, a private peer with a port", top("cm1.example.org", "10.0.0.11:9619", brok), []string{
			"OK   alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at cm1.example.org (and its HA peer 10.0.0.11:9619)",
			"WARN alpha/RegionOne: HA peer 10.0.0.11 is a private address"}},
		{"brokered, a floating peer", top("203.0.113.10", "203.0.113.11:9618", brok), []string{
			"OK   alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 203.0.113.10 (and its HA peer 203.0.113.11:9618)"}},
		{"brokered, a peer by name", top("203.0.113.10", "cm2.example.org", brok), []string{
			"OK   alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 203.0.113.10 (and its HA peer cm2.example.org)"}},
		{"direct, a private peer", top("10.0.0.10", "10.0.0.11", dir), []string{
			"OK   alpha/RegionOne: topology direct: workers share the central manager's network demo-cm, join it at 10.0.0.10 (and its HA peer 10.0.0.11) and are claimed directly"}},
		{"direct, a floating peer", top("10.0.0.10", "203.0.113.11", dir), []string{
			"OK   alpha/RegionOne: topology direct: workers share the central manager's network demo-cm, join it at 10.0.0.10 (and its HA peer 203.0.113.11)",
			"WARN alpha/RegionOne: HA peer 203.0.113.11 is not a private address: workers on the central manager's own network demo-cm reach its floating address only where the router sends it back (hairpin NAT) — " +
				"fix: give clouds[].ha_peer (region_overrides.REGION.ha_peer) the other central manager's private address"}},
		{"both private, brokered: two warnings", top("10.0.0.10", "10.0.0.11", brok), []string{
			"WARN alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 10.0.0.10 (and its HA peer 10.0.0.11) and are claimed through it (CCB): they need no inbound port; but 10.0.0.10 is a private address",
			"WARN alpha/RegionOne: HA peer 10.0.0.11 is a private address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := addressFindings("alpha/RegionOne", tc.t)
			ok := len(fs) == len(tc.want)
			for i := range fs {
				// A want that ends in the fix is the whole line; else its start.
				ok = ok && (fs[i].String() == tc.want[i] || !strings.Contains(tc.want[i], " — fix: ") && strings.HasPrefix(fs[i].String(), tc.want[i]))
			}
			if !ok {
				t.Errorf("got\n%s\nwant\n%s", text(fs), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestMasterGroupLetsWorkersIn(t *testing.T) {
	rule := func(proto string, port int, cidr, group string) cloud.SecurityRule {
		return cloud.SecurityRule{Direction: "ingress", Protocol: proto, PortMin: port, PortMax: port, RemoteIPPrefix: cidr, RemoteGroupID: group}
	}
	behind := []string{"alpha/RegionOne"}
	for _, tc := range []struct {
		name   string
		rules  []cloud.SecurityRule
		behind []string
		want   string
	}{
		{"nothing on 9618/tcp", []cloud.SecurityRule{rule("udp", 9618, "0.0.0.0/0", ""), rule("tcp", 22, "192.0.2.0/24", "")}, behind,
			`FAIL cloud/R (central manager): the central manager's security group "cm" lets no 9618/tcp in: no worker can join the collector`},
		{"only from a group, workers behind a router", []cloud.SecurityRule{rule("tcp", 9618, "", "g-workers")}, behind,
			`WARN cloud/R (central manager): the central manager's security group "cm" lets 9618/tcp in only from group g-workers; the workers of alpha/RegionOne come through a router`},
		{"only from a group, every worker on its network", []cloud.SecurityRule{rule("tcp", 9618, "", "g-workers")}, nil,
			`OK   cloud/R (central manager): the central manager's security group "cm" lets 9618/tcp in from group g-workers`},
		{"from the routers", []cloud.SecurityRule{rule("tcp", 9618, "198.51.100.0/24", ""), rule("tcp", 9618, "", "g-workers")}, behind,
			`OK   cloud/R (central manager): the central manager's security group "cm" lets 9618/tcp in from 198.51.100.0/24, group g-workers`},
		{"any port from anywhere", []cloud.SecurityRule{{Direction: "ingress"}}, behind,
			`OK   cloud/R (central manager): the central manager's security group "cm" lets 9618/tcp in from anywhere`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := masterGroupFindings("cloud/R (central manager)", "cm", tc.rules, tc.behind)
			if len(fs) != 1 || !strings.HasPrefix(fs[0].String(), tc.want) {
				t.Errorf("%v\nwant %q", fs, tc.want)
			}
		})
	}
}

// A brokered region's group that opens 9618 is warned of, UDP everywhere;
// a direct region's group must let 9618/tcp in.
func TestWorkerGroupFollowsTheTopology(t *testing.T) {
	own := map[string]bool{"g1": true}
	fromGroup := []cloud.SecurityRule{
		{Direction: "ingress", Protocol: "tcp", PortMin: 9618, PortMax: 9618, RemoteGroupID: "g1"},
		{Direction: "ingress", Protocol: "udp", PortMin: 9618, PortMax: 9618, RemoteGroupID: "g1"},
		{Direction: "ingress", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "192.0.2.0/24"},
	}
	brok := Topology{CentralManager: "203.0.113.10", PrivateNetwork: "alpha.R.private", CMNetwork: "demo-cm"}
	dir := Topology{CentralManager: "10.0.0.10", PrivateNetwork: "demo-cm", CMNetwork: "demo-cm"}
	out := text(workerGroupFindings("alpha/R", []string{"ehos"}, own, brok, fromGroup))
	for _, want := range []string{"WARN alpha/R: security groups [ehos] let 9618/tcp in from group g1 for nothing: brokered workers need no inbound port",
		"WARN alpha/R: security groups [ehos] let 9618/udp in from group g1 for nothing: HTCondor 23.9 and 25 send every update over TCP",
		"OK   alpha/R: security groups [ehos] allow 22/tcp from admins"} {
		if !strings.Contains(out, want) {
			t.Errorf("brokered lacks %q:\n%s", want, out)
		}
	}
	out = text(workerGroupFindings("alpha/R", []string{"ehos"}, own, dir, fromGroup))
	if !strings.Contains(out, "OK   alpha/R: security groups [ehos] allow 9618/tcp from the nodes") || strings.Contains(out, "9618/tcp in from group g1 for nothing") {
		t.Errorf("direct:\n%s", out)
	}
	fs := workerGroupFindings("alpha/R", []string{"ehos"}, own, dir, fromGroup[2:])
	if fs.Failed() != 1 || !strings.Contains(text(fs), "FAIL alpha/R: security groups [ehos]: no ingress rule allows 9618/tcp from the central manager") {
		t.Errorf("direct without 9618/tcp:\n%s", text(fs))
	}
	if fs := workerGroupFindings("alpha/R", []string{"ehos"}, own, brok, nil); fs.Failed() != 0 || !strings.Contains(text(fs), "let no 22/tcp in") {
		t.Errorf("brokered with no rule at all:\n%s", text(fs))
	}
}

// --master-group reads the central manager's group from the cloud: the
// local cloud's "ehos" lets 9618/tcp in from itself only, and alpha's
// workers are brokered, coming through routers.
func TestCheckCloudsReadsTheMastersGroup(t *testing.T) {
	e := start(t)
	a := alpha()
	n := brokered
	n.MasterGroup, n.MasterRegion, n.Master = "ehos", "RegionTwo", &a
	out := text(CheckClouds(ctx(t), []cloud.Config{a}, n, e.opts))
	if !strings.Contains(out, `WARN alpha/RegionTwo (central manager): the central manager's security group "ehos" lets 9618/tcp in only from group `) ||
		!strings.Contains(out, "the workers of alpha/RegionOne, alpha/RegionTwo come through a router") {
		t.Errorf("master group:\n%s", out)
	}
	n.MasterGroup = "no-such-group"
	if fs := CheckClouds(ctx(t), []cloud.Config{a}, n, e.opts); !strings.Contains(text(fs), `FAIL alpha/RegionTwo (central manager): security group "no-such-group"`) {
		t.Errorf("missing master group:\n%s", text(fs))
	}
}
