package provision

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// seen is what remember worked out for the rest of the cycle.
type seen struct {
	workers map[string]*Worker // the startd ads believed, by VM name
	refused []Refusal          // the ads not believed
	joined  int                // workers seen for the first time with room for a job
}

// remember folds a snapshot into the memory: the regions' flavors, VMs and
// back-offs, each VM's state, the job starts, the unmatched marks. It does
// no I/O and decides nothing.
func (p *Provisioner) remember(now time.Time, snap snapshot) seen {
	p.rememberRegions(now, snap)
	var s seen
	owned := p.owned()
	s.workers, s.refused = p.believe(snap.workers, owned)
	s.refused = append(slices.Clip(snap.refused), s.refused...)
	p.warnRefused(s.refused)
	// The previous run's ad first: the VMs adopted below take their idle
	// times from it.
	p.rememberRecall(snap.recall)
	s.joined = p.rememberVMs(now, snap, s.workers, owned)
	if snap.demandErr == nil {
		workersOK := snap.workersErr == nil
		p.updateMarks(now, snap.demand, p.nodes(s.workers, workersOK), snap.workers, workersOK)
		if slices.ContainsFunc(snap.demand, servable) {
			p.lastDemand = now
		}
		p.rememberWidest(now, snap.demand)
	}
	return s
}

// seenWaiting is a demand group seen waiting, and when.
type seenWaiting struct {
	at time.Time
	d  scale.Demand
}

// rememberWidest keeps the widest demand group seen waiting within
// Knobs.HeadroomWindow first in p.widest: it forgets the groups seen before
// the window, and those no wider than this cycle's widest, which outlives
// them.
func (p *Provisioner) rememberWidest(now time.Time, demand []scale.Demand) {
	window := p.opt.Knobs.HeadroomWindow
	if window <= 0 {
		return
	}
	for len(p.widest) > 0 && now.Sub(p.widest[0].at) >= window {
		p.widest = p.widest[1:]
	}
	var w *scale.Demand
	for i, d := range demand {
		if servable(d) && (w == nil || cmp.Or(scale.CompareWidth(d.Need, w.Need), strings.Compare(w.Key, d.Key)) > 0) {
			w = &demand[i]
		}
	}
	if w == nil {
		return
	}
	for len(p.widest) > 0 && scale.CompareWidth(p.widest[len(p.widest)-1].d.Need, w.Need) <= 0 {
		p.widest = p.widest[:len(p.widest)-1]
	}
	p.widest = append(p.widest, seenWaiting{at: now, d: *w})
}

// rememberRegions keeps each region's fresh flavors and VMs, and backs off
// the regions whose calls failed. A failed list leaves the region's last
// known VMs in place.
func (p *Provisioner) rememberRegions(now time.Time, snap snapshot) {
	for i, r := range p.regions {
		s := snap.regions[i]
		for _, err := range s.errs {
			p.fail(r, now, err)
		}
		if s.flavorsRead {
			r.flavors, r.flavorsAt = s.flavors, now
		}
		if s.listOK {
			r.vms, r.listed = s.vms, true
		}
		if len(s.errs) == 0 && now.Sub(r.backoff.until) > p.opt.BackoffMax {
			r.backoff.reset() // quiet for long enough: forget old failures
		}
	}
}

func (p *Provisioner) fail(r *region, now time.Time, err error) {
	r.backoff.fail(now, err, p.opt.BackoffInitial, p.opt.BackoffMax)
	p.opt.Log.Warn().Str("cloud", r.loc.Cloud).Str("region", r.loc.Region).Err(err).
		Time("backoff_until", r.backoff.until).Msg("cloud call failed: backing off")
}

// ownedVM is a VM of a listed region that this provisioner owns, with its
// ehos name.
type ownedVM struct {
	r    *region
	vm   *cloud.VM
	name string
}

