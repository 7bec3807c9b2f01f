package scale

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The retiring step alone: which idle nodes are drained, and for which
// reason, given the nodes, the demand waiting and the last arrival.
func TestRetireIdle(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Input)
		want []string
	}{
		{"idle long enough: longest idle first, then the dearer", func(in *Input) {
			in.Nodes = []Node{node("a", Idle, small), node("b", Idle, large), node("c", Idle, medium, idleFor(2*time.Hour)), node("d", Idle, small, idleFor(time.Minute))}
		}, []string{"c drain-idle", "b drain-idle", "a drain-idle"}},
		{"min and spare are kept", func(in *Input) { // 4 serving, 3 spare: 2 may go
			in.Knobs.Min, in.Knobs.Spare = 2, 1
			in.Nodes = []Node{node("a", Idle, small), node("b", Idle, small), node("c", Idle, small), node("d", Busy, small)}
		}, []string{"a drain-idle", "b drain-idle"}},
		{"min binds before spare", func(in *Input) {
			in.Knobs.Min, in.Knobs.Spare = 3, 1
			in.Nodes = []Node{node("a", Idle, small), node("b", Idle, small), node("c", Idle, small), node("d", Busy, small)}
		}, []string{"a drain-idle"}},
		{"young nodes stay", func(in *Input) { in.Nodes = []Node{node("a", Idle, small, age(10*time.Minute))} }, nil},
		{"a waiting job could use it", func(in *Input) {
			in.Nodes = []Node{node("a", Idle, medium), node("b", Idle, small)}
			in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium, small)}
		}, []string{"b drain-idle"}},
		{"nothing arriving: past the grace", func(in *Input) {
			in.LastArrival = now.Add(-time.Hour)
			in.Nodes = []Node{node("a", Idle, small, idleFor(time.Minute)), node("b", Idle, small, idleFor(10*time.Second))}
		}, []string{"a drain-nothing-arriving"}},
		{"arrivals unknown: the full idle time", func(in *Input) {
			in.Nodes = []Node{node("a", Idle, small, idleFor(time.Minute))}
		}, nil},
		{"booting and busy nodes are not idle", func(in *Input) {
			in.Nodes = []Node{node("a", Booting, small, since(time.Minute)), node("b", Busy, small)}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			k := clean(in.Knobs)
			cat := newCatalog(in)
			l := lifecycle(in, k)
			bs := bins(l.nodes, l.gone, cat)
			gs := groups(in.Demand, now, UnmatchedAfter(k), cat)
			var got []string
			for _, a := range retireIdle(idle{now: now, k: k, lastArrival: in.LastArrival, cat: cat, nodes: l.nodes, gone: l.gone, bins: bs, used: make([]bool, len(bs)), groups: gs}) {
				got = append(got, l.nodes[a.node].Name+" "+string(a.why.Kind))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("drains (-want +got):\n%s", diff)
			}
		})
	}
}
