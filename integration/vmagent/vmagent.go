// Package vmagent makes a real Nova's servers real: it watches the servers
// carrying ehos metadata (admin API, all projects) and, for each ACTIVE one,
// reads its user-data and runs it with a localcloud.VMRunner — the same
// localcloud.CondorRunner the local OpenStack API uses for its own servers —
// stopping it when the server is deleted. Nova's fake virt driver boots
// nothing; the agent supplies the "guest".
package vmagent

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/cloud"
	ehosos "github.com/ehos-project/ehos/lib/openstack"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/utils/v2/openstack/clientconfig"
)

// Microversion is what the agent asks Nova for: ≥ 2.3 shows
// OS-EXT-SRV-ATTR:user_data to admins; 2.37 is what ehos itself uses.
const Microversion = "2.37"

// Server is what the agent needs to know of one listed server.
type Server struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Status    string            `json:"status"`
	TaskState string            `json:"OS-EXT-STS:task_state"`
	Metadata  map[string]string `json:"metadata"`
	Flavor    map[string]any    `json:"flavor"`
	UserData  string            `json:"OS-EXT-SRV-ATTR:user_data"`
}

// Gone reports whether Nova is deleting or has deleted the server.
func (s Server) Gone() bool {
	return s.Status == "DELETED" || s.Status == "SOFT_DELETED" || s.TaskState == "deleting"
}

// Decide is the agent's whole policy: which listed servers to start (ACTIVE,
// not being deleted, of the pool, not already running) and which running ones
// to stop (no longer listed, or deleted/being deleted). pool "" matches any
// server with ehos_pool metadata. Both results are sorted by id.
func Decide(running map[string]bool, listed []Server, pool string) (start []Server, stop []string) {
	seen := map[string]bool{}
	for _, s := range listed {
		p, ok := s.Metadata[cloud.MetaPool]
		if !ok || (pool != "" && p != pool) {
			continue
		}
		if s.Gone() {
			continue
		}
		seen[s.ID] = true
		if s.Status == "ACTIVE" && !running[s.ID] {
			start = append(start, s)
		}
	}
	for id := range running {
		if !seen[id] {
			stop = append(stop, id)
		}
	}
	sort.Slice(start, func(i, j int) bool { return start[i].ID < start[j].ID })
	sort.Strings(stop)
	return start, stop
}

// Agent polls Nova and runs the servers. Zero values: Interval 1s.
type Agent struct {
	Compute  *gophercloud.ServiceClient // admin, Microversion ≥ 2.3
	Runner   localcloud.VMRunner
	Pool     string // ehos_pool to serve; "" = every ehos server
	Cloud    string // for VMInfo.Cloud
	Region   string
	Interval time.Duration
	Logf     func(format string, args ...any)

	mu      sync.Mutex
	running map[string]*vm
	flavors map[string]flavors.Flavor
	wg      sync.WaitGroup
}

type vm struct {
	name    string
	stop    func(context.Context) error
	started chan struct{} // closed when Start returned
	gone    bool          // the server went away while starting
}

func (a *Agent) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}

// Running lists the ids of the servers the agent runs (or is starting).
func (a *Agent) Running() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for id := range a.running {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Run polls until ctx ends, then stops every server it started and waits
// for them.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running == nil {
		a.running = map[string]*vm{}
		a.flavors = map[string]flavors.Flavor{}
	}
	a.mu.Unlock()
	iv := a.Interval
	if iv <= 0 {
		iv = time.Second
	}
	tk := time.NewTicker(iv)
	defer tk.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a hung call must not stop the agent
		err := a.Poll(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			a.logf("vmagent: %v", err)
		}
		select {
		case <-ctx.Done():
			a.stopAll()
			return nil
		case <-tk.C:
		}
	}
}

