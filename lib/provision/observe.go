package provision

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// WorkerSize is what a worker of flavor f offers to jobs. The worker template
// pins the startd to exactly these figures (NUM_CPUS, MEMORY), and the offline
// flavor ads carry the same, so a job the negotiator matched to the flavor
// also fits the real worker. Memory keeps an eighth (at most 1 GB) for the
// operating system; disk counts 80% of the root disk, or 10 GB for flavors
// that boot from volume (disk 0).
func WorkerSize(f cloud.Flavor) scale.Resources {
	reserve := f.RAMMB / 8
	if reserve > 1024 {
		reserve = 1024
	}
	disk := f.DiskGB * 1024 * 8 / 10
	if f.DiskGB == 0 {
		disk = 10 * 1024
	}
	return scale.Resources{Cpus: f.VCPUs, MemoryMB: f.RAMMB - reserve, DiskMB: disk, GPUs: f.GPUs}
}

// FlavorCost is the relative cost of a flavor: the configured one, or
// vcpus + ram_gb/4.
func FlavorCost(f cloud.Flavor, extra cloud.FlavorExtra) float64 {
	if extra.Cost > 0 {
		return extra.Cost
	}
	return float64(f.VCPUs) + float64(f.RAMMB)/4096
}

// offers lists the region's flavors that ehos.yaml allows, as scale offers.
func (r *region) offers() []scale.Offer {
	var out []scale.Offer
	for _, want := range r.spec.Config.Flavors {
		f, ok := r.flavor(want)
		if !ok {
			continue
		}
		extra := r.spec.Config.FlavorOverrides[want]
		if extra.GPUs > 0 {
			f.GPUs = extra.GPUs
		}
		out = append(out, scale.Offer{
			OfferKey: scale.OfferKey{Loc: r.loc, Flavor: f.Name},
			Size:     WorkerSize(f),
			Cost:     FlavorCost(f, extra),
			VCPUs:    f.VCPUs,
			RAMMB:    f.RAMMB,
		})
	}
	return out
}

// flavor finds a flavor by name or id.
func (r *region) flavor(nameOrID string) (cloud.Flavor, bool) {
	for _, f := range r.flavors {
		if f.Name == nameOrID || f.ID == nameOrID {
			return f, true
		}
	}
	return cloud.Flavor{}, false
}

