package scale

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// rebalanceAfter is how long jobs wait for room under a full instance quota,
// max or a cloud's max_vms before nodes are drained for them (and, under max
// or max_vms, packed denser): BootTimeout, or 15 minutes when that is off.
func rebalanceAfter(k Knobs) time.Duration {
	if k.BootTimeout > 0 {
		return k.BootTimeout
	}
	return 15 * time.Minute
}

// rebalancer is the rebalancing step's own working state.
type rebalancer struct {
	now     time.Time
	k       Knobs
	cat     *catalog
	led     *ledger
	nodes   []Node
	gone    []bool // grows with the drains made here
	freeing []int  // instances on their way out, per region
	serving int    // live nodes not retiring; at least Min stay
	drains  []act
}

// rebalance frees room for demand starved of it, oldest first, once its
// oldest job has waited rebalanceAfter. Under a full instance quota, idle
// or busy nodes of that region whose flavor cannot run those jobs are
// drained, enough for the jobs (counting nodes already on their way out
// there): idle ones first, then those running the fewest jobs. Under max or
// a cloud's max_vms, nodes that hold fewer of the jobs than the densest
// offer (rebalanceCap). A drain is peaceful: running jobs finish, and the
// freed room goes to the starved jobs, placed before smaller ones.
func rebalance(now time.Time, k Knobs, cat *catalog, nodes []Node, gone []bool, gs []group, starved []starve, led *ledger) []act {
	if len(starved) == 0 {
		return nil
	}
	order := slices.Clone(starved)
	slices.SortStableFunc(order, func(a, b starve) int { return gs[a.group].d.Oldest.Compare(gs[b.group].d.Oldest) })
	rb := &rebalancer{now: now, k: k, cat: cat, led: led, nodes: nodes, gone: slices.Clone(gone),
		freeing: make([]int, len(cat.regions)), serving: serving(nodes, gone)}
	for i, n := range nodes {
		if r, ok := cat.regionIdx[n.Offer.Loc]; ok && (gone[i] || n.State == Retiring || n.State == Drained || n.State == Deleting) {
			rb.freeing[r]++
		}
	}
	for _, s := range order {
		g := &gs[s.group]
		waited := now.Sub(g.d.Oldest)
		if waited < rebalanceAfter(k) {
			continue
		}
		if s.atMax {
			rb.cap(g, s.jobs, waited, nil)
			continue
		}
		if len(s.capped) > 0 {
			capped := slices.Clone(s.capped)
			slices.Sort(capped)
			rb.cap(g, s.jobs, waited, capped)
		}
		for _, r := range s.fullIn {
			rb.quota(g, s.jobs, waited, r)
		}
	}
	return rb.drains
}

// quota drains nodes of region r that cannot run g's jobs, for the VMs jobs
// of them need there.
func (rb *rebalancer) quota(g *group, jobs int, waited time.Duration, r int) {
	per := 0
	for _, oi := range g.elig {
		if o := &rb.cat.offers[oi]; o.region == r {
			per = max(per, fit(o.Size, g.need))
		}
	}
	want := (jobs+per-1)/per - rb.freeing[r]
	if want <= 0 {
		return
	}
	misfits, _ := rb.thinNodes(g, 1, func(n Node) bool { // 1: those that cannot run them
		ri, ok := rb.cat.regionIdx[n.Offer.Loc]
		return ok && ri == r
	})
	l := rb.cat.regions[r].limits
	full := []Block{{Limit: LimitQuota, Loc: rb.cat.regions[r].loc, Resource: "instances", Used: l.UsedInstances, Of: l.MaxInstances}}
	for _, i := range misfits[:min(want, len(misfits), max(rb.serving-rb.k.Min, 0))] {
		rb.drain(i, Reason{Kind: DrainFreesInstance, Jobs: jobs, Need: g.need, Demand: g.d.Key, For: dur(waited), Offer: rb.nodes[i].Offer, Blocks: full})
	}
}

