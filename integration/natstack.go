package integration

import (
	"fmt"
	"testing"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/integration/netns"
)

// cmNetworkName is the PRIVATE_NETWORK_NAME of the test central manager's
// network.
const cmNetworkName = "ehos-test-cm"

// cmBehindFloatingConfig is what the central manager adds when workers
// reach it at a floating address not on its interface, as
// cloudinit/master.yaml sets it: its daemons advertise that address and
// name their own network, so daemons on it still connect directly.
func cmBehindFloatingConfig(floating, private, network string) string {
	// PRIVATE_NETWORK_INTERFACE: without it the daemons advertise the
	// floating address alone (seen on 23.9: the shadow at 10.213.48.3
	// only), and a worker on the central manager's network could not reach
	// its shadow directly.
	return fmt.Sprintf("\nTCP_FORWARDING_HOST = %s\nPRIVATE_NETWORK_INTERFACE = %s\nPRIVATE_NETWORK_NAME = %s\n", floating, private, network) +
		// The collector takes tokens only, as it does from a worker on
		// another machine: the test hosts share one filesystem, where FS
		// would authenticate a worker as the central manager's own user.
		// (The central manager's daemons and tools hold a token too.)
		"COLLECTOR.SEC_DEFAULT_AUTHENTICATION_METHODS = IDTOKENS\nCOLLECTOR_DEBUG = D_COMMAND\n"
}

// startSites builds the NAT layout around the stack's central manager
// (StackOptions.NATRegions): each listed region's VMs on a network of its
// own behind a masquerading router, behind a firewall letting nothing in.
func (s *Stack) startSites(t testing.TB, cr *localcloud.CondorRunner, regions []string) {
	t.Helper()
	sites, err := netns.NewSites(s.Network, s.CMHost, regions...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sites.Close(); err != nil {
			t.Errorf("remove the sites: %v", err)
		}
	})
	s.Sites = sites
	cr.RegionHosts = map[string]localcloud.Site{}
	for r, n := range sites.Regions {
		cr.RegionHosts[r] = localcloud.Site{Net: n} // no rule: nothing new comes in
	}
}
