package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
)

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
	w       *World
	pool    string
	owner   string
	flavor  string
	k       config.Scaling
	n       int
	acted   bool
	regions []baseRegion
}

type baseRegion struct {
	c      provision.Cloud
	region string
}

// NewBaseline makes the baseline policy with one flavor.
func NewBaseline(w *World, cfg *config.Config, flavor string) *Baseline {
	b := &Baseline{w: w, pool: cfg.Pool.Name, owner: "baseline", flavor: flavor, k: cfg.Scaling}
	for _, s := range w.Specs {
		regs := s.Config.Regions
		if len(regs) == 0 {
			regs = []string{DefaultRegion}
		}
		for _, r := range regs {
			b.regions = append(b.regions, baseRegion{c: s.Cloud, region: r})
		}
	}
	return b
}

// Name is "baseline".
func (b *Baseline) Name() string { return "baseline" }

func (b *Baseline) quiet() bool { return !b.acted }

// Cycle runs one round of the original's rule.
func (b *Baseline) Cycle(ctx context.Context, now time.Time) error {
	b.acted = false
	type vmAt struct {
		vm cloud.VM
		r  baseRegion
	}
	byName := map[string]vmAt{}
	total := 0
	for _, r := range b.regions {
		vms, err := r.c.List(ctx, r.region, b.pool, b.owner)
		if err != nil {
			return err
		}
		for _, vm := range vms {
			if vm.Status == cloud.StatusError {
				if err := r.c.Delete(ctx, r.region, vm.ID); err != nil {
					return err
				}
				b.acted = true
				continue
			}
			byName[vm.Metadata[cloud.MetaName]] = vmAt{vm, r}
			total++
		}
	}
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
		return b.create(ctx, now)
	case idleJobs > 0 && total < k.Max:
		return b.create(ctx, now)
	case idleJobs == 0 && len(idleNodes) > k.Spare && total > k.Min:
		n := min(len(idleNodes)-k.Spare, total-k.Min)
		for _, wk := range idleNodes[:n] {
			v := byName[wk.Name]
			if err := b.w.Pool.Drain(ctx, wk); err != nil {
				return err
			}
			if err := v.r.c.Delete(ctx, v.r.region, v.vm.ID); err != nil {
				return err
			}
			b.acted = true
		}
	case len(idleNodes)+booting < k.Spare && total < k.Max:
		return b.create(ctx, now)
	}
	return nil
}

func (b *Baseline) create(ctx context.Context, now time.Time) error {
	for _, r := range b.regions {
		b.n++
		name := fmt.Sprintf("ehos-%s-base-%06d", b.pool, b.n)
		_, err := r.c.Create(ctx, r.region, cloud.CreateRequest{
			Name: name, Flavor: b.flavor,
			Metadata: map[string]string{cloud.MetaPool: b.pool, cloud.MetaOwner: b.owner, cloud.MetaName: name},
		})
		if err == nil {
			b.acted = true
			return nil
		}
	}
	return nil // every region refused: try again next cycle, as the original did
}