// owned lists the VMs of the listed regions that this provisioner owns,
// once for each pass of remember over them.
func (p *Provisioner) owned() []ownedVM {
	n := 0
	for _, r := range p.regions {
		n += len(r.vms)
	}
	out := make([]ownedVM, 0, n)
	for _, r := range p.regions {
		if !r.listed {
			continue
		}
		for i := range r.vms {
			vm := &r.vms[i]
			if vm.Metadata[cloud.MetaOwner] != p.opt.Owner {
				continue // another provisioner's VM: never touched
			}
			name := vm.Metadata[cloud.MetaName]
			if name == "" {
				name = vm.Name
			}
			out = append(out, ownedVM{r, vm, name})
		}
	}
	return out
}

// believe finds each worker's VM by its name alone: its name is what its
// identity vouches for. The instance id it publishes is its own claim, so
// a worker naming another VM's id is refused, never taken for that VM.
func (p *Provisioner) believe(workers []Worker, owned []ownedVM) (map[string]*Worker, []Refusal) {
	byName := make(map[string]*Worker, len(workers))
	for i := range workers {
		w := &workers[i]
		if w.Name != "" {
			byName[w.Name] = w
		}
	}
	var refused []Refusal
	for _, o := range owned {
		w := byName[o.name]
		if w != nil && w.InstanceID != "" && w.InstanceID != o.vm.ID {
			refused = append(refused, Refusal{Ad: w.Slot, Claimed: fmt.Sprintf("EHOSName=%q EHOSInstanceID=%q", w.Name, w.InstanceID),
				Why: fmt.Sprintf("VM %s is server %s in the cloud: its slot ad is ignored", o.name, o.vm.ID)})
			delete(byName, o.name)
		}
	}
	return byName, refused
}

// warnRefused logs each refused ad, at warn level the first cycle it comes.
func (p *Provisioner) warnRefused(refused []Refusal) {
	now := map[Refusal]bool{}
	for _, r := range refused {
		now[r] = true
		ev := p.opt.Log.Warn()
		if p.refused[r] {
			ev = p.opt.Log.Debug() // still there: said at warn level when it first came
		}
		ev.Str("ad", r.Ad).Str("identity", r.Identity).Str("claimed", r.Claimed).Str("why", r.Why).Msg("refused an ad")
	}
	p.refused = now
}

// rememberVMs brings the tracks up to date with the listed VMs and the
// believed workers. It returns how many workers joined with room for a job.
func (p *Provisioner) rememberVMs(now time.Time, snap snapshot, workers map[string]*Worker, owned []ownedVM) (joined int) {
	listed := make(map[string]bool, len(p.tracks))
	for _, o := range owned {
		r, vm, name := o.r, *o.vm, o.name
		listed[name] = true
		t := p.tracks[name]
		if t == nil {
			t = &track{name: name, created: vm.Created, since: vm.Created}
			p.tracks[name] = t
		}
		t.id = vm.ID
		t.offer = scale.OfferKey{Loc: r.loc, Flavor: vm.Flavor}
		if !vm.Created.IsZero() {
			t.created = vm.Created
		}
		t.fault = vm.Fault
		if id, exp := tokenOf(vm.Metadata); id != "" {
			t.tokenID, t.tokenExpires = id, exp
		}
		if p.rememberVM(t, vm, workers[name], snap.workersErr == nil, now) {
			joined++
		}
	}
	// Tracks a successful list no longer shows are gone, except VMs we just
	// asked for, which a list may not show yet.
	for name, t := range p.tracks {
		if listed[name] || !snap.listOK(t.offer.Loc) {
			continue // listed, or unknown: keep what we knew
		}
		if t.state == scale.Requested && now.Sub(t.since) < p.opt.Knobs.BootTimeout {
			continue
		}
		delete(p.tracks, name)
	}
	return joined
}

