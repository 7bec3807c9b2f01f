package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

func TestRegionBootingToErrorIsBackedOff(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"), offerKey("b", "r2", "small"))
	r.cycle(0)
	for _, vm := range r.servers(r.a) {
		r.a.setStatus(vm.ID, cloud.StatusError)
	}
	rep := r.cycle(10 * time.Second) // ERROR seen: deleted, region a backed off, demand goes to b
	if r.a.callsLike("create") != 1 {
		t.Fatalf("kept creating in a region whose VMs fail: %d creates", r.a.callsLike("create"))
	}
	if r.b.count() != 1 {
		t.Errorf("demand not moved to b: %d VMs there; decision %+v", r.b.count(), rep.Decision)
	}
	if !r.p.regions[0].backoff.active(r.now) {
		t.Error("region a not backed off")
	}
}

func TestDemandCountedBeforeAJobStartIsHeld(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	vm := r.servers(r.a)[0]
	r.a.setStatus(vm.ID, cloud.StatusActive)
	r.pool.join(vm, 0, r.now)
	r.cycle(10 * time.Second)
	// The job starts; the reporter's last count (before the start) still
	// says one idle job.
	counted := r.now
	r.pool.startJob(vm.Name, counted.Add(5*time.Second))
	r.pool.demand[0].Reported = counted
	rep := r.cycle(10 * time.Second)
	if n := r.a.callsLike("create"); n != 1 {
		t.Fatalf("created a VM for a job that had started: %d creates; decision %+v", n, rep.Decision)
	}
	if !strings.Contains(fmt.Sprint(rep.Decision.Notes), "held") {
		t.Errorf("holding not explained: %v", rep.Decision.Notes)
	}
	// A fresh count that still says idle is demand again.
	r.pool.demand[0].Reported = r.now.Add(time.Second)
	r.cycle(10 * time.Second)
	if n := r.a.callsLike("create"); n != 2 {
		t.Errorf("fresh demand not served: %d creates", n)
	}
}

// A count is reduced by the jobs started since, not thrown away: in a busy
// pool some job starts in nearly every cycle, and holding every count
// taken before any start would hold all demand.
func TestStartsSinceACountAreTakenFromIt(t *testing.T) {
	r := newRig(t, knobs())
	vm := r.joinedWorker()
	r.cycle(10 * time.Second)
	counted := r.now
	r.pool.startJob(vm.Metadata[cloud.MetaName], counted.Add(3*time.Second))
	r.pool.demand = smallDemand(4, offerKey("a", "r1", "small"))
	r.pool.demand[0].Reported = counted
	rep := r.cycle(10 * time.Second)
	if n := r.a.callsLike("create"); n != 1+3 {
		t.Fatalf("%d creates, want 1 then 3 for the 4 counted less the 1 started since; decision %+v", n, rep.Decision)
	}
	if !strings.Contains(fmt.Sprint(rep.Decision.Notes), "counted at 12:00:10; 1 jobs started since: 3 counted") {
		t.Errorf("the discount not explained: %v", rep.Decision.Notes)
	}
}

// A provisioner that has just started never saw the jobs start, but their
// slots say when they did: a count from before is discounted all the same.
func TestARestartedProvisionerKnowsWhenJobsStarted(t *testing.T) {
	r := newRig(t, knobs())
	vm := r.joinedWorker()
	r.cycle(10 * time.Second)
	counted := r.now
	r.pool.startJob(vm.Metadata[cloud.MetaName], counted.Add(time.Second))
	r.p = r.build(knobs()) // restarted: no memory of the worker's claims
	r.pool.demand[0].Reported = counted
	rep := r.cycle(10 * time.Second)
	if n := r.a.callsLike("create"); n != 1 {
		t.Fatalf("%d creates after the restart, want none for the job that started; decision %+v", n, rep.Decision)
	}
}

func TestAdCarriesCycle(t *testing.T) {
	ad := Report{Time: time.Unix(1000, 0), Cycle: 20 * time.Second, Pool: "p", Owner: "o"}.Ad(1)
	if got := ad.GetFloat("EHOSCycleSeconds", -1); got != 20 {
		t.Errorf("EHOSCycleSeconds = %v, want 20", got)
	}
	if _, ok := (Report{Time: time.Unix(1000, 0)}).Ad(1).Get("EHOSCycleSeconds"); ok {
		t.Error("EHOSCycleSeconds set for a report without a cycle")
	}
	back, err := ReportFromAd(ad)
	if err != nil || back.Cycle != 20*time.Second {
		t.Errorf("cycle back: %v %v", back.Cycle, err)
	}
}

