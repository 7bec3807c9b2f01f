package scale

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The lifecycle step alone: what becomes of one node by its state.
func TestNodeFate(t *testing.T) {
	k := base().Knobs
	k.MaxLifetime = 24 * time.Hour
	vanished := func(n *Node) { n.AdVanished = true }
	for _, tc := range []struct {
		name    string
		node    Node
		unknown string // Input.ScheddJobsUnknown
		want    Reason
		drain   bool
		notes   []Kind
	}{
		{"failed", node("w", Failed, small, func(n *Node) { n.Fault = "no host" }), "", Reason{Kind: DeleteFailed, Text: "no host"}, false, nil},
		{"booting in time", node("w", Booting, small, since(time.Minute)), "", Reason{}, false, nil},
		{"booting too long", node("w", Booting, small), "", Reason{Kind: DeleteNeverJoined, Knob: 15 * time.Minute, State: Booting, For: time.Hour}, false, nil},
		{"booting too long, a schedd runs a job there", node("w", Booting, small, func(n *Node) { n.ScheddJobs = []string{"j2", "j1"} }), "",
			Reason{}, false, []Kind{NoteScheddJobs}},
		{"drained", node("w", Drained, small), "", Reason{Kind: DeleteDrained}, false, nil},
		{"drained, still running", node("w", Drained, small, running(2)), "", Reason{}, false, []Kind{NoteDrainedRunning}},
		{"vanished after a retire request", node("w", Drained, small, vanished, func(n *Node) { n.RetireAsked = true }), "",
			Reason{Kind: DeleteVanishedRetired}, false, nil},
		{"vanished, token expired", node("w", Drained, small, vanished, func(n *Node) { n.TokenExpires = now.Add(-time.Second) }), "",
			Reason{Kind: DeleteVanishedTokenExpired, At: now.Add(-time.Second)}, false, nil},
		{"vanished, past max lifetime", node("w", Drained, small, vanished, age(25*time.Hour)), "",
			Reason{Kind: DeleteVanishedMaxLifetime, Knob: 24 * time.Hour}, false, nil},
		{"vanished, nothing run out", node("w", Drained, small, vanished), "", Reason{}, false, []Kind{NoteVanishedKept}},
		{"vanished, schedds not all asked", node("w", Drained, small, vanished, func(n *Node) { n.RetireAsked = true }), "schedd s2 down",
			Reason{}, false, []Kind{NoteScheddsUnknown}},
		{"deleting, not due", node("w", Deleting, small, since(4*time.Minute)), "", Reason{}, false, nil},
		{"deleting, second attempt due", node("w", Deleting, small, since(5*time.Minute)), "", Reason{Kind: DeleteRetry, For: 5 * time.Minute, Attempt: 2}, false, nil},
		{"deleting, third attempt not due", node("w", Deleting, small, since(14*time.Minute), func(n *Node) { n.Attempts = 2 }), "", Reason{}, false, nil},
		{"retiring past drain timeout", node("w", Retiring, small, since(2*time.Hour)), "", Reason{Kind: DeleteDrainTimeout, For: 2 * time.Hour, Knob: time.Hour}, false, nil},
		{"retiring past drain timeout, running", node("w", Retiring, small, since(2*time.Hour), running(1)), "", Reason{}, false, []Kind{NoteRetiringRunning}},
		{"idle past max lifetime", node("w", Idle, small, age(25*time.Hour)), "", Reason{Kind: DrainMaxLifetime, Knob: 24 * time.Hour, For: 25 * time.Hour}, true, nil},
		{"busy, token about to expire", node("w", Busy, small, func(n *Node) { n.TokenExpires = now.Add(time.Hour) }), "",
			Reason{Kind: DrainTokenExpiry, At: now.Add(time.Hour), Knob: time.Hour}, true, nil},
		{"busy, young", node("w", Busy, small), "", Reason{}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why, drain, notes := nodeFate(tc.node, now, k, tc.unknown)
			if diff := cmp.Diff(tc.want, why); diff != "" || drain != tc.drain {
				t.Errorf("drain %v, want %v; reason (-want +got):\n%s", drain, tc.drain, diff)
			}
			var kinds []Kind
			for _, n := range notes {
				kinds = append(kinds, n.Kind)
				if n.Node != "w" {
					t.Errorf("note %s names node %q, want w", n.Kind, n.Node)
				}
			}
			if !cmp.Equal(kinds, tc.notes) {
				t.Errorf("notes %v, want %v", kinds, tc.notes)
			}
		})
	}
}

// The lifecycle step over several nodes, and the counts the limits use.
func TestLifecycleAndCount(t *testing.T) {
	in := base()
	in.Nodes = []Node{
		node("w4", Failed, bMed),
		node("w1", Idle, small, age(48*time.Hour)),
		node("w3", Booting, medium, since(time.Minute)),
		node("w2", Drained, small),
		node("w5", Retiring, small, since(time.Minute)),
	}
	in.Knobs.MaxLifetime = 24 * time.Hour
	l := lifecycle(in, clean(in.Knobs))
	var names []string
	for _, n := range l.nodes {
		names = append(names, n.Name)
	}
	if want := []string{"w1", "w2", "w3", "w4", "w5"}; !cmp.Equal(names, want) {
		t.Errorf("nodes %v, want sorted %v", names, want)
	}
	if want := []bool{true, true, false, true, false}; !cmp.Equal(l.gone, want) {
		t.Errorf("gone %v, want %v", l.gone, want)
	}
	if want := []bool{false, true, false, true, false}; !cmp.Equal(l.deleted, want) {
		t.Errorf("deleted %v, want %v", l.deleted, want)
	}
	c := count(l, newCatalog(in))
	want := counts{live: 3, exists: 5, booting: 1, out: StateCounts{Deleting: 2},
		cloudExists: []int{4, 1}, cloudOut: []StateCounts{{Deleting: 1}, {Deleting: 1}}}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(counts{})); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}
