package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// CloudSpec is one configured cloud with its client.
type CloudSpec struct {
	Config cloud.Config // from ehos.yaml; Regions must be resolved (not empty)
	Cloud  Cloud
}

// Options configure a Provisioner.
type Options struct {
	Pool  string // pool name: ehos_pool metadata
	Owner string // ehos_owner metadata: the pool's provisioners (default: the pool name)
	// Instance names this provisioner process among the pool's: its lease
	// holder name and its ad's; default host/pid.
	Instance       string
	Knobs          scale.Knobs
	DryRun         bool
	OrphanGrace    time.Duration // a joined worker's startd missing this long → its VM is reaped
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	FlavorRefresh  time.Duration // how often flavor lists are re-read; default 10m
	CreateParallel int           // creates in flight at once; default 4
	Clouds         []CloudSpec
	Log            zerolog.Logger
	// NewName makes a VM name; default "ehos-<pool>-<8 hex>".
	NewName func() string
	// DrainRecheck is how soon after a cycle that drained idle workers
	// Run looks again, to delete them once their startds confirm the drain
	// rather than a whole cycle later; default DefaultDrainRecheck, below
	// zero never.
	DrainRecheck time.Duration
	// NoReschedule keeps the provisioner from asking for a negotiation
	// when workers join while jobs wait.
	NoReschedule bool
}

// Provisioner runs the reconcile loop. It is not safe for concurrent RunOnce
// calls; Run calls it from one goroutine.
type Provisioner struct {
	opt     Options
	pool    Pool
	boot    Bootstrap
	regions []*region
	tracks  map[string]*track // by VM name
	seq     int64
	last    Report
	refused map[Refusal]bool // last cycle's refusals, to warn of each once
	// lastStart is the last cycle in which a worker was seen to start a job.
	lastStart time.Time
	// lastDemand is the last cycle that saw idle jobs some flavor holds.
	lastDemand time.Time
	cycle      time.Duration // Run's period, published so `ehos status` can tell a stale ad
	// joined counts the workers whose startd this cycle saw for the first
	// time with free cpus; recheck is set when this cycle drained an idle
	// worker.
	joined  int
	recheck bool
	// unmatched tracks demand groups whose jobs sit beside idle real
	// workers, by demand key and offer; startedOn is the last cycle a
	// worker of each offer was seen to start a job.
	unmatched map[string]map[scale.OfferKey]*unmatched
	startedOn map[scale.OfferKey]time.Time
	// unrevoked are deleted VMs' tokens whose revocation has not gone
	// through yet.
	unrevoked []RevokedToken
	// revokeSynced: the pool's revocation list went through once.
	revokeSynced bool
	// recalled: the previous run's ad was looked for (Recaller).
	recalled bool
	// lease is the pool's lease this provisioner last held.
	lease Lease
	reach reachState // workers the central manager cannot connect to (reach.go)
}

type region struct {
	loc       cloud.Location
	spec      CloudSpec
	flavors   []cloud.Flavor
	flavorsAt time.Time
	limits    *cloud.Limits
	vms       []cloud.VM
	listed    bool // vms is from a successful list (this or an earlier cycle)
	listOK    bool // this cycle's list succeeded
	backoff   backoff
	lastErr   string
}

// track is what the provisioner remembers about one of its VMs between
// cycles. It is a cache: after a restart it is rebuilt from the cloud and
// the collector.
type track struct {
	name        string
	id          string
	offer       scale.OfferKey
	created     time.Time
	state       scale.NodeState
	since       time.Time
	joined      bool      // its startd was seen at least once
	lastSeen    time.Time // last time its startd ad was seen
	drainSent   time.Time
	claimed     int // claimed slots last seen
	deleteSent  time.Time
	deleteTries int
	fault       string
	// tokenID and tokenExpires name its IDTOKEN (VM metadata); revoked
	// says its revocation went through.
	tokenID      string
	tokenExpires time.Time
	revoked      bool
}

// DefaultDrainRecheck is Options.DrainRecheck when it is zero.
const DefaultDrainRecheck = 5 * time.Second

