package provision

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type rig struct {
	t     *testing.T
	a, b  *fakeCloud
	pool  *fakePool
	boot  *fakeBoot
	p     *Provisioner
	now   time.Time
	names int
}

func knobs() scale.Knobs {
	return scale.Knobs{
		Max: 10, MaxBooting: 10, MaxCreatesPerCycle: 10,
		IdleBeforeRetire: 5 * time.Minute, BootTimeout: 10 * time.Minute,
		DrainTimeout: time.Hour, DeleteTimeout: 2 * time.Minute,
	}
}

// newRig makes a provisioner over two clouds, a (region r1) and b (region r2).
func newRig(t *testing.T, k scale.Knobs, mutate ...func(*Options)) *rig {
	t.Helper()
	r := &rig{t: t, a: newFakeCloud("a"), b: newFakeCloud("b"), pool: newFakePool(), boot: &fakeBoot{}, now: t0}
	r.a.clock, r.b.clock = &r.now, &r.now
	r.p = r.build(k, mutate...)
	return r
}

func (r *rig) build(k scale.Knobs, mutate ...func(*Options)) *Provisioner {
	r.t.Helper()
	opt := Options{
		Pool: "demo", Owner: "cm1", Knobs: k, BackoffInitial: time.Minute, BackoffMax: 10 * time.Minute,
		OrphanGrace: 3 * time.Minute,
		Clouds: []CloudSpec{
			{Config: cloud.Config{Name: "a", Regions: []string{"r1"}, Image: "img", Flavors: []string{"small", "large"}, Weight: 2}, Cloud: r.a},
			{Config: cloud.Config{Name: "b", Regions: []string{"r2"}, Image: "img", Flavors: []string{"small", "large"}, Weight: 1}, Cloud: r.b},
		},
		Log: zerolog.Nop(),
		NewName: func() string {
			r.names++
			return fmt.Sprintf("ehos-demo-%03d", r.names)
		},
	}
	for _, m := range mutate {
		m(&opt)
	}
	p, err := New(opt, r.pool, r.boot)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) cycle(d time.Duration) Report {
	r.t.Helper()
	r.now = r.now.Add(d)
	rep, err := r.p.RunOnce(context.Background(), r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

// joinedWorker creates one VM for one waiting 1-cpu job in cloud a and
// makes its startd join, idle; the job is still reported waiting.
func (r *rig) joinedWorker() cloud.VM {
	r.t.Helper()
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	vm := r.servers(r.a)[0]
	r.a.setStatus(vm.ID, cloud.StatusActive)
	r.pool.join(vm, 0, r.now)
	return vm
}

// threeSmallVMs has the first cycle create three VMs in cloud a for three
// waiting 1-cpu jobs (still reported waiting), and fails the test if it
// does not.
func (r *rig) threeSmallVMs() {
	r.t.Helper()
	r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
	r.cycle(0)
	if r.a.count() != 3 {
		r.t.Fatalf("created %d, want 3", r.a.count())
	}
}

func offerKey(c, reg, f string) scale.OfferKey {
	return scale.OfferKey{Loc: cloud.Location{Cloud: c, Region: reg}, Flavor: f}
}

func smallDemand(n int, eligible ...scale.OfferKey) []scale.Demand {
	return []scale.Demand{{Key: "schedd#1", Need: scale.Resources{Cpus: 1, MemoryMB: 512, DiskMB: 100}, Idle: n, Oldest: t0, Eligible: eligible}}
}

func (r *rig) servers(c *fakeCloud) []cloud.VM {
	vms, err := c.List(context.Background(), map[string]string{"a": "r1", "b": "r2"}[c.name], "demo", "")
	if err != nil {
		r.t.Fatal(err)
	}
	return vms
}
