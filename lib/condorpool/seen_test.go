package condorpool

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// A restarted provisioner (a new Pool) takes from the pool's provisioner
// ad every offer the negotiator matched a group to, not the latest cycle's
// alone; what a worker's token wrote in such an ad is not taken.
func TestARestartedProvisionerKeepsTheVerdicts(t *testing.T) {
	var offers []scale.Offer
	for _, r := range []string{"RegionOne", "RegionTwo", "RegionThree"} {
		offers = append(offers, scale.Offer{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: r}, Flavor: "m1.medium"},
			Size: scale.Resources{Cpus: 2, MemoryMB: 4000, DiskMB: 20000}, Cost: 2})
	}
	const schedd = "<127.0.0.1:41889>"
	dads := demand.DemandAds([]demand.Group{{Schedd: "s@h", ScheddAddr: schedd, Autocluster: 1, Cpus: 2, MemoryMB: 1500, Idle: 2}}, "p", time.Minute, time.Now())
	dads[0][AttrIdentity] = classad.String("ehos@pool.test")
	verdict := func(on ...int) []classad.Ad {
		ads := demand.FlavorAds(offers, "p", 1)
		for i := range ads {
			ads[i][AttrIdentity] = classad.String("condor@cm")
		}
		for _, i := range on {
			ads[i][demand.AttrLastMatc] = classad.Int(time.Now().Unix())
			ads[i][demand.AttrMatches] = classad.Expr(fmt.Sprintf(`[{"Scheduler": %q, "AutoclusterID": 1, "RequestCount": 2}]`, schedd))
		}
		return ads
	}
	pool := func(provAds ...classad.Ad) (*Pool, *statusTools) {
		ft := &statusTools{answers: map[string][]classad.Ad{`MyType == "EHOSDemand"`: dads, `MyType == "EHOSProvisioner"`: provAds}}
		p := New(nil, "p", 0)
		p.Tools, p.Collector.Condor = ft, ft
		p.Self, p.DemandIdentity = "condor@cm", "ehos@pool.test"
		return p, ft
	}
	eligible := func(p *Pool) int {
		t.Helper()
		ds, err := p.Demand(context.Background())
		if err != nil || len(ds) != 1 {
			t.Fatalf("demand: %v %v", ds, err)
		}
		return len(ds[0].Eligible)
	}

	first, ft := pool()
	ft.answers["Offline =?= True"] = verdict(0, 1, 2)
	if n := eligible(first); n != 3 {
		t.Fatalf("eligible on %d of 3", n)
	}
	if err := first.Publish(context.Background(), classad.Ad{"MyType": classad.String(provision.AdType), "Name": classad.String("p@cm")}); err != nil {
		t.Fatal(err)
	}
	ad := ft.adv[len(ft.adv)-1][0]
	ad[AttrIdentity] = classad.String("condor@cm")

	again, ft := pool(ad)
	ft.answers["Offline =?= True"] = verdict(1)
	if n := eligible(again); n != 3 {
		t.Errorf("restarted: eligible on %d of 3, want 3 (taken from the provisioner ad)", n)
	}
	forged := classad.Ad{"MyType": ad["MyType"], "Name": classad.String("p@w"), demand.AttrEligibleSeen: ad[demand.AttrEligibleSeen],
		AttrIdentity: classad.String("ehos-p-1@pool.test")}
	worker, ft := pool(forged)
	ft.answers["Offline =?= True"] = verdict(1)
	if n := eligible(worker); n != 1 {
		t.Errorf("a worker's ad was taken: eligible on %d", n)
	}
}
