package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// Epoch is the simulated instant of a trace's time zero.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configure one run.
type Options struct {
	// Config is ehos.yaml: pool name, scaling knobs and clouds (their
	// regions and flavor names). Regions left empty get DefaultRegion.
	Config *config.Config
	// Flavors gives the size of each flavor name the clouds list.
	Flavors map[string]cloud.Flavor
	// Quota is every region's limits (Max* fields; below zero unlimited).
	Quota cloud.Limits
	Cloud CloudModel
	// JoinDelay is ACTIVE → startd in the collector.
	JoinDelay time.Duration
	// NegotiationInterval is HTCondor's NEGOTIATOR_INTERVAL (default 60s).
	NegotiationInterval time.Duration
	// RescheduleDelay is submit → the negotiation the schedd asks for
	// (SUBMIT_SEND_RESCHEDULE); below zero: none, jobs wait for the
	// periodic cycle. Zero: DefaultRescheduleDelay.
	RescheduleDelay time.Duration
	// NegotiationMinInterval is NEGOTIATOR_MIN_INTERVAL: no cycle starts
	// sooner than this after the last one. Zero: 5s.
	NegotiationMinInterval time.Duration
	// ClaimWorklife is CLAIM_WORKLIFE (see Pool.ClaimWorklife); below
	// zero: no claim reuse. Zero: DefaultClaimWorklife.
	ClaimWorklife time.Duration
	// FirstFit makes the matchmaker put each job on the first worker with
	// room rather than HTCondor's default best fit (see Pool.Negotiate).
	FirstFit bool
	// DrainRecheck is provision.Options.DrainRecheck: how soon after a
	// cycle that drained idle workers the provisioner looks again to
	// delete them. Zero: its default (5s); below zero: never.
	DrainRecheck time.Duration
	// NoReschedule keeps the provisioner from asking for a negotiation
	// when workers join while jobs wait (provision.Options.NoReschedule).
	NoReschedule bool
	// Baseline runs a baseline rule (Rule) instead of ehos's provisioner.
	Baseline bool
	// Rule is the baseline's rule, one of Rules; default RuleOriginal.
	Rule string
	// BaselineFlavor is the baseline's one flavor; default the smallest
	// configured flavor that holds every job of the trace.
	BaselineFlavor string
	// Samples keeps a time series (one point per cycle) in the Result.
	Samples bool
	// NoSkip runs the policy on every cycle, even those where nothing can
	// change (see skipper); the result is the same, only slower.
	NoSkip bool
	// Progress, when set, is called about once a second of wall time
	// while the run goes on, and once at its end (Progress.Done).
	Progress func(Progress)
	Log      zerolog.Logger
	// policy, when set, replaces ehos's provisioner (tests' oracle); its
	// second result says whether the policy is at rest.
	policy func(*World) (Policy, func() bool)
}

// HTCondor 23.9.6's behaviour, measured on the loopback pool with
// NEGOTIATOR_INTERVAL = 60: a job submitted while a slot is free starts
// 2.8 to 4.6 s later (condor_submit's reschedule), and a job queued behind a
// busy slot starts within a second of the job before it ending (the claim
// is reused). CLAIM_WORKLIFE and NEGOTIATOR_MIN_INTERVAL are the installed
// defaults (condor_config_val -default).
const (
	DefaultRescheduleDelay        = 3 * time.Second
	DefaultNegotiationMinInterval = 5 * time.Second
	DefaultClaimWorklife          = 20 * time.Minute
)

// DefaultRegion names the region of a cloud entry that lists none.
const DefaultRegion = "RegionOne"

// Sample is the state at one cycle.
type Sample struct {
	T       float64 `json:"t"` // seconds since the trace's start
	Idle    int     `json:"idle"`
	Running int     `json:"running"`
	VMs     int     `json:"vms"`
	Workers int     `json:"workers"`
}

// Progress is how far a run has come.
type Progress struct {
	Finished, Jobs int           // jobs done so far, of the trace's
	Simulated      time.Duration // simulated time since the trace's start
	// Span is the trace's span (Trace.Span): the simulated time a run
	// takes at least.
	Span time.Duration
	// Cycles counts the policy's cycles so far; Ran those of them in which
	// its code ran (the others could change nothing and were skipped).
	Cycles, Ran int
	Done        bool // the run is over
}

// Policy is the scaling decision under test, run once per cycle.
type Policy interface {
	Name() string
	Cycle(ctx context.Context, now time.Time) error
}

// World is the simulated outside world: clouds and a pool on one clock.
type World struct {
	Clock     *Clock
	Clouds    []*Cloud
	Specs     []provision.CloudSpec
	Pool      *Pool
	JoinDelay time.Duration
	waiting   []*Server // created, not joined, not failed
	joined    []*Server // whose startd joined
	seen      map[*Cloud]int
	// created, when set, is told of each server as Advance first sees it.
	created func(*Server)
}

