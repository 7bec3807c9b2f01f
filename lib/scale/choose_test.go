package scale

import (
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// The choice of an offer alone: one round for rem jobs of the group's
// demand d, given what the ledger leaves.
func TestChoose(t *testing.T) {
	quota := func(r int, inst int) func(*Input) {
		return func(in *Input) {
			in.Regions[r].Limits = &cloud.Limits{MaxInstances: inst, MaxCores: -1, MaxRAMMB: -1}
		}
	}
	type want struct {
		Offer      string
		Per, Room  int
		Pick       Pick
		Other      string
		FullIn     []cloud.Location
		CappedIn   []string
		NoneOffers bool
	}
	for _, tc := range []struct {
		name     string
		mod      func(*Input)
		d        Demand
		rem      int
		longWait bool
		want     want
	}{
		{"cheapest per job", nil, jobs("s#1", 4, 8192, 4, small, medium, large), 4, false,
			want{Offer: "m1.medium", Per: 1, Room: 10, Pick: PickCheapest}},
		{"equal cost per job: the offer holding fewer", nil, jobs("s#1", 2, 4096, 4, medium, large), 4, false,
			want{Offer: "m1.medium", Per: 2, Room: 10, Pick: PickCheapest}},
		{"equal cost: the higher weight", nil, jobs("s#1", 4, 8192, 1, medium, bMed), 1, false,
			want{Offer: "b.medium", Per: 1, Room: 10, Pick: PickCheapest}},
		{"the cheapest has no room", quota(1, 0), jobs("s#1", 4, 8192, 1, medium, bMed), 1, false,
			want{Offer: "m1.medium", Per: 1, Room: 10, Pick: PickCheapestWithRoom, Other: "b.medium"}},
		{"an instance quota too small for all: the offer serving most", quota(0, 2), jobs("s#1", 2, 4096, 8, small, large), 8, false,
			want{Offer: "m1.large", Per: 4, Room: 2, Pick: PickServesMost, Other: "m1.small"}},
		{"max before the long wait: cheapest fit", func(in *Input) { in.Knobs.Max = 2 }, jobs("s#1", 2, 4096, 8, small, large), 8, false,
			want{Offer: "m1.small", Per: 1, Room: 2, Pick: PickCheapest}},
		{"max after the long wait: the offer serving most", func(in *Input) { in.Knobs.Max = 2 }, jobs("s#1", 2, 4096, 8, small, large), 8, true,
			want{Offer: "m1.large", Per: 4, Room: 2, Pick: PickServesMost, Other: "m1.small"}},
		{"no room anywhere: the full quotas", func(in *Input) { quota(0, 0)(in); quota(1, 0)(in) }, jobs("s#1", 4, 8192, 2, medium, bMed), 2, false,
			want{FullIn: []cloud.Location{locA, locB}}},
		{"no room: clouds at max_vms after the long wait", func(in *Input) {
			in.Clouds[0].MaxVMs, in.Clouds[1].MaxVMs = 1, 1
			in.Nodes = []Node{node("w1", Busy, small), node("w2", Busy, bMed)}
		}, jobs("s#1", 4, 8192, 2, medium, bMed), 2, true, want{CappedIn: []string{"siteA", "siteB"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			if tc.mod != nil {
				tc.mod(&in)
			}
			cat, led := ledgerFor(in)
			g := newGroup(tc.d, now, time.Minute, cat)
			p := choose(cat, led, &g, tc.rem, tc.longWait, &cands{})
			var got want
			if p.oi >= 0 {
				got = want{Offer: cat.offers[p.oi].Flavor, Per: p.per, Room: p.room, Pick: p.how.Pick}
				if p.how.Pick != PickCheapest {
					got.Other = p.how.Other.Flavor
				}
			}
			for _, r := range p.fullIn {
				got.FullIn = append(got.FullIn, cat.regions[r].loc)
			}
			for _, c := range p.capped {
				got.CappedIn = append(got.CappedIn, cat.clouds[c].name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("choose (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCmpCost(t *testing.T) {
	if cmpCost(6.0/4, 1.5) != 0 || cmpCost(1, 1.0000001) != -1 || cmpCost(2, 1) != 1 {
		t.Error("cmpCost should tie within a part in a billion and order otherwise")
	}
}
