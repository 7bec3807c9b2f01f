package provision

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// act carries out a decision and only that: the flavor ads first, then
// deletes (they free quota), then drains, then creates. It returns the
// regions where a create failed (backed off already).
func (p *Provisioner) act(ctx context.Context, now time.Time, in scale.Input, dec scale.Decision, workers []Worker, rep *Report) map[cloud.Location]bool {
	if err := p.pool.Offer(ctx, allOffers(in.Regions)); err != nil {
		rep.Errors = append(rep.Errors, "advertise flavor ads: "+err.Error())
	}
	p.deleteAll(ctx, now, dec.Deletes, rep)
	p.recheck = p.drainAll(ctx, now, dec.Drains, workers, rep)
	return p.create(ctx, now, dec.Creates, rep)
}

// createElsewhere retries the creates that failed: the decision is taken
// again with the failed regions backed off, and only its creates in other
// regions are made. It returns dec with them and with the new unmet demand.
func (p *Provisioner) createElsewhere(ctx context.Context, now time.Time, in scale.Input, snap snapshot, failed map[cloud.Location]bool, dec scale.Decision, rep *Report) scale.Decision {
	again, unmet := p.elsewhere(in, snap, now, failed)
	if len(again) > 0 {
		p.create(ctx, now, again, rep)
		dec.Creates = append(dec.Creates, again...)
	}
	dec.Unmet = unmet
	return dec
}

// deletion is a delete to send now.
type deletion struct {
	a scale.Action
	t *track
	r *region
}

// deletesDue are the deletes of as to send now: a retry waits out its
// back-off.
func (p *Provisioner) deletesDue(now time.Time, as []scale.Action) []deletion {
	var out []deletion
	for _, a := range as {
		t := p.tracks[a.Node]
		if t == nil || t.id == "" {
			continue
		}
		if !t.deleteSent.IsZero() && now.Before(t.deleteSent.Add(p.deleteRetryAfter(t.deleteTries))) {
			continue
		}
		if r := p.regionOf(t.offer.Loc); r != nil {
			out = append(out, deletion{a, t, r})
		}
	}
	return out
}

// deleteAll sends the deletes that are due. Their tokens are revoked
// before the deletes go out: a provisioner that dies between the two has
// then lost nothing (the VM's metadata, which names its token, is gone
// once the cloud deletes it). A failed revocation does not hold the delete
// back; it is retried every cycle.
func (p *Provisioner) deleteAll(ctx context.Context, now time.Time, deletes []scale.Action, rep *Report) {
	dels := p.deletesDue(now, deletes)
	var revoke []RevokedToken
	var revoking []*track
	for _, d := range dels {
		if t := d.t; t.tokenID != "" && !t.revoked {
			revoke = append(revoke, RevokedToken{VM: t.name, JTI: t.tokenID, Expires: t.tokenExpires})
			revoking = append(revoking, t)
		}
	}
	p.revoke(ctx, now, revoke, revoking, rep)
	for _, d := range dels {
		t, r := d.t, d.r
		log := p.opt.Log.With().Str("node", t.name).Str("id", t.id).Str("cloud", r.loc.Cloud).Str("region", r.loc.Region).Logger()
		t.deleteTries++
		t.deleteSent = now
		if err := r.spec.Cloud.Delete(ctx, r.loc.Region, t.id); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("delete %s (%s) in %s failed (attempt %d): %v", t.name, t.id, r.loc, t.deleteTries, err))
			log.Warn().Int("attempt", t.deleteTries).Err(err).Msg("delete failed")
			continue
		}
		t.state, t.since = scale.Deleting, now
		rep.Actions = append(rep.Actions, fmt.Sprintf("delete %s: %s", t.name, d.a.Reason))
		log.Info().Str("reason", d.a.Reason.String()).Msg("deleted")
	}
}

// drainAll asks the workers of drains to finish their jobs and take no
// more. It returns true when it drained an idle worker (see FollowUp).
func (p *Provisioner) drainAll(ctx context.Context, now time.Time, drains []scale.Action, workers []Worker, rep *Report) (idle bool) {
	if len(drains) == 0 {
		return false
	}
	byName := make(map[string]Worker, len(workers))
	for _, w := range workers {
		byName[w.Name] = w
	}
	for _, a := range drains {
		t := p.tracks[a.Node]
		w, ok := byName[a.Node]
		if t == nil || !ok {
			continue
		}
		if err := p.pool.Drain(ctx, w); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("drain %s: %v", a.Node, err))
			p.opt.Log.Warn().Str("node", a.Node).Err(err).Msg("drain failed")
			continue
		}
		t.drainSent = now
		t.state, t.since = scale.Retiring, now
		if w.Claimed == 0 {
			idle = true
		}
		rep.Actions = append(rep.Actions, fmt.Sprintf("drain %s: %s", a.Node, a.Reason))
		p.opt.Log.Info().Str("node", a.Node).Str("reason", a.Reason.String()).Msg("draining")
	}
	return idle
}

