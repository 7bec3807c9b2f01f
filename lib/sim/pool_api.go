package sim

import (
	"context"
	"fmt"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// Demand returns the idle jobs grouped by shape, each with the offers
// (from the last Offer call) whose worker size holds one job of it: what
// HTCondor's negotiator would match against the offline flavor ads.
func (p *Pool) Demand(context.Context) ([]scale.Demand, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls.Demand++
	var out []scale.Demand
	for _, s := range p.shapeList {
		if len(s.queue) == 0 {
			continue
		}
		if s.ver != p.offersVer {
			s.elig = s.elig[:0]
			n := scale.Resources{Cpus: s.key.cpus, MemoryMB: s.key.mem}
			for _, o := range p.offers {
				if o.Size.Holds(n) {
					s.elig = append(s.elig, o.OfferKey)
				}
			}
			s.ver = p.offersVer
		}
		out = append(out, scale.Demand{
			Key:      s.name,
			Need:     scale.Resources{Cpus: s.key.cpus, MemoryMB: s.key.mem},
			Idle:     len(s.queue),
			Oldest:   s.queue[0].submit,
			Eligible: append([]scale.OfferKey(nil), s.elig...),
		})
	}
	return out, nil
}

// Workers returns every startd, as the collector would: without IdleSince,
// since a partitionable slot's ad does not say when it last fell idle (and
// lib/condorpool leaves it zero), so lib/provision counts from the cycle it
// first saw the worker idle, here as in a real pool.
func (p *Pool) Workers(context.Context) ([]provision.Worker, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls.Workers++
	out := make([]provision.Worker, 0, len(p.workers))
	for _, w := range p.sortedWorkers(false) {
		out = append(out, provision.Worker{
			Name: w.name, InstanceID: w.id, Machine: w.name, Slot: w.slot,
			Claimed: len(w.jobs), Free: w.free, Draining: w.draining, Healthy: true,
		})
	}
	return out, nil
}

// RunningJobs is what the schedd says runs where: here every running job's
// worker still has its startd, since a simulated startd only leaves once
// its jobs are done.
func (p *Pool) RunningJobs(context.Context) (map[string][]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]string, len(p.byJoin))
	for _, w := range p.byJoin {
		if len(w.jobs) == 0 {
			continue
		}
		labels := make([]string, 0, len(w.jobs))
		for _, label := range w.jobs {
			labels = append(labels, label)
		}
		out[w.name] = labels
	}
	return out, nil
}

// Offer records the flavor offers; Demand matches against them from now on.
func (p *Pool) Offer(_ context.Context, offers []scale.Offer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls.Offer++
	if !sameOffers(p.offers, offers) {
		p.offers = append([]scale.Offer(nil), offers...)
		p.offersVer++
		p.changes++
	}
	return nil
}

func sameOffers(a, b []scale.Offer) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].OfferKey != b[i].OfferKey || a[i].Size != b[i].Size {
			return false
		}
	}
	return true
}

// Drain stops a worker taking new jobs; it leaves once its jobs are done.
func (p *Pool) Drain(_ context.Context, pw provision.Worker) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls.Drain++
	w := p.workers[pw.Name]
	if w == nil {
		return fmt.Errorf("drain %s: no such startd", pw.Name)
	}
	w.draining = true
	p.changes++
	if len(w.jobs) == 0 {
		p.leave(w, p.clock.Now())
	}
	return nil
}

// Reschedule is condor_reschedule: a negotiation follows as it does a
// submit (see NextNegotiation).
func (p *Pool) Reschedule(context.Context, []scale.Demand) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls.Reschedule++
	if p.resched.IsZero() {
		p.resched = p.clock.Now()
	}
	return nil
}

// Publish counts the provisioner's ad and drops it: nothing in the
// simulated world reads it.
func (p *Pool) Publish(context.Context, classad.Ad) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls.Publish++
	return nil
}

// PublishLazy is Publish without building the ad.
func (p *Pool) PublishLazy(ctx context.Context, _ func() classad.Ad) error {
	return p.Publish(ctx, nil)
}
