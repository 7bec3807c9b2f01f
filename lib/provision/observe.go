package provision

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// snapshot is what one cycle read from the clouds and the collector,
// before anything was judged or remembered. A failed read is kept as its
// error: a failed poll never counts as "no VMs" or "no demand".
type snapshot struct {
	regions    []regionSeen // one per Provisioner.regions, in order
	workers    []Worker
	workersErr error
	demand     []scale.Demand
	demandErr  error
	refused    []Refusal // what a Refuser pool did not believe
	// recall is the pool's provisioner ads, read until it once succeeds
	// (nil: not read this cycle).
	recall *recall
}

// regionSeen is one region as this cycle read it.
type regionSeen struct {
	loc     cloud.Location
	flavors []cloud.Flavor // read when flavorsRead
	// flavorsRead: the cached list was old and was read again.
	flavorsRead bool
	limits      *cloud.Limits // nil: not read
	vms         []cloud.VM
	listOK      bool     // the list of servers succeeded
	errs        []error  // each failed call, in order
	what        []string // what each of errs was ("flavors", "limits", "list servers")
}

// recall is the answer of a Recaller pool (none: a pool without one).
type recall struct {
	ads []classad.Ad
	err error
}

// observe reads every region in parallel (flavors when the cache is old,
// limits and the VMs this pool owns), then the collector's workers and
// demand. It does I/O only: what was read is judged by remember.
func (p *Provisioner) observe(ctx context.Context, now time.Time) snapshot {
	snap := snapshot{regions: make([]regionSeen, len(p.regions))}
	var wg sync.WaitGroup
	for i, r := range p.regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap.regions[i] = p.observeRegion(ctx, now, r)
		}()
	}
	wg.Wait()
	snap.workers, snap.workersErr = p.pool.Workers(ctx)
	snap.demand, snap.demandErr = p.pool.Demand(ctx)
	if r, ok := p.pool.(Refuser); ok {
		snap.refused = r.Refused()
	}
	if !p.recalled {
		snap.recall = &recall{}
		if rc, ok := p.pool.(Recaller); ok {
			snap.recall.ads, snap.recall.err = rc.ProvisionerAds(ctx)
		}
	}
	return snap
}

func (p *Provisioner) observeRegion(ctx context.Context, now time.Time, r *region) regionSeen {
	s := regionSeen{loc: r.loc}
	failed := func(what string, err error) {
		s.what, s.errs = append(s.what, what), append(s.errs, err)
	}
	cl := r.spec.Cloud
	if r.flavors == nil || now.Sub(r.flavorsAt) >= p.opt.FlavorRefresh {
		fl, err := cl.Flavors(ctx, r.loc.Region)
		if err != nil {
			failed("flavors", err)
		} else {
			s.flavors, s.flavorsRead = fl, true
		}
	}
	lim, err := cl.Limits(ctx, r.loc.Region)
	if err != nil {
		failed("limits", err)
	} else {
		s.limits = &lim
	}
	vms, err := cl.List(ctx, r.loc.Region, p.opt.Pool, "")
	if err != nil {
		failed("list servers", err)
	} else {
		s.vms, s.listOK = vms, true
	}
	return s
}

// err is the region's failures of this cycle as one line; "" when none.
func (s regionSeen) err() string {
	var msgs []string
	for i, err := range s.errs {
		msgs = append(msgs, s.what[i]+": "+err.Error())
	}
	return strings.Join(msgs, "; ")
}

// errors are the snapshot's failed reads, for the report.
func (s snapshot) errors() []string {
	var out []string
	if s.workersErr != nil {
		out = append(out, "collector (workers): "+s.workersErr.Error())
	}
	if s.demandErr != nil {
		out = append(out, "collector (demand): "+s.demandErr.Error())
	}
	for _, r := range s.regions {
		if e := r.err(); e != "" {
			out = append(out, r.loc.String()+": "+e)
		}
	}
	return out
}

// listOK says loc's list of servers succeeded this cycle.
func (s snapshot) listOK(loc cloud.Location) bool {
	i := slices.IndexFunc(s.regions, func(r regionSeen) bool { return r.loc == loc })
	return i >= 0 && s.regions[i].listOK
}

// askSchedds fills in which jobs the schedds say run on nodes that have no
// startd ad and might be deleted this cycle: a vanished ad does not mean a
// finished job. It is the cycle's one read after prepare, since only the
// prepared nodes tell whether it is needed: a quiet pool costs no condor_q.
func (p *Provisioner) askSchedds(ctx context.Context, in *scale.Input) {
	mayGo := func(n scale.Node) bool {
		timedOut := (n.State == scale.Requested || n.State == scale.Booting) && in.Knobs.BootTimeout > 0 && in.Now.Sub(n.StateSince) >= in.Knobs.BootTimeout
		return n.AdVanished || timedOut
	}
	if !slices.ContainsFunc(in.Nodes, mayGo) {
		return
	}
	rj, ok := p.pool.(RunningJobs)
	if !ok {
		in.ScheddJobsUnknown = "this pool cannot ask its schedds"
		return
	}
	jobs, err := rj.RunningJobs(ctx)
	if err != nil {
		in.ScheddJobsUnknown = err.Error()
		p.opt.Log.Warn().Err(err).Msg("could not ask every schedd which jobs run where: no VM whose startd ad vanished is deleted this cycle")
	}
	for i := range in.Nodes {
		in.Nodes[i].ScheddJobs = jobs[in.Nodes[i].Name]
	}
}