// New makes a Provisioner. It does no I/O.
func New(opt Options, pool Pool, boot Bootstrap) (*Provisioner, error) {
	if opt.Pool == "" || opt.Owner == "" {
		return nil, errors.New("provision: pool and owner are required")
	}
	if len(opt.Clouds) == 0 {
		return nil, errors.New("provision: no clouds")
	}
	if opt.FlavorRefresh == 0 {
		opt.FlavorRefresh = 10 * time.Minute
	}
	if opt.CreateParallel <= 0 {
		opt.CreateParallel = 4
	}
	if opt.BackoffInitial <= 0 {
		opt.BackoffInitial = 30 * time.Second
	}
	if opt.BackoffMax < opt.BackoffInitial {
		opt.BackoffMax = 30 * opt.BackoffInitial
	}
	if opt.OrphanGrace <= 0 {
		opt.OrphanGrace = 10 * time.Minute
	}
	if opt.Instance == "" {
		opt.Instance = defaultInstance()
	}
	if opt.DrainRecheck == 0 {
		opt.DrainRecheck = DefaultDrainRecheck
	}
	if opt.NewName == nil {
		pool := opt.Pool
		opt.NewName = func() string {
			var b [4]byte
			_, _ = rand.Read(b[:])
			return "ehos-" + pool + "-" + hex.EncodeToString(b[:])
		}
	}
	p := &Provisioner{opt: opt, pool: pool, boot: boot, tracks: map[string]*track{},
		unmatched: map[string]map[scale.OfferKey]*unmatched{}, startedOn: map[scale.OfferKey]time.Time{}}
	for _, cs := range opt.Clouds {
		if !cs.Config.IsEnabled() {
			continue
		}
		if len(cs.Config.Regions) == 0 {
			return nil, fmt.Errorf("provision: cloud %q has no regions", cs.Config.Name)
		}
		for _, r := range cs.Config.Regions {
			p.regions = append(p.regions, &region{loc: cloud.Location{Cloud: cs.Config.Name, Region: r}, spec: cs})
		}
	}
	if len(p.regions) == 0 {
		return nil, errors.New("provision: every cloud is disabled")
	}
	return p, nil
}

// Run cycles until ctx is done. A cycle that has started finishes even when
// ctx ends (SIGTERM: finish the cycle, then exit); hard cancel is the
// caller's choice of a second, already-cancelled context in cycleCtx.
func (p *Provisioner) Run(ctx context.Context, every time.Duration, cycleCtx func() context.Context) error {
	p.cycle = every
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cctx := cycleCtx()
		if _, err := p.RunOnce(cctx, time.Now()); err != nil {
			p.opt.Log.Error().Err(err).Msg("cycle failed")
		}
		if d := p.FollowUp(); d > 0 && d < every {
			if !waitFor(ctx, time.After(d)) {
				return nil
			}
			if _, err := p.RunOnce(cycleCtx(), time.Now()); err != nil {
				p.opt.Log.Error().Err(err).Msg("follow-up cycle failed")
			}
		}
		if !waitFor(ctx, t.C) {
			return nil
		}
	}
}

// waitFor waits for c; false when ctx ends first.
func waitFor(ctx context.Context, c <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}

// FollowUp is how soon the caller should run one more cycle before the next
// regular one: the last cycle drained idle workers, and each VM-second
// between their drain and their delete is paid for. Zero: no need.
func (p *Provisioner) FollowUp() time.Duration {
	if !p.recheck || p.opt.DrainRecheck < 0 {
		return 0
	}
	return p.opt.DrainRecheck
}