// NewWorld builds the clouds of cfg (flavor sizes from flavors) and a pool
// holding jobs.
func NewWorld(cfg *config.Config, flavors map[string]cloud.Flavor, quota cloud.Limits, model CloudModel, joinDelay time.Duration, jobs []Job) (*World, error) {
	w := &World{Clock: &Clock{t: Epoch}, JoinDelay: joinDelay, seen: map[*Cloud]int{}}
	w.Pool = NewPool(w.Clock, Epoch, jobs)
	var errs []error
	for i, cc := range cfg.Clouds {
		if !cc.IsEnabled() {
			continue
		}
		if len(cc.Regions) == 0 {
			cc.Regions = []string{DefaultRegion}
		}
		var fl []cloud.Flavor
		for _, name := range cc.Flavors {
			f, ok := flavors[name]
			if !ok {
				errs = append(errs, fmt.Errorf("clouds[%d].flavors: %q has no size in the simulator's flavor table (give it with --flavor %s=VCPUS:RAM_MB)", i, name, name))
				continue
			}
			f.Name = name
			if f.ID == "" {
				f.ID = name
			}
			fl = append(fl, f)
		}
		c := NewCloud(cc.Name, w.Clock, model, cc.Regions, fl, quota)
		c.OnDelete = w.Pool.VMGone
		w.Clouds = append(w.Clouds, c)
		w.Specs = append(w.Specs, provision.CloudSpec{Config: cc, Cloud: c})
	}
	if len(w.Clouds) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no enabled cloud in the configuration"))
	}
	return w, errors.Join(errs...)
}

// Advance moves the world to t: startds of servers ACTIVE for JoinDelay
// join, then jobs are submitted and finished up to t.
func (w *World) Advance(t time.Time) {
	w.Clock.Set(t)
	added := false
	for _, c := range w.Clouds {
		var created []*Server
		created, w.seen[c] = c.createdSince(w.seen[c])
		for _, s := range created {
			if w.created != nil {
				w.created(s)
			}
			if !s.Fails {
				w.waiting = append(w.waiting, s)
				added = true
			}
		}
	}
	// Regions create in parallel, so creation order varies from run to
	// run; join order (first fit's order) must not.
	if added {
		sortSlice(w.waiting, func(a, b *Server) bool {
			ta, tb := a.ActiveAt, b.ActiveAt
			if !ta.Equal(tb) {
				return ta.Before(tb)
			}
			return a.VM.ID < b.VM.ID
		})
	}
	keep := w.waiting[:0]
	for _, s := range w.waiting {
		at := s.ActiveAt.Add(w.JoinDelay)
		switch {
		case !s.Deleted.IsZero() && !s.Deleted.After(at):
			// deleted before it joined
		case !at.After(t):
			w.Pool.Join(s, at)
			w.joined = append(w.joined, s)
		default:
			keep = append(keep, s)
		}
	}
	w.waiting = keep
	w.Pool.Advance(t)
}

// Live counts the servers that exist now, and those of them still booting
// (not yet joined, not failed).
func (w *World) Live() (live, booting int) {
	for _, c := range w.Clouds {
		live += c.Live()
	}
	return live, len(w.waiting)
}

// bootstrap is the fixed user-data of simulated workers.
type bootstrap struct{}

func (bootstrap) UserData(context.Context, provision.NewVM) ([]byte, error) {
	return []byte("#cloud-config\n# ehos simulated worker\n"), nil
}

// Bootstrap returns a provision.Bootstrap that gives every worker a small
// fixed user-data.
func Bootstrap() provision.Bootstrap { return bootstrap{} }

// Knobs maps ehos.yaml's scaling section onto the decision's knobs.
func Knobs(c *config.Config) scale.Knobs { return provision.KnobsFrom(c) }

// Provisioner is ehos's own policy: lib/provision (and so lib/scale)
// unchanged, over the world's clouds and pool.
type Provisioner struct {
	mu       sync.Mutex // NewName is called from the regions' goroutines
	P        *provision.Provisioner
	Last     provision.Report
	Errors   int
	acted    bool
	counters int
}

// NewProvisioner wires a provision.Provisioner to the world. VM names are
// numbered so runs repeat exactly.
func NewProvisioner(w *World, cfg *config.Config, log zerolog.Logger) (*Provisioner, error) {
	return newProvisioner(w, cfg, Options{Log: log})
}

