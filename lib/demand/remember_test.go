package demand

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

const testSchedd = "<127.0.0.1:41889?addrs=127.0.0.1-41889>"

// verdictAds are the pool's flavor ads of offers as the negotiator leaves
// them after a cycle at last that recorded autocluster 1 on the offers
// named in on (the others carry no verdict: advertised again since, or
// never matched).
func verdictAds(offers []scale.Offer, last int64, on ...scale.OfferKey) []classad.Ad {
	ads := FlavorAds(offers, "p", 1)
	for i, o := range offers {
		for _, k := range on {
			if k == o.OfferKey {
				ads[i][AttrLastMatc] = classad.Int(last)
				ads[i][AttrMatches] = classad.Expr(fmt.Sprintf(`[{"Scheduler": %q, "AutoclusterID": 1, "RequestCount": 2}]`, testSchedd))
			}
		}
	}
	return ads
}

func demandAd(g Group, now time.Time) []classad.Ad {
	g.Schedd, g.ScheddAddr, g.Autocluster = "s@host", testSchedd, 1
	return DemandAds([]Group{g}, "p", time.Minute, now)
}

// The double scale-up after a restart, as the decision saw it: 2 jobs of
// a group that 3 equal offers fit are left, 2 workers of the first offer
// just joined, idle, and the negotiator's latest cycle recorded the 2 jobs
// on the other two offers only. The group must still count the workers of
// the first (the negotiator matched it there a cycle before) and boot
// nothing; one cycle's verdict alone boots 2 VMs in RegionTwo beside them.
func TestAGroupKeepsEveryOfferTheNegotiatorMatchedItTo(t *testing.T) {
	var offers []scale.Offer
	var keys []scale.OfferKey
	for _, r := range []string{"RegionOne", "RegionTwo", "RegionThree"} {
		o := offer("alpha", r, "m1.medium", 2, 4000, 2)
		offers, keys = append(offers, o), append(keys, o.OfferKey)
	}
	now := time.Unix(1795538000, 0)
	f := &fakeCollector{}
	c := &Collector{Condor: f, Pool: "p", MaxAge: 20 * time.Second, Now: func() time.Time { return now }}
	ctx := context.Background()
	read := func(g Group, on ...scale.OfferKey) []scale.Demand {
		t.Helper()
		f.demandAds, f.flavorAds = demandAd(g, now), verdictAds(offers, now.Unix()-1, on...)
		ds, err := c.Demand(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Offer(ctx, offers); err != nil {
			t.Fatal(err)
		}
		now = now.Add(3 * time.Second)
		return ds
	}
	medium := Group{Cpus: 2, MemoryMB: 1500, Idle: 4}
	if ds := read(medium, keys...); len(ds) != 1 || len(ds[0].Eligible) != 3 {
		t.Fatalf("4 jobs on 3 offers: %+v", ds)
	}
	medium.Idle = 2
	ds := read(medium, keys[1], keys[2])
	if diff := cmp.Diff([]scale.OfferKey{keys[2], keys[1], keys[0]}, ds[0].Eligible); diff != "" {
		t.Errorf("eligible after a cycle that left RegionOne out (-want +got):\n%s", diff)
	}

	in := scale.Input{Now: now, Knobs: scale.Knobs{Max: 10, MaxCreatesPerCycle: 2, IdleBeforeRetire: time.Minute},
		Clouds: []scale.Cloud{{Name: "alpha"}}, Demand: ds, LastArrival: now}
	for _, o := range offers {
		in.Regions = append(in.Regions, scale.Region{Loc: o.Loc, Offers: []scale.Offer{o},
			Limits: &cloud.Limits{MaxInstances: 10, MaxCores: 100, MaxRAMMB: 100000, UsedInstances: 2}})
	}
	for i := range 2 {
		in.Nodes = append(in.Nodes, scale.Node{ID: fmt.Sprint(i), Name: fmt.Sprintf("ehos-p-%d", i), Offer: keys[0], State: scale.Idle,
			StateSince: now.Add(-9 * time.Second), Created: now.Add(-time.Minute), IdleSince: now.Add(-9 * time.Second), Free: offers[0].Size})
	}
	if d := scale.Decide(in); len(d.Creates) > 0 || len(d.Drains) > 0 {
		t.Errorf("2 idle jobs beside 2 idle workers that fit them: %+v", d)
	}

	// Another group under the same autocluster id (another shape, or a
	// pin) starts from the latest verdict alone, and so does a group that
	// had no idle job for one read, and every group once the offers change.
	for _, tc := range []struct {
		name string
		g    Group
	}{
		{"another shape", Group{Cpus: 1, MemoryMB: 1500, Idle: 2}},
		{"a pin", Group{Cpus: 2, MemoryMB: 1500, Idle: 2, Pin: Pin{Cloud: "alpha"}}},
	} {
		read(medium, keys...)
		if ds := read(tc.g, keys[1]); len(ds[0].Eligible) != 1 {
			t.Errorf("%s under the same autocluster id inherited %v", tc.name, ds[0].Eligible)
		}
	}
	read(medium, keys...)
	read(Group{Cpus: 2, MemoryMB: 1500, Idle: 0})
	if ds := read(medium, keys[1]); len(ds[0].Eligible) != 1 {
		t.Errorf("a group that had no idle job came back with %v", ds[0].Eligible)
	}
	read(medium, keys...)
	c.Resend()
	if ds := read(medium, keys[1]); len(ds[0].Eligible) != 3 {
		t.Errorf("the same offers advertised again lost the memory: %v", ds[0].Eligible)
	}
	offers[2].Cost = 3
	read(medium, keys...)
	if ds := read(medium, keys[1]); len(ds[0].Eligible) != 1 {
		t.Errorf("changed offers kept the memory: %v", ds[0].Eligible)
	}
}

// Seen's text restores the memory of groups seen within MaxAge; older
// ones, and a group two runs disagree on, start from the latest verdict.
func TestSeenRestores(t *testing.T) {
	now := time.Unix(1795538000, 0)
	k := scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: "RegionOne"}, Flavor: "m1.medium"}
	a := &Collector{MaxAge: 20 * time.Second, Now: func() time.Time { return now }}
	a.seen = map[AutoclusterKey]remembered{{Schedd: "127.0.0.1:1", ID: 1}: {need: scale.Resources{Cpus: 2}, offers: []scale.OfferKey{k}}}
	a.seenAt = now
	text := a.Seen()
	for _, tc := range []struct {
		name  string
		later time.Duration
		other scale.Resources // another run's view of the same group
		want  int
	}{
		{"fresh", 19 * time.Second, scale.Resources{}, 1},
		{"older than MaxAge", 21 * time.Second, scale.Resources{}, 0},
		{"disagreeing", time.Second, scale.Resources{Cpus: 1}, 0},
	} {
		b := &Collector{MaxAge: 20 * time.Second}
		if tc.other != (scale.Resources{}) {
			b.seen = map[AutoclusterKey]remembered{{Schedd: "127.0.0.1:1", ID: 1}: {need: tc.other}}
		}
		if n, err := b.Restore(text, now.Add(tc.later)); err != nil || n != tc.want || len(b.seen) != tc.want {
			t.Errorf("%s: restored %d (%v), remembers %d groups, want %d", tc.name, n, err, len(b.seen), tc.want)
		}
	}
	if _, err := (&Collector{}).Restore("{oops", now); err == nil || !strings.Contains(err.Error(), AttrEligibleSeen) {
		t.Errorf("bad text: %v", err)
	}
}

