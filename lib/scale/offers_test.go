package scale

import (
	"testing"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// The catalog alone: offers in key order whatever the input's order, a
// phantom for a node's offer no region lists, the first of a region listed
// twice, and the orders min and spare take offers in.
func TestCatalog(t *testing.T) {
	names := func(c *catalog, idx []int) []string {
		var s []string
		for _, i := range idx {
			s = append(s, c.offers[i].String())
		}
		return s
	}
	in := base()
	in.Regions[0], in.Regions[1] = in.Regions[1], in.Regions[0]
	dup := in.Regions[1]
	dup.Offers = []Offer{{OfferKey: OfferKey{Flavor: "x.huge"}, Size: Resources{Cpus: 64}, Cost: 1}}
	in.Regions = append(in.Regions, dup)
	in.Regions[0].Offers[0].VCPUs = 6 // b.medium: Nova counts 6 cores
	in.Clouds = append(in.Clouds, Cloud{Name: "siteB", MaxVMs: 9}, Cloud{Name: "siteA", MaxVMs: -2})
	gone := OfferKey{Loc: cloud.Location{Cloud: "siteC", Region: "R"}, Flavor: "old"}
	in.Nodes = []Node{node("w1", Idle, gone)}
	c := newCatalog(in)

	var all []string
	for i, o := range c.offers {
		all = append(all, o.String())
		if c.offerIdx[o.OfferKey] != i {
			t.Errorf("offerIdx[%s] = %d, want %d", o.OfferKey, c.offerIdx[o.OfferKey], i)
		}
	}
	want := []string{"siteA/RegionOne/m1.large", "siteA/RegionOne/m1.medium", "siteA/RegionOne/m1.small",
		"siteB/RegionOne/b.medium", "siteB/RegionOne/g.large", "siteC/R/old"}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("offers (-want +got):\n%s", diff)
	}
	if o := c.offers[c.offerIdx[gone]]; !o.phantom || o.region != -1 {
		t.Errorf("a node's unlisted offer should be a phantom: %+v", o)
	}
	if o := c.offers[c.offerIdx[bMed]]; o.vcpus != 6 || o.ramMB != 8192 || o.weight != 2 {
		t.Errorf("b.medium: vcpus %d (want 6), ram %d (want Size's 8192), weight %d (want 2)", o.vcpus, o.ramMB, o.weight)
	}
	if diff := cmp.Diff([]cloudInfo{{"siteA", 0}, {"siteB", 0}, {"siteC", 0}}, c.clouds, cmp.AllowUnexported(cloudInfo{})); diff != "" {
		t.Errorf("clouds: the first of a name wins, no max_vms below 0 (-want +got):\n%s", diff)
	}
	// cheapest first, at equal cost the higher weight (siteB)
	if diff := cmp.Diff([]string{"siteA/RegionOne/m1.small", "siteB/RegionOne/b.medium", "siteA/RegionOne/m1.medium",
		"siteA/RegionOne/m1.large", "siteB/RegionOne/g.large"}, names(c, c.byPref)); diff != "" {
		t.Errorf("byPref (-want +got):\n%s", diff)
	}
	// largest first, GPU flavors last
	if diff := cmp.Diff([]string{"siteA/RegionOne/m1.large", "siteB/RegionOne/b.medium", "siteA/RegionOne/m1.medium",
		"siteA/RegionOne/m1.small", "siteB/RegionOne/g.large"}, names(c, c.bySize)); diff != "" {
		t.Errorf("bySize (-want +got):\n%s", diff)
	}
}
