package provision

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// decide is lib/scale's decision with the cycle's own guards: what was not
// read is never taken for "none". Without the collector's view of the
// workers nothing may be drained or deleted, without demand nothing is
// created for it, and nothing is done in a region whose list failed. It is
// pure.
func (p *Provisioner) decide(in scale.Input, snap snapshot) scale.Decision {
	dec := scale.Decide(in)
	if snap.workersErr != nil {
		dec = scale.Decision{Unmet: dec.Unmet, Notes: append(dec.Notes, scale.TextNote("collector unreachable: no action this cycle"))}
	} else if snap.demandErr != nil {
		dec.Creates = nil
		dec.Notes = append(dec.Notes, scale.TextNote("demand unknown (collector query failed): no VM created this cycle"))
	}
	return dropUnknownRegions(dec, in, snap)
}

// dropUnknownRegions removes actions on nodes of regions whose list failed
// this cycle: what we believe about them may be stale.
func dropUnknownRegions(dec scale.Decision, in scale.Input, snap snapshot) scale.Decision {
	unknown := map[cloud.Location]bool{}
	for _, r := range snap.regions {
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
				dec.Notes = append(dec.Notes, scale.TextNote(fmt.Sprintf("%s: skipped (%s unknown this cycle): %s", a.Node, locOf[a.Node], a.Reason)))
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

// blame backs off the regions of VMs about to be deleted because the cloud
// failed them or they never joined: such a region is not booting good
// workers, so demand moves on. A VM is blamed once, at its first delete.
func (p *Provisioner) blame(now time.Time, deletes []scale.Action) {
	for _, d := range p.deletesDue(now, deletes) {
		if d.t.deleteTries > 0 {
			continue
		}
		switch d.t.state {
		case scale.Failed:
			p.fail(d.r, now, fmt.Errorf("server %s went to %s: %s", d.t.name, cloud.StatusError, orNone(d.t.fault)))
		case scale.Booting, scale.Requested:
			p.fail(d.r, now, fmt.Errorf("server %s never joined the pool: %s", d.t.name, d.a.Reason))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "no fault message"
	}
	return s
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

// elsewhere is the decision taken again after creates failed in the
// regions of failed (now backed off), with the VMs just requested counted:
// the creates it makes outside those regions, and its unmet demand.
func (p *Provisioner) elsewhere(in scale.Input, snap snapshot, now time.Time, failed map[cloud.Location]bool) ([]scale.Create, []scale.Unmet) {
	retry := p.decide(p.reprepare(in, now), snap)
	var again []scale.Create
	for _, c := range retry.Creates {
		if !failed[c.Offer.Loc] {
			c.Reason.Moved = true
			again = append(again, c)
		}
	}
	return again, retry.Unmet
}

// logWouldDo logs what a cycle that touches nothing would have done.
func logWouldDo(log zerolog.Logger, dec scale.Decision) {
	for _, c := range dec.Creates {
		log.Info().Str("offer", c.Offer.String()).Int("count", c.Count).Str("reason", c.Reason.String()).Msg("dry run: would create")
	}
	for _, a := range dec.Drains {
		log.Info().Str("node", a.Node).Str("reason", a.Reason.String()).Msg("dry run: would drain")
	}
	for _, a := range dec.Deletes {
		log.Info().Str("node", a.Node).Str("reason", a.Reason.String()).Msg("dry run: would delete")
	}
}