// deleteRetryAfter is how long a failed or unfinished delete waits before it
// is sent again: lib/scale's schedule, from a minute when the delete
// timeout is off.
func (p *Provisioner) deleteRetryAfter(tries int) time.Duration {
	d := p.opt.Knobs.DeleteTimeout
	if d <= 0 {
		d = time.Minute
	}
	return scale.DeleteRetryGap(d, tries)
}

// createRequest is the create call for one worker: ownership metadata,
// its token's id (TokenIDs), and the cloud's image, network and key pair with per-region overrides.
func (p *Provisioner) createRequest(r *region, name string, f cloud.Flavor, userData []byte) cloud.CreateRequest {
	cfg := r.spec.Config
	rc := cfg.InRegion(r.loc.Region)
	req := cloud.CreateRequest{
		Name:             name,
		Flavor:           f.ID,
		Image:            rc.Image,
		Network:          rc.Network,
		KeyPair:          rc.KeyPair,
		SecurityGroups:   cfg.SecurityGroups,
		AvailabilityZone: cfg.AvailabilityZone,
		UserData:         userData,
		Metadata: map[string]string{
			cloud.MetaPool:  p.opt.Pool,
			cloud.MetaOwner: p.opt.Owner,
			cloud.MetaName:  name,
		},
	}
	if ids, ok := p.boot.(TokenIDs); ok {
		if jti, exp, ok := ids.TokenID(name); ok {
			setToken(req.Metadata, jti, exp)
		}
	}
	return req
}

// unit is one VM to create.
type unit struct {
	r      *region
	flavor cloud.Flavor
	reason string
}

// create boots the VMs of creates. It returns the regions where a create
// failed; those are backed off and get no more creates this cycle.
// Creates run one after another within a region, so the first failure
// there stops the rest, and regions run in parallel. Nova answers a create
// at once (the boot is asynchronous), so this costs little.
func (p *Provisioner) create(ctx context.Context, now time.Time, creates []scale.Create, rep *Report) map[cloud.Location]bool {
	byRegion := map[*region][]unit{}
	var order []*region
	for _, c := range creates {
		r := p.regionOf(c.Offer.Loc)
		if r == nil {
			continue
		}
		f, ok := r.configured(c.Offer.Flavor)
		if !ok {
			continue
		}
		if byRegion[r] == nil && c.Count > 0 {
			order = append(order, r)
		}
		for i := 0; i < c.Count; i++ {
			byRegion[r] = append(byRegion[r], unit{r: r, flavor: f, reason: c.Reason.String()})
		}
	}
	var (
		mu     sync.Mutex
		failed = map[cloud.Location]bool{}
		fatal  bool
		wg     sync.WaitGroup
		sem    = make(chan struct{}, p.opt.CreateParallel)
	)
	run := func(us []unit) {
		for _, u := range us {
			mu.Lock()
			stop := fatal
			mu.Unlock()
			if stop {
				return
			}
			ok, bad := p.createOne(ctx, now, u, &mu, rep)
			mu.Lock()
			fatal = fatal || bad
			if !ok && !bad {
				failed[u.r.loc] = true
			}
			mu.Unlock()
			if !ok {
				return
			}
		}
	}
	// One at a time, the regions run in the decision's order: the
	// simulator's VM names, and every tie they break, are then the same
	// run after run.
	if p.opt.CreateParallel == 1 {
		for _, r := range order {
			run(byRegion[r])
		}
		return failed
	}
	for _, r := range order {
		wg.Add(1)
		go func(us []unit) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			run(us)
		}(byRegion[r])
	}
	wg.Wait()
	return failed
}

