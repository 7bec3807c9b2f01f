//go:build integration

package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/scale"
)

// What the real negotiator does with fewer idle jobs than equally fitting
// flavor ads: a group of 2 idle jobs is recorded on 2 of 3 identical
// offers (three regions, one flavor, one cost), so its eligible offers
// leave one region out. docs/ha.md: the lead for the double scale-up
// after a restart (idle workers in the region left out do not count for
// the group). A change in HTCondor here changes that reasoning.
func TestFewJobsAreEligibleOnAsManyOffers(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{ExtraConfig: integration.ShippedOfferRank(t)})
	cl := pool.Client()
	var offers []scale.Offer
	for _, r := range []string{"RegionOne", "RegionTwo", "RegionThree"} {
		offers = append(offers, scale.Offer{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: r}, Flavor: "m1.medium"},
			Size: scale.Resources{Cpus: 2, MemoryMB: 4000, DiskMB: 20000}, Cost: 2})
	}
	ctx := context.Background()
	if err := cl.Advertise(ctx, "UPDATE_STARTD_AD", demand.FlavorAds(offers, demandPool, time.Now().Unix())); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\nrequest_cpus = 2\nrequest_memory = 1500\nqueue 2\n"); err != nil {
		t.Fatal(err)
	}
	r := &demand.Reporter{Condor: cl, Pool: demandPool, Lifetime: time.Minute, Log: zerolog.Nop()}
	var eligible []scale.OfferKey
	pool.WaitFor(t, 90*time.Second, "the negotiator's verdict on 2 idle jobs", func(ctx context.Context) (bool, error) {
		if _, err := r.Cycle(ctx, time.Now()); err != nil {
			return false, err
		}
		ds, err := readDemand(ctx, cl)
		if len(ds) == 1 && len(ds[0].Eligible) > 0 && ds[0].Idle == 2 {
			eligible = ds[0].Eligible
			return true, nil
		}
		return false, err
	})
	t.Logf("2 idle jobs, 3 equal offers: eligible %v", eligible)
	if len(eligible) != 2 {
		t.Errorf("eligible on %d of 3 equal offers, want 2 (as many as idle jobs): %v", len(eligible), eligible)
	}
}
