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
	if d := cmp.Diff(in1, in2); d != "" || !cmp.Equal(held1, held2, cmp.AllowUnexported(holds{})) {
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

// remember keeps the widest demand group seen waiting within the headroom
// window (unservable groups aside, ties by key) and prepare hands it to the
// decision; an older, wider one is forgotten once the window passes it.
func TestWidestSeenWaiting(t *testing.T) {
	small := offerKey("a", "r1", "small")
	type step struct {
		after  time.Duration
		demand []scale.Demand
	}
	group := func(key string, cpus int, eligible ...scale.OfferKey) scale.Demand {
		return scale.Demand{Key: key, Need: scale.Resources{Cpus: cpus, MemoryMB: 512}, Idle: 1, Oldest: t0, Eligible: eligible}
	}
	for _, tc := range []struct {
		name   string
		window time.Duration
		steps  []step
		want   []string // in.Widest's key after each step ("" none)
	}{
		{"kept for the window, then the next widest", 5 * time.Minute, []step{
			{0, []scale.Demand{group("s#1", 1, small), group("s#2", 4, small), group("s#3", 64)}},
			{time.Minute, []scale.Demand{group("s#1", 1, small)}},
			{4 * time.Minute, []scale.Demand{group("s#1", 1, small)}},
			{4 * time.Minute, nil},
			{time.Minute, nil},
		}, []string{"s#2", "s#2", "s#1", "s#1", ""}},
		{"ties by key, whatever the order", 5 * time.Minute, []step{
			{0, []scale.Demand{group("s#b", 4, small), group("s#a", 4, small)}},
			{time.Minute, []scale.Demand{group("s#a", 4, small), group("s#b", 4, small)}},
		}, []string{"s#a", "s#a"}},
		{"window off", 0, []step{
			{0, []scale.Demand{group("s#1", 1, small)}},
		}, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := knobs()
			k.HeadroomWindow = tc.window
			r := newRig(t, k)
			var got []string
			for _, s := range tc.steps {
				r.now = r.now.Add(s.after)
				r.pool.demand = s.demand
				snap := r.p.observe(context.Background(), r.now)
				seen := r.p.remember(r.now, snap)
				in, _ := r.p.prepare(r.now, snap, seen.workers)
				key := ""
				if in.Widest != nil {
					key = in.Widest.Key
				}
				got = append(got, key)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("widest after each step (-want +got):\n%s", d)
			}
		})
	}
}