// rememberVM brings one track up to date. It returns true when the VM's
// worker joined this cycle with room a negotiation could fill.
func (p *Provisioner) rememberVM(t *track, vm cloud.VM, w *Worker, workersOK bool, now time.Time) (joined bool) {
	state, up := stateOf(t, vm, w, workersOK, now, p.opt.Cycle, p.opt.OrphanGrace)
	if up {
		joined = !t.joined && !w.Draining && w.Free.Cpus > 0
		if !t.joined {
			// A worker joined: its region boots good VMs, so a later
			// failure there starts its back-off from the beginning again.
			if r := p.regionOf(t.offer.Loc); r != nil && !r.backoff.active(now) {
				r.backoff.failures = 0
			}
		}
		if w.Claimed > t.claimed {
			p.lastStart = now
			p.startedOn[t.offer] = now
		}
		t.claimed = w.Claimed
		t.joined, t.lastSeen = true, now
	}
	if state != t.state {
		p.opt.Log.Debug().Str("node", t.name).Str("from", string(t.state)).Str("to", string(state)).Msg("state")
		switch {
		case t.state == "" && state == scale.Idle:
			// Adopted idle: idle since the previous run saw it idle, else
			// from now. Its creation would count its boot as idle time,
			// and a restarted provisioner drained workers that had just
			// joined, before the jobs they were made for were matched
			// (docs/ha.md, chaos).
			t.since = p.adoptedIdleSince(t, now)
		case (t.state == "" || state == scale.Booting) && !t.created.IsZero():
			// Adopted, or requested → booting: the boot clock started
			// when the VM was created.
			t.since = t.created
		default:
			t.since = now
		}
		t.state = state
	}
	return joined
}

// stateOf is a VM's state from the cloud's view and the collector's; up
// says its startd is in the collector and counts.
func stateOf(t *track, vm cloud.VM, w *Worker, workersOK bool, now time.Time, cycle, orphanGrace time.Duration) (state scale.NodeState, up bool) {
	switch {
	case vm.Status == cloud.StatusError || vm.Status == cloud.StatusShutoff:
		return scale.Failed, false
	case vm.Status == cloud.StatusDeleted || !t.deleteSent.IsZero():
		return scale.Deleting, false
	case w != nil:
		switch {
		case w.Draining || !t.drainSent.IsZero():
			// A drain the startd has not confirmed yet (its ad lags, or the
			// worker pulls the request) counts after half a cycle; a
			// follow-up seconds after the drain needs the confirmation, or
			// a job matched meanwhile could be killed.
			if w.Claimed == 0 && (w.Draining || now.Sub(t.drainSent) >= cycle/2) {
				return scale.Drained, true
			}
			return scale.Retiring, true
		case w.Claimed > 0:
			return scale.Busy, true
		default:
			return scale.Idle, true
		}
	case !workersOK:
		if t.state == "" {
			return scale.Booting, false
		}
	case t.joined:
		// Its startd was here and is gone: drained and exited, or lost.
		// Give the collector some grace before reaping a worker that may
		// only have missed an update.
		if !t.drainSent.IsZero() || now.Sub(t.lastSeen) >= orphanGrace {
			return scale.Drained, false
		}
	default:
		return scale.Booting, false
	}
	return t.state, false
}

func (p *Provisioner) regionOf(loc cloud.Location) *region {
	for _, r := range p.regions {
		if r.loc == loc {
			return r
		}
	}
	return nil
}