// Workers that join while jobs wait get a negotiation at once (the schedd
// is asked, with the waiting demand), not at the negotiator's next interval;
// a cycle in which nobody joined, or nothing waits, asks for none.
func TestRescheduleWhenWorkersJoinWhileJobsWait(t *testing.T) {
	r := newRig(t, knobs())
	r.threeSmallVMs()
	r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 0 {
		t.Fatalf("rescheduled with nobody joined: %v", r.pool.rescheduled)
	}
	vms := r.servers(r.a)
	for _, vm := range vms[:2] {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, r.now)
	}
	rep := r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 1 || strings.Join(r.pool.rescheduled[0], ",") != "schedd#1" {
		t.Fatalf("rescheduled %v, want once for schedd#1", r.pool.rescheduled)
	}
	if !hasPrefix(rep.Actions, "reschedule: 2 worker(s) joined while 3 job(s) wait") || rep.Rescheduled != "2 worker(s) joined while 3 job(s) wait" {
		t.Errorf("actions %q, rescheduled %q: do not say why it rescheduled", rep.Actions, rep.Rescheduled)
	}
	if back, err := ReportFromAd(rep.Ad(1)); err != nil || back.Rescheduled != rep.Rescheduled {
		t.Errorf("the provisioner ad does not carry it to ehos status: %q, %v", back.Rescheduled, err)
	}
	// Seen before: no new request.
	r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 1 {
		t.Errorf("rescheduled again for workers already seen: %v", r.pool.rescheduled)
	}
	// The third joins after the jobs have gone: nothing to negotiate for.
	r.pool.demand = nil
	r.a.setStatus(vms[2].ID, cloud.StatusActive)
	r.pool.join(vms[2], 0, r.now)
	r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 1 {
		t.Errorf("rescheduled with no job waiting: %v", r.pool.rescheduled)
	}
}

func TestRescheduleFailureIsReportedNotFatal(t *testing.T) {
	r := newRig(t, knobs())
	r.joinedWorker()
	r.pool.rescheduleErr = errors.New("permission denied")
	rep := r.cycle(30 * time.Second)
	if !hasPrefix(rep.Errors, "reschedule: permission denied") {
		t.Errorf("errors %q, want the reschedule failure", rep.Errors)
	}
	if rep.Counts()[scale.Idle] != 1 || r.a.count() != 1 {
		t.Errorf("a failed reschedule changed the pool: counts %v, %d VMs", rep.Counts(), r.a.count())
	}
}

// An idle worker drained in one cycle is deleted by the follow-up seconds
// later once its startd confirms the drain; unconfirmed, it waits for the
// next regular cycle, since a job may have been matched to it meanwhile.
func TestFollowUpDeletesConfirmedDrains(t *testing.T) {
	for _, confirmed := range []bool{true, false} {
		t.Run(fmt.Sprintf("confirmed=%v", confirmed), func(t *testing.T) {
			r := newRig(t, knobs())
			r.p.opt.Cycle = 30 * time.Second // as Run sets it
			vm := r.joinedWorker()
			r.pool.demand = nil
			r.cycle(30 * time.Second)
			if d := r.p.FollowUp(); d != 0 {
				t.Fatalf("follow-up %s wanted without a drain", d)
			}
			r.cycle(6 * time.Minute)
			if len(r.pool.drains) != 1 {
				t.Fatalf("drains %v, want the idle worker", r.pool.drains)
			}
			d := r.p.FollowUp()
			if d != 5*time.Second {
				t.Fatalf("follow-up %s after draining an idle worker, want 5s", d)
			}
			if !confirmed {
				r.pool.workers[vm.Name].Draining = false
			}
			r.cycle(d)
			if got, want := r.a.count(), map[bool]int{true: 0, false: 1}[confirmed]; got != want {
				t.Fatalf("%d VMs after the follow-up, want %d", got, want)
			}
			r.cycle(25 * time.Second)
			if r.a.count() != 0 {
				t.Errorf("still %d VMs a cycle after the drain", r.a.count())
			}
		})
	}
}

