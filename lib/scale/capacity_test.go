package scale

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The capacity step alone: bins of the nodes standing, busy first.
func TestBins(t *testing.T) {
	in := base()
	in.Nodes = []Node{
		node("a", Booting, medium),
		node("b", Idle, small),
		node("c", Busy, large, free(Resources{Cpus: 2})),
		node("d", Retiring, large),
		node("e", Idle, large),
		node("f", Requested, bMed),
	}
	l := lifecycle(in, clean(in.Knobs))
	gone := []bool{false, false, false, false, true, false} // e drained now
	cat := newCatalog(in)
	got := bins(l.nodes, gone, cat)
	want := []bin{
		{node: 2, offer: cat.offerIdx[large], free: Resources{Cpus: 2}, kind: 0},
		{node: 1, offer: cat.offerIdx[small], free: sizes[small], kind: 1},
		{node: 0, offer: cat.offerIdx[medium], free: sizes[medium], kind: 2},
		{node: 5, offer: cat.offerIdx[bMed], free: sizes[bMed], kind: 2},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(bin{})); diff != "" {
		t.Errorf("bins (-want +got):\n%s", diff)
	}
}

// The capacity step alone: demand groups, largest first, with the offers
// each may use.
func TestGroups(t *testing.T) {
	in := base()
	unmatched := func(d Demand, since time.Duration, o OfferKey) Demand {
		d.Unmatched = append(d.Unmatched, Unmatched{Offer: o, Since: now.Add(-since)})
		return d
	}
	in.Demand = []Demand{
		jobs("s#small", 1, 1024, 2, small, medium),
		jobs("s#none", 1, 1024, 0, small), // nothing idle: no group
		jobs("s#big", 16, 1024, 1, large, medium),
		unmatched(unmatched(jobs("s#unm", 2, 2048, 1, small, medium), 5*time.Minute, small), time.Minute, medium),
		jobs("s#gone", 4, 0, 1, cSmall, gpu),
		jobs("s#neg", -1, -5, 1, small),
	}
	cat := newCatalog(in)
	got := groups(in.Demand, now, 3*time.Minute, cat)
	type view struct {
		Key           string
		Need          Resources
		Elig          []string
		Unknown       []OfferKey
		Fits, Offered bool
		Refused       int
	}
	var views []view
	for _, g := range got {
		v := view{Key: g.d.Key, Need: g.need, Unknown: g.unknwn, Fits: g.fits, Offered: g.offered, Refused: len(g.refused)}
		for _, oi := range g.elig {
			v.Elig = append(v.Elig, cat.offers[oi].Flavor)
		}
		views = append(views, v)
	}
	want := []view{
		{Key: "s#big", Need: Resources{Cpus: 16, MemoryMB: 1024}, Elig: []string{"m1.large", "m1.medium"}, Offered: true},
		{Key: "s#gone", Need: Resources{Cpus: 4}, Elig: []string{"g.large"}, Unknown: []OfferKey{cSmall}, Fits: true, Offered: true},
		{Key: "s#unm", Need: Resources{Cpus: 2, MemoryMB: 2048}, Elig: []string{"m1.medium"}, Fits: true, Offered: true, Refused: 1},
		{Key: "s#small", Need: Resources{Cpus: 1, MemoryMB: 1024}, Elig: []string{"m1.medium", "m1.small"}, Fits: true, Offered: true},
		{Key: "s#neg", Need: Resources{Cpus: 1}, Elig: []string{"m1.small"}, Fits: true, Offered: true},
	}
	if diff := cmp.Diff(want, views); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		free, need Resources
		fit        int
		holds      bool
	}{
		{Resources{Cpus: 8, MemoryMB: 16384}, Resources{Cpus: 2, MemoryMB: 2048}, 4, true},
		{Resources{Cpus: 8, MemoryMB: 4096}, Resources{Cpus: 2, MemoryMB: 2048}, 2, true},
		{Resources{Cpus: 8, MemoryMB: 4096, GPUs: 1}, Resources{Cpus: 1, GPUs: 2}, 0, false},
		{Resources{Cpus: 2, DiskMB: 100}, Resources{Cpus: 1, DiskMB: 40}, 2, true},
		{Resources{Cpus: -1}, Resources{Cpus: 1}, 0, false},
	} {
		if got := fit(tc.free, norm(tc.need)); got != tc.fit {
			t.Errorf("fit(%v, %v) = %d, want %d", tc.free, tc.need, got, tc.fit)
		}
		if got := tc.free.Holds(tc.need); got != tc.holds {
			t.Errorf("%v.Holds(%v) = %v, want %v", tc.free, tc.need, got, tc.holds)
		}
	}
	// A job asking no cpu asks one, as HTCondor counts it.
	if (Resources{MemoryMB: 100}).Holds(Resources{MemoryMB: 10}) {
		t.Error("a node with no cpu holds a job")
	}
	got := Resources{Cpus: 8, MemoryMB: 100, DiskMB: 5, GPUs: 1}.Minus(Resources{Cpus: 2, MemoryMB: 50, DiskMB: 10, GPUs: 1})
	if want := (Resources{Cpus: 6, MemoryMB: 50, DiskMB: -5}); got != want {
		t.Errorf("Minus = %v, want %v", got, want)
	}
}
