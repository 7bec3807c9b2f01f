package sim

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// The reuse oracle answers "what does it take to reach 1.10× the bound,
// even knowing the future?". The oracle of bound_property_test.go boots one
// VM per job; this one plans, from the whole trace, which jobs can follow
// one another on the same VM, given how long a job may wait for a VM
// another job frees (the allowance W), and then carries the plan out as an
// ordinary Policy through the simulated cloud and pool.
//
// The plan (planReuse), offline, jobs in submit order. A job's flavor is
// the cheapest that holds it (the same choice as the oracle's); it can
// start 5 s after its submit at the soonest (the negotiation the submit
// asks for). It goes to an already planned VM of that flavor when one is
// free by then and has been idle for less than a new VM's lead (create →
// joined at the longest boot: keeping the VM costs less than booting
// another), the one idle the shortest; else to the one of that flavor free
// soonest within W, the job waiting for it; else to a new VM, created at
// the last cycle at least lead before the submit, so that it has joined by
// then whatever its boot draws. A VM idle for lead is never planned again:
// it is deleted when its last job ends. Each planned VM holds one job at a
// time and lives from its create to its last job's planned end; the plan's
// own cost is the sum of those lives. It is itself a schedule a scheduler
// that placed jobs on VMs could follow, so the bound holds for it too.
//
// The execution (reuseOracle.Cycle), online. A policy only makes and
// deletes VMs; HTCondor's negotiator decides which job runs where, and it
// need not follow the plan: a job planned to wait for a busy VM is matched
// to any worker with room, a larger one made for a later job or the room
// beside a job included, and a job that ends hands its claim to the oldest
// queued job that fits in it. So nothing online is tied to one planned VM:
//   - Creates follow the plan's schedule, whatever happened before: no
//     divergence holds back the VMs the plan counts on.
//   - Reschedule (condor_reschedule) is asked for when a job waits and a
//     worker has room for it, as ehos does, so it need not wait for the
//     periodic negotiation.
//   - Deletes are per flavor, by what is due: an idle worker of flavor f
//     is deleted unless an idle job fits on it or it is one of the idle
//     workers of f kept for the jobs of f submitted within lead that the
//     plan starts at once on a VM kept idle for them or on a new VM already
//     created (less the planned VMs of f still booting: those are on their
//     way for such jobs). A job planned to wait has its VM busy, and a job
//     whose new VM is not created yet gets it later. Every idle gap the
//     plan keeps is shorter than lead, so it is kept; idle workers whose
//     planned job ran elsewhere go.
//   - Repairs keep divergences from stranding jobs and bound how far
//     behind the plan they fall. The policy knows each job's planned
//     start, and, since a shape's idle jobs leave its queue oldest first,
//     which jobs are idle: the newest submitted of their shape, as many as
//     Demand counts. A job still idle repairAfter past its planned start
//     (the test's default: lead, the soonest a new VM could help), with no
//     worker having room for it, is behind the plan: as many VMs of its
//     flavor are made as there are such jobs beyond the repair VMs of that
//     flavor still booting. Repair VMs are beyond the plan, so the delete
//     rule removes them once they idle.
//
// So every idle job either finds room or has a VM made for it by its
// planned start + repairAfter + a cycle; VMs go only when idle with no
// job fitting; once no job is due the last idle ones go: the run settles.
// Without repairs the plan's VMs alone must take every job, which the
// shipped traces happen to allow (every run settles); then a divergence
// shows as a longer wait instead of an extra VM.
type reuseOracle struct {
	fleet
	offers      []boundOffer
	plan        reusePlan
	jobs        []Job
	next        int // the next planned VM to create, by create
	lead        time.Duration
	repairAfter time.Duration   // below zero: no repairs
	byShape     map[Shape][]int // jobs of each shape, in submit order
	seen        map[Shape]int   // how many of them have been submitted
	dueFrom     int             // the first job not submitted by the last cycle
	// flavorOf is each VM's flavor (an offer index) by name; repair marks
	// the repair VMs.
	flavorOf map[string]int
	repair   map[string]bool
	repaired int
}

// planVM is one VM of the plan: its flavor (an offer index), when it is
// created and when its last planned job ends (trace time).
type planVM struct {
	flavor       int
	create, free time.Duration
	jobs         int
}

