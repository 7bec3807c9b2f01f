package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

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
	Instance string
	Knobs    scale.Knobs
	// Cycle is the time between regular cycles (Run's period). A single
	// RunOnce judges by it too: an unconfirmed drain counts after half a
	// cycle, and the pool's lease lasts LeaseCycles of them.
	Cycle          time.Duration
	DryRun         bool
	OrphanGrace    time.Duration // a joined worker's startd missing this long → its VM is reaped
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	FlavorRefresh  time.Duration // how often flavor lists are re-read; default 10m
	CreateParallel int           // regions creating at once; default 4; 1: one after another, in the decision's order
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
//
// A cycle is six steps (RunOnce): observe reads the clouds and the
// collector and returns a snapshot; remember folds the snapshot into the
// memory; prepare turns both into the decision's input without changing
// anything; decide is lib/scale's pure decision with the cycle's own guards;
// act only carries it out, and a create that failed is retried elsewhere as
// a step of its own; publish writes the provisioner's ad.
type Provisioner struct {
	opt  Options
	pool Pool
	boot Bootstrap
	memory
	// last and recheck are the last cycle's outcome, for the caller:
	// its report, and whether it drained an idle worker (FollowUp).
	last    Report
	recheck bool
}

// memory is everything a Provisioner carries from one cycle to the next.
// It is a cache of the cloud and the collector: a restarted provisioner
// rebuilds it in one cycle (the unmatched marks from its previous ad).
type memory struct {
	regions []*region
	tracks  map[string]*track // by VM name
	order   []*track          // the tracks by name: sortedTracks' cache
	seq     int64             // the ad's update sequence
	refused map[Refusal]bool  // last cycle's refusals, to warn of each once
	// lastStart is the last cycle in which a worker was seen to start a job.
	lastStart time.Time
	// lastDemand is the last cycle that saw idle jobs some flavor holds.
	lastDemand time.Time
	// widest are demand groups seen waiting within Knobs.HeadroomWindow,
	// oldest first, each wider than every one after it (rememberWidest):
	// the first is the widest of the window.
	widest []seenWaiting
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
	// idleSince is the previous run's idle nodes and since when, until
	// each is adopted (AttrIdleSince).
	idleSince map[string]time.Time
	// lease is the pool's lease this provisioner last held.
	lease Lease
	reach reachState // workers the central manager cannot connect to (reach.go)
}

// region is one region of a configured cloud and what is remembered of it.
type region struct {
	loc       cloud.Location
	spec      CloudSpec
	flavors   []cloud.Flavor
	flavorsAt time.Time
	vms       []cloud.VM // from the last successful list
	listed    bool       // vms is from a successful list (this or an earlier cycle)
	backoff   backoff
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
	p := &Provisioner{opt: opt, pool: pool, boot: boot, memory: memory{tracks: map[string]*track{},
		unmatched: map[string]map[scale.OfferKey]*unmatched{}, startedOn: map[scale.OfferKey]time.Time{}}}
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

// Run cycles every Options.Cycle until ctx is done. A cycle that has
// started finishes even when ctx ends (SIGTERM: finish the cycle, then
// exit); hard cancel is the caller's choice of a second, already-cancelled
// context in cycleCtx.
func (p *Provisioner) Run(ctx context.Context, cycleCtx func() context.Context) error {
	every := p.opt.Cycle
	if every <= 0 {
		return fmt.Errorf("provision: cycle %s: Run needs a positive cycle", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.RunOnce(cycleCtx(), time.Now()); err != nil {
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

// RunOnce runs one cycle at time now: observe, remember, prepare, decide,
// act, publish.
func (p *Provisioner) RunOnce(ctx context.Context, now time.Time) (Report, error) {
	start := time.Now()
	rep := Report{Time: now, Cycle: p.opt.Cycle, Pool: p.opt.Pool, Owner: p.opt.Owner, Instance: p.opt.Instance, DryRun: p.opt.DryRun}
	p.recheck = false

	snap := p.observe(ctx, now)
	rep.Errors = snap.errors()
	seen := p.remember(now, snap)
	rep.Refused = seen.refused
	in, held := p.prepare(now, snap, seen.workers)
	p.askSchedds(ctx, &in)
	if snap.workersErr == nil && snap.demandErr == nil {
		p.checkReach(ctx, now, &in, snap.workers, &rep)
	}

	// Only the holder of the pool's lease acts; checked now, just before
	// the first write of the cycle.
	if !p.opt.DryRun {
		rep.Standby = p.holdLease(ctx, now)
	}
	// A dry run writes nothing into the collector: run beside a live
	// provisioner of the same pool, its flavor ads, their invalidation or
	// its provisioner ad would replace the live one's. It decides on the
	// flavor ads already there (the live provisioner's), if any. A
	// standby does the same, but publishes its ad.
	touch := !p.opt.DryRun && rep.Standby == ""

	dec := keepForHeld(p.decide(in, snap), in.Nodes, held.groups)
	for _, h := range held.notes {
		dec.Notes = append(dec.Notes, scale.TextNote(h))
	}
	if rep.Standby != "" {
		dec.Notes = append(dec.Notes, scale.TextNote(rep.Standby+": nothing created, drained or deleted"))
		p.opt.Log.Warn().Str("why", rep.Standby).Msg("standby: touching nothing this cycle")
	}
	if p.opt.DryRun {
		dec.Notes = append(dec.Notes, scale.TextNote("dry run: nothing advertised (flavor ads, provisioner ad); the negotiator's matches come from the flavor ads already in the collector"))
	}
	p.opt.Log.Debug().Int("demand_groups", len(in.Demand)).Int("nodes", len(in.Nodes)).Int("offers", len(allOffers(in.Regions))).
		Interface("decision", dec).Msg("decided")

	if !touch {
		logWouldDo(p.opt.Log, dec)
	} else {
		// Deletes of VMs that failed to boot back their regions off:
		// the creates then go elsewhere this cycle.
		if p.blame(now, dec.Deletes); p.newBackoffs(in, now) {
			re := p.decide(p.reprepare(in, now), snap)
			dec.Creates, dec.Unmet = re.Creates, re.Unmet
		}
		failed := p.act(ctx, now, in, dec, snap.workers, &rep)
		if len(failed) > 0 {
			dec = p.createElsewhere(ctx, now, in, snap, failed, dec, &rep)
		}
		p.reschedule(ctx, seen.joined, in.Demand, &rep)
	}
	p.publish(ctx, now, start, in, dec, snap, rep)
	return p.last, nil
}

// Last returns the report of the last cycle.
func (p *Provisioner) Last() Report { return p.last }
