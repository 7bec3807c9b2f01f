package condorpool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/nodeinfo"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// Tools is what Pool needs of HTCondor's command line; *condor.Client
// satisfies it.
type Tools interface {
	Status(ctx context.Context, q condor.StatusQuery) ([]classad.Ad, error)
	Advertise(ctx context.Context, command string, ads []classad.Ad) error
	Drain(ctx context.Context, machine string, graceful bool) error
	Reschedule(ctx context.Context, schedd string) error
	RescheduleNegotiators(ctx context.Context) (int, error)
}

// Pool satisfies provision.Pool.
type Pool struct {
	Tools     Tools
	Name      string            // ehos pool name (EHOSPool)
	Collector *demand.Collector // demand and flavor ads
	// AdLifetime is the ClassAdLifetime of the provisioner's ad: long enough
	// that `ehos status` can show a stale ad (and say it is stale) rather
	// than none.
	AdLifetime time.Duration
	// RetireLifetime bounds how long a retire request stays (default 24h);
	// the VM is normally deleted long before.
	RetireLifetime time.Duration
	Log            zerolog.Logger
	// Revoker keeps the revocation list of deleted VMs' tokens; nil: none.
	Revoker *Revoker
	// WorkerIdentity is the identity of the worker named name
	// (config.Worker.IdentityOf): a slot ad is that VM's only when the
	// collector stamped it with that identity. Nil believes no slot ad.
	WorkerIdentity func(name string) string
	// Self is the provisioner's own identity (pool.provisioner_identity):
	// its EHOSProvisioner ad and flavor ads are believed only from it. It
	// is configured, never learned from the collector. "" believes none.
	Self string
	// DemandIdentity is the demand job's (pool.demand_identity): EHOSDemand
	// ads are believed only from it. "" believes none.
	DemandIdentity string

	offered  map[string]bool // names of the flavor ads last advertised
	restored bool            // restoreSeen is done
	refused  []provision.Refusal
}

var _ provision.Pool = (*Pool)(nil)

// New makes a Pool over tools for pool name.
func New(tools *condor.Client, name string, negotiatorInterval time.Duration) *Pool {
	maxAge := 150 * time.Second
	if negotiatorInterval > 0 {
		maxAge = 2*negotiatorInterval + 30*time.Second
	}
	p := &Pool{
		Tools:      tools,
		Name:       name,
		Collector:  &demand.Collector{Condor: tools, Pool: name, MaxAge: maxAge},
		AdLifetime: 30 * time.Minute,
		Log:        zerolog.Nop(),
	}
	p.Collector.Filter = p.filterFlavorAds
	p.Collector.DemandFilter = p.filterDemandAds
	return p
}

// slotAttrs are the slot attributes a worker is built from: never whole ads.
var slotAttrs = []string{
	"Name", "Machine", "EHOSName", "EHOSInstanceID", "EHOSPool", "State", "Activity",
	"Cpus", "Memory", "Disk", "GPUs", "PartitionableSlot", "DynamicSlot",
	"EnteredCurrentState", "EnteredCurrentActivity", "Draining", "EHOSHealthy", "EHOSHealthReason", "EHOSRetire", AttrIdentity, "MyAddress",
	"ChildName", "ChildState", "ChildEnteredCurrentState",
}

// Workers reads this pool's worker slots (not the offline flavor ads) and
// folds them into one Worker per startd. It starts a cycle's refusals.
func (p *Pool) Workers(ctx context.Context) ([]provision.Worker, error) {
	p.refused = nil
	ads, err := p.Tools.Status(ctx, condor.StatusQuery{
		Constraint: "EHOSPool == " + classad.Quote(p.Name) + " && Offline =!= True && EHOSOffer =!= True",
		Attrs:      slotAttrs,
	})
	if err != nil {
		return nil, fmt.Errorf("read worker slots: %w", err)
	}
	ws, refused := Workers(ads, p.WorkerIdentity)
	p.refuse(refused...)
	return ws, nil
}

