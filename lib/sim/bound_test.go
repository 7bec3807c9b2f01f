package sim

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

var cmpFloat = cmpopts.EquateApprox(0, 1e-9)

// Two flavors: s (1 cpu) costs 1 an hour; l (4 cpus) is configured at 3,
// cheaper per core.
var boundOffers = []boundOffer{
	{Name: "s", Size: scale.Resources{Cpus: 1, MemoryMB: 1792}, VCPUs: 1, Cost: 1},
	{Name: "l", Size: scale.Resources{Cpus: 4, MemoryMB: 7168}, VCPUs: 4, Cost: 3},
}

func TestLowerBound(t *testing.T) {
	jobs := []Job{
		{Submit: 0, Runtime: time.Hour, Cpus: 1, MemoryMB: 100},
		{Submit: 0, Runtime: time.Hour, Cpus: 2, MemoryMB: 100},
		{Submit: time.Hour, Runtime: 2 * time.Hour, Cpus: 4, MemoryMB: 100},
		{Submit: 0, Runtime: time.Hour, Cpus: 8, MemoryMB: 100}, // no flavor
	}
	got := lowerBound(jobs, boundOffers, 6*time.Minute)
	// Cores: the 1-cpu job is cheapest on l (3/4), the others only fit
	// l: 0.75 + 1.5 + 2·3. Memory: the 1- and 2-cpu jobs are 100/7168 of
	// l's at 3; the 4-cpu job leaves l no core for another job, so it has
	// l to itself: 2·3 whatever the mix.
	mem := 3*100.0/7168*2 + 6
	want := Bound{
		Work: 8.25, CoreWork: 8.25, MemoryWork: mem, Mix: 1,
		Boot: 0.3, Cost: 8.55, BootSeconds: 360, // one boot of l, the only holder of the 4-cpu job
		Unservable: 1, Shapes: []Shape{{Cpus: 8, MemoryMB: 100, Jobs: 1}},
	}
	if d := cmp.Diff(want, got, cmpFloat); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

// A job that needs most of a flavor's memory is charged for the memory,
// not for its one core.
func TestLowerBoundCountsMemory(t *testing.T) {
	// (The job of no run time is there so that others fit beside it.)
	got := lowerBound([]Job{{Runtime: time.Hour, Cpus: 1, MemoryMB: 7000}, {Cpus: 1}}, boundOffers, 0)
	if want := 3 * 7000.0 / 7168; !near(got.Work, want) || got.Mix != 0 {
		t.Errorf("work %.4f at mix %.2f, want %.4f (memory alone) at 0", got.Work, got.Mix, want)
	}
	if !near(got.CoreWork, 0.75) {
		t.Errorf("cores alone %.4f, want 0.75", got.CoreWork)
	}
}

// Where the cheapest flavor per core and per MB differ, a mix of both
// bounds higher than either alone. A job of 1 cpu and 1000 MB: on p (2
// cpus, 4000 MB, cost 2) it is charged λ + (1−λ)/2, on q (8 cpus, 1000 MB,
// cost 4) 4·(λ/8 + 1−λ); the cheaper of the two is 0.5 at λ 0 and 1 and
// 0.9375 at λ 0.875. (Two such jobs fill p: the true least is 1.)
func TestLowerBoundMix(t *testing.T) {
	offers := []boundOffer{
		{Name: "p", Size: scale.Resources{Cpus: 2, MemoryMB: 4000}, Cost: 2},
		{Name: "q", Size: scale.Resources{Cpus: 8, MemoryMB: 1000}, Cost: 4},
	}
	got := lowerBound([]Job{{Runtime: time.Hour, Cpus: 1, MemoryMB: 1000}, {Cpus: 1}}, offers, 0)
	if !near(got.CoreWork, 0.5) || !near(got.MemoryWork, 0.5) || got.Work < 0.93 || got.Work > 0.9375 || got.Mix < 0.85 || got.Mix > 0.9 {
		t.Errorf("got %+v, want work in [0.93, 0.9375] near mix 0.875, 0.5 for cores or memory alone", got)
	}
}

// A job that leaves its VM too little room for any job of the trace has
// it to itself: a 3-cpu job on a 4-cpu flavor where the smallest job asks
// 2 cpus is charged the whole VM, not 3/4 of it; once a 1-cpu job is in
// the trace, its share again.
func TestLowerBoundAlone(t *testing.T) {
	l := []boundOffer{boundOffers[1]}
	got := lowerBound([]Job{{Runtime: time.Hour, Cpus: 3}, {Cpus: 2}}, l, 0)
	if !near(got.Work, 3) || !near(got.MemoryWork, 3) {
		t.Errorf("3 cpus among 2-cpu jobs: %+v, want the whole of l (3)", got)
	}
	got = lowerBound([]Job{{Runtime: time.Hour, Cpus: 3}, {Cpus: 1}}, l, 0)
	if !near(got.Work, 2.25) {
		t.Errorf("3 cpus beside a 1-cpu job: work %.3f, want 3/4 of l (2.25)", got.Work)
	}
	// memory: 5000 MB on l (7168) leaves 2168, under the 3000 the other
	// shape needs, which is itself too large to go beside a second copy
	got = lowerBound([]Job{{Runtime: time.Hour, Cpus: 1, MemoryMB: 5000}, {Cpus: 1, MemoryMB: 3000}}, l, 0)
	if !near(got.Work, 3) {
		t.Errorf("5000 MB among 3000-MB jobs: work %.3f, want 3", got.Work)
	}
}

func TestMinimalShapes(t *testing.T) {
	got := minimalShapes([]Shape{{1, 3000, 0}, {1, 5000, 0}, {2, 1000, 0}, {2, 4000, 0}, {4, 0, 0}, {8, 0, 0}})
	if d := cmp.Diff([]Shape{{1, 3000, 0}, {2, 1000, 0}, {4, 0, 0}}, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestFlavorCost(t *testing.T) {
	f := cloud.Flavor{VCPUs: 4, RAMMB: 8192}
	if got := FlavorCost(f, cloud.FlavorExtra{}); got != 4 {
		t.Errorf("no cost configured: %g, want the 4 vCPUs", got)
	}
	if got := FlavorCost(f, cloud.FlavorExtra{Cost: 2.5}); got != 2.5 {
		t.Errorf("configured 2.5: %g", got)
	}
}

func TestShapesText(t *testing.T) {
	shapes := []Shape{{8, 100, 3}, {16, 0, 2}, {32, 0, 1}}
	if got, want := ShapesText(shapes, 2), "3× 8 cpus 100 MB, 2× 16 cpus 0 MB, and 1 more shapes"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := ShapesText(shapes, 5); strings.Contains(got, "more") {
		t.Errorf("%q lists all three without 'more'", got)
	}
}