func newProvisioner(w *World, cfg *config.Config, opt Options) (*Provisioner, error) {
	log := opt.Log
	owner := cfg.Pool.Owner
	if owner == "" {
		owner = "sim"
	}
	pr := &Provisioner{}
	po := provision.OptionsFrom(cfg)
	// The simulated world is acted on even when ehos.yaml says dry run.
	po.Owner, po.DryRun = owner, false
	po.Clouds, po.Log, po.DrainRecheck, po.NoReschedule = w.Specs, log, opt.DrainRecheck, opt.NoReschedule
	// The simulated cloud answers at once: creating in one region after
	// another costs nothing, and keeps VM names (by a counter) and the
	// ties they break the same in every run.
	po.CreateParallel = 1
	po.NewName = func() string {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		pr.counters++
		return fmt.Sprintf("ehos-%s-%06d", cfg.Pool.Name, pr.counters)
	}
	p, err := provision.New(po, w.Pool, Bootstrap())
	if err != nil {
		return nil, err
	}
	pr.P = p
	return pr, nil
}

// Name is "ehos".
func (p *Provisioner) Name() string { return "ehos" }

// Cycle runs provision.RunOnce.
func (p *Provisioner) Cycle(ctx context.Context, now time.Time) error {
	rep, err := p.P.RunOnce(ctx, now)
	if err != nil {
		return err
	}
	p.Last = rep
	p.Errors += len(rep.Errors)
	p.acted = len(rep.Actions) > 0
	return nil
}

func (p *Provisioner) quiet() bool { return !p.acted }

