package scale

import (
	"cmp"
	"math"
	"slices"
)

// cand is one eligible offer for a round of new VMs.
type cand struct {
	oi, per, take, serve, room int
	cost                       float64
	instQuota                  bool // room is bound by the region's instance quota
	atMax                      bool // room is bound by max, which all regions share, and the jobs waited long
	atCap                      bool // room is bound by the cloud's max_vms, and the jobs waited long
}

// pick is the offer chosen for one round of new VMs for a group, and how;
// oi < 0 when no eligible offer has room, with the regions whose instance
// quota and the clouds whose max_vms stop them.
type pick struct {
	cand
	how            *Choice
	fullIn, capped []int
}

// cands is scratch space reused by every round.
type cands struct{ roomy, noRoom []cand }

// choose takes, among g's eligible offers that hold at least one job and
// have room, the one whose next VM serves jobs at the lowest cost per job
// (a VM that would be partly empty counts only the jobs left for it); at
// equal cost the one holding fewer jobs (a VM is paid for until its last
// job ends, so smaller VMs leave fewer free cores behind), then the higher
// cloud weight, the lower cost per VM, the offer's name. When a cap leaves
// that offer room for fewer jobs than are waiting (see capped), the offer
// holding more jobs per VM that serves the most of them is taken instead,
// so the VMs allowed hold more.
func choose(cat *catalog, led *ledger, g *group, rem int, longWait bool, buf *cands) pick {
	top, best := cand{oi: -1}, cand{oi: -1}
	buf.roomy, buf.noRoom = buf.roomy[:0], buf.noRoom[:0]
	for _, oi := range g.elig {
		o := &cat.offers[oi]
		per := fit(o.Size, g.need)
		if per == 0 || o.phantom {
			continue
		}
		c := cand{oi: oi, per: per, take: min(per, rem)}
		c.cost = o.Cost / float64(c.take)
		var lim Limit
		var bind string
		c.room, lim, bind = led.room(oi)
		c.instQuota = lim == LimitQuota && bind == "instances"
		c.atMax = lim == LimitMax && longWait
		c.atCap = lim == LimitCloudMax && longWait
		if top.oi < 0 || cheaper(cat, c, top) < 0 {
			top = c
		}
		if c.room <= 0 {
			buf.noRoom = append(buf.noRoom, c)
			continue
		}
		c.serve = min(c.room*per, rem)
		buf.roomy = append(buf.roomy, c)
		if best.oi < 0 || cheaper(cat, c, best) < 0 {
			best = c
		}
	}
	if best.oi < 0 {
		return stuckPick(cat, buf.noRoom)
	}
	most := cand{oi: -1}
	if capped(cat, best, buf.roomy, rem) {
		most = densest(cat, best, buf.roomy)
	}
	switch {
	case most.oi >= 0:
		_, lim, bind := led.room(best.oi)
		how := &Choice{Pick: PickServesMost, Other: cat.offers[best.oi].OfferKey, Serve: best.serve, Block: led.block(best.oi, lim, bind)}
		return pick{cand: most, how: how}
	case best.oi != top.oi:
		_, lim, bind := led.room(top.oi)
		return pick{cand: best, how: &Choice{Pick: PickCheapestWithRoom, Other: cat.offers[top.oi].OfferKey, Block: led.block(top.oi, lim, bind)}}
	}
	return pick{cand: best, how: &Choice{Pick: PickCheapest}}
}

func cheaper(cat *catalog, a, b cand) int {
	oa, ob := &cat.offers[a.oi], &cat.offers[b.oi]
	return cmp.Or(cmpCost(a.cost, b.cost), cmp.Compare(ob.weight, oa.weight), cmp.Compare(a.take, b.take),
		cmp.Compare(oa.Cost, ob.Cost), cmpKey(oa.OfferKey, ob.OfferKey))
}

// capped says the cheapest offer with room, best, is held below the jobs
// waiting by a cap that denser VMs make the most of: the region's instance
// quota, or max once the jobs have waited for room (max caps VMs, and a
// pool held at max should serve as many jobs as it can; before that, a
// burst's jobs get the cheapest fit). A cloud's max_vms does the same after
// that wait unless other clouds have room for the rest at the same cost per
// job; an instance quota unless other regions have. Not for the pace of
// max_booting and max_creates_per_cycle, which the next cycles make up for.
func capped(cat *catalog, best cand, roomy []cand, rem int) bool {
	switch {
	case best.serve >= rem:
		return false
	case best.atMax: // max's room is shared by all regions: nowhere else to go
		return true
	case best.atCap:
		// Regions of one cloud share its max_vms: count each other cloud
		// once, by its roomiest alike offer.
		other := map[int]int{}
		for _, c := range roomy {
			if oc := cat.offers[c.oi].cloud; oc != cat.offers[best.oi].cloud && c.per == best.per && cmpCost(c.cost, best.cost) == 0 {
				other[oc] = max(other[oc], c.serve)
			}
		}
		alike := best.serve
		for _, n := range other {
			alike += n
		}
		return alike < rem
	case best.instQuota:
		// Other regions with the same offer at the same cost take the rest
		// in the next rounds: not capped while they can.
		alike := 0
		for _, c := range roomy {
			if c.per == best.per && cmpCost(c.cost, best.cost) == 0 {
				alike += c.serve
			}
		}
		return alike < rem
	}
	return false
}

// densest is the offer with room holding more jobs per VM than best that
// serves the most of them (then the cheaper); oi < 0 when none serves more
// than best.
func densest(cat *catalog, best cand, roomy []cand) cand {
	most := cand{oi: -1}
	for _, c := range roomy {
		if c.per > best.per && c.serve > best.serve &&
			(most.oi < 0 || cmp.Or(cmp.Compare(most.serve, c.serve), cheaper(cat, c, most)) < 0) {
			most = c
		}
	}
	return most
}

// stuckPick is the pick when no offer has room: the full instance quotas
// and the clouds at max_vms (after the long wait) that rebalancing may make
// room in.
func stuckPick(cat *catalog, noRoom []cand) pick {
	p := pick{cand: cand{oi: -1}}
	for _, c := range noRoom {
		if r := cat.offers[c.oi].region; c.instQuota && !slices.Contains(p.fullIn, r) {
			p.fullIn = append(p.fullIn, r)
		}
		if oc := cat.offers[c.oi].cloud; c.atCap && !slices.Contains(p.capped, oc) {
			p.capped = append(p.capped, oc)
		}
	}
	return p
}

// cmpCost compares costs per job, taking values within one part in a
// billion as equal, so that 6/4 and 1.5 tie however they were computed.
func cmpCost(a, b float64) int {
	if math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b)) {
		return 0
	}
	return cmp.Compare(a, b)
}