// reusePlan is a plan for one trace: its VMs (by create time), each job's
// flavor (-1: none holds it) and planned start, what the plan costs
// (create → last job's end of every VM, the cost it would have if every job
// started when planned) and the waits it plans.
type reusePlan struct {
	vms    []planVM
	flavor []int
	start  []time.Duration
	// kept marks the jobs that start on a planned VM kept idle for them
	// since its last job (no new VM, no wait); created is when the new VM
	// of a job that gets one is created (-1: none).
	kept    []bool
	created []time.Duration
	cost    float64
	// cost's parts: new VMs from create to their first job's start, VMs
	// kept idle between jobs, and VMs running jobs (busy: cost less the
	// other two).
	busy, boot, idle float64
	// freeCores is the core-hours planned VMs leave free while their
	// jobs run: one job at a time, what each leaves of its flavor's cores.
	freeCores float64
	meanWait  time.Duration
	maxWait   time.Duration
}

// planReuse plans jobs (in submit order) on offers, lead being the longest
// create → joined, creates falling on multiples of cycle, a job starting
// startDelay after its submit at the soonest (the negotiation its submit
// asks for): see reuseOracle.
func planReuse(jobs []Job, offers []boundOffer, lead, cycle, allowance, startDelay time.Duration) reusePlan {
	p := reusePlan{flavor: make([]int, len(jobs)), start: make([]time.Duration, len(jobs)), kept: make([]bool, len(jobs)), created: make([]time.Duration, len(jobs))}
	byFlavor := make([][]int, len(offers)) // each flavor's VMs that may still take a job
	var waited time.Duration
	placed := 0
	for i, j := range jobs {
		f := cheapestOffer(offers, jobShape(j))
		p.flavor[i], p.created[i] = f, -1
		if f < 0 {
			continue
		}
		ready := j.Submit + startDelay // the soonest it can start
		kept, wait := -1, -1           // a VM free by then, one free within the allowance
		open := byFlavor[f][:0]
		for _, vi := range byFlavor[f] {
			v := p.vms[vi]
			switch {
			case v.free <= ready && ready-v.free >= lead:
				continue // idle for longer than a new VM's lead: deleted
			case v.free <= ready:
				if kept < 0 || v.free > p.vms[kept].free {
					kept = vi // the shortest idle gap
				}
			case v.free <= ready+allowance:
				if wait < 0 || v.free < p.vms[wait].free {
					wait = vi
				}
			}
			open = append(open, vi)
		}
		byFlavor[f] = open
		c := offers[f].Cost
		var pick int
		start := ready
		switch {
		case kept >= 0:
			pick = kept
			p.kept[i] = true
			p.idle += c * (ready - p.vms[kept].free).Hours()
		case wait >= 0:
			pick, start = wait, p.vms[wait].free
		default:
			// A new VM, created lead before the submit at a cycle; made
			// at the trace's start, it may join after the submit.
			create := max(j.Submit-lead, 0) / cycle * cycle
			start = max(ready, create+lead)
			pick = len(p.vms)
			p.vms = append(p.vms, planVM{flavor: f, create: create})
			byFlavor[f] = append(byFlavor[f], pick)
			p.created[i] = create
			p.boot += c * (start - create).Hours()
		}
		v := &p.vms[pick]
		p.start[i] = start
		p.freeCores += float64(offers[f].Size.Cpus-max(j.Cpus, 1)) * j.Runtime.Hours()
		v.free = start + j.Runtime
		v.jobs++
		waited += start - j.Submit
		p.maxWait = max(p.maxWait, start-j.Submit)
		placed++
	}
	for _, v := range p.vms {
		p.cost += offers[v.flavor].Cost * (v.free - v.create).Hours()
	}
	p.busy = p.cost - p.boot - p.idle
	if placed > 0 {
		p.meanWait = waited / time.Duration(placed)
	}
	// VMs are made in submit order, each at the cycle at least lead
	// before its first job: nearly by create, but not quite.
	sort.SliceStable(p.vms, func(a, b int) bool { return p.vms[a].create < p.vms[b].create })
	return p
}

// cheapestOffer is the index of the cheapest offer that holds s (the
// first of equals), or -1.
func cheapestOffer(offers []boundOffer, s Shape) int {
	best := -1
	for i := range offers {
		if holds(offers[i], s) && (best < 0 || offers[i].Cost < offers[best].Cost) {
			best = i
		}
	}
	return best
}

