package provision

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// fakeCloud is an in-memory cloud with failure hooks. Servers start in BUILD;
// tests move them on with setStatus.
type fakeCloud struct {
	mu      sync.Mutex
	name    string
	flavors []cloud.Flavor
	limits  cloud.Limits
	servers map[string]*cloud.VM // by id
	next    int
	calls   []string
	clock   *time.Time // the test's now, stamped on created servers

	createErr func(region string) error
	listErr   func(region string) error
	deleteErr func(region, id string) error
}

func newFakeCloud(name string) *fakeCloud {
	return &fakeCloud{
		name: name,
		flavors: []cloud.Flavor{
			{ID: "f1", Name: "small", VCPUs: 1, RAMMB: 2048, DiskGB: 10},
			{ID: "f2", Name: "large", VCPUs: 4, RAMMB: 8192, DiskGB: 40},
		},
		limits:  cloud.Limits{MaxInstances: 100, MaxCores: -1, MaxRAMMB: -1},
		servers: map[string]*cloud.VM{},
	}
}

func (c *fakeCloud) record(f string, a ...any) {
	c.calls = append(c.calls, fmt.Sprintf(f, a...))
}

func (c *fakeCloud) List(_ context.Context, region, pool, owner string) ([]cloud.VM, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("list %s", region)
	if c.listErr != nil {
		if err := c.listErr(region); err != nil {
			return nil, err
		}
	}
	var out []cloud.VM
	for _, vm := range c.servers {
		if vm.Location.Region != region || vm.Metadata[cloud.MetaPool] != pool {
			continue
		}
		if owner != "" && vm.Metadata[cloud.MetaOwner] != owner {
			continue
		}
		v := *vm
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (c *fakeCloud) Create(_ context.Context, region string, req cloud.CreateRequest) (cloud.VM, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("create %s %s", region, req.Flavor)
	if c.createErr != nil {
		if err := c.createErr(region); err != nil {
			return cloud.VM{}, err
		}
	}
	c.next++
	id := fmt.Sprintf("%s-%s-%d", c.name, region, c.next)
	var flavor string
	for _, f := range c.flavors {
		if f.ID == req.Flavor || f.Name == req.Flavor {
			flavor = f.Name
		}
	}
	vm := &cloud.VM{ID: id, Name: req.Name, Location: cloud.Location{Cloud: c.name, Region: region}, Flavor: flavor,
		FlavorID: req.Flavor, Status: cloud.StatusBuild, Metadata: req.Metadata, Created: *c.clock}
	c.servers[id] = vm
	return *vm, nil
}

func (c *fakeCloud) Delete(_ context.Context, region, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("delete %s %s", region, id)
	if c.deleteErr != nil {
		if err := c.deleteErr(region, id); err != nil {
			return err
		}
	}
	delete(c.servers, id)
	return nil
}

func (c *fakeCloud) Flavors(context.Context, string) ([]cloud.Flavor, error) {
	return append([]cloud.Flavor(nil), c.flavors...), nil
}

func (c *fakeCloud) Limits(_ context.Context, region string) (cloud.Limits, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.limits
	l.UsedInstances = 0
	for _, vm := range c.servers {
		if vm.Location.Region == region {
			l.UsedInstances++
		}
	}
	return l, nil
}

func (c *fakeCloud) setStatus(id string, s cloud.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.servers[id].Status = s
}

func (c *fakeCloud) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.servers)
}

