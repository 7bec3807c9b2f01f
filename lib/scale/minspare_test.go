package scale

import (
	"fmt"
	"testing"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// The min and spare step alone: what keepMin and keepSpare create, given
// the live and spare counts, and the note when a limit stops them.
func TestKeepMinAndSpare(t *testing.T) {
	type view struct {
		Min, Spare []string // "count × flavor"
		MinMade    int
		Notes      []string
	}
	for _, tc := range []struct {
		name        string
		mod         func(*Input)
		live, spare int // spare: unused nodes before min's
		want        view
	}{
		{"min from zero: the cheapest offer", func(in *Input) { in.Knobs.Min = 2 }, 0, 0,
			view{Min: []string{"2 × m1.small"}, MinMade: 2}},
		{"min met by live nodes", func(in *Input) { in.Knobs.Min = 2 }, 2, 0, view{}},
		{"spare: the largest offer without GPUs", func(in *Input) { in.Knobs.Spare = 1 }, 0, 0, view{Spare: []string{"1 × m1.large"}}},
		{"VMs created for min count as spare", func(in *Input) { in.Knobs.Min, in.Knobs.Spare = 1, 2 }, 0, 0,
			view{Min: []string{"1 × m1.small"}, Spare: []string{"1 × m1.large"}, MinMade: 1}},
		{"unused nodes count as spare", func(in *Input) { in.Knobs.Spare = 2 }, 3, 2, view{}},
		{"min spills to the next cheapest offer, then a note", func(in *Input) {
			in.Knobs.Min = 3
			in.Regions[0].Limits = &cloud.Limits{MaxInstances: 1, MaxCores: -1, MaxRAMMB: -1}
			in.Regions[1].Limits = &cloud.Limits{MaxInstances: 1, MaxCores: -1, MaxRAMMB: -1}
		}, 0, 0, view{Min: []string{"1 × m1.small", "1 × b.medium"}, MinMade: 2, Notes: []string{
			"min 3 workers: 1 more wanted, blocked: siteA/RegionOne quota: instances 0 used + 1 planned of 1; siteB/RegionOne quota: instances 0 used + 1 planned of 1"}}},
		{"max stops spare", func(in *Input) { in.Knobs.Spare, in.Knobs.Max = 1, 1; in.Nodes = []Node{node("w", Busy, small)} }, 1, 0,
			view{Notes: []string{"spare 1 workers: 1 more wanted, blocked: max 1 reached: 1 server exists, 0 planned"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			cat, led := ledgerFor(in)
			forMin, made := keepMin(clean(in.Knobs), cat, tc.live, led)
			forSpare := keepSpare(clean(in.Knobs), cat, tc.spare+made, led)
			got := view{MinMade: made}
			for _, c := range forMin.creates {
				got.Min = append(got.Min, fmtCount(c))
				if c.Reason.Kind != CreateForMin {
					t.Errorf("min create with reason %s", c.Reason.Kind)
				}
			}
			for _, c := range forSpare.creates {
				got.Spare = append(got.Spare, fmtCount(c))
				if c.Reason.Kind != CreateForSpare {
					t.Errorf("spare create with reason %s", c.Reason.Kind)
				}
			}
			for _, n := range append(forMin.notes, forSpare.notes...) {
				got.Notes = append(got.Notes, n.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func fmtCount(c Create) string { return fmt.Sprintf("%d × %s", c.Count, c.Offer.Flavor) }

// Spare nodes are idle and booting ones demand left unused and that are not
// drained.
func TestSpareCount(t *testing.T) {
	bs := []bin{{node: 0, kind: 0}, {node: 1, kind: 1}, {node: 2, kind: 1}, {node: 3, kind: 2}, {node: 4, kind: 2}}
	used := []bool{false, true, false, false, false}
	gone := []bool{false, false, false, false, true}
	if got := spare(bs, used, gone); got != 2 {
		t.Errorf("spare %d, want 2 (the unused idle and booting nodes still standing)", got)
	}
}