// withReuseOracle has opt run the reuse oracle instead of ehos, planned
// with allowance, repairing jobs behind the plan by more than repairAfter
// (below zero: never); got, when set, receives the oracle so the caller can
// read its plan and repairs after the run. Every cycle runs (NoSkip): the
// skipper knows ehos's clocks, not the plan's.
func withReuseOracle(opt *Options, jobs []Job, offers []boundOffer, allowance, repairAfter time.Duration, got **reuseOracle) {
	opt.NoSkip = true
	lead := opt.Cloud.BootMean + opt.Cloud.BootJitter + opt.JoinDelay
	cfg := opt.Config
	cycle := cfg.Scaling.Cycle
	opt.policy = func(w *World) (Policy, func() bool) {
		or := &reuseOracle{fleet: newFleet(w, cfg, "reuse"), offers: offers, plan: planReuse(jobs, offers, lead, cycle, allowance, 5*time.Second), jobs: jobs,
			lead: lead, repairAfter: repairAfter,
			byShape: map[Shape][]int{}, seen: map[Shape]int{}, flavorOf: map[string]int{}, repair: map[string]bool{}}
		for i, j := range jobs {
			or.byShape[jobShape(j)] = append(or.byShape[jobShape(j)], i)
		}
		if got != nil {
			*got = or
		}
		// At rest once every planned VM is made and a cycle did nothing.
		return or, func() bool { return !or.acted && or.next == len(or.plan.vms) }
	}
}

func (o *reuseOracle) Name() string { return "reuse-oracle" }

func (o *reuseOracle) create(ctx context.Context, f int, repair bool) error {
	name, err := o.createOrFail(ctx, o.offers[f].Name)
	if err != nil {
		return err
	}
	o.flavorOf[name] = f
	o.repair[name] = repair
	return nil
}

func (o *reuseOracle) Cycle(ctx context.Context, now time.Time) error {
	o.acted = false
	t := now.Sub(Epoch)
	// Creates, on the plan's schedule.
	for ; o.next < len(o.plan.vms) && o.plan.vms[o.next].create <= t; o.next++ {
		if err := o.create(ctx, o.plan.vms[o.next].flavor, false); err != nil {
			return err
		}
	}
	byName, _, err := o.list(ctx)
	if err != nil {
		return err
	}
	workers, err := o.w.Pool.Workers(ctx)
	if err != nil {
		return err
	}
	demand, err := o.w.Pool.Demand(ctx)
	if err != nil {
		return err
	}
	booting := make([]int, len(o.offers))       // created, no startd yet
	repairBooting := make([]int, len(o.offers)) // of them, repairs
	joined := map[string]bool{}
	for _, wk := range workers {
		joined[wk.Name] = true
	}
	for name := range byName {
		if !joined[name] {
			booting[o.flavorOf[name]]++
			if o.repair[name] {
				repairBooting[o.flavorOf[name]]++
			}
		}
	}
	room := func(d scale.Demand) bool {
		for _, wk := range workers {
			if !wk.Draining && wk.Free.Holds(d.Need) {
				return true
			}
		}
		return false
	}
	// Repairs: jobs behind their planned start with no room anywhere.
	behind := make([]int, len(o.offers))
	resched := false
	for _, d := range demand {
		if d.Idle == 0 {
			continue
		}
		if room(d) {
			resched = true
			continue
		}
		s := Shape{Cpus: d.Need.Cpus, MemoryMB: d.Need.MemoryMB}
		js := o.byShape[s]
		n := o.seen[s]
		for n < len(js) && o.jobs[js[n]].Submit <= t {
			n++
		}
		o.seen[s] = n
		for _, i := range js[max(n-d.Idle, 0):n] {
			if f := o.plan.flavor[i]; f >= 0 && o.repairAfter >= 0 && t > o.plan.start[i]+o.repairAfter {
				behind[f]++
			}
		}
	}
	for f := range behind {
		for ; behind[f] > repairBooting[f]; repairBooting[f]++ {
			if err := o.create(ctx, f, true); err != nil {
				return err
			}
			o.repaired++
			booting[f]++
		}
	}
	if resched {
		if err := o.w.Pool.Reschedule(ctx, demand); err != nil {
			return err
		}
	}
	// Deletes: idle workers of a flavor beyond those kept for the jobs due
	// within lead, with no idle job fitting on them.
	for o.dueFrom < len(o.jobs) && o.jobs[o.dueFrom].Submit <= t {
		o.dueFrom++
	}
	keep := make([]int, len(o.offers))
	for i := o.dueFrom; i < len(o.jobs) && o.jobs[i].Submit <= t+o.lead; i++ {
		if o.plan.kept[i] || (o.plan.created[i] >= 0 && o.plan.created[i] <= t) {
			keep[o.plan.flavor[i]]++
		}
	}
	for f := range keep {
		keep[f] -= booting[f] - repairBooting[f]
	}
	for _, wk := range workers {
		f := o.flavorOf[wk.Name]
		if wk.Claimed > 0 || wk.Draining {
			continue
		}
		wanted := false
		for _, d := range demand {
			wanted = wanted || (d.Idle > 0 && wk.Free.Holds(d.Need))
		}
		if wanted {
			continue
		}
		if keep[f] > 0 {
			keep[f]--
			continue
		}
		if err := o.retire(ctx, wk, byName[wk.Name]); err != nil {
			return err
		}
	}
	return nil
}