// Workers folds slot ads into workers, keyed by EHOSName (the VM's ehos
// name, which the worker's own config publishes). An ad is believed only
// when the collector stamped it with the identity of the VM it names
// (identityOf(EHOSName)); the others are returned as refusals, and so is
// an ad that claims an instance id or a retirement without a name.
func Workers(ads []classad.Ad, identityOf func(name string) string) ([]provision.Worker, []provision.Refusal) {
	by := map[string]*provision.Worker{}
	var order []string
	var refused []provision.Refusal
	kids := map[string][]child{} // per worker, its partitionable slot's children
	dslots := map[string]bool{}  // the dynamic slots read, by name
	for _, a := range ads {
		name := a.GetString("EHOSName")
		if name == "" {
			_, id := a.Get("EHOSInstanceID")
			_, retire := a.Get("EHOSRetire")
			if id || retire {
				refused = append(refused, *identityRefusal(a, "", identityOf))
			}
			continue // not an ehos worker: left alone
		}
		if r := identityRefusal(a, name, identityOf); r != nil {
			refused = append(refused, *r)
			continue
		}
		w := by[name]
		if w == nil {
			w = &provision.Worker{Name: name, Machine: a.GetString("Machine"), Healthy: true}
			by[name] = w
			order = append(order, name)
		}
		if id := a.GetString("EHOSInstanceID"); id != "" {
			w.InstanceID = id
		}
		if addr := a.GetString("MyAddress"); addr != "" {
			w.Address = addr
		}
		if !a.GetBool("EHOSHealthy", true) {
			w.Healthy = false
			w.Reason = a.GetString("EHOSHealthReason")
		}
		state, activity := a.GetString("State"), a.GetString("Activity")
		if a.GetBool("Draining", false) || state == "Drained" || activity == "Retiring" || a.GetBool("EHOSRetire", false) {
			w.Draining = true
		}
		if a.GetBool("DynamicSlot", false) {
			dslots[a.GetString("Name")] = true
		}
		switch {
		case a.GetBool("PartitionableSlot", false):
			kids[name] = children(a)
			w.Slot = a.GetString("Name")
			w.Free = scale.Resources{
				Cpus:     int(a.GetInt("Cpus", 0)),
				MemoryMB: int(a.GetInt("Memory", 0)),
				DiskMB:   int(a.GetInt("Disk", 0) / 1024),
				GPUs:     int(a.GetInt("GPUs", 0)),
			}
		case state == "Claimed":
			w.Claimed++
			if at := a.GetInt("EnteredCurrentActivity", 0); at > 0 && (activity == "Busy" || activity == "Idle") {
				w.Started = append(w.Started, time.Unix(at, 0))
			}
		default:
			if w.Slot == "" {
				w.Slot = a.GetString("Name")
			}
			if state == "Unclaimed" && !a.GetBool("DynamicSlot", false) {
				f := &w.Free
				f.Cpus += int(a.GetInt("Cpus", 0))
				f.MemoryMB += int(a.GetInt("Memory", 0))
				f.DiskMB += int(a.GetInt("Disk", 0) / 1024)
				f.GPUs += int(a.GetInt("GPUs", 0))
			}
		}
	}
	// A claim the partitionable slot's own ad already shows (its rollup of
	// children, ADVERTISE_PSLOT_ROLLUP_INFORMATION, on by default) before
	// the collector has the dynamic slot's ad: the room it took is gone from
	// the slot's Cpus, so it is a job that started, not an idle worker.
	// Seen in TestChaosKillsTheActiveCentralManager: a worker taken for
	// idle with no room, and a VM booted for the job it had just taken.
	for name, cs := range kids {
		for _, c := range cs {
			if c.state == "Claimed" && !dslots[c.name] {
				by[name].Claimed++
				if c.since > 0 {
					by[name].Started = append(by[name].Started, time.Unix(c.since, 0))
				}
			}
		}
	}
	sort.Strings(order)
	out := make([]provision.Worker, 0, len(order))
	for _, n := range order {
		out = append(out, *by[n])
	}
	return out, refused
}

// child is one dynamic slot as its partitionable slot's ad lists it.
type child struct {
	name, state string
	since       int64 // ChildEnteredCurrentState
}

// children reads a partitionable slot's rollup of its dynamic slots
// (ChildName, ChildState, ChildEnteredCurrentState: lists, which the JSON
// ads keep as text); none when the lists are missing or do not agree.
func children(a classad.Ad) []child {
	var names, states []string
	var since []int64
	for attr, into := range map[string]any{"ChildName": &names, "ChildState": &states, "ChildEnteredCurrentState": &since} {
		v, ok := a.Get(attr)
		text, isList := v.ExprText()
		if !ok || !isList || json.Unmarshal([]byte(text), into) != nil {
			return nil
		}
	}
	if len(states) != len(names) || len(since) != len(names) {
		return nil
	}
	out := make([]child, len(names))
	for i := range names {
		out[i] = child{name: names[i], state: states[i], since: since[i]}
	}
	return out
}

