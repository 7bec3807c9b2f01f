package provision

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// observe only reads and prepare only computes: neither changes what the
// provisioner remembers, and prepare gives the same input twice.
func TestObserveAndPrepareChangeNothing(t *testing.T) {
	r := newRig(t, knobs())
	r.joinedWorker()
	r.cycle(time.Minute)
	r.now = r.now.Add(time.Minute)
	tracks := func() map[string]track {
		out := map[string]track{}
		for n, t := range r.p.tracks {
			out[n] = *t
		}
		return out
	}
	regions := func() []region {
		var out []region
		for _, rg := range r.p.regions {
			out = append(out, *rg)
		}
		return out
	}
	opts := cmp.Options{cmp.AllowUnexported(track{}, region{}, backoff{}), cmp.Comparer(func(a, b CloudSpec) bool { return a.Config.Name == b.Config.Name })}

	before, beforeRegions := tracks(), regions()
	snap := r.p.observe(context.Background(), r.now)
	if d := cmp.Diff(before, tracks(), opts); d != "" {
		t.Errorf("observe changed the tracks (-before +after):\n%s", d)
	}
	if d := cmp.Diff(beforeRegions, regions(), opts); d != "" {
		t.Errorf("observe changed the regions (-before +after):\n%s", d)
	}

	seen := r.p.remember(r.now, snap)
	before, beforeRegions = tracks(), regions()
	in1, held1 := r.p.prepare(r.now, snap, seen.workers)
	in2, held2 := r.p.prepare(r.now, snap, seen.workers)
	if d := cmp.Diff(in1, in2); d != "" || !cmp.Equal(held1, held2) {
		t.Errorf("prepare twice differs (-first +second):\n%s", d)
	}
	if d := cmp.Diff(before, tracks(), opts); d != "" {
		t.Errorf("prepare changed the tracks (-before +after):\n%s", d)
	}
	if d := cmp.Diff(beforeRegions, regions(), opts); d != "" {
		t.Errorf("prepare changed the regions (-before +after):\n%s", d)
	}
	if len(in1.Nodes) != 1 || in1.Nodes[0].State != scale.Idle {
		t.Errorf("nodes %+v, want the one idle worker", in1.Nodes)
	}
}

// The pure state rule: a drain the startd has not confirmed counts after
// half the cycle given, whoever calls (Run or a single RunOnce).
func TestStateOfUnconfirmedDrain(t *testing.T) {
	now := t0.Add(time.Hour)
	vm := cloud.VM{Status: cloud.StatusActive}
	w := &Worker{Name: "w"}
	for _, tc := range []struct {
		sent  time.Duration // before now
		cycle time.Duration
		want  scale.NodeState
	}{
		{5 * time.Second, 0, scale.Drained},
		{5 * time.Second, 30 * time.Second, scale.Retiring},
		{15 * time.Second, 30 * time.Second, scale.Drained},
	} {
		tr := &track{state: scale.Retiring, joined: true, drainSent: now.Add(-tc.sent)}
		if got, up := stateOf(tr, vm, w, true, now, tc.cycle, time.Minute); got != tc.want || !up {
			t.Errorf("drain sent %s ago, cycle %s: %s (up %v), want %s", tc.sent, tc.cycle, got, up, tc.want)
		}
	}
}
