package scale

import "slices"

// headroom keeps room for one job of the widest demand seen waiting
// recently (w, from Input.Widest) while jobs wait (gs has a group with an
// offer that holds its jobs) and some node runs jobs: when no node left
// standing (busy, idle or booting, after this cycle's packing and less
// those drained now) nor VM planned this cycle has room for one such job on
// an offer eligible for it, it creates one VM of the cheapest eligible
// offer that holds one. It returns that create, and the bins in use
// (pk.used, plus an idle node whose room it counted on, which the retiring
// step then keeps).
func headroom(k Knobs, w *group, gs []group, pk packed, gone []bool, planned []floor, cat *catalog, led *ledger) (floor, []bool) {
	if k.HeadroomWindow <= 0 || w == nil || !w.fits || !waiting(gs) || !atWork(pk.bins, gone) {
		return floor{}, pk.used
	}
	elig := make([]bool, len(cat.offers))
	for _, oi := range w.elig {
		elig[oi] = true
	}
	holds := func(oi int, free Resources) bool { return oi >= 0 && elig[oi] && fit(free, w.need) > 0 }
	// Busy and booting nodes first: keeping them costs nothing extra.
	kept := -1
	for bi, b := range pk.bins {
		if !gone[b.node] && holds(b.offer, b.free) {
			if b.kind != 1 {
				return floor{}, pk.used
			}
			if kept < 0 {
				kept = bi
			}
		}
	}
	if kept >= 0 {
		used := slices.Clone(pk.used)
		used[kept] = true
		return floor{}, used
	}
	for _, p := range pk.plans {
		if p.count > 0 && holds(p.offer, p.free) {
			return floor{}, pk.used
		}
	}
	for _, f := range planned {
		for _, c := range f.creates {
			if oi, ok := cat.offerIdx[c.Offer]; ok && holds(oi, cat.offers[oi].Size) {
				return floor{}, pk.used
			}
		}
	}
	if n, _ := led.globalRoom(); n == 0 {
		return floor{}, pk.used
	}
	for _, oi := range cat.byPref {
		if !holds(oi, cat.offers[oi].Size) {
			continue
		}
		if room, _, _ := led.room(oi); room > 0 {
			led.take(oi, 1)
			o := cat.offers[oi].OfferKey
			why := Reason{Kind: CreateForHeadroom, Demand: w.d.Key, Need: w.need, Count: 1, Offer: o, Knob: k.HeadroomWindow}
			return floor{creates: []Create{{Offer: o, Count: 1, Reason: why}}}, pk.used
		}
	}
	return floor{}, pk.used
}

// atWork says some node left standing runs jobs: headroom is for a pool
// at work, not for its first jobs.
func atWork(bs []bin, gone []bool) bool {
	return slices.ContainsFunc(bs, func(b bin) bool { return b.kind == 0 && !gone[b.node] })
}

// waiting says some group has idle jobs that an offer it may use holds.
func waiting(gs []group) bool {
	for _, g := range gs {
		if g.fits && len(g.elig) > 0 {
			return true
		}
	}
	return false
}