// createOne creates one VM; mu guards the report and the memory. It says
// whether the VM was created, and whether the failure was ours (its
// user-data), which stops creating anywhere.
func (p *Provisioner) createOne(ctx context.Context, now time.Time, u unit, mu *sync.Mutex, rep *Report) (ok, ours bool) {
	name := p.opt.NewName()
	offer := scale.OfferKey{Loc: u.r.loc, Flavor: u.flavor.Name}
	log := p.opt.Log.With().Str("node", name).Str("cloud", u.r.loc.Cloud).Str("region", u.r.loc.Region).Str("flavor", u.flavor.Name).Logger()
	ud, err := p.boot.UserData(ctx, NewVM{Name: name, Offer: offer, Flavor: u.flavor})
	if err != nil {
		// A template or token problem is ours, not the cloud's: stop
		// creating anywhere and say so.
		mu.Lock()
		rep.Errors = append(rep.Errors, fmt.Sprintf("prepare user-data for %s: %v", name, err))
		mu.Unlock()
		log.Error().Err(err).Msg("cannot prepare user-data: no VM created")
		return false, true
	}
	req := p.createRequest(u.r, name, u.flavor, ud)
	vm, err := u.r.spec.Cloud.Create(ctx, u.r.loc.Region, req)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		p.fail(u.r, now, err)
		rep.Errors = append(rep.Errors, fmt.Sprintf("create %s in %s: %v", name, u.r.loc, err))
		if errors.Is(err, cloud.ErrTransient) {
			// The server may exist after all: its metadata lets the
			// next list adopt it, so nothing leaks.
			log.Warn().Err(err).Msg("create may have failed; the next list will tell")
		} else {
			log.Warn().Err(err).Msg("create failed")
		}
		return false, false
	}
	t := &track{name: name, id: vm.ID, offer: offer, created: now, state: scale.Requested, since: now}
	t.tokenID, t.tokenExpires = tokenOf(req.Metadata)
	p.tracks[name] = t
	rep.Actions = append(rep.Actions, fmt.Sprintf("create %s (%s): %s", name, offer, u.reason))
	log.Info().Str("id", vm.ID).Str("reason", u.reason).Msg("created")
	return true, false
}

// TokensRevokedMsg is the log message of a revocation that went through
// (the integration tests look for it).
const TokensRevokedMsg = "revoked the tokens of the VMs being deleted"

// revoke has the tokens of the VMs about to be deleted revoked, where the
// pool can: whoever copied a token off a VM cannot speak for a worker once
// the VM is gone. A failure is reported and retried every cycle until it
// goes through (a restart forgets it: the token then lives until it
// expires). The first call of a provisioner goes to the pool even with no
// token, so that a list a previous run wrote but the collector never
// re-read is put in force.
func (p *Provisioner) revoke(ctx context.Context, now time.Time, toks []RevokedToken, tracks []*track, rep *Report) {
	for _, t := range tracks {
		t.revoked = true // from now on in p.unrevoked until it goes through
	}
	p.unrevoked = append(p.unrevoked, toks...)
	if len(p.unrevoked) == 0 && p.revokeSynced {
		return
	}
	rv, ok := p.pool.(TokenRevoker)
	if !ok {
		p.unrevoked = nil
		return
	}
	toks = p.unrevoked
	if err := rv.RevokeTokens(ctx, now, toks); err != nil {
		rep.Errors = append(rep.Errors, "revoke tokens of deleted VMs: "+err.Error())
		p.opt.Log.Warn().Err(err).Int("tokens", len(toks)).Msg("token revocation failed: retried next cycle")
		return
	}
	p.unrevoked, p.revokeSynced = nil, true
	if len(toks) > 0 {
		p.opt.Log.Info().Int("tokens", len(toks)).Msg(TokensRevokedMsg)
	}
}

// reschedule asks for a negotiation when workers joined this cycle while
// jobs some flavor holds wait: otherwise a new worker sits idle, and paid
// for, until the negotiator's next interval (60 s by default).
func (p *Provisioner) reschedule(ctx context.Context, joined int, demand []scale.Demand, rep *Report) {
	if joined == 0 || p.opt.NoReschedule {
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
	rep.Rescheduled = fmt.Sprintf("%d worker(s) joined while %d job(s) wait", joined, idle)
	rep.Actions = append(rep.Actions, "reschedule: "+rep.Rescheduled)
	p.opt.Log.Info().Int("joined", joined).Int("idle_jobs", idle).Msg("asked the schedds for a negotiation")
}

// RescheduleError starts the report error of a refused reschedule (ehos
// doctor gives it its own fix).
const RescheduleError = "reschedule: "
