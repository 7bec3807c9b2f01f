package sim

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// COBalD re-creates COBalD's LinearController driving a TARDIS site of one
// machine type (MatterMiners/cobald: controller/linear.py,
// composite/factory.py; MatterMiners/tardis: resources/poolfactory.py,
// resources/dronestates.py, adapters/batchsystems/htcondor.py), as our
// reading of that code understands it; docs/simulate.md says where the
// reading is uncertain. Demand is a number of cores, a drone one VM of the
// site's flavor offering its cores. Each cycle of dt:
//
//   - A joined drone that is not draining supplies its cores; its
//     allocation is the larger of its used cores and used memory
//     fractions, its utilisation the smaller (TARDIS's HTCondor ratios).
//     The pool's allocation and utilisation are the means over supplying
//     drones, and both 1 when none supplies.
//   - The controller: utilisation below Low lowers demand by Rate × dt;
//     otherwise allocation above High raises it by Rate × dt. Demand stays
//     within [Floor cores, scaling.max drones' cores] (COBalD's Limiter and
//     the site quota).
//   - The factory: when supply exceeds demand, drones are released, least
//     supply × utilisation first (booting ones supply nothing, so go
//     first), each only while the demand still over the target covers it;
//     otherwise drones are created until their demand covers it.
//   - A released drone that is booting is deleted; one that joined is
//     drained peacefully and deleted once its jobs are done. With a
//     Lifetime, a drone that has supplied that long is released too.
//
// It never looks at the queue: idle jobs reach it only through allocation.
type COBalD struct {
	fleet
	flavor string
	cores  int // the flavor's cores: one drone's demand
	k      config.Scaling
	demand float64
	last   time.Time
	size   scale.Resources
	drones map[string]*drone
	COBalDKnobs
}

type drone struct {
	released bool
	joined   time.Time // zero until its startd is seen
}

// COBalDKnobs are the controller's settings.
type COBalDKnobs struct {
	Low, High float64       // low_utilisation, high_allocation
	Rate      float64       // cores per second
	Floor     float64       // Limiter minimum, cores
	Lifetime  time.Duration // drone_minimum_lifetime; 0: none (TARDIS's default)
}

// DefaultCOBalD is the rule as issue 24 states it (low_utilisation 0.5,
// high_allocation 0.9, rate 1 core/s) with the Limiter minimum of 1 core of
// COBalD's and TARDIS's documented example pipeline.
var DefaultCOBalD = COBalDKnobs{Low: 0.5, High: 0.9, Rate: 1, Floor: 1}

func newCOBalD(w *World, cfg *config.Config, o boundOffer, k COBalDKnobs) *COBalD {
	return &COBalD{fleet: newFleet(w, cfg, "drone"), flavor: o.Name, cores: max(o.Size.Cpus, 1), size: o.Size, k: cfg.Scaling,
		drones: map[string]*drone{}, COBalDKnobs: k}
}

// Name is "cobald".
func (c *COBalD) Name() string { return RuleCOBalD }

// rest: the Limiter's floor keeps one drone's worth of demand.
func (c *COBalD) rest() int          { return int(math.Ceil(c.Floor / float64(c.cores))) }
func (c *COBalD) flavorName() string { return c.flavor }

// Cycle runs the controller for the time since the last cycle, then the
// factory, then the drones' own steps.
func (c *COBalD) Cycle(ctx context.Context, now time.Time) error {
	c.acted = false
	byName, order, err := c.list(ctx)
	if err != nil {
		return err
	}
	workers, err := c.w.Pool.Workers(ctx)
	if err != nil {
		return err
	}
	joined := map[string]provision.Worker{}
	for _, wk := range workers {
		joined[wk.Name] = wk
	}
	size := c.size

	// The drones' own steps: a released drone is drained, and deleted once
	// drained; a booting one at once. Servers the cloud lost are forgotten.
	for name := range c.drones {
		if _, ok := byName[name]; !ok {
			delete(c.drones, name)
		}
	}
	var alloc, util float64
	utilOf := map[string]float64{} // of supplying drones
	for _, name := range order {
		d := c.drones[name]
		if d == nil { // not ours to steer (left from before): treat as released
			d = &drone{released: true}
			c.drones[name] = d
		}
		wk, ok := joined[name]
		if ok && d.joined.IsZero() {
			d.joined = now
		}
		if !d.released && ok && c.Lifetime > 0 && now.Sub(d.joined) >= c.Lifetime {
			d.released = true
		}
		switch {
		case d.released && !ok: // booting, or drained and gone
			if err := c.delete(ctx, byName[name]); err != nil {
				return err
			}
			delete(c.drones, name)
		case d.released:
			if !wk.Draining {
				if err := c.w.Pool.Drain(ctx, wk); err != nil {
					return err
				}
				c.acted = true
			}
		case ok && !wk.Draining:
			cpu := ratio(size.Cpus-wk.Free.Cpus, size.Cpus)
			mem := ratio(size.MemoryMB-wk.Free.MemoryMB, size.MemoryMB)
			alloc += max(cpu, mem)
			util += min(cpu, mem)
			utilOf[name] = min(cpu, mem)
		}
	}
	supplying := len(utilOf)
	if supplying == 0 {
		alloc, util = 1, 1
	} else {
		alloc /= float64(supplying)
		util /= float64(supplying)
	}

	// The controller.
	if !c.last.IsZero() {
		c.demand = c.regulate(c.demand, alloc, util, now.Sub(c.last))
	}
	c.last = now
	c.demand = min(max(c.demand, c.Floor), float64(max(c.k.Max, 1)*c.cores))

	// The factory.
	var live []string
	for _, name := range order {
		if d := c.drones[name]; d != nil && !d.released {
			live = append(live, name)
		}
	}
	// least supply × utilisation first: booting drones (no supply), then
	// the least used
	sort.SliceStable(live, func(a, b int) bool { return utilOf[live[a]] < utilOf[live[b]] })
	release, create := factory(len(live), supplying, c.cores, c.demand)
	for _, name := range live[:release] {
		c.drones[name].released = true
		c.acted = true
	}
	for i := 0; i < create; i++ {
		name := c.create(ctx, c.flavor, nil)
		if name == "" {
			break // every region refused: the drone is tried again next cycle
		}
		c.drones[name] = &drone{}
	}
	return nil
}

// regulate is the LinearController's step over dt: utilisation below Low
// lowers demand, else allocation above High raises it, by Rate × dt.
func (k COBalDKnobs) regulate(demand, alloc, util float64, dt time.Duration) float64 {
	switch {
	case util < k.Low:
		return demand - k.Rate*dt.Seconds()
	case alloc > k.High:
		return demand + k.Rate*dt.Seconds()
	}
	return demand
}

// factory is COBalD's FactoryPool step for live drones of cores each (not
// released; supplying of them joined) against demand: how many of the
// live ones to release (the first ones, in the order to reap them) and
// how many to create.
func factory(live, supplying, cores int, demand float64) (release, create int) {
	if float64(supplying*cores) > demand {
		excess := float64(live*cores) - demand
		release = int(math.Max(0, math.Floor(excess/float64(cores))))
		return min(release, live), 0
	}
	missing := demand - float64(live*cores)
	return 0, int(math.Max(0, math.Ceil(missing/float64(cores))))
}

func ratio(used, total int) float64 {
	if total <= 0 {
		return 0
	}
	return float64(used) / float64(total)
}
