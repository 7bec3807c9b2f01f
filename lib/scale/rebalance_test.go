package scale

import (
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// The rebalancing step alone: which nodes are drained for the demand the
// packing starved, given the starved list directly.
func TestRebalance(t *testing.T) {
	big := jobs("s#1", 8, 16384, 3, large)
	big.Oldest = now.Add(-20 * time.Minute)
	fullA := func(in *Input) {
		in.Regions[0].Limits = &cloud.Limits{MaxInstances: 4, UsedInstances: 4, MaxCores: -1, MaxRAMMB: -1}
	}
	for _, tc := range []struct {
		name    string
		mod     func(*Input)
		starved starve // group 0 is big
		want    []string
	}{
		{"instance quota: misfits, idle first, then fewest running", fullA, starve{jobs: 3, fullIn: []int{0}},
			[]string{"w2 drain-frees-instance", "w3 drain-frees-instance", "w1 drain-frees-instance"}},
		{"instance quota: nodes on their way out count", func(in *Input) {
			fullA(in)
			in.Nodes = append(in.Nodes, node("w9", Retiring, small))
		}, starve{jobs: 3, fullIn: []int{0}}, []string{"w2 drain-frees-instance", "w3 drain-frees-instance"}},
		{"instance quota: never below min serving", func(in *Input) { fullA(in); in.Knobs.Min = 3 }, starve{jobs: 3, fullIn: []int{0}},
			[]string{"w2 drain-frees-instance"}},
		{"jobs that have not waited long enough", func(in *Input) { fullA(in); in.Demand[0].Oldest = now.Add(-time.Minute) },
			starve{jobs: 3, fullIn: []int{0}}, nil},
		{"max: nodes holding fewer per VM than the densest offer", func(in *Input) { in.Knobs.Max = 4 }, starve{jobs: 2, atMax: true},
			[]string{"w2 drain-makes-room", "w3 drain-makes-room"}},
		{"young nodes are kept", func(in *Input) {
			fullA(in)
			for i := range in.Nodes {
				in.Nodes[i].Created = now.Add(-time.Minute)
			}
		}, starve{jobs: 3, fullIn: []int{0}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			in.Demand = []Demand{big}
			in.Nodes = []Node{
				node("w1", Busy, small, running(2)),
				node("w2", Idle, small),
				node("w3", Busy, medium),
				node("w4", Busy, large),
			}
			tc.mod(&in)
			k := clean(in.Knobs)
			cat := newCatalog(in)
			l := lifecycle(in, k)
			gs := groups(in.Demand, now, UnmatchedAfter(k), cat)
			led := newLedger(k, cat, count(l, cat))
			var got []string
			for _, a := range rebalance(now, k, cat, l.nodes, l.gone, gs, []starve{tc.starved}, led) {
				got = append(got, l.nodes[a.node].Name+" "+string(a.why.Kind))
				if a.why.Demand != "s#1" || a.why.Jobs != tc.starved.jobs {
					t.Errorf("%s drained for %s, %d jobs; want s#1, %d", l.nodes[a.node].Name, a.why.Demand, a.why.Jobs, tc.starved.jobs)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("drains (-want +got):\n%s", diff)
			}
		})
	}
}