// Demand is the demand joined with the negotiator's verdict (lib/demand).
func (p *Pool) Demand(ctx context.Context) ([]scale.Demand, error) {
	if !p.restored {
		p.restoreSeen(ctx)
	}
	return p.Collector.Demand(ctx)
}

// restoreSeen gives the Collector what the pool's provisioner ads remember
// of the negotiator's verdicts (demand.AttrEligibleSeen), once: a
// restarted provisioner, or one that takes over, then counts the workers
// of every offer a group was matched to, not only of those the latest
// negotiation cycle named (docs/ha.md). Until the collector answers it is
// tried again each cycle.
func (p *Pool) restoreSeen(ctx context.Context) {
	ads, err := p.ProvisionerAds(ctx)
	if err != nil {
		p.Log.Debug().Err(err).Msg("provisioner ads not read: the verdicts they remember are read next cycle")
		return
	}
	p.restored = true
	for _, ad := range ads {
		text := ad.GetString(demand.AttrEligibleSeen)
		if text == "" {
			continue
		}
		n, err := p.Collector.Restore(text, time.Now())
		if err != nil {
			p.Log.Warn().Err(err).Str("ad", ad.GetString("Name")).Msg("verdicts remembered by a provisioner ad not read")
		} else if n > 0 {
			p.Log.Info().Int("groups", n).Str("ad", ad.GetString("Name")).Msg("verdicts remembered by a provisioner ad taken")
		}
	}
}

// Offer advertises the offline flavor ads (only when they change).
func (p *Pool) Offer(ctx context.Context, offers []scale.Offer) error {
	if err := p.Collector.Offer(ctx, offers); err != nil {
		return err
	}
	p.offered = map[string]bool{}
	for _, o := range offers {
		p.offered[demand.FlavorAdName(p.Name, o.OfferKey)] = true
	}
	return nil
}

// Drain asks the worker to finish its jobs and take no more, two ways: a
// retire request in the collector, which the worker's hook pulls (its START
// then refuses new jobs), and condor_drain -graceful (running jobs get
// MAXJOBRETIREMENTTIME), which needs the worker to accept the central
// manager's administrator: true where they share a signing key or a host,
// not on a VM that only holds its own token. Either one is enough.
func (p *Pool) Drain(ctx context.Context, w provision.Worker) error {
	lifetime := p.RetireLifetime
	if lifetime <= 0 {
		lifetime = 24 * time.Hour
	}
	pullErr := p.Tools.Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{nodeinfo.RetireRequest(p.Name, w.Name, lifetime)})
	if w.Slot == "" {
		if pullErr != nil {
			return fmt.Errorf("drain %s: no slot name known, and the retire request failed: %w", w.Name, pullErr)
		}
		return nil
	}
	pushErr := p.Tools.Drain(ctx, w.Slot, true)
	if pullErr != nil && pushErr != nil {
		return fmt.Errorf("drain %s: retire request: %v; condor_drain: %w", w.Name, pullErr, pushErr)
	}
	if pushErr != nil {
		p.Log.Debug().Str("node", w.Name).Err(pushErr).Msg("condor_drain refused: the retire request carries the drain")
	}
	return nil
}

// Reschedule sends condor_reschedule to each schedd that holds idle jobs of
// demand, once, then RESCHEDULE to the negotiators themselves: a 23.9 schedd
// passes the request on, a 25 schedd does not when its last update already
// showed those jobs (docs/condor-versions.md). One answering is enough: any
// of them makes the negotiator run a cycle for the whole pool.
func (p *Pool) Reschedule(ctx context.Context, ds []scale.Demand) error {
	seen := map[string]bool{}
	var errs []error
	ok := false
	for _, d := range ds {
		s := demand.ScheddOfKey(d.Key)
		if s == "" || seen[s] || d.Idle == 0 {
			continue
		}
		seen[s] = true
		if err := p.Tools.Reschedule(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("schedd %s: %w", s, err))
			continue
		}
		ok = true
	}
	if len(seen) > 0 {
		if _, err := p.Tools.RescheduleNegotiators(ctx); err != nil {
			errs = append(errs, err)
		} else {
			ok = true
		}
	}
	if ok || len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// Publish advertises the provisioner's ad with a lifetime and what the
// Collector remembers of the negotiator's verdicts.
func (p *Pool) Publish(ctx context.Context, ad classad.Ad) error {
	ad[demand.AttrEligibleSeen] = classad.String(p.Collector.Seen())
	if p.AdLifetime > 0 {
		ad["ClassAdLifetime"] = classad.Int(int64(p.AdLifetime.Seconds()))
	}
	return p.Tools.Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{ad})
}