func TestFollowUpOff(t *testing.T) {
	r := newRig(t, knobs(), func(o *Options) { o.DrainRecheck = -1 })
	r.joinedWorker()
	r.pool.demand = nil
	r.cycle(6 * time.Minute)
	r.cycle(6 * time.Minute)
	if len(r.pool.drains) != 1 || r.p.FollowUp() != 0 {
		t.Errorf("drains %v, follow-up %s: want one drain and no follow-up", r.pool.drains, r.p.FollowUp())
	}
}

func hasPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// Run itself gives a cycle that drained an idle worker its follow-up: the
// VM is gone well before the next regular cycle.
func TestRunFollowsUpADrain(t *testing.T) {
	for _, recheck := range []time.Duration{100 * time.Millisecond, -1} {
		t.Run(fmt.Sprint(recheck), func(t *testing.T) {
			r := newRig(t, knobs(), func(o *Options) { o.DrainRecheck, o.Cycle = recheck, 5*time.Second })
			r.now = time.Now().Add(-10 * time.Minute)
			r.joinedWorker()
			r.pool.demand = nil

			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			if err := r.p.Run(ctx, func() context.Context { return context.Background() }); err != nil {
				t.Fatal(err)
			}
			if len(r.pool.drains) != 1 {
				t.Fatalf("drains %v, want the idle worker", r.pool.drains)
			}
			want := map[bool]int{true: 0, false: 1}[recheck > 0]
			if got := r.a.count(); got != want {
				t.Errorf("%d VMs 0.7 s into a 5 s cycle, want %d", got, want)
			}
		})
	}
}