// TestTheReuseOracleOnTheShippedTraces runs the reuse oracle on the
// shipped traces (as TestTheOracleOnTheShippedTraces does the oracle) for
// allowances W from 0 to 30 minutes, with repairs after a boot's lead and
// without: every run settles, and neither the run nor its plan costs less
// than the bound. What it logs (cost / bound and mean wait for each trace
// and W, executed and planned; the plan's cost over the work by part;
// repairs) is the table in docs/simulate.md, "How near the bound a policy
// can get". -short runs W = 0 and 10 minutes, repairs on.
func TestTheReuseOracleOnTheShippedTraces(t *testing.T) {
	allowances := []time.Duration{0, time.Minute, 3 * time.Minute, 10 * time.Minute, 30 * time.Minute}
	repairs := []bool{true, false}
	if testing.Short() {
		allowances, repairs = []time.Duration{0, 10 * time.Minute}, []bool{true}
	}
	for _, c := range shippedCases(t) {
		tr, err := ReadTrace(c.trace)
		if err != nil {
			t.Fatal(err)
		}
		for _, allow := range allowances {
			for _, repair := range repairs {
				o := Options{Config: c.cfg, Flavors: c.flavors, Quota: cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1}, Cloud: DefaultModel, JoinDelay: DefaultJoinDelay}
				offers, err := usableOffers(o.Config, o.Flavors, o.Quota)
				if err != nil {
					t.Fatal(err)
				}
				repairAfter, label := o.Cloud.BootMean+o.Cloud.BootJitter+o.JoinDelay, "repairs"
				if !repair {
					repairAfter, label = -1, "no repairs"
				}
				var or *reuseOracle
				withReuseOracle(&o, tr.Jobs, offers, allow, repairAfter, &or)
				start := time.Now()
				res, err := Run(context.Background(), tr, o)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Settled {
					t.Errorf("%s W=%s, %s: the reuse oracle did not settle: %s", c.trace, allow, label, res.Outcome)
					continue
				}
				if res.Cost < res.Bound.Cost {
					t.Errorf("%s W=%s, %s: the reuse oracle's cost %.1f is below the lower bound %.1f", c.trace, allow, label, res.Cost, res.Bound.Cost)
				}
				p := or.plan // the same with repairs and without: checked once
				if repair && p.cost < res.Bound.Cost {
					t.Errorf("%s W=%s: the plan's cost %.1f is below the lower bound %.1f", c.trace, allow, p.cost, res.Bound.Cost)
				}
				onTime := 0 // jobs started within 10 s of their planned start
				for i, j := range or.w.Pool.jobs {
					if p.flavor[i] >= 0 && j.start.Sub(Epoch) <= p.start[i]+10*time.Second {
						onTime++
					}
				}
				b := res.Bound.Cost
				t.Logf("%-26s W %5s %-10s: %d of %d jobs started within 10 s of the plan; %d VMs made, %d never used; free cores beside running jobs %.1f core-hours (plan %.1f)",
					c.trace, allow, label, onTime, len(tr.Jobs), res.Creates, res.Unused, res.Spent.Partial, p.freeCores)
				t.Logf("%-26s W %5s %-10s: cost %8.1f / bound %8.1f = %.3f, mean wait %4.0f s, p95 %4.0f s, %3d repairs | plan %.3f (room %.3f boot %.3f idle %.3f), %d VMs, mean wait %4.0f s, max %4.0f s (%s)",
					c.trace, allow, label, res.Cost, b, res.Cost/b, res.MeanWait, res.P95Wait, or.repaired,
					p.cost/b, (p.busy-res.Bound.Work)/b, p.boot/b, p.idle/b, len(p.vms), p.meanWait.Seconds(), p.maxWait.Seconds(), time.Since(start).Round(time.Millisecond))
			}
		}
	}
}