func (c *fakeCloud) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := range c.servers {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (c *fakeCloud) callsLike(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.calls {
		if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

// fakePool is an in-memory HTCondor.
type fakePool struct {
	mu        sync.Mutex
	demand    []scale.Demand
	workers   map[string]*Worker
	drains    []string
	published []classad.Ad
	offers    []scale.Offer
	fail      error // every query fails with it when set
	// rescheduled holds, per Reschedule call, the demand keys it was for.
	rescheduled   [][]string
	rescheduleErr error
	// running is what the schedds say runs where (RunningJobs), by ehos
	// name; runningErr fails that query; asked counts the queries.
	running    map[string][]string
	runningErr error
	asked      int
	// revoked holds the tokens RevokeTokens was given; revokeErr fails it.
	revoked   []RevokedToken
	revokeErr error
	// forget: ProvisionerAds finds no earlier ad.
	forget bool
	// demandErr fails the demand query alone.
	demandErr error
}

func (p *fakePool) RevokeTokens(_ context.Context, _ time.Time, toks []RevokedToken) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revokeErr != nil {
		return p.revokeErr
	}
	p.revoked = append(p.revoked, toks...)
	return nil
}

func (p *fakePool) RunningJobs(context.Context) (map[string][]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked++
	out := map[string][]string{}
	for k, v := range p.running {
		out[k] = append([]string(nil), v...)
	}
	return out, p.runningErr
}

// vanish removes a worker's startd ad, as an invalidation or an expired
// token does; its job may run on.
func (p *fakePool) vanish(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.workers, name)
}

func (p *fakePool) Reschedule(_ context.Context, ds []scale.Demand) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	for _, d := range ds {
		keys = append(keys, d.Key)
	}
	p.rescheduled = append(p.rescheduled, keys)
	return p.rescheduleErr
}

func newFakePool() *fakePool { return &fakePool{workers: map[string]*Worker{}} }

func (p *fakePool) Demand(context.Context) ([]scale.Demand, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	if p.demandErr != nil {
		return nil, p.demandErr
	}
	return append([]scale.Demand(nil), p.demand...), nil
}

func (p *fakePool) Workers(context.Context) ([]Worker, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	var out []Worker
	for _, w := range p.workers {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (p *fakePool) Offer(_ context.Context, offers []scale.Offer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.offers = offers
	return nil
}

func (p *fakePool) Drain(_ context.Context, w Worker) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drains = append(p.drains, w.Name)
	if x := p.workers[w.Name]; x != nil {
		x.Draining = true
	}
	return nil
}

// ProvisionerAds is the last ad published, as the collector keeps it
// (none when forget is set: a collector restarted with the provisioner).
func (p *fakePool) ProvisionerAds(context.Context) ([]classad.Ad, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	if p.forget || len(p.published) == 0 {
		return nil, nil
	}
	return []classad.Ad{p.published[len(p.published)-1]}, nil
}

func (p *fakePool) Publish(_ context.Context, ad classad.Ad) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, ad)
	return nil
}

// join makes a startd appear for a VM.
func (p *fakePool) join(vm cloud.VM, claimed int, idleSince time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.workers[vm.Metadata[cloud.MetaName]] = &Worker{
		Name: vm.Metadata[cloud.MetaName], InstanceID: vm.ID, Machine: vm.Name, Slot: "slot1@" + vm.Name,
		Claimed: claimed, IdleSince: idleSince, Healthy: true,
		Free: scale.Resources{Cpus: 1 - claimed, MemoryMB: 1792, DiskMB: 8192},
	}
}

func (p *fakePool) setClaimed(name string, claimed int, idleSince time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.workers[name].Claimed = claimed
	p.workers[name].IdleSince = idleSince
	p.workers[name].Free.Cpus = max(0, 1-claimed)
}

// startJob has the worker take a job at at, as its slot's
// EnteredCurrentActivity says.
func (p *fakePool) startJob(name string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[name]
	w.Claimed++
	w.IdleSince = time.Time{}
	w.Free.Cpus = max(0, w.Free.Cpus-1)
	w.Started = append(w.Started, at)
}

// fakeBoot makes user-data naming the VM; err fails it. Each VM's token
// id is "jti-<name>", expiring a day after the test's start.
type fakeBoot struct {
	err   error
	calls int
	mu    sync.Mutex
}

func (b *fakeBoot) TokenID(vm string) (string, time.Time, bool) {
	return "jti-" + vm, t0.Add(24 * time.Hour), true
}

func (b *fakeBoot) UserData(_ context.Context, vm NewVM) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.err != nil {
		return nil, b.err
	}
	return []byte("#cloud-config\n# " + vm.Name + "\n"), nil
}