// cap drains nodes for g's jobs, starved for waited under max (clouds nil)
// or under the max_vms of the clouds listed: nodes there that cannot run
// its jobs, or hold fewer of them per VM than the densest offer there (a
// VM of it would take their place under the cap); the fewest held first,
// then those running the fewest jobs. As many as the VMs the jobs need,
// plus any existing nodes over the cap, minus the nodes there on their way
// out; never leaving fewer than Min serving.
func (rb *rebalancer) cap(g *group, jobs int, waited time.Duration, clouds []int) {
	if rb.serving <= rb.k.Min {
		return
	}
	in := func(ci int) bool { return clouds == nil || slices.Contains(clouds, ci) }
	per, best := 0, -1
	for _, oi := range g.elig {
		if o := &rb.cat.offers[oi]; !o.phantom && in(o.cloud) && fit(o.Size, g.need) > per {
			per, best = fit(o.Size, g.need), oi
		}
	}
	if per == 0 {
		return
	}
	want := (jobs+per-1)/per + rb.over(clouds)
	for r, n := range rb.freeing {
		if in(rb.cat.cloudIdx[rb.cat.regions[r].loc.Cloud]) {
			want -= n
		}
	}
	if want <= 0 {
		return
	}
	caps := []Block{{Limit: LimitMax, Of: rb.k.Max}}
	if clouds != nil {
		caps = make([]Block, len(clouds))
		for i, ci := range clouds {
			caps[i] = Block{Limit: LimitCloudMax, Cloud: rb.cat.clouds[ci].name, Of: rb.cat.clouds[ci].maxVMs}
		}
	}
	thin, holds := rb.thinNodes(g, per, func(n Node) bool { return in(rb.cat.cloudIdx[n.Offer.Loc.Cloud]) })
	for _, i := range thin[:min(want, len(thin), max(rb.serving-rb.k.Min, 0))] {
		rb.drain(i, Reason{Kind: DrainMakesRoom, Jobs: jobs, Need: g.need, Demand: g.d.Key, For: dur(waited),
			Offer: rb.nodes[i].Offer, Holds: holds[i], Best: rb.cat.offers[best].Flavor, PerVM: per, Blocks: caps})
	}
}

// over is how many servers exist (or are planned) beyond max (clouds nil)
// or the max_vms of the clouds listed: room for new VMs comes only once
// they are back under it (those on their way out count in freeing).
func (rb *rebalancer) over(clouds []int) int {
	l := rb.led
	if clouds == nil {
		return max(l.n.exists+l.created-rb.k.Max, 0)
	}
	over := 0
	for _, ci := range clouds {
		over += max(l.n.cloudExists[ci]+l.planned[ci]-rb.cat.clouds[ci].maxVMs, 0)
	}
	return over
}

func (rb *rebalancer) drain(i int, why Reason) {
	rb.serving--
	rb.gone[i] = true
	rb.drains = append(rb.drains, act{i, why})
	if r, ok := rb.cat.regionIdx[rb.nodes[i].Offer.Loc]; ok {
		rb.freeing[r]++
	}
}

// thinNodes lists the idle or busy nodes, old enough for MinLifetime, that
// keep accepts and that hold fewer than per of g's jobs (0 when their flavor
// cannot run them): the fewest held first, then the fewest running, then by
// name; with what each holds.
func (rb *rebalancer) thinNodes(g *group, per int, keep func(Node) bool) ([]int, map[int]int) {
	holds := map[int]int{}
	var thin []int
	for i, n := range rb.nodes {
		if rb.gone[i] || (n.State != Idle && n.State != Busy) || rb.now.Sub(n.Created) < rb.k.MinLifetime || !keep(n) {
			continue
		}
		k := 0
		if oi, ok := rb.cat.offerIdx[n.Offer]; ok && slices.Contains(g.elig, oi) {
			k = fit(rb.cat.offers[oi].Size, g.need)
		}
		if k < per {
			holds[i] = k
			thin = append(thin, i)
		}
	}
	slices.SortStableFunc(thin, func(a, b int) int {
		return cmp.Or(cmp.Compare(holds[a], holds[b]), cmp.Compare(rb.nodes[a].Running, rb.nodes[b].Running), strings.Compare(rb.nodes[a].Name, rb.nodes[b].Name))
	})
	return thin, holds
}

// serving counts live nodes that are not retiring (nor drained or deleted
// by this decision so far).
func serving(nodes []Node, gone []bool) int {
	n := 0
	for i, nd := range nodes {
		if !gone[i] && isLive(nd.State) && nd.State != Retiring {
			n++
		}
	}
	return n
}