// rememberRecall takes the unmatched marks and the idle times of the nodes
// from this provisioner's previous ad, once: a restart then does not boot
// another round for demand already found unmatched on real workers, nor
// drain a worker sooner than the previous run would have. Until the
// collector answers it is read again each cycle.
func (p *Provisioner) rememberRecall(rc *recall) {
	if rc == nil {
		return
	}
	if rc.err != nil {
		p.opt.Log.Debug().Err(rc.err).Msg("previous provisioner ad not read: tried again next cycle")
		return
	}
	p.recalled = true
	// The marks are the pool's: taken from the freshest ad of a
	// provisioner of the pool that acted (a standby's marks were not
	// acted on).
	var last classad.Ad
	for _, ad := range rc.ads {
		if ad.GetString(AttrStandby) == "" && (last == nil || ad.GetInt("EHOSLastCycle", 0) > last.GetInt("EHOSLastCycle", 0)) {
			last = ad
		}
	}
	if last == nil {
		return
	}
	if n, err := p.restoreMarks(last); err != nil {
		p.opt.Log.Warn().Err(err).Str("ad", last.GetString("Name")).Msg("unmatched marks of the previous run not read: starting afresh")
	} else if n > 0 {
		p.opt.Log.Info().Int("marks", n).Msg("unmatched marks taken from the previous run's provisioner ad")
	}
	if n, err := p.restoreIdleSince(last); err != nil {
		p.opt.Log.Warn().Err(err).Str("ad", last.GetString("Name")).Msg("idle times of the previous run not read: idle nodes count as idle from now")
	} else if n > 0 {
		p.opt.Log.Info().Int("nodes", n).Msg("idle times taken from the previous run's provisioner ad")
	}
}

// AttrIdleSince is the provisioner ad's attribute of its idle nodes and
// since when each is idle: JSON, name to Unix seconds, at most
// maxIdleSince of them, the longest idle first.
const AttrIdleSince = "EHOSIdleSince"

const maxIdleSince = 2000

// idleSinceJSON is AttrIdleSince's value for the tracks now.
func (p *Provisioner) idleSinceJSON() string {
	var idle []*track
	for _, t := range p.tracks {
		if t.state == scale.Idle && !t.since.IsZero() {
			idle = append(idle, t)
		}
	}
	slices.SortFunc(idle, func(a, b *track) int {
		if c := a.since.Compare(b.since); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	m := make(map[string]int64, min(len(idle), maxIdleSince))
	for _, t := range idle[:min(len(idle), maxIdleSince)] {
		m[t.name] = t.since.Unix()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// restoreIdleSince reads AttrIdleSince from a previous run's ad into
// p.idleSince, where adoptedIdleSince takes it.
func (p *Provisioner) restoreIdleSince(ad classad.Ad) (int, error) {
	var m map[string]int64
	if err := jsonAttr(ad, AttrIdleSince, &m); err != nil {
		return 0, err
	}
	p.idleSince = make(map[string]time.Time, len(m))
	for name, secs := range m {
		if secs > 0 {
			p.idleSince[name] = time.Unix(secs, 0).UTC()
		}
	}
	return len(p.idleSince), nil
}

// adoptedIdleSince is since when a node this run adopts idle has been
// idle: the previous run's word when it had one in the node's life (not
// before its creation, not in the future), else now, which retires it at
// worst one idle_before_retire late, never early.
func (p *Provisioner) adoptedIdleSince(t *track, now time.Time) time.Time {
	s, ok := p.idleSince[t.name]
	delete(p.idleSince, t.name)
	if ok && !s.After(now) && !s.Before(t.created.Truncate(time.Second)) {
		return s
	}
	return now
}

// setToken records a VM's token in its metadata, where tokenOf reads it.
func setToken(meta map[string]string, id string, expires time.Time) {
	meta[cloud.MetaTokenID] = id
	if !expires.IsZero() {
		meta[cloud.MetaTokenExpires] = strconv.FormatInt(expires.Unix(), 10)
	}
}

// tokenOf reads the id and expiry of a VM's token from its metadata; the
// expiry is zero when it never expires or is not given.
func tokenOf(meta map[string]string) (id string, expires time.Time) {
	id = meta[cloud.MetaTokenID]
	if id == "" {
		return "", time.Time{}
	}
	if secs, err := strconv.ParseInt(meta[cloud.MetaTokenExpires], 10, 64); err == nil && secs > 0 {
		expires = time.Unix(secs, 0).UTC()
	}
	return id, expires
}