// Run replays trace with opt and returns what it cost and how long jobs
// waited.
func Run(ctx context.Context, trace *Trace, opt Options) (*Result, error) {
	if err := Check(trace, opt); err != nil {
		return nil, err
	}
	cfg := opt.Config
	if opt.NegotiationInterval <= 0 {
		opt.NegotiationInterval = 60 * time.Second
	}
	if opt.RescheduleDelay == 0 {
		opt.RescheduleDelay = DefaultRescheduleDelay
	}
	if opt.NegotiationMinInterval <= 0 {
		opt.NegotiationMinInterval = DefaultNegotiationMinInterval
	}
	if opt.ClaimWorklife == 0 {
		opt.ClaimWorklife = DefaultClaimWorklife
	}
	defer tuneGC()()
	w, err := NewWorld(cfg, opt.Flavors, opt.Quota, opt.Cloud, opt.JoinDelay, trace.Jobs)
	if err != nil {
		return nil, err
	}
	w.Pool.FirstFit = opt.FirstFit
	w.Pool.ClaimWorklife = max(opt.ClaimWorklife, 0)
	offers, err := usableOffers(cfg, opt.Flavors, opt.Quota)
	if err != nil {
		return nil, err
	}
	bound := lowerBound(trace.Jobs, offers, minBoot(opt.Cloud, opt.JoinDelay))
	sk := newSkipper(cfg, opt.NoSkip)
	w.created = func(s *Server) { sk.booted(s, w.JoinDelay) }

	var pol Policy
	var quiet func() bool
	rest := max(cfg.Scaling.Min, cfg.Scaling.Spare) // VMs a policy keeps at rest
	var base baseline
	if opt.Baseline {
		if base, err = newBaseline(w, cfg, opt, trace.Jobs, offers); err != nil {
			return nil, err
		}
		pol, quiet, rest = base, base.quiet, base.rest()
	} else if opt.policy != nil {
		pol, quiet = opt.policy(w)
	} else {
		p, err := newProvisioner(w, cfg, opt)
		if err != nil {
			return nil, err
		}
		pol, quiet = p, p.quiet
	}

	res := &Result{Trace: trace.Name, Policy: pol.Name(), Jobs: len(trace.Jobs), Skipped: trace.Skipped,
		Unservable: bound.Unservable, Bound: bound, Cycle: cfg.Scaling.Cycle.Seconds(),
		Boot: (opt.Cloud.BootMean + opt.JoinDelay).Seconds(), NegotiationInterval: opt.NegotiationInterval.Seconds()}
	if base != nil {
		res.Flavor = base.flavorName()
	}

	cycle, neg := cfg.Scaling.Cycle, opt.NegotiationInterval
	lastSubmit := Epoch
	if n := len(trace.Jobs); n > 0 {
		lastSubmit = Epoch.Add(trace.Jobs[n-1].Submit)
	}
	// Long enough for the last jobs to run and every VM to retire, drain
	// and be deleted; past it the run is reported as not settled.
	span := trace.Span()
	hardEnd := Epoch.Add(span).Add(cfg.Scaling.IdleBeforeRetire + cfg.Scaling.MinLifetime + cfg.Scaling.BootTimeout + cfg.Scaling.DrainTimeout + 48*time.Hour)
	nextCycle, nextNeg := Epoch, Epoch
	var lastNeg, followAt time.Time
	cycles, ran, steps := 0, 0, 0
	progress := func(done bool) {
		_, _, finished, _ := w.Pool.Counts()
		opt.Progress(Progress{Finished: finished, Jobs: len(trace.Jobs), Simulated: w.Clock.Now().Sub(Epoch), Span: span,
			Cycles: cycles, Ran: ran, Done: done})
	}
	lastProgress := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if steps++; opt.Progress != nil && steps%256 == 0 && time.Since(lastProgress) >= time.Second {
			progress(false)
			lastProgress = time.Now()
		}
		// The periodic negotiation, or the one a submit asks for, but
		// not sooner than the minimum interval after the last.
		negAt := nextNeg
		if opt.RescheduleDelay > 0 {
			if r := w.Pool.NextNegotiation(opt.RescheduleDelay); !r.IsZero() {
				if !lastNeg.IsZero() && r.Before(lastNeg.Add(opt.NegotiationMinInterval)) {
					r = lastNeg.Add(opt.NegotiationMinInterval)
				}
				if r.Before(negAt) {
					negAt = r
				}
			}
		}
		t := nextCycle
		if negAt.Before(t) {
			t = negAt
		}
		if !followAt.IsZero() && followAt.Before(t) {
			t = followAt
		}
		w.Advance(t)
		if t.Equal(negAt) {
			if t.Before(nextNeg) {
				res.Rescheduled++
			}
			w.Pool.Negotiate(t)
			lastNeg, nextNeg = t, t.Add(neg)
		}
		// The provisioner's follow-up cycle, seconds after one that
		// drained idle workers (provision.Provisioner.FollowUp).
		if t.Equal(followAt) && t.Before(nextCycle) {
			followAt = time.Time{}
			sk.beforeCycle(w)
			if err := pol.Cycle(ctx, t); err != nil {
				return nil, fmt.Errorf("follow-up cycle at %s: %w", t.Sub(Epoch), err)
			}
			sk.ran(t, pol, w)
			res.FollowUps++ // one per regular cycle, as Run runs it
			continue
		}
		if !t.Equal(nextCycle) {
			continue
		}
		if !sk.skip(t, w) {
			sk.beforeCycle(w)
			if err := pol.Cycle(ctx, t); err != nil {
				return nil, fmt.Errorf("cycle at %s: %w", t.Sub(Epoch), err)
			}
			sk.ran(t, pol, w)
			ran++
		}
		cycles++
		nextCycle = nextCycle.Add(cycle)
		followAt = followUp(pol, t, nextCycle)
		live, booting := w.Live()
		idle, running, finished, _ := w.Pool.Counts()
		res.PeakVMs = max(res.PeakVMs, live)
		if live > cfg.Scaling.Max {
			res.OverMax++
			if pp, ok := pol.(*Provisioner); ok && res.OverMaxNote == "" {
				res.OverMaxNote = fmt.Sprintf("at %s: %d VMs, states %v, creates %+v", t.Sub(Epoch), live, pp.Last.Counts(), pp.Last.Decision.Creates)
			}
		}
		if opt.Samples {
			res.Samples = append(res.Samples, Sample{T: t.Sub(Epoch).Seconds(), Idle: idle, Running: running, VMs: live, Workers: w.Pool.NumWorkers()})
		}
		// At rest a policy keeps max(min, spare) idle workers (a
		// baseline rule its own number).
		settled := running == 0 && booting == 0 && live <= rest && quiet() && w.Pool.NumWorkers() == live
		if finished+res.Unservable >= len(trace.Jobs) && !t.Before(lastSubmit) && settled {
			res.Settled = true
			break
		}
		if t.After(hardEnd) {
			break
		}
		// Nothing queued, running or booting and the policy at rest: skip
		// to the cycle before the next submit.
		if next := w.Pool.NextEvent(); settled && idle == 0 && next.After(nextCycle) {
			k := next.Sub(nextCycle) / cycle
			nextCycle = nextCycle.Add(k * cycle)
			if nextNeg.Before(nextCycle) {
				nextNeg = nextNeg.Add((nextCycle.Sub(nextNeg)/neg + 1) * neg)
			}
		}
	}
	if opt.Progress != nil {
		progress(true)
	}
	res.Cycles = cycles
	res.ReusedClaims = w.Pool.reused
	res.End = w.Clock.Now().Sub(Epoch).Seconds()
	res.finish(w)
	if p, ok := pol.(*Provisioner); ok {
		res.CycleErrors = p.Errors
	}
	return res, nil
}

// followUp is when pol wants a cycle before the regular one at next, as
// provision.Run gives it one; zero for none.
func followUp(pol Policy, t, next time.Time) time.Time {
	p, ok := pol.(*Provisioner)
	if !ok {
		return time.Time{}
	}
	if d := p.P.FollowUp(); d > 0 && t.Add(d).Before(next) {
		return t.Add(d)
	}
	return time.Time{}
}
