package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// act carries out a decision: deletes first (they free quota), then drains,
// then creates. A create that fails backs its region off and the decision is
// taken once more, so the demand moves to the next region in the same cycle.
func (p *Provisioner) act(ctx context.Context, now time.Time, in scale.Input, dec *scale.Decision, workers []Worker, rep *Report) {
	log := p.opt.Log
	// The deletes to send now: a retry waits out its back-off.
	type del struct {
		a scale.Action
		t *track
		r *region
	}
	var dels []del
	var revoke []RevokedToken
	var revoking []*track
	for _, a := range dec.Deletes {
		t := p.tracks[a.Node]
		if t == nil || t.id == "" {
			continue
		}
		if !t.deleteSent.IsZero() && now.Before(t.deleteSent.Add(p.deleteRetryAfter(t.deleteTries))) {
			continue
		}
		r := p.regionOf(t.offer.Loc)
		if r == nil {
			continue
		}
		dels = append(dels, del{a, t, r})
		if t.tokenID != "" && !t.revoked {
			revoke = append(revoke, RevokedToken{VM: t.name, JTI: t.tokenID, Expires: t.tokenExpires})
			revoking = append(revoking, t)
		}
	}
	// Their tokens are revoked before the deletes go out: a provisioner
	// that dies between the two has then lost nothing (the VM's metadata,
	// which names its token, is gone once the cloud deletes it). A failed
	// revocation does not hold the delete back; it is retried every cycle.
	p.revoke(ctx, now, revoke, revoking, rep)
	for _, d := range dels {
		a, t, r := d.a, d.t, d.r
		// A VM the cloud failed, or that never joined, says the region
		// is not booting good workers: back it off so demand moves on.
		switch t.state {
		case scale.Failed:
			if t.deleteTries == 0 {
				p.fail(r, now, fmt.Errorf("server %s went to %s: %s", t.name, cloud.StatusError, orNone(t.fault)))
			}
		case scale.Booting, scale.Requested:
			if t.deleteTries == 0 {
				p.fail(r, now, fmt.Errorf("server %s never joined the pool: %s", t.name, a.Reason))
			}
		}
		t.deleteTries++
		t.deleteSent = now
		if err := r.spec.Cloud.Delete(ctx, r.loc.Region, t.id); err != nil {
			msg := fmt.Sprintf("delete %s (%s) in %s failed (attempt %d): %v", t.name, t.id, r.loc, t.deleteTries, err)
			rep.Errors = append(rep.Errors, msg)
			log.Warn().Str("node", t.name).Str("id", t.id).Str("cloud", r.loc.Cloud).Str("region", r.loc.Region).
				Int("attempt", t.deleteTries).Err(err).Msg("delete failed")
			continue
		}
		t.state, t.since = scale.Deleting, now
		rep.Actions = append(rep.Actions, fmt.Sprintf("delete %s: %s", t.name, a.Reason))
		log.Info().Str("node", t.name).Str("id", t.id).Str("cloud", r.loc.Cloud).Str("region", r.loc.Region).
			Str("reason", a.Reason.String()).Msg("deleted")
	}

	byName := map[string]Worker{}
	for _, w := range workers {
		byName[w.Name] = w
	}
	for _, a := range dec.Drains {
		t := p.tracks[a.Node]
		w, ok := byName[a.Node]
		if t == nil || !ok {
			continue
		}
		if err := p.pool.Drain(ctx, w); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("drain %s: %v", a.Node, err))
			log.Warn().Str("node", a.Node).Err(err).Msg("drain failed")
			continue
		}
		t.drainSent = now
		t.state, t.since = scale.Retiring, now
		if w.Claimed == 0 {
			p.recheck = true
		}
		rep.Actions = append(rep.Actions, fmt.Sprintf("drain %s: %s", a.Node, a.Reason))
		log.Info().Str("node", a.Node).Str("reason", a.Reason.String()).Msg("draining")
	}

	// Deletes of failed VMs may have backed regions off: take the decision
	// again so their creates go elsewhere this cycle.
	creates := dec.Creates
	if p.newBackoffs(in, now) {
		re := p.redecide(in, now)
		creates, dec.Unmet = re.Creates, re.Unmet
		dec.Creates = creates
	}
	failed := p.create(ctx, now, creates, rep)
	if len(failed) == 0 {
		return
	}
	// Decide again with the failed regions backed off and the VMs just
	// requested counted, and take only the new creates elsewhere.
	retry := p.redecide(in, now)
	var again []scale.Create
	for _, c := range retry.Creates {
		if !failed[c.Offer.Loc] {
			c.Reason.Moved = true
			again = append(again, c)
		}
	}
	if len(again) > 0 {
		p.create(ctx, now, again, rep)
		dec.Creates = append(dec.Creates, again...)
	}
	dec.Unmet = retry.Unmet
}

// newBackoffs reports whether a region is backed off now that was not when
// the input was made.
func (p *Provisioner) newBackoffs(in scale.Input, now time.Time) bool {
	for _, sr := range in.Regions {
		if r := p.regionOf(sr.Loc); r != nil && r.backoff.active(now) && !now.Before(sr.BackoffUntil) {
			return true
		}
	}
	return false
}