// RunOnce runs one cycle at time now: observe, decide, act, publish.
func (p *Provisioner) RunOnce(ctx context.Context, now time.Time) (Report, error) {
	start := time.Now()
	log := p.opt.Log
	rep := Report{Time: now, Cycle: p.cycle, Pool: p.opt.Pool, Owner: p.opt.Owner, Instance: p.opt.Instance, DryRun: p.opt.DryRun}
	p.joined, p.recheck = 0, false

	p.observeClouds(ctx, now)
	workers, werr := p.pool.Workers(ctx)
	demand, derr := p.pool.Demand(ctx)
	if werr != nil {
		rep.Errors = append(rep.Errors, "collector (workers): "+werr.Error())
	}
	if derr != nil {
		rep.Errors = append(rep.Errors, "collector (demand): "+derr.Error())
	}
	for _, r := range p.regions {
		if r.lastErr != "" {
			rep.Errors = append(rep.Errors, r.loc.String()+": "+r.lastErr)
		}
	}

	if r, ok := p.pool.(Refuser); ok {
		rep.Refused = append(rep.Refused, r.Refused()...)
	}
	in := p.buildInput(now, workers, werr == nil, &rep)
	seen := map[Refusal]bool{}
	for _, r := range rep.Refused {
		seen[r] = true
		ev := log.Warn()
		if p.refused[r] {
			ev = log.Debug() // still there: said at warn level when it first came
		}
		ev.Str("ad", r.Ad).Str("identity", r.Identity).Str("claimed", r.Claimed).Str("why", r.Why).Msg("refused an ad")
	}
	p.refused = seen
	p.askSchedds(ctx, &in)
	var held []string
	p.recall(ctx)
	if derr == nil {
		demand = p.markUnmatched(now, demand, in.Nodes, workers, werr == nil)
		in.Demand, held = holdStale(demand, p.lastStart)
		if slices.ContainsFunc(demand, servable) {
			p.lastDemand = now
		}
	}
	if werr == nil && derr == nil {
		p.checkReach(ctx, now, &in, workers, &rep)
	}
	in.LastArrival = p.lastStart
	if p.lastDemand.After(in.LastArrival) {
		in.LastArrival = p.lastDemand
	}
	offers := allOffers(in.Regions)
	// Only the holder of the pool's lease acts; checked now, just before
	// the first write of the cycle.
	if !p.opt.DryRun {
		rep.Standby = p.holdLease(ctx, now)
	}
	touch := !p.opt.DryRun && rep.Standby == ""
	// A dry run writes nothing into the collector: run beside a live
	// provisioner of the same pool, its flavor ads, their invalidation or
	// its provisioner ad would replace the live one's. It decides on the
	// flavor ads already there (the live provisioner's), if any. A
	// standby does the same, but publishes its ad.
	if touch {
		if err := p.pool.Offer(ctx, offers); err != nil {
			rep.Errors = append(rep.Errors, "advertise flavor ads: "+err.Error())
		}
	}

	dec := scale.Decide(in)
	// Unknown is never "none": without the collector's view of the workers
	// nothing may be drained or deleted, and without demand nothing is
	// created for it.
	if werr != nil {
		dec = scale.Decision{Unmet: dec.Unmet, Notes: append(dec.Notes, "collector unreachable: no action this cycle")}
	} else if derr != nil {
		dec.Creates = nil
		dec.Notes = append(dec.Notes, "demand unknown (collector query failed): no VM created this cycle")
	}
	dec = p.dropUnknownRegions(dec, in)
	dec.Notes = append(dec.Notes, held...)
	if rep.Standby != "" {
		dec.Notes = append(dec.Notes, rep.Standby+": nothing created, drained or deleted")
		log.Warn().Str("why", rep.Standby).Msg("standby: touching nothing this cycle")
	}
	if p.opt.DryRun {
		dec.Notes = append(dec.Notes, "dry run: nothing advertised (flavor ads, provisioner ad); the negotiator's matches come from the flavor ads already in the collector")
	}

	log.Debug().Int("demand_groups", len(in.Demand)).Int("nodes", len(in.Nodes)).Int("offers", len(offers)).
		Interface("decision", dec).Msg("decided")

	if !touch {
		for _, c := range dec.Creates {
			log.Info().Str("offer", c.Offer.String()).Int("count", c.Count).Str("reason", c.Reason).Msg("dry run: would create")
		}
		for _, a := range dec.Drains {
			log.Info().Str("node", a.Node).Str("reason", a.Reason).Msg("dry run: would drain")
		}
		for _, a := range dec.Deletes {
			log.Info().Str("node", a.Node).Str("reason", a.Reason).Msg("dry run: would delete")
		}
	} else {
		p.act(ctx, now, in, &dec, workers, &rep)
		p.reschedule(ctx, in.Demand, &rep)
	}

	rep.Decision = dec
	rep.Nodes = p.nodesNow(in)
	rep.Demand = in.Demand
	rep.Regions = p.regionReports(now)
	rep.Duration = time.Since(start)
	p.seq++
	if p.opt.DryRun {
		log.Info().Msg("dry run: provisioner ad not published (ehos status shows the live provisioner's)")
	} else if err := p.pool.Publish(ctx, p.ad(rep)); err != nil {
		rep.Errors = append(rep.Errors, "publish provisioner ad: "+err.Error())
		log.Warn().Err(err).Msg("publish provisioner ad")
	}
	p.last = rep
	return rep, nil
}

// ad is the provisioner's ad for rep, with the unmatched marks.
func (p *Provisioner) ad(rep Report) classad.Ad {
	ad := rep.Ad(p.seq)
	ad[AttrUnmatched] = classad.String(p.marksJSON())
	p.reachAd(ad, rep)
	return ad
}

