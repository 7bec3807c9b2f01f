package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
)

// The baselines' rules: yardsticks that ehos is measured against on the
// same trace, simulated cloud and pool (docs/simulate.md, "The baselines").
const (
	RuleOriginal       = "original"       // the original Python EHOS daemon
	RuleCloudScheduler = "cloudscheduler" // hep-gc/cloudscheduler v2's csmain
	RuleCOBalD         = "cobald"         // COBalD's LinearController over a TARDIS site
)

// Rules lists every baseline rule, the original first.
var Rules = []string{RuleOriginal, RuleCloudScheduler, RuleCOBalD}

// baseline is a yardstick policy as Run drives it.
type baseline interface {
	Policy
	// quiet says the last cycle changed nothing.
	quiet() bool
	// rest is how many VMs the rule keeps when nothing is queued or
	// running (Run's test for a settled run).
	rest() int
	// flavorName is the rule's one flavor, "" when it chooses per job.
	flavorName() string
}

// newBaseline makes the baseline rule opt.Rule names (default the original).
// The rules with one flavor take opt.BaselineFlavor, else the smallest
// configured flavor that holds every job.
func newBaseline(w *World, cfg *config.Config, opt Options, jobs []Job, offers []boundOffer) (baseline, error) {
	rule := opt.Rule
	if rule == "" {
		rule = RuleOriginal
	}
	oneFlavor := func() (string, error) {
		if opt.BaselineFlavor != "" {
			return opt.BaselineFlavor, nil
		}
		if fl := baselineFlavor(jobs, offers); fl != "" {
			return fl, nil
		}
		return "", fmt.Errorf("sim: baseline %s: no configured flavor holds every job of the trace; choose one with --baseline-flavor", rule)
	}
	switch rule {
	case RuleOriginal:
		fl, err := oneFlavor()
		if err != nil {
			return nil, err
		}
		return NewBaseline(w, cfg, fl), nil
	case RuleCloudScheduler:
		return newCloudScheduler(w, cfg, offers), nil
	case RuleCOBalD:
		fl, err := oneFlavor()
		if err != nil {
			return nil, err
		}
		for _, o := range offers {
			if o.Name == fl {
				return newCOBalD(w, cfg, o, DefaultCOBalD), nil
			}
		}
		return nil, fmt.Errorf("sim: baseline %s: flavor %q is not among the configured flavors", rule, fl)
	}
	return nil, fmt.Errorf("sim: unknown baseline rule %q (want one of %v)", rule, Rules)
}

// fleet is what every baseline rule does to the cloud: list its own VMs
// across the configured regions (deleting those in ERROR, as all three
// do), create in the first region that accepts, delete.
type fleet struct {
	w       *World
	pool    string
	owner   string
	prefix  string // VM names are ehos-POOL-PREFIX-NNNNNN
	n       int
	acted   bool
	regions []baseRegion
}

type baseRegion struct {
	c      provision.Cloud
	region string
}

// fleetVM is one of the fleet's servers and where it is.
type fleetVM struct {
	vm cloud.VM
	r  baseRegion
}

func newFleet(w *World, cfg *config.Config, prefix string) fleet {
	f := fleet{w: w, pool: cfg.Pool.Name, owner: "baseline", prefix: prefix}
	for _, s := range w.Specs {
		regs := s.Config.Regions
		if len(regs) == 0 {
			regs = []string{DefaultRegion}
		}
		for _, r := range regs {
			f.regions = append(f.regions, baseRegion{c: s.Cloud, region: r})
		}
	}
	return f
}

func (f *fleet) quiet() bool { return !f.acted }

// list returns the fleet's servers by ehos name (and their names in the
// cloud's order), after deleting those in ERROR.
func (f *fleet) list(ctx context.Context) (map[string]fleetVM, []string, error) {
	byName := map[string]fleetVM{}
	var order []string
	for _, r := range f.regions {
		vms, err := r.c.List(ctx, r.region, f.pool, f.owner)
		if err != nil {
			return nil, nil, err
		}
		for _, vm := range vms {
			if vm.Status == cloud.StatusError {
				if err := r.c.Delete(ctx, r.region, vm.ID); err != nil {
					return nil, nil, err
				}
				f.acted = true
				continue
			}
			name := vm.Metadata[cloud.MetaName]
			byName[name] = fleetVM{vm, r}
			order = append(order, name)
		}
	}
	return byName, order, nil
}