// redecide takes the decision again with the regions' current back-offs and
// the VMs requested this cycle counted as booting.
func (p *Provisioner) redecide(in scale.Input, now time.Time) scale.Decision {
	in2 := in
	in2.Regions = append([]scale.Region(nil), in.Regions...)
	for i := range in2.Regions {
		if r := p.regionOf(in2.Regions[i].Loc); r != nil {
			in2.Regions[i].BackoffUntil, in2.Regions[i].BackoffReason = r.backoff.until, r.backoff.reason
		}
	}
	have := map[string]bool{}
	for _, n := range in.Nodes {
		have[n.Name] = true
	}
	in2.Nodes = append([]scale.Node(nil), in.Nodes...)
	for _, t := range p.tracks {
		if t.state == scale.Requested && !have[t.name] {
			in2.Nodes = append(in2.Nodes, scale.Node{ID: t.id, Name: t.name, Offer: t.offer, State: t.state, StateSince: now, Created: now})
		}
	}
	return scale.Decide(in2)
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
// and the cloud's image, network and key pair with per-region overrides.
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
	return req
}

// create boots the VMs of a decision. It returns the regions
// where a create failed; those are backed off and get no more creates this
// cycle.
func (p *Provisioner) create(ctx context.Context, now time.Time, creates []scale.Create, rep *Report) map[cloud.Location]bool {
	type unit struct {
		r      *region
		flavor cloud.Flavor
		reason string
	}
	var units []unit
	for _, c := range creates {
		r := p.regionOf(c.Offer.Loc)
		if r == nil {
			continue
		}
		f, ok := r.flavor(c.Offer.Flavor)
		if !ok {
			continue
		}
		if extra := r.spec.Config.FlavorOverrides[c.Offer.Flavor]; extra.GPUs > 0 {
			f.GPUs = extra.GPUs
		}
		for i := 0; i < c.Count; i++ {
			units = append(units, unit{r: r, flavor: f, reason: c.Reason.String()})
		}
	}

	// Creates run one after another within a region, so the first failure
	// there stops the rest, and regions run in parallel. Nova answers a
	// create at once (the boot is asynchronous), so this costs little.
	var (
		mu     sync.Mutex
		failed = map[cloud.Location]bool{}
		fatal  bool
		wg     sync.WaitGroup
		sem    = make(chan struct{}, p.opt.CreateParallel)
	)
	byRegion := map[*region][]unit{}
	var order []*region
	for _, u := range units {
		if byRegion[u.r] == nil {
			order = append(order, u.r)
		}
		byRegion[u.r] = append(byRegion[u.r], u)
	}
	one := func(u unit) bool {
		name := p.opt.NewName()
		offer := scale.OfferKey{Loc: u.r.loc, Flavor: u.flavor.Name}
		log := p.opt.Log.With().Str("node", name).Str("cloud", u.r.loc.Cloud).Str("region", u.r.loc.Region).Str("flavor", u.flavor.Name).Logger()
		ud, err := p.boot.UserData(ctx, NewVM{Name: name, Offer: offer, Flavor: u.flavor})
		if err != nil {
			// A template or token problem is ours, not the cloud's: stop
			// creating anywhere and say so.
			mu.Lock()
			fatal = true
			rep.Errors = append(rep.Errors, fmt.Sprintf("prepare user-data for %s: %v", name, err))
			mu.Unlock()
			log.Error().Err(err).Msg("cannot prepare user-data: no VM created")
			return false
		}
		req := p.createRequest(u.r, name, u.flavor, ud)
		if ids, ok := p.boot.(TokenIDs); ok {
			if jti, exp, ok := ids.TokenID(name); ok {
				req.Metadata[cloud.MetaTokenID] = jti
				if !exp.IsZero() {
					req.Metadata[cloud.MetaTokenExpires] = strconv.FormatInt(exp.Unix(), 10)
				}
			}
		}
		vm, err := u.r.spec.Cloud.Create(ctx, u.r.loc.Region, req)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[u.r.loc] = true
			p.fail(u.r, now, err)
			rep.Errors = append(rep.Errors, fmt.Sprintf("create %s in %s: %v", name, u.r.loc, err))
			if errors.Is(err, cloud.ErrTransient) {
				// The server may exist after all: its metadata lets the
				// next list adopt it, so nothing leaks.
				log.Warn().Err(err).Msg("create may have failed; the next list will tell")
			} else {
				log.Warn().Err(err).Msg("create failed")
			}
			return false
		}
		p.tracks[name] = &track{name: name, id: vm.ID, offer: offer, created: now, state: scale.Requested, since: now, tokenID: req.Metadata[cloud.MetaTokenID]}
		if secs, err := strconv.ParseInt(req.Metadata[cloud.MetaTokenExpires], 10, 64); err == nil && secs > 0 {
			p.tracks[name].tokenExpires = time.Unix(secs, 0).UTC()
		}
		rep.Actions = append(rep.Actions, fmt.Sprintf("create %s (%s): %s", name, offer, u.reason))
		log.Info().Str("id", vm.ID).Str("reason", u.reason).Msg("created")
		return true
	}
	for _, r := range order {
		wg.Add(1)
		go func(us []unit) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, u := range us {
				mu.Lock()
				stop := fatal
				mu.Unlock()
				if stop || !one(u) {
					return
				}
			}
		}(byRegion[r])
	}
	wg.Wait()
	return failed
}

func orNone(s string) string {
	if s == "" {
		return "no fault message"
	}
	return s
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