// List lists every project's servers that carry ehos_pool metadata (of
// a.Pool when set).
func (a *Agent) List(ctx context.Context) ([]Server, error) {
	pages, err := servers.List(a.Compute, servers.ListOpts{AllTenants: true}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	var all []Server
	if err := servers.ExtractServersInto(pages, &all); err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	var out []Server
	for _, s := range all {
		if p, ok := s.Metadata[cloud.MetaPool]; ok && (a.Pool == "" || p == a.Pool) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Poll makes one round: list, decide, start and stop.
func (a *Agent) Poll(ctx context.Context) error {
	listed, err := a.List(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	running := map[string]bool{}
	for id := range a.running {
		running[id] = true
	}
	a.mu.Unlock()
	start, stop := Decide(running, listed, a.Pool)
	for _, id := range stop {
		a.stopOne(id)
	}
	for _, s := range start {
		a.startOne(ctx, s)
	}
	return nil
}

func (a *Agent) startOne(ctx context.Context, s Server) {
	// GET the server: its user-data, once.
	var full struct{ Server Server }
	err := servers.Get(ctx, a.Compute, s.ID).ExtractInto(&full.Server) // under "server"
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return
	}
	if err != nil {
		a.logf("vmagent: get server %s: %v", s.ID, err)
		return
	}
	if full.Server.Gone() || full.Server.Status != "ACTIVE" {
		a.logf("vmagent: server %s is %s/%s on GET: not started", s.Name, full.Server.Status, full.Server.TaskState)
		return
	}
	ud, err := base64.StdEncoding.DecodeString(full.Server.UserData)
	if err != nil {
		a.logf("vmagent: server %s: user_data is not base64: %v", s.ID, err)
		return
	}
	info := localcloud.VMInfo{
		ID: s.ID, Name: full.Server.Name, Cloud: a.Cloud, Region: a.Region,
		Metadata: full.Server.Metadata, Console: logWriter{a, s.Name},
	}
	if fid, _ := full.Server.Flavor["id"].(string); fid != "" {
		if f, err := a.flavor(ctx, fid); err == nil {
			info.Flavor, info.VCPUs, info.RAMMB, info.DiskGB = f.Name, f.VCPUs, f.RAM, f.Disk
		} else {
			a.logf("vmagent: flavor %s of %s: %v", fid, s.Name, err)
		}
	}
	v := &vm{name: s.Name, started: make(chan struct{})}
	a.mu.Lock()
	a.running[s.ID] = v
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.logf("vmagent: starting %s (%s, %s %d vCPU %d MB)", s.Name, s.ID, info.Flavor, info.VCPUs, info.RAMMB)
		stop, err := a.Runner.Start(context.WithoutCancel(ctx), info, ud)
		if err != nil {
			a.logf("vmagent: start %s: %v", s.Name, err)
			// Stay "running" so it is not retried every second, as a VM
			// whose software failed stays broken.
			stop = func(context.Context) error { return nil }
		}
		a.mu.Lock()
		v.stop = stop
		gone := v.gone
		a.mu.Unlock()
		close(v.started)
		if gone {
			a.runStop(s.ID, v)
		}
	}()
}

func (a *Agent) stopOne(id string) {
	a.mu.Lock()
	v := a.running[id]
	delete(a.running, id)
	if v == nil {
		a.mu.Unlock()
		return
	}
	select {
	case <-v.started:
		a.mu.Unlock()
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.runStop(id, v) }()
	default:
		v.gone = true // the starter goroutine stops it
		a.mu.Unlock()
	}
}

func (a *Agent) runStop(id string, v *vm) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a.logf("vmagent: stopping %s (%s)", v.name, id)
	if err := v.stop(ctx); err != nil {
		a.logf("vmagent: stop %s: %v", v.name, err)
	}
}

func (a *Agent) stopAll() {
	a.mu.Lock()
	ids := make([]string, 0, len(a.running))
	for id := range a.running {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	for _, id := range ids {
		a.stopOne(id)
	}
	a.wg.Wait()
}

func (a *Agent) flavor(ctx context.Context, id string) (flavors.Flavor, error) {
	a.mu.Lock()
	f, ok := a.flavors[id]
	a.mu.Unlock()
	if ok {
		return f, nil
	}
	fp, err := flavors.Get(ctx, a.Compute, id).Extract()
	if err != nil {
		return flavors.Flavor{}, err
	}
	a.mu.Lock()
	a.flavors[id] = *fp
	a.mu.Unlock()
	return *fp, nil
}

type logWriter struct {
	a    *Agent
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.a.logf("vm %s console: %s", w.name, p)
	return len(p), nil
}

// ComputeClient authenticates with the clouds.yaml entry cloud in file (with
// re-authentication on token expiry) and returns its compute client for
// region at Microversion.
func ComputeClient(ctx context.Context, file, cloudName, region string) (*gophercloud.ServiceClient, error) {
	co := &clientconfig.ClientOpts{Cloud: cloudName, YAMLOpts: ehosos.CloudsFile{Path: file}}
	ao, err := clientconfig.AuthOptions(co)
	if err != nil {
		return nil, fmt.Errorf("auth options for %q in %s: %w", cloudName, file, err)
	}
	ao.AllowReauth = true
	pc, err := openstack.AuthenticatedClient(ctx, *ao)
	if err != nil {
		return nil, fmt.Errorf("authenticate as %q: %w", cloudName, err)
	}
	c, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: region})
	if err != nil {
		return nil, err
	}
	c.Microversion = Microversion
	return c, nil
}
