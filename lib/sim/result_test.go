package sim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// A run that did not settle says so on its first line, in the text and
// in JSON, and claims no ratio; the comparison refuses.
func TestUnsettledRunClaimsNothing(t *testing.T) {
	jobs := make([]Job, 40)
	for i := range jobs {
		jobs[i] = Job{Runtime: 2 * time.Hour, Cpus: 1, MemoryMB: 500}
	}
	opt := demoOptions()
	opt.Config.Scaling.Max = 1
	opt.Config.Clouds[0].Flavors = []string{"m1.small"}
	tr := &Trace{Name: "queue.csv", Jobs: jobs}
	res, err := Run(ctx, tr, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Settled || res.Ratio != 0 || !strings.HasPrefix(res.Outcome, "NOT SETTLED") {
		t.Fatalf("settled %v, ratio %g, outcome %q", res.Settled, res.Ratio, res.Outcome)
	}
	var b strings.Builder
	res.WriteText(&b)
	text := b.String()
	if !strings.HasPrefix(text, "NOT SETTLED: at the time limit") || strings.Contains(text, "ratio ") || !strings.Contains(text, "not settled: no ratio") {
		t.Errorf("text:\n%s", text)
	}
	if !strings.Contains(res.Outcome, "jobs had not finished and 1 VMs were up") {
		t.Errorf("outcome %q does not say what was left", res.Outcome)
	}
	js, _ := json.Marshal(res)
	if !strings.HasPrefix(string(js), `{"settled":false,"outcome":"NOT SETTLED`) || strings.Contains(string(js), `"ratio"`) {
		t.Errorf("JSON starts %.120s", js)
	}
	opt.Baseline = true
	base, err := Run(ctx, tr, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compare(res, base); err == nil || !strings.Contains(err.Error(), "ehos and baseline did not settle") {
		t.Errorf("compare: %v", err)
	}
}

// A settled run reports its cost against the bound, and the cost is every
// VM's life at its flavor's cost: configured where flavor_overrides gives
// one, else its vCPUs.
func TestSettledRunCost(t *testing.T) {
	tr := &Trace{Name: "one.csv", Jobs: []Job{{Runtime: time.Hour, Cpus: 1, MemoryMB: 500}}}
	opt := demoOptions()
	opt.Config.Clouds[0].Flavors = []string{"m1.medium"}
	res, err := Run(ctx, tr, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Settled || res.Outcome != "settled" || res.Ratio <= 1 || !near(res.Cost, 2*res.VMHours) || !near(res.Ratio, res.Cost/res.Bound.Cost) {
		t.Errorf("settled %v %q: cost %.3f for %.3f VM-hours of 2 vCPUs, ratio %.3f to %.3f", res.Settled, res.Outcome, res.Cost, res.VMHours, res.Ratio, res.Bound.Cost)
	}
	opt.Config.Clouds[0].FlavorOverrides = map[string]cloud.FlavorExtra{"m1.medium": {Cost: 0.5}}
	cheap, err := Run(ctx, tr, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !near(cheap.Cost, 0.5*cheap.VMHours) || !near(cheap.Bound.Cost, res.Bound.Cost/4) {
		t.Errorf("at 0.5 an hour: cost %.3f for %.3f VM-hours, bound %.3f (was %.3f at 2)", cheap.Cost, cheap.VMHours, cheap.Bound.Cost, res.Bound.Cost)
	}
	var b strings.Builder
	res.WriteText(&b)
	if text := b.String(); !strings.HasPrefix(text, "trace       one.csv\n") || !strings.Contains(text, "ratio ") || strings.Contains(text, "SETTLED") {
		t.Errorf("text:\n%s", text)
	}
}

// The comparison line says which way the wait went, and by how much.
func TestComparisonWords(t *testing.T) {
	for _, tc := range []struct {
		ehos, base float64
		want       string
	}{
		{147, 401, "mean wait 2m27s against 6m41s (2.73× lower)"},
		{71, 13, "mean wait 1m11s against 13s (5.46× higher)"},
		{0, 13, "mean wait 0s against 13s (none against some)"},
		{0, 0, "mean wait 0s against 0s (the same)"},
		{10, 0, "mean wait 10s against 0s (some against none)"},
	} {
		c, err := Compare(&Result{Settled: true, MeanWait: tc.ehos, Cost: 1, VMHours: 1, Boot: 120, NegotiationInterval: 60}, &Result{Settled: true, MeanWait: tc.base, Cost: 2, VMHours: 4})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.String(); !strings.Contains(got, tc.want) || !strings.Contains(got, "cost 0.50× the baseline's; VM-hours 0.25×") {
			t.Errorf("%v vs %v: %q, want %q", tc.ehos, tc.base, got, tc.want)
		}
	}
}

// The goal against a baseline: half its wait where it waits longer than
// boot + join + one negotiation interval, else no more than it; never at
// more cost.
func TestComparisonGoal(t *testing.T) {
	for _, tc := range []struct {
		ehos, base, ehosCost float64
		twice, met           bool
	}{
		{147, 401, 1, true, true},  // 2.7× lower, cheaper
		{147, 401, 3, true, false}, // dearer
		{250, 401, 1, true, false}, // not 2×
		{25, 17, 1, false, false},  // baseline at the floor, ehos waits longer
		{15, 17, 1, false, true},   // at the floor, ehos no longer
		{90, 180, 1, false, true},  // exactly the floor: not above it
	} {
		c, err := Compare(&Result{Settled: true, MeanWait: tc.ehos, Cost: tc.ehosCost, Boot: 120, NegotiationInterval: 60}, &Result{Settled: true, MeanWait: tc.base, Cost: 2})
		if err != nil {
			t.Fatal(err)
		}
		if c.Met != tc.met || strings.Contains(c.Goal, "half") != tc.twice || c.Floor != 180 {
			t.Errorf("ehos %gs at %g against %gs at 2: met %v, goal %q", tc.ehos, tc.ehosCost, tc.base, c.Met, c.Goal)
		}
		if want := map[bool]string{true: ": met", false: ": not met"}[tc.met]; !strings.HasSuffix(c.String(), want) {
			t.Errorf("%q does not end %q", c.String(), want)
		}
	}
}
