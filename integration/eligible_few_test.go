//go:build integration

package integration_test

import (
	"context"
	"fmt"
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
// leave one region out. docs/ha.md: the cause of the double scale-up
// after a restart (idle workers in the region left out did not count for
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

// The fix for the above: a demand group keeps every offer the real
// negotiator matched it to while it lives. 4 idle jobs are recorded on all
// 3 equal offers; once 2 are removed the negotiator's latest cycle names
// only 2 of them, and the provisioner's half (demand.Collector) still says
// 3. So does a restarted provisioner (a new Collector, given what the
// last one remembered), while the re-advertised ads' fresh verdict names 2
// again.
func TestAGroupKeepsItsOffersWhenItShrinks(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{ExtraConfig: integration.ShippedOfferRank(t)})
	cl := pool.Client()
	var offers []scale.Offer
	for _, r := range []string{"RegionOne", "RegionTwo", "RegionThree"} {
		offers = append(offers, scale.Offer{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: r}, Flavor: "m1.medium"},
			Size: scale.Resources{Cpus: 2, MemoryMB: 4000, DiskMB: 20000}, Cost: 2})
	}
	ctx := context.Background()
	c := &demand.Collector{Condor: cl, Pool: demandPool, MaxAge: 10 * time.Second}
	if err := c.Offer(ctx, offers); err != nil {
		t.Fatal(err)
	}
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\nrequest_cpus = 2\nrequest_memory = 1500\nqueue 4\n")
	if err != nil {
		t.Fatal(err)
	}
	r := &demand.Reporter{Condor: cl, Pool: demandPool, Lifetime: time.Minute, Log: zerolog.Nop()}
	// verdict waits until the latest cycle's verdict on the group's idle
	// jobs names want offers, and returns what c says of the group then.
	verdict := func(c *demand.Collector, idle, want int) (latest, kept []scale.OfferKey) {
		t.Helper()
		pool.WaitFor(t, 90*time.Second, fmt.Sprintf("the negotiator's verdict on %d idle jobs", idle), func(ctx context.Context) (bool, error) {
			if _, err := r.Cycle(ctx, time.Now()); err != nil {
				return false, err
			}
			ds, err := readDemand(ctx, cl)
			if err != nil || len(ds) != 1 || ds[0].Idle != idle || len(ds[0].Eligible) != want {
				return false, err
			}
			latest = ds[0].Eligible
			got, err := c.Demand(ctx)
			if err != nil || len(got) != 1 {
				return false, err
			}
			kept = got[0].Eligible
			return true, nil
		})
		return latest, kept
	}
	if _, kept := verdict(c, 4, 3); len(kept) != 3 {
		t.Fatalf("4 idle jobs, 3 equal offers: eligible %v", kept)
	}
	if _, err := cl.Run(ctx, "condor_rm", fmt.Sprintf("%d.0", cluster), fmt.Sprintf("%d.1", cluster)); err != nil {
		t.Fatal(err)
	}
	latest, kept := verdict(c, 2, 2)
	t.Logf("2 idle jobs: the latest cycle names %v; the group keeps %v", latest, kept)
	if len(kept) != 3 {
		t.Errorf("the group lost an offer the negotiator matched it to: %v", kept)
	}

	// A restart: a new Collector takes what the last one remembered (from
	// the provisioner ad, lib/condorpool), reads, and advertises again.
	again := &demand.Collector{Condor: cl, Pool: demandPool, MaxAge: 10 * time.Second}
	if n, err := again.Restore(c.Seen(), time.Now()); err != nil || n != 1 {
		t.Fatalf("restore: %d groups, %v", n, err)
	}
	if ds, err := again.Demand(ctx); err != nil || len(ds) != 1 {
		t.Fatalf("first read after a restart: %v %v", ds, err)
	}
	if err := again.Offer(ctx, offers); err != nil {
		t.Fatal(err)
	}
	latest2, kept2 := verdict(again, 2, 2)
	t.Logf("after the flavor ads were advertised again: the latest cycle names %v; the group keeps %v", latest2, kept2)
	if len(kept2) != 3 {
		t.Errorf("a restarted provisioner's group lost an offer: %v", kept2)
	}
}
