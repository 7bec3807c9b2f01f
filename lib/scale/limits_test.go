package scale

import (
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// ledgerFor builds the ledger Decide would for in, before anything is
// created.
func ledgerFor(in Input) (*catalog, *ledger) {
	k := clean(in.Knobs)
	cat := newCatalog(in)
	return cat, newLedger(k, cat, count(lifecycle(in, k), cat))
}

// The limits step alone: room for one offer, the limit that binds with its
// figures, and take counting against them.
func TestLedger(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Input)
		offer OfferKey
		room  int
		block Block
		// after taking one VM of offer
		roomAfter int
	}{
		{"no limit binds", func(in *Input) { in.Knobs = Knobs{} }, small, unlimited, Block{Limit: LimitNone}, unlimited},
		{"max counts every existing server", func(in *Input) {
			in.Knobs.Max = 3
			in.Nodes = []Node{node("w1", Deleting, small), node("w2", Idle, small)}
		}, small, 1, Block{Limit: LimitMax, Of: 3, Exists: 2, Out: StateCounts{Deleting: 1}}, 0},
		{"max_booting counts requested and booting", func(in *Input) {
			in.Knobs.MaxBooting = 2
			in.Nodes = []Node{node("w1", Booting, small, since(time.Minute))}
		}, medium, 1, Block{Limit: LimitMaxBooting, Of: 2, Booting: 1}, 0},
		{"max_creates_per_cycle", func(in *Input) { in.Knobs.MaxCreatesPerCycle = 2 }, small, 2, Block{Limit: LimitPerCycle, Of: 2}, 1},
		{"a cloud's max_vms", func(in *Input) {
			in.Clouds[1].MaxVMs = 2
			in.Nodes = []Node{node("w1", Failed, bMed)}
		}, bMed, 1, Block{Limit: LimitCloudMax, Cloud: "siteB", Of: 2, Exists: 1, Out: StateCounts{Deleting: 1}}, 0},
		{"instance quota", func(in *Input) {
			in.Regions[0].Limits = &cloud.Limits{MaxInstances: 5, UsedInstances: 3, MaxCores: -1, MaxRAMMB: -1}
		}, large, 2, Block{Limit: LimitQuota, Loc: locA, Resource: "instances", Used: 3, Of: 5}, 1},
		{"cores quota counts the flavor's own vcpus", func(in *Input) {
			in.Regions[0].Limits = &cloud.Limits{MaxInstances: -1, MaxCores: 20, UsedCores: 2, MaxRAMMB: -1}
			in.Regions[0].Offers[2].VCPUs = 9 // m1.large
		}, large, 2, Block{Limit: LimitQuota, Loc: locA, Resource: "cores", Used: 2, Of: 20, Flavor: "m1.large", Needs: 9}, 1},
		{"ram quota", func(in *Input) {
			in.Regions[0].Limits = &cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: 40000}
		}, large, 2, Block{Limit: LimitQuota, Loc: locA, Resource: "ram", Of: 40000, Flavor: "m1.large", Needs: 16384}, 1},
		{"quota unknown", func(in *Input) { in.Regions[0].Limits = nil }, small, 0, Block{Limit: LimitQuotaUnknown, Loc: locA}, 0},
		{"back-off", func(in *Input) {
			in.Regions[1].BackoffUntil, in.Regions[1].BackoffReason = backoffUntil, "quota exceeded"
		}, bMed, 0, Block{Limit: LimitBackoff, Loc: locB, Until: backoffUntil, Why: "quota exceeded"}, 0},
		{"an offer no region lists", func(in *Input) { in.Nodes = []Node{node("w1", Idle, cLarge)} }, cLarge, 0,
			Block{Limit: LimitNotOffered, Loc: locC, Flavor: "m1.large"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			cat, led := ledgerFor(in)
			oi := cat.offerIdx[tc.offer]
			room, lim, bind := led.room(oi)
			if room != tc.room {
				t.Errorf("room %d, want %d", room, tc.room)
			}
			if diff := cmp.Diff(tc.block, led.block(oi, lim, bind)); diff != "" {
				t.Errorf("block (-want +got):\n%s", diff)
			}
			if room == 0 {
				return
			}
			led.take(oi, 1)
			if after, _, _ := led.room(oi); after != tc.roomAfter {
				t.Errorf("room after taking one: %d, want %d", after, tc.roomAfter)
			}
		})
	}
}

// Take books each VM against the region's cores and ram too, and the
// planned figures show in the limit that binds next.
func TestLedgerTakeCountsPlanned(t *testing.T) {
	in := base()
	in.Knobs.Max = 4
	in.Regions[0].Limits = &cloud.Limits{MaxInstances: 10, MaxCores: 12, MaxRAMMB: -1}
	cat, led := ledgerFor(in)
	led.take(cat.offerIdx[medium], 2) // 8 cores
	oi := cat.offerIdx[medium]
	room, lim, bind := led.room(oi)
	want := Block{Limit: LimitQuota, Loc: locA, Resource: "cores", Planned: 8, Of: 12, Flavor: "m1.medium", Needs: 4}
	if diff := cmp.Diff(want, led.block(oi, lim, bind)); room != 1 || diff != "" {
		t.Errorf("room %d, want 1; block (-want +got):\n%s", room, diff)
	}
	led.take(cat.offerIdx[bMed], 1)
	if n, lim := led.globalRoom(); n != 1 || lim != LimitMax {
		t.Errorf("global room %d (%s), want 1 under max", n, lim)
	}
}
