package integration

import (
	"os"
	"testing"

	"github.com/ehos-project/ehos/integration/netns"
)

// RequireNetwork makes a private test network (integration/netns), removed
// in t.Cleanup after everything started later has stopped. It skips, or
// fails under EHOS_REQUIRE_CONDOR, when namespaces cannot be made here.
func RequireNetwork(t testing.TB) *netns.Network {
	t.Helper()
	if err := netns.Available(); err != nil {
		if os.Getenv("EHOS_REQUIRE_CONDOR") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	n, err := netns.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("remove the test network: %v", err)
		}
	})
	return n
}

// AddHost adds a host called name to n behind a firewall letting in only
// rules (none: nothing new comes in).
func AddHost(t testing.TB, n *netns.Network, name string, rules ...netns.Rule) *netns.Host {
	t.Helper()
	h, err := n.AddHost(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Firewall(rules...); err != nil {
		t.Fatal(err)
	}
	return h
}
