package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
)

// oracle is a policy that knows the future: for every job it boots a VM of
// the cheapest flavor that holds it, timed to join just before the job is
// submitted, and deletes every idle worker as soon as no job waits and the
// job it was made for has been submitted. Jobs never wait for a boot and
// VMs seldom idle, so it comes near what the bound allows, while being an
// ordinary policy the bound must hold for.
type oracle struct {
	fleet
	jobs   []Job
	next   int
	lead   time.Duration
	offers []boundOffer
	made   map[string]time.Time // VM name → when the job it was made for is submitted
}

func (o *oracle) Name() string { return "oracle" }

// withOracle has opt run the oracle instead of ehos, each VM created lead
// before its job is submitted.
func withOracle(opt *Options, jobs []Job, offers []boundOffer, lead time.Duration) {
	cfg := opt.Config
	opt.policy = func(w *World) (Policy, func() bool) {
		or := &oracle{fleet: newFleet(w, cfg, "oracle"), jobs: jobs, lead: lead, offers: offers, made: map[string]time.Time{}}
		return or, or.quiet
	}
}

// createOrFail is fleet.create for the oracles, whose clouds have no
// quota: a refusal is an error, not something to try again next cycle.
func (f *fleet) createOrFail(ctx context.Context, flavor string) (string, error) {
	name := f.create(ctx, flavor, nil)
	if name == "" {
		return "", fmt.Errorf("no region accepted a VM of %s", flavor)
	}
	return name, nil
}

