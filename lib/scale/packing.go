package scale

import (
	"slices"
	"time"
)

// planned is a class of identical VMs created this cycle: count VMs of one
// offer, each with free left over. Classes keep the packing per group
// instead of per job or per VM.
type planned struct {
	offer  int
	count  int
	free   Resources
	create int // index into packed.creates
}

// starve is demand that got no VM for want of room that draining other
// nodes could make (see rebalance).
type starve struct {
	group int // index into the groups
	jobs  int
	// fullIn: regions whose instance quota is full (indices into
	// catalog.regions); atMax: max is reached; capped: clouds at max_vms.
	// atMax and capped only once the oldest job has waited rebalanceAfter.
	fullIn []int
	atMax  bool
	capped []int
}

// packed is where demand goes: creates for it, what is left unmet and why,
// the bins it used and the demand starved of room.
type packed struct {
	creates []Create
	unmet   []Unmet
	notes   []Reason
	used    []bool // per bin
	starved []starve
	// bins and plans are the existing nodes' and the planned VMs' free
	// capacity once the demand is placed.
	bins  []bin
	plans []planned
}

// packer is the packing step's own working state.
type packer struct {
	now   time.Time
	wait  time.Duration
	cat   *catalog
	led   *ledger
	gs    []group
	bins  []bin // their free capacity shrinks as jobs are placed
	plans []planned
	elig  []bool // per offer: eligible for the group being placed
	buf   cands
	out   packed
}

// pack places each group, largest first: on existing capacity (busy nodes
// first, then idle, then booting), then on VMs planned earlier this cycle,
// then on new VMs booked in led.
func pack(now time.Time, k Knobs, cat *catalog, gs []group, bs []bin, led *ledger) packed {
	pk := &packer{now: now, wait: rebalanceAfter(k), cat: cat, led: led, gs: gs, bins: slices.Clone(bs), elig: make([]bool, len(cat.offers))}
	pk.out.used = make([]bool, len(bs))
	for gi := range gs {
		pk.place(gi)
	}
	for i := range pk.out.creates {
		s := pk.out.creates[i].Serves
		slices.Sort(s)
		pk.out.creates[i].Serves = slices.Compact(s)
	}
	pk.out.bins, pk.out.plans = pk.bins, pk.plans
	return pk.out
}

func (pk *packer) place(gi int) {
	g := &pk.gs[gi]
	if len(g.d.Eligible) == 0 {
		pk.unmet(g, g.d.Idle, Reason{Kind: UnmetNoFlavor})
		return
	}
	if len(g.refused) > 0 {
		beside := make([]Beside, len(g.refused))
		for i, u := range g.refused {
			beside[i] = Beside{Offer: u.Offer, For: dur(pk.now.Sub(u.Since))}
		}
		if len(g.elig) == 0 {
			pk.unmet(g, g.d.Idle, Reason{Kind: UnmetUnmatched, Beside: beside})
			return
		}
		pk.out.notes = append(pk.out.notes, Reason{Kind: NoteUnmatched, Demand: g.d.Key, Beside: beside})
	}
	for _, oi := range g.elig {
		pk.elig[oi] = true
	}
	rem := pk.onPlans(g, pk.onBins(g, g.d.Idle))
	switch {
	case rem == 0:
	case !g.offered:
		pk.unmet(g, rem, Reason{Kind: UnmetNotOffered, Offers: g.unknwn})
	case !g.fits:
		pk.unmet(g, rem, Reason{Kind: UnmetTooLarge, Need: g.need})
	default:
		pk.open(gi, rem)
	}
	for _, oi := range g.elig {
		pk.elig[oi] = false
	}
}

// onBins places rem jobs of g on existing nodes, first fit, and returns the
// jobs left.
func (pk *packer) onBins(g *group, rem int) int {
	for bi := 0; bi < len(pk.bins) && rem > 0; bi++ {
		b := &pk.bins[bi]
		if b.offer < 0 || !pk.elig[b.offer] {
			continue
		}
		if q := min(fit(b.free, g.need), rem); q > 0 {
			b.free = b.free.Minus(g.need.times(q))
			pk.out.used[bi] = true
			rem -= q
		}
	}
	return rem
}

