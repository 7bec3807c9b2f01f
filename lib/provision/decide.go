package provision

import (
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// decide is lib/scale's decision with the cycle's own guards: what was not
// read is never taken for "none". Without the collector's view of the
// workers nothing may be drained or deleted, without demand nothing is
// created for it and no idle worker is retired for want of it, and nothing
// is done in a region whose list failed. It is pure.
func (p *Provisioner) decide(in scale.Input, snap snapshot) scale.Decision {
	dec := scale.Decide(in)
	if snap.workersErr != nil {
		dec = scale.Decision{Unmet: dec.Unmet, Notes: append(dec.Notes, scale.TextNote("collector unreachable: no action this cycle"))}
	} else if snap.demandErr != nil {
		dec.Creates = nil
		dec.Drains = slices.DeleteFunc(dec.Drains, func(a scale.Action) bool { return forWantOfDemand(a.Reason.Kind) })
		dec.Notes = append(dec.Notes, scale.TextNote("demand unknown (collector query failed): no VM created and no idle one retired this cycle"))
	}
	return dropUnknownRegions(dec, in, snap)
}

// forWantOfDemand says a drain is of an idle node no waiting job wants.
func forWantOfDemand(k scale.Kind) bool {
	return k == scale.DrainIdle || k == scale.DrainNothingArriving
}

// keepForHeld takes back the drains of idle nodes that a held group
// (discountStarted) could use: its count is stale, not zero, and the jobs
// it may still have wait for just such a worker. A group is held until
// the reporter's next count, a cycle or two.
func keepForHeld(dec scale.Decision, nodes []scale.Node, held []scale.Demand) scale.Decision {
	if len(held) == 0 || len(dec.Drains) == 0 {
		return dec
	}
	drains := dec.Drains[:0:0]
	for _, a := range dec.Drains {
		if g := heldFor(a, nodes, held); g != "" {
			dec.Notes = append(dec.Notes, scale.TextNote(fmt.Sprintf("%s: kept, not drained (%s): it fits a job of %s, whose count is held", a.Node, a.Reason, g)))
			continue
		}
		drains = append(drains, a)
	}
	dec.Drains = drains
	return dec
}

// heldFor is the key of a held group whose job fits the node that drain a
// retires for want of demand, on an offer eligible for it; "" when none.
func heldFor(a scale.Action, nodes []scale.Node, held []scale.Demand) string {
	i := slices.IndexFunc(nodes, func(n scale.Node) bool { return n.Name == a.Node })
	if i < 0 || !forWantOfDemand(a.Reason.Kind) {
		return ""
	}
	for _, d := range held {
		if slices.Contains(d.Eligible, nodes[i].Offer) && nodes[i].Free.Holds(d.Need) {
			return d.Key
		}
	}
	return ""
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