// create boots one VM of flavor in r, or in the first region that accepts
// when r is nil, and returns its name; "" when every region refused (the
// rules try again next cycle).
func (f *fleet) create(ctx context.Context, flavor string, r *baseRegion) string {
	regions := f.regions
	if r != nil {
		regions = []baseRegion{*r}
	}
	for _, r := range regions {
		f.n++
		name := fmt.Sprintf("ehos-%s-%s-%06d", f.pool, f.prefix, f.n)
		_, err := r.c.Create(ctx, r.region, cloud.CreateRequest{
			Name: name, Flavor: flavor,
			Metadata: map[string]string{cloud.MetaPool: f.pool, cloud.MetaOwner: f.owner, cloud.MetaName: name},
		})
		if err == nil {
			f.acted = true
			return name
		}
	}
	return ""
}

func (f *fleet) delete(ctx context.Context, v fleetVM) error {
	f.acted = true
	return v.r.c.Delete(ctx, v.r.region, v.vm.ID)
}

// retire drains worker wk and deletes its VM v, as the rules retire an
// idle worker: its startd first, so the negotiator gives it no job.
func (f *fleet) retire(ctx context.Context, wk provision.Worker, v fleetVM) error {
	if err := f.w.Pool.Drain(ctx, wk); err != nil {
		return err
	}
	return f.delete(ctx, v)
}

// Baseline re-creates the scaling rule of the original Python EHOS daemon
// (ehosd), as a yardstick. Each cycle it counts its VMs, the idle startds
// (no claimed slot) and the idle jobs, and then does the first that applies:
//
//  1. fewer VMs than nodes_min (scaling.min): create one;
//  2. idle jobs and fewer VMs than nodes_max (scaling.max): create one;
//  3. no idle job and more idle startds than nodes_spare (scaling.spare):
//     delete the surplus idle ones at once (never below nodes_min);
//  4. fewer idle or booting VMs than nodes_spare: create one.
//
// It knows one flavor, ignores job shapes (no packing: it adds a VM while
// anything waits, whatever is already booting), has no idle delay before
// deleting, and deletes servers that end in ERROR. At most one VM is created
// per cycle, in the first region that accepts it. It talks to the same
// simulated cloud and pool as ehos, through the same interfaces.
type Baseline struct {
	fleet
	flavor string
	k      config.Scaling
}

// NewBaseline makes the baseline policy with one flavor.
func NewBaseline(w *World, cfg *config.Config, flavor string) *Baseline {
	return &Baseline{fleet: newFleet(w, cfg, "base"), flavor: flavor, k: cfg.Scaling}
}

// Name is "baseline".
func (b *Baseline) Name() string { return "baseline" }

func (b *Baseline) rest() int          { return max(b.k.Min, b.k.Spare) }
func (b *Baseline) flavorName() string { return b.flavor }

// Cycle runs one round of the original's rule.
func (b *Baseline) Cycle(ctx context.Context, _ time.Time) error {
	b.acted = false
	byName, _, err := b.list(ctx)
	if err != nil {
		return err
	}
	total := len(byName)
	workers, err := b.w.Pool.Workers(ctx)
	if err != nil {
		return err
	}
	demand, err := b.w.Pool.Demand(ctx)
	if err != nil {
		return err
	}
	idleJobs := 0
	for _, d := range demand {
		idleJobs += d.Idle
	}
	var idleNodes []provision.Worker
	joined := 0
	for _, wk := range workers {
		if _, ours := byName[wk.Name]; !ours {
			continue
		}
		joined++
		if wk.Claimed == 0 && !wk.Draining {
			idleNodes = append(idleNodes, wk)
		}
	}
	booting := total - joined
	k := b.k
	switch {
	case total < k.Min:
		b.create(ctx, b.flavor, nil)
	case idleJobs > 0 && total < k.Max:
		b.create(ctx, b.flavor, nil)
	case idleJobs == 0 && len(idleNodes) > k.Spare && total > k.Min:
		n := min(len(idleNodes)-k.Spare, total-k.Min)
		for _, wk := range idleNodes[:n] {
			if err := b.retire(ctx, wk, byName[wk.Name]); err != nil {
				return err
			}
		}
	case len(idleNodes)+booting < k.Spare && total < k.Max:
		b.create(ctx, b.flavor, nil)
	}
	return nil
}
