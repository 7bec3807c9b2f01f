package scale

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The headroom step through Decide: while jobs wait and a node runs jobs,
// one VM of the cheapest eligible offer holding a job of the widest demand
// seen waiting, unless a node or a planned VM has room for one; never with
// no job idle, at max, or with the window off.
func TestHeadroom(t *testing.T) {
	wide := jobs("w", 4, 1000, 0, small, medium, large) // seen waiting, none idle now
	waiting := []Demand{jobs("a", 1, 1000, 1, small, medium, large)}
	busy := node("b", Busy, large)
	type view struct {
		Headroom []string // "count × flavor" of headroom creates
		Drains   []string
	}
	for _, tc := range []struct {
		name string
		mod  func(*Input)
		want view
	}{
		{"no room for the widest: the cheapest offer that holds one", func(*Input) {}, view{Headroom: []string{"1 × m1.medium"}}},
		{"window off", func(in *Input) { in.Knobs.HeadroomWindow = 0 }, view{}},
		{"no widest seen", func(in *Input) { in.Widest = nil }, view{}},
		{"no job idle", func(in *Input) { in.Demand = nil }, view{}},
		{"idle jobs no flavor holds do not count", func(in *Input) { in.Demand = []Demand{jobs("x", 64, 1000, 1, small)} }, view{}},
		{"no node runs jobs", func(in *Input) { in.Nodes = nil }, view{}},
		{"a busy node has room (after the waiting job)", func(in *Input) {
			in.Nodes = []Node{node("b", Busy, large, free(Resources{Cpus: 5, MemoryMB: 8192}))}
		}, view{}},
		{"a busy node had room but the waiting job takes it", func(in *Input) {
			in.Nodes = []Node{node("b", Busy, large, free(Resources{Cpus: 4, MemoryMB: 8192}))}
		}, view{Headroom: []string{"1 × m1.medium"}}},
		{"a booting node has room", func(in *Input) {
			in.Nodes = append(in.Nodes, node("n", Booting, large, since(time.Minute), age(time.Minute)))
		}, view{}},
		{"a booting node of an offer the widest may not use does not count", func(in *Input) {
			in.Nodes = append(in.Nodes, node("n", Booting, bMed, since(time.Minute), age(time.Minute)))
		}, view{Headroom: []string{"1 × m1.medium"}}},
		{"a VM planned this cycle has room", func(in *Input) { in.Demand = []Demand{jobs("a", 1, 1000, 1, large)} }, view{}},
		{"an idle node with room is kept from retiring", func(in *Input) {
			in.Demand = []Demand{jobs("a", 1, 1000, 1, small)}
			in.Nodes = append(in.Nodes, node("i", Idle, medium, idleFor(time.Hour)))
		}, view{}},
		{"window off: that idle node retires", func(in *Input) {
			in.Knobs.HeadroomWindow = 0
			in.Demand = []Demand{jobs("a", 1, 1000, 1, small)}
			in.Nodes = append(in.Nodes, node("i", Idle, medium, idleFor(time.Hour)))
		}, view{Drains: []string{"i"}}},
		{"at max nothing", func(in *Input) { in.Knobs.Max = 2 }, view{}},
		{"an offer found unmatched is not used", func(in *Input) {
			w := *in.Widest
			w.Unmatched = []Unmatched{{Offer: medium, Since: now.Add(-time.Hour)}}
			in.Widest = &w
		}, view{Headroom: []string{"1 × m1.large"}}},
		{"a widest no offer holds", func(in *Input) { w := jobs("w", 64, 1000, 0, large); in.Widest = &w }, view{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			in.Knobs.HeadroomWindow = 5 * time.Minute
			in.Knobs.IdleBeforeRetire = time.Minute
			in.Knobs.MinLifetime = 0
			w := wide
			in.Widest, in.Demand, in.Nodes = &w, waiting, []Node{busy}
			tc.mod(&in)
			d := Decide(in)
			var got view
			for _, c := range d.Creates {
				if c.Reason.Kind != CreateForHeadroom {
					continue
				}
				got.Headroom = append(got.Headroom, fmtCount(c))
				if r := c.Reason; r.Demand != in.Widest.Key || r.Need != norm(in.Widest.Need) || r.Knob != in.Knobs.HeadroomWindow || r.Count != 1 || r.Offer != c.Offer {
					t.Errorf("reason figures %+v", r)
				}
			}
			for _, a := range d.Drains {
				got.Drains = append(got.Drains, a.Node)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}