// TestCapsHoldWhileDeletesFail: a cloud that refuses every delete (409)
// keeps its servers listed, in ERROR or never joined. max and max_vms count
// them until the cloud drops them, so no VM piles up beside them however
// many cycles the job waits (before, 5 servers existed under max 1).
func TestCapsHoldWhileDeletesFail(t *testing.T) {
	conflict := func(string, string) error {
		return &cloud.APIError{Class: cloud.ErrFatal, Op: "delete server", Status: 409, Message: "Cannot 'delete' instance while it is in task_state deleting"}
	}
	for _, tc := range []struct {
		name    string
		knobs   func(*scale.Knobs)
		opts    func(*Options)
		elig    []scale.OfferKey
		cap     int
		counted func(r *rig) int
		block   scale.Block // the limit unmet demand must name
	}{
		{
			name:    "max 1",
			knobs:   func(k *scale.Knobs) { k.Max = 1 },
			elig:    []scale.OfferKey{offerKey("a", "r1", "small"), offerKey("b", "r2", "small")},
			cap:     1,
			counted: func(r *rig) int { return r.a.count() + r.b.count() },
			block:   scale.Block{Limit: scale.LimitMax, Of: 1, Exists: 1, Out: scale.StateCounts{Deleting: 1}},
		},
		{
			name:    "cloud a max_vms 1",
			opts:    func(o *Options) { o.Clouds[0].Config.MaxVMs = 1 },
			elig:    []scale.OfferKey{offerKey("a", "r1", "small")},
			cap:     1,
			counted: func(r *rig) int { return r.a.count() },
			block:   scale.Block{Limit: scale.LimitCloudMax, Cloud: "a", Of: 1, Exists: 1, Out: scale.StateCounts{Deleting: 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := knobs()
			if tc.knobs != nil {
				tc.knobs(&k)
			}
			var opts []func(*Options)
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			r := newRig(t, k, opts...)
			r.a.deleteErr, r.b.deleteErr = conflict, conflict
			r.pool.demand = smallDemand(1, tc.elig...)
			peak, sawReason := 0, false
			for i := 0; i < 120; i++ {
				rep := r.cycle(time.Minute)
				// Every other server fails in the cloud; the rest boot and
				// never join, so the boot timeout reaps them.
				for _, c := range []*fakeCloud{r.a, r.b} {
					for _, vm := range r.servers(c) {
						if vm.Status == cloud.StatusBuild {
							st := cloud.StatusActive
							if i%2 == 0 {
								st = cloud.StatusError
							}
							c.setStatus(vm.ID, st)
						}
					}
				}
				n := tc.counted(r)
				peak = max(peak, n)
				if n > tc.cap {
					t.Fatalf("cycle %d: %d servers exist, cap %d; decision %+v", i, n, tc.cap, rep.Decision)
				}
				for _, u := range rep.Decision.Unmet {
					sawReason = sawReason || slices.ContainsFunc(u.Reason.Blocks, func(b scale.Block) bool { b.Planned = 0; return cmp.Equal(b, tc.block) })
				}
			}
			if peak != tc.cap {
				t.Errorf("peak %d servers, want %d (the first VM is created)", peak, tc.cap)
			}
			if r.a.callsLike("delete")+r.b.callsLike("delete") < 2 {
				t.Errorf("deletes were not retried: %d", r.a.callsLike("delete")+r.b.callsLike("delete"))
			}
			if !sawReason {
				t.Errorf("no unmet reason names %s", tc.block)
			}
		})
	}
}

// With CreateParallel 1 (the simulator's), the regions create one after
// another in the decision's order, so each region's VMs take consecutive
// names: the same names, and every tie they break, run after run. With
// regions creating at once, names interleave now and then (seen as a rare
// difference between two simulator runs of one trace).
func TestCreatesOneRegionAfterAnotherKeepNamesInOrder(t *testing.T) {
	for round := range 200 {
		r := newRig(t, knobs(), func(o *Options) { o.CreateParallel = 1 })
		r.pool.demand = []scale.Demand{
			{Key: "schedd#1", Need: scale.Resources{Cpus: 1, MemoryMB: 512, DiskMB: 100}, Idle: 3, Oldest: t0, Eligible: []scale.OfferKey{offerKey("a", "r1", "small")}},
			{Key: "schedd#2", Need: scale.Resources{Cpus: 1, MemoryMB: 512, DiskMB: 100}, Idle: 3, Oldest: t0, Eligible: []scale.OfferKey{offerKey("b", "r2", "small")}},
		}
		r.cycle(0)
		var names [2][]string
		for i, c := range []*fakeCloud{r.a, r.b} {
			for _, vm := range r.servers(c) {
				names[i] = append(names[i], vm.Name)
			}
			slices.Sort(names[i])
		}
		if len(names[0]) != 3 || len(names[1]) != 3 {
			t.Fatalf("created %v, want 3 in each region", names)
		}
		if names[0][2] > names[1][0] && names[1][2] > names[0][0] {
			t.Fatalf("round %d: the regions' names interleave: %v", round, names)
		}
	}
}

// A restarted provisioner counts an idle worker's idle time from when a
// provisioner saw it idle, never from the VM's creation: a worker that
// joined after a long boot was drained at once, before the jobs it was
// made for were matched (docs/ha.md, chaos). With the previous run's ad
// it keeps that run's idle times; without one it counts from its own
// first cycle.
func TestARestartedProvisionerDatesIdleWorkersFromWhenTheyWereSeenIdle(t *testing.T) {
	joinedAfterLongBoot := func(t *testing.T) *rig {
		r := newRig(t, knobs()) // idle_before_retire 5m
		r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
		r.cycle(0)
		vm := r.servers(r.a)[0]
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.now = r.now.Add(6 * time.Minute) // a boot longer than idle_before_retire
		r.pool.join(vm, 0, time.Time{})    // the collector's ads do not say since when
		// Jobs keep coming that it cannot run (only cloud b's flavors
		// match them): nothing keeps it, and the pool is not quiet.
		r.pool.demand = smallDemand(1, offerKey("b", "r2", "small"))
		return r
	}
	drains := func(r *rig) int { return len(r.pool.drains) }

	t.Run("without the previous ad", func(t *testing.T) {
		r := joinedAfterLongBoot(t)
		r.pool.forget = true
		r.p = r.build(knobs())
		r.cycle(10 * time.Second)
		if n := drains(r); n != 0 {
			t.Fatalf("a worker that has just joined was drained by the restarted provisioner (%d drains)", n)
		}
		r.cycle(4*time.Minute + 50*time.Second)
		if n := drains(r); n != 0 {
			t.Fatalf("drained %d after 4m50s idle, want none before idle_before_retire", n)
		}
		r.cycle(20 * time.Second)
		if n := drains(r); n != 1 {
			t.Fatalf("drained %d after 5m10s idle with nothing waiting, want 1", n)
		}
	})
	t.Run("with the previous ad", func(t *testing.T) {
		r := joinedAfterLongBoot(t)
		r.cycle(0) // seen idle now
		r.cycle(4 * time.Minute)
		r.p = r.build(knobs())
		r.cycle(70 * time.Second)
		if n := drains(r); n != 1 {
			t.Fatalf("drained %d after 5m10s idle (4m of it seen by the previous run), want 1", n)
		}
	})
}

// twoWorkersIdleLong has two small VMs in cloud a join for two waiting
// jobs, be seen idle, and then 6 minutes pass (idle_before_retire 5m).
func twoWorkersIdleLong(t *testing.T) (*rig, []cloud.VM) {
	t.Helper()
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"))
	r.cycle(0)
	vms := r.servers(r.a)
	for _, vm := range vms {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, time.Time{})
	}
	r.cycle(10 * time.Second) // both seen idle, 2 jobs wait
	r.now = r.now.Add(6 * time.Minute)
	return r, vms
}

