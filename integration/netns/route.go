package netns

import (
	"fmt"
	"net"
	"strings"
)

// Routed networks: several Networks joined by router hosts, as a cloud's
// tenant networks sit behind Neutron routers. A router is an ordinary host of
// one network that Attach gives a leg on each further network; it forwards
// between its legs, and Masquerade and Floating give it a router's NAT.
// Every address stays on the test subnets and inside the namespaces: no leg
// is ever made in the machine's own namespace.

// NthSubnet is the i-th subnet of base's size counted on from base (0 is
// base itself): 10.213.47.0/24 and 2 give 10.213.49.0/24. Tests that need
// several networks take them from EHOS_NETNS_SUBNET onwards this way.
func NthSubnet(base string, i int) (string, error) {
	ipn, err := ParseSubnet(base)
	if err != nil {
		return "", err
	}
	ones, bits := ipn.Mask.Size()
	ip := ipn.IP.To4()
	v := uint64(ip[0])<<24 | uint64(ip[1])<<16 | uint64(ip[2])<<8 | uint64(ip[3])
	v += uint64(i) << (bits - ones)
	if v > 0xffffffff {
		return "", fmt.Errorf("subnet %d after %s: past the end of IPv4", i, base)
	}
	return fmt.Sprintf("%d.%d.%d.%d/%d", byte(v>>24), byte(v>>16), byte(v>>8), byte(v), ones), nil
}

// Leg is one interface of a host on a network.
type Leg struct {
	Net  *Network
	Dev  string // eth0, eth1, ...
	Addr string
}

// Legs lists the host's interfaces: eth0 first, then those Attach added.
func (h *Host) Legs() []Leg {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	return append([]Leg{{Net: h.net, Dev: "eth0", Addr: h.Addr}}, h.legs...)
}

// LegOn is the host's interface on network n (ok false: none).
func (h *Host) LegOn(n *Network) (Leg, bool) {
	for _, l := range h.Legs() {
		if l.Net == n {
			return l, true
		}
	}
	return Leg{}, false
}

// Attach gives the host a further interface on network n, with n's next
// free address, and turns forwarding on: the host routes between its legs.
func (h *Host) Attach(n *Network) (Leg, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return Leg{}, fmt.Errorf("attach host %s: network %s is closed", h.Name, n.subnet)
	}
	i := n.next
	ip := hostAddr(n.subnet, i)
	if ip == nil {
		n.mu.Unlock()
		return Leg{}, fmt.Errorf("attach host %s: subnet %s is full", h.Name, n.subnet)
	}
	n.next++
	n.mu.Unlock()
	h.net.mu.Lock()
	leg := Leg{Net: n, Dev: fmt.Sprintf("eth%d", len(h.legs)+1), Addr: ip.String()}
	h.legs = append(h.legs, leg)
	h.net.mu.Unlock()
	ones, _ := n.subnet.Mask.Size()
	veth := fmt.Sprintf("vh%d", i)
	steps := [][]string{
		{"ip", "-n", n.bridge, "link", "add", veth, "type", "veth", "peer", "name", leg.Dev, "netns", h.NS},
		{"ip", "-n", n.bridge, "link", "set", veth, "master", "br0"},
		{"ip", "-n", n.bridge, "link", "set", veth, "up"},
		{"ip", "-n", h.NS, "addr", "add", fmt.Sprintf("%s/%d", leg.Addr, ones), "dev", leg.Dev},
		{"ip", "-n", h.NS, "link", "set", leg.Dev, "up"},
		{"ip", "netns", "exec", h.NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return Leg{}, fmt.Errorf("attach host %s to %s: %w", h.Name, n.subnet, err)
		}
	}
	return leg, nil
}

// Route sends the host's traffic for dst (a subnet, or "default") through
// the router at via, which must be on one of the host's networks.
func (h *Host) Route(dst, via string) error {
	if err := run("ip", "-n", h.NS, "route", "replace", dst, "via", via); err != nil {
		return fmt.Errorf("route of host %s: %w", h.Name, err)
	}
	return nil
}

// SetGateway makes every host added to n from now on send its traffic for
// dst (a subnet) through the router at gw, as a tenant network's DHCP hands
// out its router. Not a default route: a host's name lookups (reverse DNS
// of peers, which HTCondor does) must fail at once, not time out behind a
// router that leads nowhere.
func (n *Network) SetGateway(gw, dst string) {
	n.mu.Lock()
	n.gateway, n.gatewayDst = gw, dst
	n.mu.Unlock()
}

// NAT is what a router rewrites, as a Neutron router does for its tenant
// networks.
type NAT struct {
	// Masquerade: traffic from these subnets leaving through another leg
	// takes the router's address on that leg (the tenant network's SNAT).
	Masquerade []string
	// Floating maps an address the router answers for on an outer network
	// to a host's private address behind it (a floating IP): new
	// connections to Public go to Private, including from Private's own
	// network (hairpin, as Neutron does), whose sources are then rewritten
	// to the router's so that replies come back through it.
	Floating []Floating
}

// Floating is one floating address.
type Floating struct {
	Public  string   // answered on the router's leg on On
	On      *Network // the outer network
	Private string   // the host behind the router
	Inner   *Network // Private's network
}

// SetNAT replaces the router's NAT rules (and adds the floating addresses
// to its legs; they are not removed again).
func (h *Host) SetNAT(nat NAT) error {
	var b strings.Builder
	b.WriteString("table ip ehosnat\ndelete table ip ehosnat\ntable ip ehosnat {\n")
	b.WriteString("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n")
	for _, f := range nat.Floating {
		if net.ParseIP(f.Public).To4() == nil || net.ParseIP(f.Private).To4() == nil {
			return fmt.Errorf("NAT of host %s: floating %s → %s: not IPv4 addresses", h.Name, f.Public, f.Private)
		}
		fmt.Fprintf(&b, "    ip daddr %s dnat to %s\n", f.Public, f.Private)
	}
	b.WriteString("  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n")
	for _, s := range nat.Masquerade {
		if _, err := ParseSubnet(s); err != nil {
			return fmt.Errorf("NAT of host %s: masquerade: %w", h.Name, err)
		}
		fmt.Fprintf(&b, "    ip saddr %s ip daddr != %[1]s masquerade\n", s)
	}
	for _, f := range nat.Floating {
		fmt.Fprintf(&b, "    ip saddr %s ip daddr %s ct status dnat masquerade\n", f.Inner.Subnet(), f.Private)
	}
	b.WriteString("  }\n}\n")
	for _, f := range nat.Floating {
		leg, ok := h.LegOn(f.On)
		if !ok {
			return fmt.Errorf("NAT of host %s: floating %s: the router has no leg on %s", h.Name, f.Public, f.On.Subnet())
		}
		ones, _ := f.On.subnet.Mask.Size()
		if err := run("ip", "-n", h.NS, "addr", "replace", fmt.Sprintf("%s/%d", f.Public, ones), "dev", leg.Dev); err != nil {
			return fmt.Errorf("NAT of host %s: %w", h.Name, err)
		}
	}
	return h.nft(b.String())
}

// FreeAddr reserves the network's next free address without a host on it
// (for a floating address a router answers for).
func (n *Network) FreeAddr() (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip := hostAddr(n.subnet, n.next)
	if ip == nil {
		return "", fmt.Errorf("subnet %s is full", n.subnet)
	}
	n.next++
	return ip.String(), nil
}