// buildInput turns what was observed into the decision's input, updating the
// tracks as a side effect.
func (p *Provisioner) buildInput(now time.Time, workers []Worker, workersOK bool, rep *Report) scale.Input {
	in := scale.Input{Now: now, Knobs: p.opt.Knobs}
	for _, cs := range p.opt.Clouds {
		if cs.Config.IsEnabled() {
			in.Clouds = append(in.Clouds, scale.Cloud{Name: cs.Config.Name, MaxVMs: cs.Config.MaxVMs, Weight: cs.Config.Weight})
		}
	}
	for _, r := range p.regions {
		sr := scale.Region{Loc: r.loc, Offers: r.offers(), BackoffUntil: r.backoff.until, BackoffReason: r.backoff.reason}
		if r.listOK && r.limits != nil {
			l := *r.limits
			sr.Limits = &l
		}
		in.Regions = append(in.Regions, sr)
	}

	// A worker is found by its name alone: its name is what its identity
	// vouches for. The instance id it publishes is its own claim, so a
	// worker naming another VM's id is ignored, never taken for that VM.
	byName := map[string]*Worker{}
	for i := range workers {
		w := &workers[i]
		if w.Name != "" {
			byName[w.Name] = w
		}
	}

	seen := map[string]bool{}
	for _, r := range p.regions {
		if !r.listed {
			continue
		}
		for _, vm := range r.vms {
			if vm.Metadata[cloud.MetaOwner] != p.opt.Owner {
				continue // another provisioner's VM: never touched
			}
			name := vm.Metadata[cloud.MetaName]
			if name == "" {
				name = vm.Name
			}
			seen[name] = true
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
			if id := vm.Metadata[cloud.MetaTokenID]; id != "" {
				t.tokenID = id
				if secs, err := strconv.ParseInt(vm.Metadata[cloud.MetaTokenExpires], 10, 64); err == nil && secs > 0 {
					t.tokenExpires = time.Unix(secs, 0).UTC()
				}
			}
			w := byName[name]
			if w != nil && w.InstanceID != "" && w.InstanceID != vm.ID {
				if rep != nil {
					rep.Refused = append(rep.Refused, Refusal{Ad: w.Slot, Claimed: fmt.Sprintf("EHOSName=%q EHOSInstanceID=%q", w.Name, w.InstanceID),
						Why: fmt.Sprintf("VM %s is server %s in the cloud: its slot ad is ignored", name, vm.ID)})
				}
				w = nil
				delete(byName, name)
			}
			p.classify(t, vm, w, workersOK, now)
		}
	}
	// Tracks a successful list no longer shows are gone, except VMs we just
	// asked for, which a list may not show yet.
	for name, t := range p.tracks {
		if seen[name] {
			continue
		}
		r := p.regionOf(t.offer.Loc)
		if r == nil || !r.listOK {
			continue // unknown: keep what we knew
		}
		if t.state == scale.Requested && now.Sub(t.since) < p.opt.Knobs.BootTimeout {
			continue
		}
		delete(p.tracks, name)
	}

	names := make([]string, 0, len(p.tracks))
	for n := range p.tracks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := p.tracks[n]
		node := scale.Node{
			ID: t.id, Name: t.name, Offer: t.offer, State: t.state, StateSince: t.since,
			Created: t.created, Fault: t.fault, Attempts: t.deleteTries, TokenExpires: t.tokenExpires,
		}
		w := byName[n]
		if w == nil && t.joined && workersOK {
			node.AdVanished = true
			node.RetireAsked = !t.drainSent.IsZero()
		}
		if w != nil && (t.state == scale.Idle || t.state == scale.Busy || t.state == scale.Retiring) {
			node.Free = w.Free
			node.Running = w.Claimed
			node.IdleSince = w.IdleSince
			if t.state == scale.Idle && node.IdleSince.IsZero() {
				node.IdleSince = t.since
			}
		}
		in.Nodes = append(in.Nodes, node)
	}
	return in
}

// classify sets a track's state from the cloud's view and the collector's.
func (p *Provisioner) classify(t *track, vm cloud.VM, w *Worker, workersOK bool, now time.Time) {
	state := t.state
	switch {
	case vm.Status == cloud.StatusError || vm.Status == cloud.StatusShutoff:
		state = scale.Failed
	case vm.Status == cloud.StatusDeleted || !t.deleteSent.IsZero():
		state = scale.Deleting
	case w != nil:
		if !t.joined && !w.Draining && w.Free.Cpus > 0 {
			p.joined++ // with room a negotiation could fill
		}
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
		switch {
		case w.Draining || !t.drainSent.IsZero():
			// A drain the startd has not confirmed yet (its ad lags, or the
			// worker pulls the request) counts after a regular cycle; a
			// follow-up seconds after the drain needs the confirmation, or
			// a job matched meanwhile could be killed.
			if w.Claimed == 0 && (w.Draining || now.Sub(t.drainSent) >= p.cycle/2) {
				state = scale.Drained
			} else {
				state = scale.Retiring
			}
		case w.Claimed > 0:
			state = scale.Busy
		default:
			state = scale.Idle
		}
	case !workersOK:
		if state == "" {
			state = scale.Booting
		}
	case t.joined:
		// Its startd was here and is gone: drained and exited, or lost.
		// Give the collector some grace before reaping a worker that may
		// only have missed an update.
		if !t.drainSent.IsZero() || now.Sub(t.lastSeen) >= p.opt.OrphanGrace {
			state = scale.Drained
		}
	default:
		state = scale.Booting
	}
	if state != t.state {
		p.opt.Log.Debug().Str("node", t.name).Str("from", string(t.state)).Str("to", string(state)).Msg("state")
		switch {
		case (t.state == "" || state == scale.Booting) && !t.created.IsZero():
			// Adopted, or requested → booting: the boot clock started
			// when the VM was created.
			t.since = t.created
		default:
			t.since = now
		}
		t.state = state
	}
}

func (p *Provisioner) regionOf(loc cloud.Location) *region {
	for _, r := range p.regions {
		if r.loc == loc {
			return r
		}
	}
	return nil
}
