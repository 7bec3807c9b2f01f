package sim

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseKnob(t *testing.T) {
	cfg := DemoConfig()
	k, err := ParseKnob("idle_before_retire=0s, 2m,10m", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Knob{Name: "idle_before_retire", Values: []string{"0s", "2m", "10m"}}, k); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	for spec, want := range map[string]string{
		"spare":           "want KNOB=V1,V2",
		"spare=":          "want KNOB=V1,V2",
		"nope=1":          `unknown knob "nope"`,
		"spare=1,x":       `spare "x": want a whole number`,
		"cycle=0s":        "cycle above zero",
		"spare=100":       "scaling.spare",
		"min=-1":          "want a whole number, 0 or more",
		"max_booting=1,2": "",
	} {
		_, err := ParseKnob(spec, cfg)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
	if cfg.Scaling != DemoConfig().Scaling {
		t.Error("ParseKnob changed the configuration it checks against")
	}
}

// The frontier is the settled points no other beats on both cost and
// wait; the recommendation is the cheapest of them that meets the goal,
// else the one that waits least.
func TestRecommend(t *testing.T) {
	pt := func(v string, cost, wait float64, settled bool) SweepPoint {
		return SweepPoint{Values: []string{v}, Cost: cost, MeanWait: wait, Settled: settled}
	}
	sw := &Sweep{Knobs: []Knob{{Name: "spare"}}, Goal: 100, Points: []SweepPoint{
		pt("0", 10, 300, true), // cheapest, waits long: frontier
		pt("1", 12, 90, true),  // meets the goal: recommended
		pt("2", 13, 95, true),  // beaten by 1
		pt("3", 20, 30, true),  // frontier
		pt("4", 5, 10, false),  // not settled: nowhere
		pt("5", 12, 90, true),  // ties 1: both on the frontier
		pt("6", 25, 120, true), // beaten
	}}
	sw.Points[2].Current = true
	sw.recommend()
	var front []string
	for _, p := range sw.Points {
		if p.Frontier {
			front = append(front, p.Values[0])
		}
	}
	if d := cmp.Diff([]string{"0", "1", "3", "5"}, front); d != "" {
		t.Errorf("frontier (-want +got)\n%s", d)
	}
	if r := sw.Recommended(); r != 1 && r != 5 {
		t.Errorf("recommended %d, want spare 1 (or its twin 5): %s", r, sw.Why)
	}
	for _, want := range []string{"meets the goal of 1m40s", "the cheapest of all (spare=0) costs 16.7% less but its jobs wait 5m0s", "against your configuration's own values (spare=2): cost 0.92×"} {
		if !strings.Contains(sw.Why, want) {
			t.Errorf("why %q lacks %q", sw.Why, want)
		}
	}

	sw.Goal = 10
	for i := range sw.Points {
		sw.Points[i].Frontier, sw.Points[i].Recommended = false, false
	}
	sw.recommend()
	if r := sw.Recommended(); r != 3 || !strings.Contains(sw.Why, "no configuration meets the goal of 10s") || !strings.Contains(sw.Why, "this one waits least (30s)") {
		t.Errorf("none meets the goal: recommended %d: %s", r, sw.Why)
	}

	none := &Sweep{Knobs: sw.Knobs, Points: []SweepPoint{pt("0", 1, 1, false)}}
	none.recommend()
	if none.Recommended() != -1 || !strings.Contains(none.Why, "no configuration settled") {
		t.Errorf("nothing settled: %d %s", none.Recommended(), none.Why)
	}
}

// A sweep runs every combination, the same in parallel as one at a time,
// and marks the configuration's own values.
func TestRunSweep(t *testing.T) {
	tr, opt := steadySample(t)
	knobs := []Knob{{Name: "spare", Values: []string{"0", "2"}}, {Name: "idle_before_retire", Values: []string{"2m", "10m"}}}
	par, err := RunSweep(ctx, tr, opt, knobs, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	one, err := RunSweep(ctx, tr, opt, knobs, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(one, par); d != "" {
		t.Errorf("parallel differs from serial (-serial +parallel)\n%s", d)
	}
	var grid []string
	for _, p := range par.Points {
		grid = append(grid, strings.Join(p.Values, " "))
		if !p.Settled || p.Cost < par.Bound {
			t.Errorf("%v: settled %v, cost %.2f, bound %.2f", p.Values, p.Settled, p.Cost, par.Bound)
		}
	}
	if d := cmp.Diff([]string{"0 2m", "0 10m", "2 2m", "2 10m"}, grid); d != "" {
		t.Errorf("grid (-want +got)\n%s", d)
	}
	if !par.Points[0].Current || par.Points[1].Current || par.Recommended() < 0 {
		t.Errorf("current %v, recommended %d", par.Points[0].Current, par.Recommended())
	}
	// more expensive when workers idle longer and spares wait
	if par.Points[3].Cost <= par.Points[0].Cost {
		t.Errorf("spare 2 idle 10m cost %.2f, not above spare 0 idle 2m's %.2f", par.Points[3].Cost, par.Points[0].Cost)
	}
	var text, svg strings.Builder
	par.WriteText(&text)
	par.WriteSVG(&svg)
	for _, want := range []string{"4 configurations of spare × idle_before_retire", "spare  idle_before_retire  cost", "frontier", "current", "\nrecommended "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if n := strings.Count(text.String(), "\n*"); n != 1 {
		t.Errorf("%d rows marked recommended:\n%s", n, text.String())
	}
	if s := svg.String(); !strings.HasPrefix(s, "<svg") || strings.Count(s, "<circle") != 5 || !strings.Contains(s, "recommended: ") || !strings.Contains(s, "<polyline") {
		t.Errorf("SVG: %.300s", s)
	}

	if _, err := RunSweep(ctx, tr, opt, []Knob{{Name: "spare", Values: []string{"0"}}, {Name: "spare", Values: []string{"1"}}}, 1, 0); err == nil {
		t.Error("a knob given twice was accepted")
	}
}

// With seeds, a point's figures are the means of its runs with the seeds
// counting up from the options' own, each run as Run gives it alone; the
// ranges are the least and greatest of them.
func TestRunSweepAveragesSeeds(t *testing.T) {
	tr, opt := steadySample(t)
	opt.Cloud.Seed = 7
	knobs := []Knob{{Name: "spare", Values: []string{"0", "1"}}}
	sw, err := RunSweep(ctx, tr, opt, knobs, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Seeds != 3 || sw.FirstSeed != 7 {
		t.Errorf("seeds %d from %d, want 3 from 7", sw.Seeds, sw.FirstSeed)
	}
	for i, spare := range []int{0, 1} {
		var cost, wait []float64
		for seed := uint64(7); seed < 10; seed++ {
			o := opt
			cfg := *opt.Config
			cfg.Scaling.Spare = spare
			o.Config, o.Cloud.Seed = &cfg, seed
			res, err := Run(ctx, tr, o)
			if err != nil {
				t.Fatal(err)
			}
			cost, wait = append(cost, res.Cost), append(wait, res.MeanWait)
		}
		if cost[0] == cost[1] && cost[1] == cost[2] && wait[0] == wait[1] && wait[1] == wait[2] {
			t.Fatalf("spare %d: seeds 7 to 9 gave the same run (%.3f, %.3f s): the test would not tell them apart", spare, cost[0], wait[0])
		}
		mean := func(v []float64) float64 { return (v[0] + v[1] + v[2]) / 3 }
		p := sw.Points[i]
		got := []float64{p.Cost, p.CostMin, p.CostMax, p.MeanWait, p.WaitMin, p.WaitMax}
		want := []float64{mean(cost), min(cost[0], cost[1], cost[2]), max(cost[0], cost[1], cost[2]), mean(wait), min(wait[0], wait[1], wait[2]), max(wait[0], wait[1], wait[2])}
		if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); d != "" {
			t.Errorf("spare %d: cost, its range, mean wait, its range (-want +got)\n%s", spare, d)
		}
		if !p.Settled || math.Abs(p.Ratio-p.Cost/sw.Bound) > 1e-12 {
			t.Errorf("spare %d: settled %v, ratio %.4f for cost %.2f and bound %.2f", spare, p.Settled, p.Ratio, p.Cost, sw.Bound)
		}
	}
	if _, err := RunSweep(ctx, tr, opt, knobs, 0, 0); err == nil {
		t.Error("0 seeds accepted")
	}
}

// A point settles only when every seed's run did, and says which did not.
func TestSweepPointAverageUnsettled(t *testing.T) {
	var p SweepPoint
	p.average([]*Result{{Settled: true, Cost: 10, MeanWait: 4, Outcome: "settled"}, {Cost: 20, MeanWait: 8, Outcome: "NOT SETTLED: 3 jobs left"}}, 5)
	if p.Settled || p.Outcome != "seed 6: NOT SETTLED: 3 jobs left" || p.Ratio != 0 || p.Cost != 15 || p.WaitMax != 8 {
		t.Errorf("%+v", p)
	}
}

// steadySample is steady.csv's first 60 jobs on the demo options: a sweep
// of it runs in a fraction of a second.
func steadySample(t *testing.T) (*Trace, Options) {
	t.Helper()
	tr, err := ReadTrace("testdata/steady.csv")
	if err != nil {
		t.Fatal(err)
	}
	tr.Jobs = tr.Jobs[:60]
	return tr, demoOptions()
}