// Demand not known is not demand gone: a count held because jobs started
// after it keeps the idle workers its jobs fit, and a failed demand query
// keeps every idle worker, until a count says what waits. Without it the
// held count in the chaos test's round (docs/ha.md) let a worker that had
// just joined be drained for want of jobs that were still waiting.
func TestIdleWorkersStayWhileTheDemandIsNotKnown(t *testing.T) {
	r, vms := twoWorkersIdleLong(t)
	small := offerKey("a", "r1", "small")

	// One job left, counted 10 s ago; since then a job started on the
	// second worker: the count is held.
	r.pool.startJob(vms[1].Metadata[cloud.MetaName], r.now.Add(-time.Second))
	r.pool.demand = smallDemand(1, small)
	r.pool.demand[0].Reported = r.now.Add(-10 * time.Second)
	rep := r.cycle(0)
	if n := len(r.pool.drains); n != 0 {
		t.Fatalf("drained %v while the count of the jobs it fits was held; notes %v", r.pool.drains, rep.Decision.Notes)
	}
	if !strings.Contains(fmt.Sprint(rep.Decision.Notes), "kept, not drained") {
		t.Errorf("the notes do not say why the idle worker stays: %v", rep.Decision.Notes)
	}

	// The demand query fails: nothing is known to wait, nothing retires.
	r.pool.demandErr = errors.New("collector timed out")
	rep = r.cycle(3 * time.Second)
	if n := len(r.pool.drains); n != 0 {
		t.Fatalf("drained %v with the demand unknown; notes %v", r.pool.drains, rep.Decision.Notes)
	}

	// A fresh count: that job was the one that started, nothing waits.
	r.pool.demandErr = nil
	r.pool.demand = nil
	r.cycle(3 * time.Second)
	if len(r.pool.drains) != 1 || r.pool.drains[0] != vms[0].Metadata[cloud.MetaName] {
		t.Fatalf("drained %v once nothing waits, want the idle worker %s", r.pool.drains, vms[0].Metadata[cloud.MetaName])
	}
}

// A held count keeps only the idle workers its jobs could use: one whose
// flavor they were not matched to still retires.
func TestAHeldCountKeepsOnlyTheWorkersItsJobsFit(t *testing.T) {
	r, vms := twoWorkersIdleLong(t)
	r.pool.startJob(vms[1].Metadata[cloud.MetaName], r.now.Add(-time.Second))
	r.pool.demand = smallDemand(1, offerKey("b", "r2", "small")) // held, and matched to cloud b only
	r.pool.demand[0].Reported = r.now.Add(-10 * time.Second)
	rep := r.cycle(0)
	if len(r.pool.drains) != 1 || r.pool.drains[0] != vms[0].Metadata[cloud.MetaName] {
		t.Fatalf("drained %v, want the idle worker %s, which the held jobs cannot use; notes %v", r.pool.drains, vms[0].Metadata[cloud.MetaName], rep.Decision.Notes)
	}
}
