package provision

import (
	"testing"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// Real Nova's /limits does not count servers not yet scheduled: the pool's
// listed servers are a floor for the usage.
func TestFloorUsage(t *testing.T) {
	fl := []cloud.Flavor{{ID: "1", Name: "m1.small", VCPUs: 1, RAMMB: 512}, {ID: "2", Name: "m1.medium", VCPUs: 2, RAMMB: 1024}}
	vms := []cloud.VM{
		{Flavor: "m1.medium", Status: cloud.StatusBuild},
		{FlavorID: "2", Status: cloud.StatusActive},
		{Flavor: "m1.small", Status: cloud.StatusError},
		{Flavor: "m1.small", Status: cloud.StatusDeleted},
	}
	l := cloud.Limits{MaxInstances: 2, UsedInstances: 0, MaxCores: 20, UsedCores: 1, MaxRAMMB: -1, UsedRAMMB: 9000}
	floorUsage(&l, vms, (&region{flavors: fl}).flavor)
	want := cloud.Limits{MaxInstances: 2, UsedInstances: 3, MaxCores: 20, UsedCores: 5, MaxRAMMB: -1, UsedRAMMB: 9000}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
}