func (o *oracle) Cycle(ctx context.Context, now time.Time) error {
	o.acted = false
	for ; o.next < len(o.jobs) && Epoch.Add(o.jobs[o.next].Submit).Before(now.Add(o.lead)); o.next++ {
		j := o.jobs[o.next]
		var best *boundOffer
		for i := range o.offers {
			if holds(o.offers[i], jobShape(j)) && (best == nil || o.offers[i].Cost < best.Cost) {
				best = &o.offers[i]
			}
		}
		if best == nil {
			continue
		}
		name, err := o.createOrFail(ctx, best.Name)
		if err != nil {
			return err
		}
		o.made[name] = Epoch.Add(j.Submit)
	}
	demand, err := o.w.Pool.Demand(ctx)
	if err != nil {
		return err
	}
	for _, d := range demand {
		if d.Idle > 0 {
			return nil
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
	for _, wk := range workers {
		if wk.Claimed > 0 || wk.Draining || o.made[wk.Name].After(now) {
			continue
		}
		if err := o.retire(ctx, wk, byName[wk.Name]); err != nil {
			return err
		}
	}
	return nil
}

// randomTrace draws a trace of one kind: narrow (1-2 cpus), wide (1 to 8
// cpus, up to 12 GB), chunky (3 to 7 cpus: on 4- and 8-cpu flavors many
// leave no room for another, so the bound charges them whole VMs), bursty (all at a few instants), short (1-cpu jobs of
// seconds to minutes in two bursts: a policy that lets them queue boots
// far fewer VMs than one that starts them at once), long (hours each) or
// memory-heavy (1 cpu, 2 to 14 GB).
func randomTrace(r *rand.Rand, kind string) []Job {
	n := 10 + r.IntN(40)
	var jobs []Job
	burst := time.Duration(0)
	for i := range n {
		j := Job{Submit: time.Duration(r.IntN(7200)) * time.Second, Runtime: time.Duration(60+r.IntN(3600)) * time.Second, Cpus: 1 + r.IntN(2), MemoryMB: r.IntN(1500)}
		switch kind {
		case "wide":
			j.Cpus, j.MemoryMB = 1+r.IntN(8), r.IntN(12000)
		case "chunky":
			j.Cpus, j.MemoryMB = 3+r.IntN(5), r.IntN(4000)
		case "bursty":
			if i%(1+n/3) == 0 {
				burst = time.Duration(r.IntN(10800)) * time.Second
			}
			j.Submit = burst
		case "short":
			if i%(1+n/2) == 0 {
				burst = time.Duration(r.IntN(3600)) * time.Second
			}
			j.Submit, j.Runtime, j.Cpus = burst, time.Duration(30+r.IntN(270))*time.Second, 1
		case "long":
			j.Runtime = time.Duration(2*3600+r.IntN(10*3600)) * time.Second
		case "memory":
			j.Cpus, j.MemoryMB = 1, 2000+r.IntN(12000)
		}
		jobs = append(jobs, j)
	}
	t := &Trace{Jobs: jobs}
	t.sort()
	return t.Jobs
}

// randomOptions draws flavors' costs (none configured, or each its own),
// knobs and a boot model.
func randomOptions(r *rand.Rand) Options {
	cfg := DemoConfig()
	cfg.Clouds[0].Flavors = []string{"m1.small", "m1.medium", "m1.large", "m1.xlarge"}
	if r.IntN(2) == 0 {
		cfg.Clouds[0].FlavorOverrides = map[string]cloud.FlavorExtra{}
		for _, f := range cfg.Clouds[0].Flavors {
			cfg.Clouds[0].FlavorOverrides[f] = cloud.FlavorExtra{Cost: 0.5 + 10*r.Float64()}
		}
	}
	cfg.Scaling.Spare = r.IntN(2)
	cfg.Scaling.IdleBeforeRetire = time.Duration(r.IntN(600)) * time.Second
	cfg.Scaling.Cycle = time.Duration(10+r.IntN(50)) * time.Second
	cfg.Scaling.MaxCreatesPerCycle = 1 + r.IntN(20)
	mean := time.Duration(30+r.IntN(270)) * time.Second
	return Options{
		Config: cfg, Flavors: DefaultFlavors(),
		Quota:     cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1},
		Cloud:     CloudModel{BootMean: mean, BootJitter: time.Duration(r.Float64() * float64(mean)), Seed: r.Uint64()},
		JoinDelay: time.Duration(r.IntN(60)) * time.Second,
	}
}

// TestBoundHoldsForEveryPolicy is the property that makes the lower bound a
// bound: on randomized traces of every kind, with randomized flavor costs,
// knobs and boot times, no policy spends less than it: not ehos, not the
// original's rule, not an oracle that knows every job in advance.
func TestBoundHoldsForEveryPolicy(t *testing.T) {
	kinds := []string{"narrow", "wide", "chunky", "bursty", "short", "long", "memory"}
	rounds := 12
	if testing.Short() {
		rounds = 2
	}
	for seed := range uint64(rounds * len(kinds)) {
		kind := kinds[seed%uint64(len(kinds))]
		r := rand.New(rand.NewPCG(seed, 24))
		tr := &Trace{Name: fmt.Sprintf("%s-%d", kind, seed), Jobs: randomTrace(r, kind)}
		opt := randomOptions(r)
		offers, err := usableOffers(opt.Config, opt.Flavors, opt.Quota)
		if err != nil {
			t.Fatal(err)
		}
		for _, pol := range []string{"ehos", "baseline", "oracle"} {
			o := opt
			switch pol {
			case "baseline":
				o.Baseline = true
			case "oracle":
				withOracle(&o, tr.Jobs, offers, o.Cloud.BootMean+o.Cloud.BootJitter+o.JoinDelay+o.Config.Scaling.Cycle)
			}
			res, err := Run(context.Background(), tr, o)
			if err != nil {
				t.Fatalf("%s %s: %v", tr.Name, pol, err)
			}
			if !res.Settled {
				t.Errorf("%s %s: %s", tr.Name, pol, res.Outcome)
				continue
			}
			if res.Cost < res.Bound.Cost {
				t.Errorf("%s %s: cost %.4f below the lower bound %.4f (work %.4f, boot %.4f); %s", tr.Name, pol, res.Cost, res.Bound.Cost, res.Bound.Work, res.Bound.Boot, describe(opt.Config))
			}
			t.Logf("%-10s %-8s cost %8.2f bound %8.2f ratio %.3f", tr.Name, pol, res.Cost, res.Bound.Cost, res.Cost/res.Bound.Cost)
		}
	}
}

func describe(c *config.Config) string {
	return fmt.Sprintf("spare %d, idle_before_retire %s, cycle %s, costs %v", c.Scaling.Spare, c.Scaling.IdleBeforeRetire, c.Scaling.Cycle, c.Clouds[0].FlavorOverrides)
}
