package netns

import (
	"fmt"
	"os/exec"
	"strings"
)

// Rule lets one port in: what one ingress rule of an OpenStack security
// group allows.
type Rule struct {
	Proto string // "tcp" or "udp"
	Port  int
}

func (r Rule) String() string { return fmt.Sprintf("%d/%s", r.Port, r.Proto) }

// HTCondorPort is HTCondor's shared port, the one port the docs open
// between the pool's nodes.
const HTCondorPort = 9618

// HTCondorGroup is the security group ehos advises between nodes (docs/network.md):
// 9618 over TCP and UDP, nothing else. (22 for admins is left out: the test
// hosts run no sshd.)
var HTCondorGroup = []Rule{{"tcp", HTCondorPort}, {"udp", HTCondorPort}}

// Firewall makes the host drop every packet coming in from the network
// except replies and what rules let in, as a security group does; loopback
// inside the host stays open and what goes out is not filtered. No rules
// drops everything new. It replaces the host's earlier firewall.
func (h *Host) Firewall(rules ...Rule) error {
	var b strings.Builder
	// Declaring the table first makes the delete succeed when it is new.
	b.WriteString("table inet ehos\ndelete table inet ehos\ntable inet ehos {\n")
	b.WriteString("  chain input {\n    type filter hook input priority 0; policy drop;\n")
	b.WriteString("    iif \"lo\" accept\n    ct state established,related accept\n")
	for _, r := range rules {
		if r.Proto != "tcp" && r.Proto != "udp" {
			return fmt.Errorf("firewall of host %s: rule %v: protocol must be tcp or udp", h.Name, r)
		}
		if r.Port <= 0 || r.Port > 65535 {
			return fmt.Errorf("firewall of host %s: rule %v: port out of range", h.Name, r)
		}
		// Counted, so a test can tell whether anyone connected in (Accepted).
		fmt.Fprintf(&b, "    %s dport %d counter accept\n", r.Proto, r.Port)
	}
	b.WriteString("  }\n}\n")
	return h.nft(b.String())
}

// NoFirewall lets everything in again.
func (h *Host) NoFirewall() error {
	return h.nft("table inet ehos\ndelete table inet ehos\n")
}

func (h *Host) nft(script string) error {
	cmd := exec.Command("ip", "netns", "exec", h.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("firewall of host %s: nft: %v: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Accepted is how many packets the host's firewall let in by rule r: the
// first packet of each connection (later ones pass as replies/established),
// so for TCP the connections made to the host on r's port.
func (h *Host) Accepted(r Rule) (int, error) {
	out, err := exec.Command("ip", "netns", "exec", h.NS, "nft", "list", "chain", "inet", "ehos", "input").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("firewall of host %s: nft: %v: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	want := fmt.Sprintf("%s dport %d counter packets ", r.Proto, r.Port)
	for _, l := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(l, want); ok {
			var n int
			fmt.Sscan(rest, &n)
			return n, nil
		}
	}
	return 0, fmt.Errorf("firewall of host %s: no rule for %v", h.Name, r)
}