// recall takes the unmatched marks from this provisioner's previous ad,
// once: a restart then does not boot another round for demand already
// found unmatched on real workers. Until the collector answers it is tried
// again each cycle.
func (p *Provisioner) recall(ctx context.Context) {
	if p.recalled {
		return
	}
	rc, ok := p.pool.(Recaller)
	if !ok {
		p.recalled = true
		return
	}
	ads, err := rc.ProvisionerAds(ctx)
	if err != nil {
		p.opt.Log.Debug().Err(err).Msg("previous provisioner ad not read: tried again next cycle")
		return
	}
	p.recalled = true
	// The marks are the pool's: taken from the freshest ad of a
	// provisioner of the pool that acted (a standby's marks were not
	// acted on).
	var last classad.Ad
	for _, ad := range ads {
		if ad.GetString(AttrStandby) == "" && (last == nil || ad.GetInt("EHOSLastCycle", 0) > last.GetInt("EHOSLastCycle", 0)) {
			last = ad
		}
	}
	if last != nil {
		name := last.GetString("Name")
		n, err := p.restoreMarks(last)
		if err != nil {
			p.opt.Log.Warn().Err(err).Str("ad", name).Msg("unmatched marks of the previous run not read: starting afresh")
			return
		}
		if n > 0 {
			p.opt.Log.Info().Int("marks", n).Msg("unmatched marks taken from the previous run's provisioner ad")
		}
	}
}

// askSchedds fills in which jobs the schedds say run on nodes that have no
// startd ad and might be deleted this cycle: a vanished ad does not mean a
// finished job. Only then are the schedds asked, so a quiet pool costs no
// condor_q.
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

// reschedule asks for a negotiation when workers joined this cycle while
// jobs some flavor holds wait: otherwise a new worker sits idle, and paid
// for, until the negotiator's next interval (60 s by default).
func (p *Provisioner) reschedule(ctx context.Context, demand []scale.Demand, rep *Report) {
	if p.joined == 0 || p.opt.NoReschedule {
		return
	}
	var waiting []scale.Demand
	idle := 0
	for _, d := range demand {
		if servable(d) {
			waiting = append(waiting, d)
			idle += d.Idle
		}
	}
	if idle == 0 {
		return
	}
	if err := p.pool.Reschedule(ctx, waiting); err != nil {
		rep.Errors = append(rep.Errors, RescheduleError+err.Error())
		p.opt.Log.Warn().Err(err).Msg("reschedule failed: new workers wait for the negotiator's next cycle")
		return
	}
	rep.Rescheduled = fmt.Sprintf("%d worker(s) joined while %d job(s) wait", p.joined, idle)
	rep.Actions = append(rep.Actions, "reschedule: "+rep.Rescheduled)
	p.opt.Log.Info().Int("joined", p.joined).Int("idle_jobs", idle).Msg("asked the schedds for a negotiation")
}

// RescheduleError starts the report error of a refused reschedule (ehos
// doctor gives it its own fix).
const RescheduleError = "reschedule: "

// servable says d has idle jobs some configured flavor holds.
func servable(d scale.Demand) bool { return d.Idle > 0 && len(d.Eligible) > 0 }

// Last returns the report of the last cycle.
func (p *Provisioner) Last() Report { return p.last }

// observeClouds reads every region in parallel: flavors (cached), limits and
// the VMs this pool owns. A failure leaves the region's last known VMs in
// place and marks it unknown for this cycle.
func (p *Provisioner) observeClouds(ctx context.Context, now time.Time) {
	var wg sync.WaitGroup
	for _, r := range p.regions {
		wg.Add(1)
		go func(r *region) {
			defer wg.Done()
			r.listOK = false
			r.lastErr = ""
			cl := r.spec.Cloud
			var errs []string
			if r.flavors == nil || now.Sub(r.flavorsAt) >= p.opt.FlavorRefresh {
				fl, err := cl.Flavors(ctx, r.loc.Region)
				if err != nil {
					errs = append(errs, "flavors: "+err.Error())
					p.fail(r, now, err)
				} else {
					r.flavors, r.flavorsAt = fl, now
				}
			}
			lim, err := cl.Limits(ctx, r.loc.Region)
			if err != nil {
				r.limits = nil
				errs = append(errs, "limits: "+err.Error())
				p.fail(r, now, err)
			} else {
				r.limits = &lim
			}
			vms, err := cl.List(ctx, r.loc.Region, p.opt.Pool, "")
			if err != nil {
				errs = append(errs, "list servers: "+err.Error())
				p.fail(r, now, err)
			} else {
				r.vms, r.listed, r.listOK = vms, true, true
			}
			if r.limits != nil && r.listOK {
				floorUsage(r.limits, r.vms, r.flavor)
			}
			if len(errs) == 0 && now.Sub(r.backoff.until) > p.opt.BackoffMax {
				r.backoff.reset() // quiet for long enough: forget old failures
			}
			r.lastErr = strings.Join(errs, "; ")
		}(r)
	}
	wg.Wait()
}

