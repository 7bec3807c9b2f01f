package demand

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

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
// forgotten. A schedd can also move a group's jobs to a new autocluster
// id: a new id takes the memory of a group of the same schedd, shape and
// pins that is gone in the same read.
func remember(mem map[AutoclusterKey]remembered, groups []Group, elig map[AutoclusterKey][]scale.OfferKey) (map[AutoclusterKey][]scale.OfferKey, map[AutoclusterKey]remembered) {
	out := make(map[AutoclusterKey][]scale.OfferKey, len(elig))
	for k, v := range elig {
		out[k] = v
	}
	next := map[AutoclusterKey]remembered{}
	live := map[AutoclusterKey]bool{}
	for _, g := range groups {
		if g.Idle > 0 {
			live[AutoclusterKey{Schedd: NormalizeAddress(g.ScheddAddr), ID: g.Autocluster}] = true
		}
	}
	for _, g := range groups {
		if g.Idle <= 0 {
			continue
		}
		ak := AutoclusterKey{Schedd: NormalizeAddress(g.ScheddAddr), ID: g.Autocluster}
		offers := slices.Clone(elig[ak])
		for oak, old := range mem {
			// Its own memory, or that of a group of the same schedd,
			// shape and pins that is gone in this very read: the schedd
			// moved its jobs to another autocluster id (seen in the chaos
			// test: #6 became #1 while 2 of its jobs waited).
			same := oak == ak || (oak.Schedd == ak.Schedd && !live[oak] && mem[ak].offers == nil)
			if !same || old.need != g.Need() || old.pin != g.Pin {
				continue
			}
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

// AttrEligibleSeen is the attribute of the provisioner's ad that carries
// Collector's memory of the verdicts (JSON), so that a restarted
// provisioner, or one that takes over, does not start from the latest
// negotiation cycle alone.
const AttrEligibleSeen = "EHOSEligibleSeen"

// maxSeen bounds the groups the ad carries.
const maxSeen = 500

// seenGroup is one group of the memory as the ad carries it.
type seenGroup struct {
	Schedd string           `json:"schedd"`
	ID     int              `json:"autocluster"`
	Need   scale.Resources  `json:"need"`
	Pin    Pin              `json:"pin,omitzero"`
	Offers []scale.OfferKey `json:"offers"`
	At     time.Time        `json:"at"`
}

// Seen is the memory of the verdicts, for the provisioner's ad.
func (c *Collector) Seen() string {
	gs := make([]seenGroup, 0, len(c.seen))
	for ak, r := range c.seen {
		gs = append(gs, seenGroup{Schedd: ak.Schedd, ID: ak.ID, Need: r.need, Pin: r.pin, Offers: r.offers, At: c.seenAt})
	}
	sort.Slice(gs, func(i, j int) bool {
		return AutoclusterKey{gs[i].Schedd, gs[i].ID}.String() < AutoclusterKey{gs[j].Schedd, gs[j].ID}.String()
	})
	b, err := json.Marshal(gs[:min(len(gs), maxSeen)])
	if err != nil {
		return "[]"
	}
	return string(b)
}

// Restore adds the memory an earlier run carried in its ad (Seen's text),
// as of now: only groups it saw within MaxAge, since a group that may have
// ended in between is not known to be the same. It returns how many groups
// it took.
func (c *Collector) Restore(text string, now time.Time) (int, error) {
	var gs []seenGroup
	if err := json.Unmarshal([]byte(text), &gs); err != nil {
		return 0, fmt.Errorf("%s: %w", AttrEligibleSeen, err)
	}
	if c.seen == nil {
		c.seen = map[AutoclusterKey]remembered{}
	}
	n := 0
	for _, g := range gs {
		if now.Sub(g.At) > c.maxAge() || g.At.After(now.Add(c.maxAge())) {
			continue
		}
		ak := AutoclusterKey{Schedd: g.Schedd, ID: g.ID}
		r, ok := c.seen[ak]
		if ok && (r.need != g.Need || r.pin != g.Pin) {
			delete(c.seen, ak) // two runs disagree on the group: trust neither
			continue
		}
		r.need, r.pin = g.Need, g.Pin
		for _, k := range g.Offers {
			if !slices.Contains(r.offers, k) {
				r.offers = append(r.offers, k)
			}
		}
		c.seen[ak] = r
		n++
	}
	return n, nil
}
