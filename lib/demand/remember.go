package demand

import (
	"slices"

	"github.com/ehos-project/ehos/lib/scale"
)

// remembered is what the negotiator has said about one demand group while
// it lived: every offer it matched the group to, in any cycle.
type remembered struct {
	need   scale.Resources
	pin    Pin
	offers []scale.OfferKey
}

// remember joins each live group's verdict with the offers the negotiator
// matched it to in earlier cycles, and returns the memory for the next
// cycle: this cycle's groups with idle jobs, each with all its offers.
//
// One cycle's verdict is not the whole truth: the negotiator records a
// request of K idle jobs on at most K flavor ads (docs/matchmaking.md), so
// a group of 2 jobs that 3 equal offers fit is eligible on 2 of them, and
// which 2 follows the order of the ads, which changes when they are
// advertised again (a restarted provisioner does so at once). Workers of
// the offer left out then do not count for the group, and its jobs get
// new VMs elsewhere beside them (docs/ha.md: the double scale-up after a
// restart). A verdict also vanishes when its jobs match real workers
// instead, or right after the flavor ads are advertised again. What the
// negotiator once said still holds while the group lives: its jobs are
// the same (an autocluster's jobs agree on every attribute matching looks
// at) and so are the offers (a change of them forgets everything, see
// Collector.Offer). A group is known by its autocluster, its shape and
// its pins: an autocluster id that comes back with another shape or pin
// is another group, and a group that had no idle job for one read is
// forgotten.
func remember(mem map[AutoclusterKey]remembered, groups []Group, elig map[AutoclusterKey][]scale.OfferKey) (map[AutoclusterKey][]scale.OfferKey, map[AutoclusterKey]remembered) {
	out := make(map[AutoclusterKey][]scale.OfferKey, len(elig))
	for k, v := range elig {
		out[k] = v
	}
	next := map[AutoclusterKey]remembered{}
	for _, g := range groups {
		if g.Idle <= 0 {
			continue
		}
		ak := AutoclusterKey{Schedd: NormalizeAddress(g.ScheddAddr), ID: g.Autocluster}
		offers := slices.Clone(elig[ak])
		if old, ok := mem[ak]; ok && old.need == g.Need() && old.pin == g.Pin {
			for _, k := range old.offers {
				if !slices.Contains(offers, k) {
					offers = append(offers, k)
				}
			}
		}
		if len(offers) > 0 {
			out[ak] = offers
			next[ak] = remembered{need: g.Need(), pin: g.Pin, offers: offers}
		}
	}
	return out, next
}
