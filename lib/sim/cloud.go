package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/provision"
)

// Clock is the simulated time. Run is the only writer, between cycles; the
// models read it while the provisioner calls them.
type Clock struct{ t time.Time }

// Now returns the simulated time.
func (c *Clock) Now() time.Time { return c.t }

// Set moves the clock.
func (c *Clock) Set(t time.Time) { c.t = t }

// CloudModel is how the simulated cloud behaves.
type CloudModel struct {
	BootMean   time.Duration // create → ACTIVE, on average
	BootJitter time.Duration // boot time is uniform in mean ± jitter (at least 1 s)
	FailRate   float64       // fraction of servers that end in ERROR instead of ACTIVE
	Seed       uint64
}

// Calls counts cloud API calls.
type Calls struct {
	List, Create, Delete, Flavors, Limits int
}

// Total is the number of calls of every kind.
func (c Calls) Total() int { return c.List + c.Create + c.Delete + c.Flavors + c.Limits }

// Server is one simulated server, kept after deletion for accounting.
type Server struct {
	VM       cloud.VM
	Flavor   cloud.Flavor
	ActiveAt time.Time // when it leaves BUILD
	Fails    bool      // ends in ERROR at ActiveAt
	Deleted  time.Time // zero while it exists
}

// Cloud is a simulated cloud entry with several regions. It implements
// provision.Cloud.
type Cloud struct {
	name  string
	clock *Clock
	model CloudModel

	mu      sync.Mutex
	regions map[string]*simRegion
	calls   map[string]*Calls
	all     []*Server // every server ever created, in creation order
	deleted int       // servers deleted so far
	// OnDelete, when set, is told about each server deleted (the pool
	// drops its startd). Called with the cloud's lock held.
	OnDelete func(s *Server, at time.Time)
}

type simRegion struct {
	name    string
	flavors []cloud.Flavor
	// limits has the quota (Max*) and what the servers use (Used*), kept
	// up to date as servers come and go.
	limits  cloud.Limits
	servers map[string]*Server
	byID    []*Server // the servers of the map, by ID: List's order
	rng     *rand.Rand
	next    int
}

// add puts a new server in the region.
func (r *simRegion) add(s *Server) {
	r.servers[s.VM.ID] = s
	i := sort.Search(len(r.byID), func(i int) bool { return r.byID[i].VM.ID > s.VM.ID })
	r.byID = slices.Insert(r.byID, i, s)
	r.limits.UsedInstances++
	r.limits.UsedCores += s.Flavor.VCPUs
	r.limits.UsedRAMMB += s.Flavor.RAMMB
}

// remove takes server s out of the region.
func (r *simRegion) remove(s *Server) {
	delete(r.servers, s.VM.ID)
	i := sort.Search(len(r.byID), func(i int) bool { return r.byID[i].VM.ID >= s.VM.ID })
	r.byID = slices.Delete(r.byID, i, i+1)
	r.limits.UsedInstances--
	r.limits.UsedCores -= s.Flavor.VCPUs
	r.limits.UsedRAMMB -= s.Flavor.RAMMB
}

var _ provision.Cloud = (*Cloud)(nil)

// NewCloud makes a simulated cloud entry. Each region offers flavors and
// has limits (Max* fields; below zero is unlimited).
func NewCloud(name string, clock *Clock, model CloudModel, regions []string, flavors []cloud.Flavor, limits cloud.Limits) *Cloud {
	c := &Cloud{name: name, clock: clock, model: model, regions: map[string]*simRegion{}, calls: map[string]*Calls{}}
	for _, r := range regions {
		// One random stream per region, seeded from its name: regions are
		// called in parallel, so a shared stream would make runs differ.
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%s", name, r)
		c.regions[r] = &simRegion{
			name: r, flavors: append([]cloud.Flavor(nil), flavors...), limits: limits,
			servers: map[string]*Server{}, rng: rand.New(rand.NewPCG(model.Seed, h.Sum64())),
		}
		c.calls[r] = &Calls{}
	}
	return c
}

// Name is the cloud entry's name.
func (c *Cloud) Name() string { return c.name }

func (c *Cloud) region(op, r string) (*simRegion, error) {
	reg := c.regions[r]
	if reg == nil {
		return nil, &cloud.APIError{Class: cloud.ErrNotFound, Op: op, Location: cloud.Location{Cloud: c.name, Region: r}, Status: 404, Message: "no such region"}
	}
	return reg, nil
}

func (s *Server) status(now time.Time) cloud.Status {
	switch {
	case now.Before(s.ActiveAt):
		return cloud.StatusBuild
	case s.Fails:
		return cloud.StatusError
	}
	return cloud.StatusActive
}

// List returns the region's servers of pool (and owner, when given).
func (c *Cloud) List(_ context.Context, region, pool, owner string) ([]cloud.VM, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reg, err := c.region("list servers", region)
	if err != nil {
		return nil, err
	}
	c.calls[region].List++
	now := c.clock.Now()
	out := make([]cloud.VM, 0, len(reg.byID))
	for _, s := range reg.byID {
		if s.VM.Metadata[cloud.MetaPool] != pool || (owner != "" && s.VM.Metadata[cloud.MetaOwner] != owner) {
			continue
		}
		vm := s.VM
		vm.Status = s.status(now)
		if vm.Status == cloud.StatusError {
			vm.Fault = "simulated boot failure"
		}
		out = append(out, vm)
	}
	return out, nil
}