// A schedd that moves a group's jobs to a new autocluster id: the new id
// takes the memory of the group gone in the same read (same schedd, shape
// and pins), not of one still there, nor of another schedd's.
func TestAMovedGroupKeepsItsOffers(t *testing.T) {
	r1, r2, r3 := offer("a", "r1", "m", 2, 4000, 2).OfferKey, offer("a", "r2", "m", 2, 4000, 2).OfferKey, offer("a", "r3", "m", 2, 4000, 2).OfferKey
	group := func(addr string, id int) Group {
		return Group{Schedd: "s", ScheddAddr: addr, Autocluster: id, Cpus: 2, MemoryMB: 1500, Idle: 2}
	}
	key := func(g Group) AutoclusterKey {
		return AutoclusterKey{Schedd: NormalizeAddress(g.ScheddAddr), ID: g.Autocluster}
	}
	six, one, other := group("<127.0.0.1:1>", 6), group("<127.0.0.1:1>", 1), group("<127.0.0.1:2>", 1)
	_, mem := remember(nil, []Group{six}, map[AutoclusterKey][]scale.OfferKey{key(six): {r1, r2, r3}})
	for _, tc := range []struct {
		name   string
		groups []Group
		want   int
	}{
		{"moved", []Group{one}, 3},
		{"the old one still there", []Group{six, one}, 1},
		{"another schedd's", []Group{other}, 1},
	} {
		elig := map[AutoclusterKey][]scale.OfferKey{key(one): {r2}, key(other): {r2}, key(six): {r1, r2, r3}}
		got, _ := remember(mem, tc.groups, elig)
		if g := tc.groups[len(tc.groups)-1]; len(got[key(g)]) != tc.want {
			t.Errorf("%s: %v, want %d offers", tc.name, got[key(g)], tc.want)
		}
	}
}