// onPlans places rem jobs of g on VMs planned earlier this cycle and
// returns the jobs left.
func (pk *packer) onPlans(g *group, rem int) int {
	need := g.need
	for pi := 0; pi < len(pk.plans) && rem > 0; pi++ {
		c := &pk.plans[pi]
		if c.count == 0 || !pk.elig[c.offer] {
			continue
		}
		q := fit(c.free, need)
		if q == 0 {
			continue
		}
		pk.out.creates[c.create].Serves = append(pk.out.creates[c.create].Serves, g.d.Key)
		if c.count*q <= rem {
			rem -= c.count * q
			c.free = c.free.Minus(need.times(q))
			continue
		}
		// Fill part of the class: full VMs, one partly filled, the rest
		// untouched.
		orig := *c
		full, part := rem/q, rem%q
		c.count, c.free = full, orig.free.Minus(need.times(q))
		if part > 0 {
			pk.plans = append(pk.plans, planned{offer: orig.offer, count: 1, free: orig.free.Minus(need.times(part)), create: orig.create})
		}
		if left := orig.count - full - min(part, 1); left > 0 {
			pk.plans = append(pk.plans, planned{offer: orig.offer, count: left, free: orig.free, create: orig.create})
		}
		rem = 0
	}
	return rem
}

// open creates new VMs for rem jobs of group gi, a round at a time (see
// choose): full VMs of the offer chosen for as many jobs as fill them, the
// remainder in the next round.
func (pk *packer) open(gi, rem int) {
	g := &pk.gs[gi]
	// Max caps VMs, not cores: once jobs have waited long for room under
	// it, each VM should carry as many of them as it can.
	longWait := pk.now.Sub(g.d.Oldest) >= pk.wait
	for rem > 0 {
		if n, lim := pk.led.globalRoom(); n == 0 {
			// saves asking every offer when a shared knob binds
			pk.unmet(g, rem, Reason{Kind: UnmetNoRoom, Blocks: []Block{pk.led.block(g.elig[0], lim, "")}})
			if lim == LimitMax && longWait {
				pk.out.starved = append(pk.out.starved, starve{group: gi, jobs: rem, atMax: true})
			}
			return
		}
		p := choose(pk.cat, pk.led, g, rem, longWait, &pk.buf)
		if p.oi < 0 {
			pk.unmet(g, rem, Reason{Kind: UnmetNoRoom, Blocks: stuck(pk.cat, pk.led, g)})
			if len(p.fullIn) > 0 || len(p.capped) > 0 {
				pk.out.starved = append(pk.out.starved, starve{group: gi, jobs: rem, fullIn: p.fullIn, capped: p.capped})
			}
			return
		}
		rem -= pk.create(g, p, rem)
	}
}

// create books the VMs of pick p for rem jobs of g and returns the jobs
// they take: full VMs for as many jobs as fill them, or one partly filled
// VM for the last jobs.
func (pk *packer) create(g *group, p pick, rem int) int {
	o := &pk.cat.offers[p.oi]
	n, jobs := 1, rem
	if p.per <= rem {
		n = min(rem/p.per, p.room)
		jobs = n * p.per
	}
	pk.led.take(p.oi, n)
	ci := len(pk.out.creates)
	pk.out.creates = append(pk.out.creates, Create{Offer: o.OfferKey, Count: n, Serves: []string{g.d.Key},
		Reason: Reason{Kind: CreateForDemand, Jobs: jobs, Need: g.need, Demand: g.d.Key, Count: n, Offer: o.OfferKey, PerVM: p.per, Choice: p.how}})
	full, part := jobs/p.per, jobs%p.per
	if full > 0 {
		if f := o.Size.Minus(g.need.times(p.per)); f.Cpus > 0 {
			pk.plans = append(pk.plans, planned{offer: p.oi, count: full, free: f, create: ci})
		}
	}
	if part > 0 {
		pk.plans = append(pk.plans, planned{offer: p.oi, count: 1, free: o.Size.Minus(g.need.times(part)), create: ci})
	}
	return jobs
}

func (pk *packer) unmet(g *group, jobs int, why Reason) {
	pk.out.unmet = append(pk.out.unmet, Unmet{Demand: g.d.Key, Jobs: jobs, Reason: why})
}

// stuck says why none of g's eligible offers has room.
func stuck(cat *catalog, led *ledger, g *group) []Block {
	var why []Block
	for _, oi := range g.elig {
		if fit(cat.offers[oi].Size, g.need) == 0 {
			continue
		}
		if _, lim, bind := led.room(oi); lim != LimitNone {
			why = addBlock(why, led.block(oi, lim, bind))
		}
	}
	return why
}