// Create starts a server in BUILD; it becomes ACTIVE (or ERROR) after a
// boot time drawn from the model.
func (c *Cloud) Create(_ context.Context, region string, req cloud.CreateRequest) (cloud.VM, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reg, err := c.region("create server", region)
	if err != nil {
		return cloud.VM{}, err
	}
	c.calls[region].Create++
	loc := cloud.Location{Cloud: c.name, Region: region}
	var fl cloud.Flavor
	found := false
	for _, f := range reg.flavors {
		if f.ID == req.Flavor || f.Name == req.Flavor {
			fl, found = f, true
		}
	}
	if !found {
		return cloud.VM{}, &cloud.APIError{Class: cloud.ErrFatal, Op: "create server", Location: loc, Status: 400, Message: fmt.Sprintf("flavor %q not found", req.Flavor)}
	}
	if h, bind := reg.limits.Headroom(fl); h == 0 {
		return cloud.VM{}, &cloud.APIError{Class: cloud.ErrQuota, Op: "create server", Location: loc, Status: 403,
			Message: fmt.Sprintf("Quota exceeded for %s", bind)}
	}
	now := c.clock.Now()
	boot := c.model.BootMean
	if j := c.model.BootJitter; j > 0 {
		boot += time.Duration((reg.rng.Float64()*2 - 1) * float64(j))
	}
	boot = max(boot, time.Second)
	fails := c.model.FailRate > 0 && reg.rng.Float64() < c.model.FailRate
	reg.next++
	meta := make(map[string]string, len(req.Metadata))
	for k, v := range req.Metadata {
		meta[k] = v
	}
	s := &Server{
		VM: cloud.VM{
			ID: fmt.Sprintf("%s-%s-%06d", c.name, region, reg.next), Name: req.Name, Location: loc,
			FlavorID: fl.ID, Flavor: fl.Name, Status: cloud.StatusBuild, Metadata: meta, Created: now,
		},
		Flavor: fl, ActiveAt: now.Add(boot), Fails: fails,
	}
	reg.add(s)
	c.all = append(c.all, s)
	return s.VM, nil
}

// Delete removes a server at once; deleting one that is gone is no error.
func (c *Cloud) Delete(_ context.Context, region, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	reg, err := c.region("delete server", region)
	if err != nil {
		return err
	}
	c.calls[region].Delete++
	s := reg.servers[id]
	if s == nil {
		return nil
	}
	reg.remove(s)
	c.deleted++
	now := c.clock.Now()
	s.Deleted = now
	if c.OnDelete != nil {
		c.OnDelete(s, now)
	}
	return nil
}

// Flavors lists the region's flavors.
func (c *Cloud) Flavors(_ context.Context, region string) ([]cloud.Flavor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reg, err := c.region("list flavors", region)
	if err != nil {
		return nil, err
	}
	c.calls[region].Flavors++
	return append([]cloud.Flavor(nil), reg.flavors...), nil
}

// Limits returns the region's quota and what its servers use.
func (c *Cloud) Limits(_ context.Context, region string) (cloud.Limits, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reg, err := c.region("limits", region)
	if err != nil {
		return cloud.Limits{}, err
	}
	c.calls[region].Limits++
	return reg.limits, nil
}

// Calls returns the API calls made so far, per region.
func (c *Cloud) Calls() map[string]Calls {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Calls, len(c.calls))
	for r, n := range c.calls {
		out[r] = *n
	}
	return out
}

// Servers returns every server ever created, deleted ones included.
func (c *Cloud) Servers() []*Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Server(nil), c.all...)
}

// changes counts the servers created and deleted so far.
func (c *Cloud) changes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.all) + c.deleted
}

// addCalls counts calls as if made.
func (c *Cloud) addCalls(calls map[string]Calls) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for r, n := range calls {
		k := c.calls[r]
		k.List += n.List
		k.Create += n.Create
		k.Delete += n.Delete
		k.Flavors += n.Flavors
		k.Limits += n.Limits
	}
}

// createdSince returns the servers created after the first n, in creation
// order, and how many have been created in all.
func (c *Cloud) createdSince(n int) ([]*Server, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all[n:len(c.all):len(c.all)], len(c.all)
}

// Live is the number of servers that exist now.
func (c *Cloud) Live() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.regions {
		n += len(r.byID)
	}
	return n
}

// EnsureServers adds n ACTIVE servers of flavor in region owned by pool and
// owner, created at created; the scale benchmark starts from them.
func (c *Cloud) EnsureServers(region, flavor, pool, owner string, n int, created time.Time) []*Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	reg := c.regions[region]
	var fl cloud.Flavor
	for _, f := range reg.flavors {
		if f.Name == flavor {
			fl = f
		}
	}
	var out []*Server
	for i := 0; i < n; i++ {
		reg.next++
		id := fmt.Sprintf("%s-%s-%06d", c.name, region, reg.next)
		name := fmt.Sprintf("ehos-%s-%s", pool, id)
		s := &Server{
			VM: cloud.VM{ID: id, Name: name, Location: cloud.Location{Cloud: c.name, Region: region}, FlavorID: fl.ID, Flavor: fl.Name,
				Metadata: map[string]string{cloud.MetaPool: pool, cloud.MetaOwner: owner, cloud.MetaName: name}, Created: created},
			Flavor: fl, ActiveAt: created,
		}
		reg.add(s)
		c.all = append(c.all, s)
		out = append(out, s)
	}
	return out
}
