package provision

import (
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/scale"
)

// TestOfflineOnlyJobBootsOneRoundThenNone: jobs whose Requirements match
// only the offline flavor ads (TARGET.Offline =?= True) get one round of
// VMs; once those stood idle beside them past UnmatchedAfter the jobs are
// "unmatched on real workers": the workers retire and none is booted again,
// however long the jobs wait.
func TestOfflineOnlyJobBootsOneRoundThenNone(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
	r.cycle(0)
	if n := r.a.callsLike("create"); n != 3 {
		t.Fatalf("first round: %d creates, want 3", n)
	}
	for _, vm := range r.servers(r.a) {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, r.now)
	}
	sawUnmet := false
	for i := 0; i < 60; i++ { // 30 minutes
		rep := r.cycle(30 * time.Second)
		for _, u := range rep.Decision.Unmet {
			sawUnmet = sawUnmet || u.Reason.Kind == scale.UnmetUnmatched
		}
	}
	if n := r.a.callsLike("create") + r.b.callsLike("create"); n != 3 {
		t.Errorf("%d creates in all, want the first round's 3 only", n)
	}
	if n := r.a.count(); n != 0 {
		t.Errorf("%d workers still up beside jobs they cannot run, want 0 (drains %v)", n, r.pool.drains)
	}
	if !sawUnmet {
		t.Error("no unmet reason says the jobs are unmatched on real workers")
	}
}

// TestRestartKeepsUnmatchedMarks: a provisioner restarted after it found
// demand unmatched on real workers takes the marks from its previous ad and
// boots nothing more for it; with no previous ad (the collector restarted
// too) it boots one more round, as a first start does.
func TestRestartKeepsUnmatchedMarks(t *testing.T) {
	for _, forget := range []bool{false, true} {
		r := newRig(t, knobs())
		r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
		r.cycle(0)
		for _, vm := range r.servers(r.a) {
			r.a.setStatus(vm.ID, cloud.StatusActive)
			r.pool.join(vm, 0, r.now)
		}
		for i := 0; i < 30; i++ { // 15 minutes: marked, workers retired
			r.cycle(30 * time.Second)
		}
		if n := r.a.count(); n != 0 {
			t.Fatalf("%d workers still up before the restart", n)
		}
		r.pool.forget = forget
		r.p = r.build(knobs())
		for i := 0; i < 10; i++ {
			r.cycle(30 * time.Second)
		}
		want := 3
		if forget {
			want = 6
		}
		if n := r.a.callsLike("create"); n != want {
			t.Errorf("previous ad forgotten %v: %d creates in all, want %d", forget, n, want)
		}
	}
}

// TestUnmatchedLiftedWhenTheJobsStart: jobs held back by something that
// passes (a concurrency limit) start on the worker once it does; then they
// are demand for that flavor again.
func TestUnmatchedLiftedWhenTheJobsStart(t *testing.T) {
	r := newRig(t, knobs())
	r.threeSmallVMs()
	vms := r.servers(r.a)
	for _, vm := range vms {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, r.now)
	}
	var rep Report
	for i := 0; i < 8; i++ { // 4 minutes beside the idle workers
		rep = r.cycle(30 * time.Second)
	}
	if len(rep.Demand) != 1 || len(rep.Demand[0].Unmatched) != 1 {
		t.Fatalf("demand not marked unmatched after 4 minutes beside idle workers: %+v", rep.Demand)
	}
	r.pool.setClaimed(vms[0].Name, 1, time.Time{})
	r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"))
	rep = r.cycle(30 * time.Second)
	if len(rep.Demand) != 1 || len(rep.Demand[0].Unmatched) != 0 {
		t.Fatalf("a job of the group started on a worker, yet still unmatched: %+v", rep.Demand)
	}
	if len(rep.Decision.Drains) != 0 {
		t.Errorf("workers the waiting jobs fit drained after the lift: %+v", rep.Decision.Drains)
	}
}

func TestKnobsFromUnmatchedAfter(t *testing.T) {
	c := config.Default()
	if got := scale.UnmatchedAfter(KnobsFrom(&c)); got != scale.DefaultUnmatchedAfter {
		t.Errorf("default ehos.yaml: unmatched_after %s, want %s", got, scale.DefaultUnmatchedAfter)
	}
	c.Scaling.UnmatchedAfter = 0
	if got := scale.UnmatchedAfter(KnobsFrom(&c)); got != 0 {
		t.Errorf("unmatched_after: 0 gives %s, want the rule off", got)
	}
	c.Scaling.UnmatchedAfter = 20 * time.Second
	if got := scale.UnmatchedAfter(KnobsFrom(&c)); got != 20*time.Second {
		t.Errorf("unmatched_after: 20s gives %s", got)
	}
}

// TestUnmatchedCountsOnlyWorkersThatCouldTakeTheJobs: an unhealthy worker
// (its START is off), one too small for the jobs, or jobs that leave the
// queue, never make demand unmatched.
func TestUnmatchedCountsOnlyWorkersThatCouldTakeTheJobs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(r *rig, name string)
		demand []scale.Demand
		want   bool
	}{
		{name: "healthy idle worker that fits", want: true},
		{name: "unhealthy worker", mutate: func(r *rig, n string) { r.pool.workers[n].Healthy = false }},
		{name: "worker too small", demand: []scale.Demand{{Key: "schedd#1", Need: scale.Resources{Cpus: 1, MemoryMB: 4096}, Idle: 1, Oldest: t0,
			Eligible: []scale.OfferKey{offerKey("a", "r1", "small")}}}},
		{name: "claimed worker", mutate: func(r *rig, n string) { r.pool.setClaimed(n, 1, time.Time{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, knobs())
			vm := r.joinedWorker()
			if tc.mutate != nil {
				tc.mutate(r, vm.Name)
			}
			if tc.demand != nil {
				r.pool.demand = tc.demand
			}
			var rep Report
			for i := 0; i < 8; i++ {
				rep = r.cycle(30 * time.Second)
			}
			got := len(rep.Demand) == 1 && len(rep.Demand[0].Unmatched) == 1
			if got != tc.want {
				t.Errorf("unmatched after 4 minutes = %v, want %v: %+v", got, tc.want, rep.Demand)
			}
		})
	}

	// The group leaves the queue and comes back: its clock starts again.
	r := newRig(t, knobs())
	r.joinedWorker()
	for i := 0; i < 4; i++ {
		r.cycle(30 * time.Second)
	}
	saved := r.pool.demand
	r.pool.demand = nil
	r.cycle(30 * time.Second)
	r.pool.demand = saved
	rep := r.cycle(30 * time.Second)
	if len(rep.Demand) != 1 || len(rep.Demand[0].Unmatched) != 1 || !rep.Demand[0].Unmatched[0].Since.Equal(r.now) {
		t.Errorf("a group back in the queue kept its old clock: %+v (now %s)", rep.Demand, r.now)
	}
}