// floorUsage raises the limits' usage to at least what the pool's own
// listed servers use. Real Nova counts an instance only once it is
// scheduled to a cell: a server created a moment ago (BUILD, still a build
// request) is listed but not yet in /limits, so trusting /limits alone
// planned past the quota and Nova buried the extra servers in ERROR
// ("Quota exceeded for instances", seen against real Nova).
func floorUsage(l *cloud.Limits, vms []cloud.VM, flavor func(nameOrID string) (cloud.Flavor, bool)) {
	var n, cores, ram int
	for _, vm := range vms {
		if vm.Status == cloud.StatusDeleted {
			continue
		}
		n++
		key := vm.Flavor
		if key == "" {
			key = vm.FlavorID
		}
		if f, ok := flavor(key); ok {
			cores += f.VCPUs
			ram += f.RAMMB
		}
	}
	l.UsedInstances = max(l.UsedInstances, n)
	l.UsedCores = max(l.UsedCores, cores)
	l.UsedRAMMB = max(l.UsedRAMMB, ram)
}

func (p *Provisioner) fail(r *region, now time.Time, err error) {
	r.backoff.fail(now, err, p.opt.BackoffInitial, p.opt.BackoffMax)
	p.opt.Log.Warn().Str("cloud", r.loc.Cloud).Str("region", r.loc.Region).Err(err).
		Time("backoff_until", r.backoff.until).Msg("cloud call failed: backing off")
}

// dropUnknownRegions removes actions on nodes of regions whose list failed
// this cycle: what we believe about them may be stale.
func (p *Provisioner) dropUnknownRegions(dec scale.Decision, in scale.Input) scale.Decision {
	unknown := map[cloud.Location]bool{}
	for _, r := range p.regions {
		if !r.listOK {
			unknown[r.loc] = true
		}
	}
	if len(unknown) == 0 {
		return dec
	}
	locOf := map[string]cloud.Location{}
	for _, n := range in.Nodes {
		locOf[n.Name] = n.Offer.Loc
	}
	keep := func(as []scale.Action) []scale.Action {
		var out []scale.Action
		for _, a := range as {
			if unknown[locOf[a.Node]] {
				dec.Notes = append(dec.Notes, fmt.Sprintf("%s: skipped (%s unknown this cycle): %s", a.Node, locOf[a.Node], a.Reason))
				continue
			}
			out = append(out, a)
		}
		return out
	}
	dec.Drains = keep(dec.Drains)
	dec.Deletes = keep(dec.Deletes)
	var creates []scale.Create
	for _, c := range dec.Creates {
		if unknown[c.Offer.Loc] {
			continue
		}
		creates = append(creates, c)
	}
	dec.Creates = creates
	return dec
}

// holdStale keeps out demand counted before the last job start the
// provisioner saw: the reporter counted those jobs idle, and they may be
// the very jobs that started since. The next report settles it; holding it
// one report costs a few seconds, a VM for a job already running costs a
// boot and a retire.
func holdStale(ds []scale.Demand, lastStart time.Time) (keep []scale.Demand, notes []string) {
	for _, d := range ds {
		if !d.Reported.IsZero() && !lastStart.IsZero() && d.Reported.Before(lastStart) {
			notes = append(notes, fmt.Sprintf("%d idle jobs of %s held: counted at %s, before jobs started at %s; waiting for a fresh count",
				d.Idle, d.Key, d.Reported.UTC().Format(time.TimeOnly), lastStart.UTC().Format(time.TimeOnly)))
			continue
		}
		keep = append(keep, d)
	}
	return keep, notes
}

func allOffers(regions []scale.Region) []scale.Offer {
	var out []scale.Offer
	for _, r := range regions {
		out = append(out, r.Offers...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
