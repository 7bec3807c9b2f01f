package scale

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Decide returns what to do this cycle. It is pure: the same Input always
// gives the same Decision, whatever the order of the slices in it. See the
// package documentation for the rules.
func Decide(in Input) Decision {
	p := newPlanner(in)
	p.lifecycle()
	p.capacity()
	p.packDemand()
	p.rebalance()
	p.keepMin()
	p.keepSpare()
	p.retireIdle()
	return p.finish()
}

const unlimited = math.MaxInt32

// QuietGrace is how long a node must have been idle before it is retired
// early because nothing is arriving (see the package documentation): long
// enough for DAGMan to see a job end and submit the next (it reads the job
// log every 5 s) and for that job to be matched; with lib/provision's
// IdleSince (the cycle it first saw the node idle) it means "seen idle in two
// cycles".
const QuietGrace = 30 * time.Second

// DefaultUnmatchedAfter is Knobs.UnmatchedAfter when that is zero: two
// negotiation cycles at HTCondor's default NEGOTIATOR_INTERVAL (60 s) and a
// minute's grace for the schedd to claim the slot. A job that has not been
// matched to an idle worker in that time will not be matched to more of
// them.
const DefaultUnmatchedAfter = 3 * time.Minute

// UnmatchedAfter is the effective Knobs.UnmatchedAfter: 0 when the rule is
// off.
func UnmatchedAfter(k Knobs) time.Duration {
	switch {
	case k.UnmatchedAfter < 0:
		return 0
	case k.UnmatchedAfter == 0:
		return DefaultUnmatchedAfter
	}
	return k.UnmatchedAfter
}

type offer struct {
	Offer
	region int // index into planner.regions; -1 for a phantom
	// phantom: the offer of existing nodes that no region offers this
	// cycle. Its nodes' capacity is usable by demand that lists it; nothing
	// new is created from it.
	phantom bool
	cloud   int // index into planner.clouds
	vcpus   int // counted against the cores quota
	ramMB   int // counted against the ram quota
	weight  int
}

type region struct {
	loc     cloud.Location
	limits  *cloud.Limits
	backoff bool
	until   time.Time
	why     string
	// planned this cycle, on top of limits.Used*
	inst, cores, ram int
}

type cloudState struct {
	name    string
	maxVMs  int
	live    int
	exists  int // servers the cloud lists (or was just asked for), any state
	planned int
	// out counts the existing servers that are not live, by state, for
	// reasons
	out map[NodeState]int
}

// group is one demand group being placed.
type group struct {
	d      Demand
	need   Resources
	elig   []int // offer indices, sorted, unique
	unknwn []OfferKey
	placed int
	// starved jobs got no VM because an instance quota is full, in the
	// regions listed (indices into planner.regions); or, once the oldest
	// has waited rebalanceAfter, because max is reached (starvedMax) or
	// the max_vms of the clouds listed (indices into planner.clouds)
	starved    int
	starvedIn  []int
	starvedMax bool
	starvedCap []int
	fits       bool // some eligible offer holds at least one job
	offered    bool // some eligible offer is offered this cycle
	// refused are the eligible offers taken out because these jobs sat
	// unmatched beside idle real workers of them for UnmatchedAfter
	refused []Unmatched
}

// bin is the unclaimed capacity of one existing node.
type bin struct {
	node  int // index into planner.nodes
	offer int // -1 when the node's offer is not configured
	free  Resources
	kind  int // 0 busy, 1 idle, 2 requested/booting
	used  bool
}

// planned is a class of identical VMs created this cycle: count VMs of one
// offer, each with free left over. Classes keep the packing per group
// instead of per job or per VM.
type planned struct {
	offer  int
	count  int
	free   Resources
	create int // index into decision.Creates
}

type planner struct {
	in      Input
	k       Knobs
	nodes   []Node
	gone    []bool // deleted or drained this cycle: not capacity any more
	deleted []bool // deleted this cycle: not live any more

	offers    []offer
	offerIdx  map[OfferKey]int
	regionIdx map[cloud.Location]int // index into regions
	byPref    []int                  // offer indices, cheapest first (min)
	bySize    []int                  // offer indices, largest first, GPU flavors last (spare)
	regions   []region
	clouds    []cloudState
	cloudIdx  map[string]int

	live int // live nodes (not deleting/failed/drained, not deleted now)
	// exists counts every node in the input, whatever its state: a server
	// costs and holds quota until the cloud stops listing it, so Max and
	// MaxVMs count it (a delete that keeps failing must not let new VMs
	// pile up beside it).
	exists  int
	out     map[NodeState]int // existing nodes that are not live, by state
	booting int               // requested or booting, not deleted now
	created int               // VMs created this cycle

	groups  []group
	bins    []bin
	plans   []planned
	serves  [][]string // per create
	minMade int        // VMs created for min this cycle

	d Decision
}

func newPlanner(in Input) *planner {
	p := &planner{in: in, k: clean(in.Knobs), offerIdx: map[OfferKey]int{}, regionIdx: map[cloud.Location]int{}, cloudIdx: map[string]int{}}

	clouds := slices.Clone(in.Clouds)
	slices.SortStableFunc(clouds, func(a, b Cloud) int { return strings.Compare(a.Name, b.Name) })
	cloudOf := func(name string) int {
		if i, ok := p.cloudIdx[name]; ok {
			return i
		}
		c := cloudState{name: name}
		for _, cc := range clouds {
			if cc.Name == name {
				c.maxVMs = max(cc.MaxVMs, 0)
				break
			}
		}
		p.clouds = append(p.clouds, c)
		p.cloudIdx[name] = len(p.clouds) - 1
		return len(p.clouds) - 1
	}
	weightOf := func(name string) int {
		for _, cc := range clouds {
			if cc.Name == name {
				return cc.Weight
			}
		}
		return 0
	}

	regs := slices.Clone(in.Regions)
	slices.SortStableFunc(regs, func(a, b Region) int { return cmpLoc(a.Loc, b.Loc) })
	for _, r := range regs {
		if len(p.regions) > 0 && p.regions[len(p.regions)-1].loc == r.Loc {
			continue // a region listed twice: the first wins
		}
		rs := region{loc: r.Loc, until: r.BackoffUntil, why: r.BackoffReason}
		if r.Limits != nil {
			l := *r.Limits
			rs.limits = &l
		}
		rs.backoff = r.BackoffUntil.After(in.Now)
		p.regions = append(p.regions, rs)
		ri := len(p.regions) - 1
		p.regionIdx[r.Loc] = ri
		ci := cloudOf(r.Loc.Cloud)
		w := weightOf(r.Loc.Cloud)
		for _, o := range r.Offers {
			o.Loc = r.Loc // an offer belongs to the region that lists it
			if _, dup := p.offerIdx[o.OfferKey]; dup {
				continue
			}
			of := offer{Offer: o, region: ri, cloud: ci, vcpus: o.VCPUs, ramMB: o.RAMMB, weight: w}
			if of.vcpus <= 0 {
				of.vcpus = o.Size.Cpus
			}
			if of.ramMB <= 0 {
				of.ramMB = o.Size.MemoryMB
			}
			p.offers = append(p.offers, of)
			p.offerIdx[o.OfferKey] = len(p.offers) - 1
		}
	}
	p.nodes = slices.Clone(in.Nodes)
	slices.SortStableFunc(p.nodes, func(a, b Node) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)) })
	p.gone = make([]bool, len(p.nodes))
	p.deleted = make([]bool, len(p.nodes))
	for _, n := range p.nodes {
		ci := cloudOf(n.Offer.Loc.Cloud)
		if _, ok := p.offerIdx[n.Offer]; !ok {
			p.offers = append(p.offers, offer{Offer: Offer{OfferKey: n.Offer}, region: -1, cloud: ci, phantom: true})
			p.offerIdx[n.Offer] = len(p.offers) - 1
		}
	}

	// Offer indices follow key order, so everything derived from them is
	// independent of the input's order.
	slices.SortFunc(p.offers, func(a, b offer) int { return cmpKey(a.OfferKey, b.OfferKey) })
	for i, o := range p.offers {
		p.offerIdx[o.OfferKey] = i
		if !o.phantom {
			p.byPref = append(p.byPref, i)
		}
	}
	slices.SortStableFunc(p.byPref, func(a, b int) int {
		oa, ob := &p.offers[a], &p.offers[b]
		return cmp.Or(cmp.Compare(oa.Cost, ob.Cost), cmp.Compare(ob.weight, oa.weight), cmpKey(oa.OfferKey, ob.OfferKey))
	})
	p.bySize = slices.Clone(p.byPref)
	slices.SortStableFunc(p.bySize, func(a, b int) int {
		sa, sb := p.offers[a].Size, p.offers[b].Size
		return cmp.Or(cmp.Compare(min(sa.GPUs, 1), min(sb.GPUs, 1)), cmp.Compare(sb.Cpus, sa.Cpus), cmp.Compare(sb.MemoryMB, sa.MemoryMB))
	})
	return p
}

// clean turns negative knobs into zero (no limit / disabled).
func clean(k Knobs) Knobs {
	for _, v := range []*int{&k.Min, &k.Max, &k.Spare, &k.MaxBooting, &k.MaxCreatesPerCycle} {
		*v = max(*v, 0)
	}
	for _, v := range []*time.Duration{&k.IdleBeforeRetire, &k.MinLifetime, &k.MaxLifetime, &k.BootTimeout, &k.DrainTimeout, &k.DeleteTimeout} {
		*v = max(*v, 0)
	}
	return k
}

func cmpLoc(a, b cloud.Location) int {
	return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region))
}

func cmpKey(a, b OfferKey) int {
	return cmp.Or(cmpLoc(a.Loc, b.Loc), strings.Compare(a.Flavor, b.Flavor))
}

func (p *planner) isLive(s NodeState) bool {
	switch s {
	case Deleting, Failed, Drained:
		return false
	}
	return true
}

// lifecycle decides deletes and max-lifetime drains, then counts what is
// left alive.
func (p *planner) lifecycle() {
	now, k := p.in.Now, p.k
	for i, n := range p.nodes {
		in := now.Sub(n.StateSince)
		switch n.State {
		case Failed:
			p.del(i, Reason{Kind: DeleteFailed, Text: n.Fault})
		case Requested, Booting:
			if k.BootTimeout > 0 && in >= k.BootTimeout && !p.jobsThere(n) {
				p.del(i, Reason{Kind: DeleteNeverJoined, Knob: k.BootTimeout, State: n.State, For: dur(in)})
			}
		case Drained:
			switch {
			case n.Running > 0:
				p.note(Reason{Kind: NoteDrainedRunning, Node: n.Name, Running: n.Running})
			case p.jobsThere(n):
			case n.AdVanished && n.RetireAsked:
				p.del(i, Reason{Kind: DeleteVanishedRetired})
			case n.AdVanished:
				if why, ok := p.vanishedMayGo(n); ok {
					p.del(i, why)
				} else {
					p.note(Reason{Kind: NoteVanishedKept, Node: n.Name})
				}
			default:
				p.del(i, Reason{Kind: DeleteDrained})
			}
		case Deleting:
			if k.DeleteTimeout > 0 {
				att := max(n.Attempts, 1)
				if due := deleteDue(k.DeleteTimeout, att); in >= due {
					p.del(i, Reason{Kind: DeleteRetry, For: dur(in), Attempt: att + 1})
				}
			}
		case Retiring:
			if k.DrainTimeout > 0 && in >= k.DrainTimeout {
				if n.Running > 0 {
					p.note(Reason{Kind: NoteRetiringRunning, Node: n.Name, For: dur(in), Knob: k.DrainTimeout, Running: n.Running})
				} else if !p.jobsThere(n) {
					p.del(i, Reason{Kind: DeleteDrainTimeout, For: dur(in), Knob: k.DrainTimeout})
				}
			}
		case Idle, Busy:
			if age := now.Sub(n.Created); k.MaxLifetime > 0 && age >= k.MaxLifetime {
				p.drain(i, Reason{Kind: DrainMaxLifetime, Knob: k.MaxLifetime, For: dur(age)})
			} else if !n.TokenExpires.IsZero() && !now.Before(n.TokenExpires.Add(-k.DrainTimeout)) {
				p.drain(i, Reason{Kind: DrainTokenExpiry, At: n.TokenExpires, Knob: k.DrainTimeout})
			}
		}
	}
	p.out = map[NodeState]int{}
	for i, n := range p.nodes {
		c := &p.clouds[p.cloudIdx[n.Offer.Loc.Cloud]]
		p.exists++
		c.exists++
		// a node drained now for max lifetime is retiring: still live; so
		// is one whose ads vanished but that is kept (it may well run on,
		// its ads withdrawn by another worker): no replacement is booted
		// beside it
		if (p.isLive(n.State) || n.State == Drained && n.AdVanished) && !p.deleted[i] {
			p.live++
			c.live++
		} else {
			s := n.State
			if p.deleted[i] {
				s = Deleting // the delete is sent now; it exists until the cloud drops it
			}
			p.out[s]++
			if c.out == nil {
				c.out = map[NodeState]int{}
			}
			c.out[s]++
		}
		if (n.State == Requested || n.State == Booting) && !p.deleted[i] {
			p.booting++
		}
	}
}

// jobsThere says a node must be kept because a schedd says a job runs on
// it, or because its startd ad vanished and the schedds could not all be
// asked; it notes why. The startd's own ad can be gone (its token expired,
// the ad was invalidated) while its job runs on: deleting the VM would kill
// the job.
func (p *planner) jobsThere(n Node) bool {
	r := Reason{Node: n.Name, Vanished: n.AdVanished}
	if !n.AdVanished {
		r.State = n.State
	}
	switch {
	case len(n.ScheddJobs) > 0:
		r.Kind, r.ScheddJobs = NoteScheddJobs, slices.Clone(n.ScheddJobs)
		slices.Sort(r.ScheddJobs)
		p.note(r)
		return true
	case n.AdVanished && p.in.ScheddJobsUnknown != "":
		r.Kind, r.Text = NoteScheddsUnknown, p.in.ScheddJobsUnknown
		p.note(r)
		return true
	}
	return false
}

// vanishedMayGo says why a node whose ads vanished without being asked to
// retire may be deleted: its token expired (it can no longer speak to the
// pool) or it reached its maximum lifetime; false while neither. An absent
// ad alone is no reason: any worker's token can withdraw another VM's ads.
func (p *planner) vanishedMayGo(n Node) (Reason, bool) {
	now, k := p.in.Now, p.k
	switch {
	case !n.TokenExpires.IsZero() && !now.Before(n.TokenExpires):
		return Reason{Kind: DeleteVanishedTokenExpired, At: n.TokenExpires}, true
	case k.MaxLifetime > 0 && now.Sub(n.Created) >= k.MaxLifetime:
		return Reason{Kind: DeleteVanishedMaxLifetime, Knob: k.MaxLifetime}, true
	}
	return Reason{}, false
}

// deleteDue is when, counted from entering Deleting, the next delete of a
// node that had att attempts is due: the gaps double from DeleteTimeout up
// to 8 × DeleteTimeout.
func deleteDue(t time.Duration, att int) time.Duration {
	if att <= 4 {
		return t * time.Duration(1<<att-1) // T, 3T, 7T, 15T
	}
	return 15*t + time.Duration(att-4)*8*t
}

func (p *planner) del(i int, why Reason) {
	n := p.nodes[i]
	p.gone[i], p.deleted[i] = true, true
	p.d.Deletes = append(p.d.Deletes, Action{Node: n.Name, ID: n.ID, Reason: why})
}

func (p *planner) drain(i int, why Reason) {
	n := p.nodes[i]
	p.gone[i] = true
	p.d.Drains = append(p.d.Drains, Action{Node: n.Name, ID: n.ID, Reason: why})
}

func (p *planner) note(r Reason) { p.d.Notes = append(p.d.Notes, r) }

// capacity turns the nodes still standing into bins and the demand into
// groups, largest first.
func (p *planner) capacity() {
	for i, n := range p.nodes {
		if p.gone[i] {
			continue
		}
		oi, ok := p.offerIdx[n.Offer]
		if !ok {
			oi = -1
		}
		b := bin{node: i, offer: oi}
		switch n.State {
		case Requested, Booting:
			b.kind = 2
			if oi >= 0 {
				b.free = p.offers[oi].Size
			}
		case Idle:
			b.kind, b.free = 1, n.Free
		case Busy:
			b.kind, b.free = 0, n.Free
		default:
			continue
		}
		p.bins = append(p.bins, b)
	}
	// Busy nodes first, so idle ones stay free to retire or to count as
	// spare; booting ones last, since joined ones run jobs sooner.
	slices.SortStableFunc(p.bins, func(a, b bin) int { return cmp.Compare(a.kind, b.kind) })

	for _, r := range p.regions {
		switch {
		case r.backoff:
			p.note(Reason{Kind: NoteBackoff, Blocks: []Block{{Limit: LimitBackoff, Loc: r.loc, Until: r.until, Why: r.why}}})
		case r.limits == nil:
			p.note(Reason{Kind: NoteQuotaUnknown, Blocks: []Block{{Limit: LimitQuotaUnknown, Loc: r.loc}}})
		}
	}

	for _, d := range p.in.Demand {
		if d.Idle <= 0 {
			continue
		}
		g := group{d: d, need: norm(d.Need)}
		refused := map[OfferKey]bool{}
		if after := UnmatchedAfter(p.in.Knobs); after > 0 {
			for _, u := range d.Unmatched {
				if p.in.Now.Sub(u.Since) >= after && slices.Contains(d.Eligible, u.Offer) && !refused[u.Offer] {
					refused[u.Offer] = true
					g.refused = append(g.refused, u)
				}
			}
		}
		slices.SortFunc(g.refused, func(a, b Unmatched) int { return cmpKey(a.Offer, b.Offer) })
		for _, k := range d.Eligible {
			if refused[k] {
				continue // not demand for that flavor any more
			}
			oi, ok := p.offerIdx[k]
			if ok {
				g.elig = append(g.elig, oi) // phantoms too: their nodes may serve
			}
			switch {
			case !ok || p.offers[oi].phantom:
				g.unknwn = append(g.unknwn, k)
			case fit(p.offers[oi].Size, g.need) > 0:
				g.fits = true
				g.offered = true
			default:
				g.offered = true
			}
		}
		slices.Sort(g.elig)
		g.elig = slices.Compact(g.elig)
		p.groups = append(p.groups, g)
	}
	slices.SortFunc(p.groups, func(a, b group) int {
		x, y := a.need, b.need
		return cmp.Or(cmp.Compare(y.GPUs, x.GPUs), cmp.Compare(y.Cpus, x.Cpus), cmp.Compare(y.MemoryMB, x.MemoryMB),
			cmp.Compare(y.DiskMB, x.DiskMB), a.d.Oldest.Compare(b.d.Oldest), strings.Compare(a.d.Key, b.d.Key))
	})
}

// norm makes a job ask at least one cpu, as HTCondor does, and nothing
// negative.
func norm(r Resources) Resources {
	r.Cpus = max(r.Cpus, 1)
	r.MemoryMB, r.DiskMB, r.GPUs = max(r.MemoryMB, 0), max(r.DiskMB, 0), max(r.GPUs, 0)
	return r
}

// Holds says one job asking need fits in free, counted as the decision
// counts it (at least one cpu).
func (free Resources) Holds(need Resources) bool { return fit(free, norm(need)) >= 1 }

// fit is how many jobs of need fit in free (need.Cpus ≥ 1).
func fit(free, need Resources) int {
	n := max(free.Cpus, 0) / need.Cpus
	if need.MemoryMB > 0 {
		n = min(n, max(free.MemoryMB, 0)/need.MemoryMB)
	}
	if need.DiskMB > 0 {
		n = min(n, max(free.DiskMB, 0)/need.DiskMB)
	}
	if need.GPUs > 0 {
		n = min(n, max(free.GPUs, 0)/need.GPUs)
	}
	return n
}

func sub(r, need Resources, n int) Resources {
	return Resources{Cpus: r.Cpus - n*need.Cpus, MemoryMB: r.MemoryMB - n*need.MemoryMB, DiskMB: r.DiskMB - n*need.DiskMB, GPUs: r.GPUs - n*need.GPUs}
}

// room is how many more VMs of offer oi may be created now, and the limit
// that binds (LimitNone when nothing does).
func (p *planner) room(oi int) (int, Limit, string) {
	o := &p.offers[oi]
	if o.phantom {
		return 0, LimitNotOffered, ""
	}
	r := &p.regions[o.region]
	if r.backoff {
		return 0, LimitBackoff, ""
	}
	if r.limits == nil {
		return 0, LimitQuotaUnknown, ""
	}
	n, lim := p.globalRoom()
	bind := ""
	if c := &p.clouds[o.cloud]; c.maxVMs > 0 {
		if k := max(c.maxVMs-c.exists-c.planned, 0); k < n {
			n, lim = k, LimitCloudMax
		}
	}
	l := *r.limits
	l.UsedInstances += r.inst
	l.UsedCores += r.cores
	l.UsedRAMMB += r.ram
	if h, b := l.Headroom(cloud.Flavor{VCPUs: o.vcpus, RAMMB: o.ramMB}); h >= 0 && h < n {
		n, lim, bind = h, LimitQuota, b
	}
	return n, lim, bind
}

// globalRoom is how many more VMs the knobs shared by all clouds allow.
func (p *planner) globalRoom() (int, Limit) {
	n, lim := unlimited, LimitNone
	take := func(k int, l Limit) {
		if k < n {
			n, lim = max(k, 0), l
		}
	}
	if p.k.Max > 0 {
		take(p.k.Max-p.exists-p.created, LimitMax)
	}
	if p.k.MaxBooting > 0 {
		take(p.k.MaxBooting-p.booting-p.created, LimitMaxBooting)
	}
	if p.k.MaxCreatesPerCycle > 0 {
		take(p.k.MaxCreatesPerCycle-p.created, LimitPerCycle)
	}
	return n, lim
}

// block is the limit lim (bind: the quota resource) that leaves offer oi
// no room, with its figures.
func (p *planner) block(oi int, lim Limit, bind string) Block {
	o := &p.offers[oi]
	b := Block{Limit: lim}
	var r *region
	if o.region >= 0 {
		r = &p.regions[o.region]
	}
	k := p.k
	switch lim {
	case LimitNotOffered:
		b.Loc, b.Flavor = o.Loc, o.Flavor
	case LimitBackoff:
		b.Loc, b.Until, b.Why = r.loc, r.until, r.why
	case LimitQuotaUnknown:
		b.Loc = r.loc
	case LimitMax:
		b.Of, b.Exists, b.Out, b.Planned = k.Max, p.exists, p.out, p.created
	case LimitMaxBooting:
		b.Of, b.Booting, b.Planned = k.MaxBooting, p.booting, p.created
	case LimitPerCycle:
		b.Of = k.MaxCreatesPerCycle
	case LimitCloudMax:
		c := &p.clouds[o.cloud]
		b.Cloud, b.Of, b.Exists, b.Out, b.Planned = c.name, c.maxVMs, c.exists, c.out, c.planned
	case LimitQuota:
		l := r.limits
		b.Loc, b.Resource = r.loc, bind
		switch bind {
		case "instances":
			b.Used, b.Planned, b.Of = l.UsedInstances, r.inst, l.MaxInstances
		case "cores":
			b.Used, b.Planned, b.Of, b.Flavor, b.Needs = l.UsedCores, r.cores, l.MaxCores, o.Flavor, o.vcpus
		default:
			b.Resource = "ram"
			b.Used, b.Planned, b.Of, b.Flavor, b.Needs = l.UsedRAMMB, r.ram, l.MaxRAMMB, o.Flavor, o.ramMB
		}
	}
	return b
}

// create records n new VMs of offer oi.
func (p *planner) create(oi, n int, why Reason) int {
	o := &p.offers[oi]
	r := &p.regions[o.region]
	p.created += n
	p.clouds[o.cloud].planned += n
	r.inst += n
	r.cores += n * o.vcpus
	r.ram += n * o.ramMB
	p.d.Creates = append(p.d.Creates, Create{Offer: o.OfferKey, Count: n, Reason: why})
	p.serves = append(p.serves, nil)
	return len(p.d.Creates) - 1
}

// packDemand places each group, largest first: on existing capacity, then
// on VMs planned this cycle, then on new VMs.
func (p *planner) packDemand() {
	elig := make([]bool, len(p.offers))
	for gi := range p.groups {
		g := &p.groups[gi]
		if len(g.d.Eligible) == 0 {
			p.unmet(g, g.d.Idle, Reason{Kind: UnmetNoFlavor})
			continue
		}
		if len(g.refused) > 0 {
			beside := p.beside(g)
			if len(g.elig) == 0 {
				p.unmet(g, g.d.Idle, Reason{Kind: UnmetUnmatched, Beside: beside})
				continue
			}
			p.note(Reason{Kind: NoteUnmatched, Demand: g.d.Key, Beside: beside})
		}
		for _, oi := range g.elig {
			elig[oi] = true
		}
		rem := g.d.Idle
		need := g.need

		for bi := 0; bi < len(p.bins) && rem > 0; bi++ {
			b := &p.bins[bi]
			if b.offer < 0 || !elig[b.offer] {
				continue
			}
			if q := min(fit(b.free, need), rem); q > 0 {
				b.free = sub(b.free, need, q)
				b.used = true
				rem -= q
			}
		}

		for pi := 0; pi < len(p.plans) && rem > 0; pi++ {
			c := &p.plans[pi]
			if c.count == 0 || !elig[c.offer] {
				continue
			}
			q := fit(c.free, need)
			if q == 0 {
				continue
			}
			p.serves[c.create] = append(p.serves[c.create], g.d.Key)
			if c.count*q <= rem {
				rem -= c.count * q
				c.free = sub(c.free, need, q)
				continue
			}
			// Fill part of the class: full VMs, one partly filled, the rest
			// untouched.
			orig := *c
			full, part := rem/q, rem%q
			c.count, c.free = full, sub(orig.free, need, q)
			if part > 0 {
				p.plans = append(p.plans, planned{offer: orig.offer, count: 1, free: sub(orig.free, need, part), create: orig.create})
			}
			if left := orig.count - full - min(part, 1); left > 0 {
				p.plans = append(p.plans, planned{offer: orig.offer, count: left, free: orig.free, create: orig.create})
			}
			rem = 0
		}

		switch {
		case rem == 0:
		case !g.offered:
			p.unmet(g, rem, Reason{Kind: UnmetNotOffered, Offers: g.unknwn})
		case !g.fits:
			p.unmet(g, rem, Reason{Kind: UnmetTooLarge, Need: g.need})
		default:
			rem = p.open(g, rem)
		}
		for _, oi := range g.elig {
			elig[oi] = false
		}
		g.placed = g.d.Idle - rem
	}
}

// open creates new VMs for rem jobs of g and returns the jobs left. Each
// round takes, among the eligible offers with room, the one whose next VM
// serves jobs at the lowest cost per job (a VM that would be partly empty
// counts only the jobs left for it); at equal cost the one holding fewer jobs
// (a VM is paid for until its last job ends, so smaller VMs leave fewer free
// cores behind), then the higher cloud weight, the lower cost per VM, the
// offer's name. When the region's instance quota leaves that offer room for
// fewer jobs than are waiting, the offer holding more jobs per VM that serves
// the most of them is taken instead, so the instances allowed hold more. Full VMs are
// created for as many jobs as fill them; the remainder goes to the next
// round.
func (p *planner) open(g *group, rem int) int {
	need := g.need
	type cand struct {
		oi, per, take, serve, room int
		cost                       float64
		instQuota                  bool // room is bound by the region's instance quota
		atMax                      bool // room is bound by max, which all regions share, and the jobs waited long
		atCap                      bool // room is bound by the cloud's max_vms, and the jobs waited long
	}
	cheaper := func(a, b cand) int {
		oa, ob := &p.offers[a.oi], &p.offers[b.oi]
		return cmp.Or(cmpCost(a.cost, b.cost), cmp.Compare(ob.weight, oa.weight), cmp.Compare(a.take, b.take),
			cmp.Compare(oa.Cost, ob.Cost), cmpKey(oa.OfferKey, ob.OfferKey))
	}
	var roomy, noRoom []cand // reused by every round
	// Max caps VMs, not cores: once jobs have waited long for room under
	// it, each VM should carry as many of them as it can.
	longWait := p.in.Now.Sub(g.d.Oldest) >= p.rebalanceAfter()
	for rem > 0 {
		if n, lim := p.globalRoom(); n == 0 {
			// saves asking every offer when a shared knob binds
			p.unmet(g, rem, Reason{Kind: UnmetNoRoom, Blocks: []Block{p.block(g.elig[0], lim, "")}})
			if lim == LimitMax && longWait {
				g.starved, g.starvedMax = rem, true
			}
			return rem
		}
		top, best, most := cand{oi: -1}, cand{oi: -1}, cand{oi: -1}
		roomy, noRoom = roomy[:0], noRoom[:0]
		for _, oi := range g.elig {
			o := &p.offers[oi]
			per := fit(o.Size, need)
			if per == 0 || o.phantom {
				continue
			}
			c := cand{oi: oi, per: per, take: min(per, rem)}
			c.cost = o.Cost / float64(c.take)
			var lim Limit
			var bind string
			c.room, lim, bind = p.room(oi)
			c.instQuota = lim == LimitQuota && bind == "instances"
			c.atMax = lim == LimitMax && longWait
			c.atCap = lim == LimitCloudMax && longWait
			if top.oi < 0 || cheaper(c, top) < 0 {
				top = c
			}
			if c.room <= 0 {
				noRoom = append(noRoom, c)
				continue
			}
			c.serve = min(c.room*per, rem)
			roomy = append(roomy, c)
			if best.oi < 0 || cheaper(c, best) < 0 {
				best = c
			}
		}
		// Offers holding more jobs per VM than the cheapest, for when the
		// region's instance quota leaves the cheapest too few VMs, or max
		// does once the jobs have waited rebalanceAfter for room (max caps
		// VMs, and a pool held at max should serve as many jobs as it can;
		// before that, a burst's jobs get the cheapest fit). A cloud's
		// max_vms does the same after that wait unless other clouds have
		// room for the rest at the same cost per job. Not for the pace of
		// max_booting and max_creates_per_cycle, which the next cycles make
		// up for.
		capped := false
		switch {
		case best.oi < 0 || best.serve >= rem:
		case best.atMax: // max's room is shared by all regions: nowhere else to go
			capped = true
		case best.atCap:
			// Regions of one cloud share its max_vms: count each
			// other cloud once, by its roomiest alike offer.
			other := map[int]int{}
			for _, c := range roomy {
				if oc := p.offers[c.oi].cloud; oc != p.offers[best.oi].cloud && c.per == best.per && cmpCost(c.cost, best.cost) == 0 {
					other[oc] = max(other[oc], c.serve)
				}
			}
			alike := best.serve
			for _, n := range other {
				alike += n
			}
			capped = alike < rem
		case best.instQuota:
			// Other regions with the same offer at the same cost take
			// the rest in the next rounds: not capped while they can.
			alike := 0
			for _, c := range roomy {
				if c.per == best.per && cmpCost(c.cost, best.cost) == 0 {
					alike += c.serve
				}
			}
			capped = alike < rem
		}
		for _, c := range roomy {
			if capped && c.per > best.per && c.serve > best.serve &&
				(most.oi < 0 || cmp.Or(cmp.Compare(most.serve, c.serve), cheaper(c, most)) < 0) {
				most = c
			}
		}
		if best.oi < 0 {
			p.unmet(g, rem, Reason{Kind: UnmetNoRoom, Blocks: p.stuck(g)})
			for _, c := range noRoom {
				if r := p.offers[c.oi].region; c.instQuota && !slices.Contains(g.starvedIn, r) {
					g.starvedIn = append(g.starvedIn, r)
				}
				if oc := p.offers[c.oi].cloud; c.atCap && !slices.Contains(g.starvedCap, oc) {
					g.starvedCap = append(g.starvedCap, oc)
				}
			}
			if len(g.starvedIn) > 0 || len(g.starvedCap) > 0 {
				g.starved = rem
			}
			return rem
		}
		how := &Choice{Pick: PickCheapest}
		switch {
		case most.oi >= 0:
			_, lim, bind := p.room(best.oi)
			how = &Choice{Pick: PickServesMost, Other: p.offers[best.oi].OfferKey, Serve: best.serve, Block: p.block(best.oi, lim, bind)}
			best = most
		case best.oi != top.oi:
			_, lim, bind := p.room(top.oi)
			how = &Choice{Pick: PickCheapestWithRoom, Other: p.offers[top.oi].OfferKey, Block: p.block(top.oi, lim, bind)}
		}
		o := &p.offers[best.oi]
		n, jobs := 1, rem // one partly filled VM for the last jobs
		if best.per <= rem {
			n = min(rem/best.per, best.room)
			jobs = n * best.per
		}
		ci := p.create(best.oi, n, Reason{Kind: CreateForDemand, Jobs: jobs, Need: need, Demand: g.d.Key, Count: n, Offer: o.OfferKey, PerVM: best.per, Choice: how})
		p.serves[ci] = append(p.serves[ci], g.d.Key)
		full, part := jobs/best.per, jobs%best.per
		if full > 0 {
			if f := sub(o.Size, need, best.per); f.Cpus > 0 {
				p.plans = append(p.plans, planned{offer: best.oi, count: full, free: f, create: ci})
			}
		}
		if part > 0 {
			p.plans = append(p.plans, planned{offer: best.oi, count: 1, free: sub(o.Size, need, part), create: ci})
		}
		rem -= jobs
	}
	return 0
}

// cmpCost compares costs per job, taking values within one part in a
// billion as equal, so that 6/4 and 1.5 tie however they were computed.
func cmpCost(a, b float64) int {
	if math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b)) {
		return 0
	}
	return cmp.Compare(a, b)
}

// stuck says why none of g's eligible offers has room.
func (p *planner) stuck(g *group) []Block {
	var why []Block
	for _, oi := range g.elig {
		if fit(p.offers[oi].Size, g.need) == 0 {
			continue
		}
		if _, lim, bind := p.room(oi); lim != LimitNone {
			why = addBlock(why, p.block(oi, lim, bind))
		}
	}
	return why
}

// addBlock adds b to bs unless it reads the same as one there.
func addBlock(bs []Block, b Block) []Block {
	w := b.String()
	for _, x := range bs {
		if x.String() == w {
			return bs
		}
	}
	return append(bs, b)
}

// beside says which offers g's jobs sat unmatched beside, and how long.
func (p *planner) beside(g *group) []Beside {
	on := make([]Beside, len(g.refused))
	for i, u := range g.refused {
		on[i] = Beside{Offer: u.Offer, For: dur(p.in.Now.Sub(u.Since))}
	}
	return on
}

func (p *planner) unmet(g *group, jobs int, why Reason) {
	p.d.Unmet = append(p.d.Unmet, Unmet{Demand: g.d.Key, Jobs: jobs, Reason: why})
}

// fill creates up to want VMs of the offers in order with room, for min or
// spare, each for why (with its Count and Offer set), and returns how many
// it created and the limits that stopped the rest.
func (p *planner) fill(order []int, want int, why Reason) (int, []Block) {
	made := 0
	var stop []Block
	for _, oi := range order {
		if made == want {
			break
		}
		if n, lim := p.globalRoom(); n == 0 {
			stop = []Block{p.block(oi, lim, "")}
			break
		}
		room, lim, bind := p.room(oi)
		if room <= 0 {
			stop = addBlock(stop, p.block(oi, lim, bind))
			continue
		}
		n := min(room, want-made)
		why.Count, why.Offer = n, p.offers[oi].OfferKey
		p.create(oi, n, why)
		made += n
	}
	return made, stop
}

// keepMin creates the cheapest VMs while fewer than Min are live.
func (p *planner) keepMin() {
	want := p.k.Min - p.live - p.created
	if want <= 0 {
		return
	}
	made, stop := p.fill(p.byPref, want, Reason{Kind: CreateForMin, Min: p.k.Min, Live: p.live, Planned: p.created})
	p.minMade = made
	if made < want {
		p.note(Reason{Kind: NoteMinShort, Min: p.k.Min, Wanted: want - made, Blocks: stop})
	}
}

// rebalanceAfter is how long jobs wait for room under a full instance quota,
// max or a cloud's max_vms before nodes are drained for them (and, under max
// or max_vms, packed denser): BootTimeout, or 15 minutes when that is off.
func (p *planner) rebalanceAfter() time.Duration {
	if p.k.BootTimeout > 0 {
		return p.k.BootTimeout
	}
	return 15 * time.Minute
}

// rebalance frees instances for demand an instance quota starves. When
// jobs have waited at least the boot timeout (15 minutes when it is off) and
// got no VM because a region's instance quota is full, and that region's
// instances are held by idle or busy nodes whose flavor cannot run those
// jobs, enough of them are drained for the jobs (counting nodes already on
// their way out there): idle ones first, then those running the fewest jobs.
// A drain is peaceful: running jobs finish, and the freed instance goes to
// the starved jobs, placed before smaller ones. Demand starved under max or
// a cloud's max_vms gets room the same way (rebalanceCap).
func (p *planner) rebalance() {
	wait := p.rebalanceAfter()
	var order []int
	for gi := range p.groups {
		if p.groups[gi].starved > 0 {
			order = append(order, gi)
		}
	}
	if len(order) == 0 {
		return
	}
	slices.SortStableFunc(order, func(a, b int) int { return p.groups[a].d.Oldest.Compare(p.groups[b].d.Oldest) })
	freeing := make([]int, len(p.regions)) // instances on their way out, per region
	for i, n := range p.nodes {
		if r, ok := p.regionIdx[n.Offer.Loc]; ok && (p.gone[i] || n.State == Retiring || n.State == Drained || n.State == Deleting) {
			freeing[r]++
		}
	}
	serving := p.serving() // at least Min stay
	for _, gi := range order {
		g := &p.groups[gi]
		waited := p.in.Now.Sub(g.d.Oldest)
		if waited < wait {
			continue
		}
		if g.starvedMax {
			serving = p.rebalanceCap(g, waited, freeing, serving, nil)
			continue
		}
		if len(g.starvedCap) > 0 {
			slices.Sort(g.starvedCap)
			serving = p.rebalanceCap(g, waited, freeing, serving, g.starvedCap)
		}
		for _, r := range g.starvedIn {
			per := 0
			for _, oi := range g.elig {
				if o := &p.offers[oi]; o.region == r {
					per = max(per, fit(o.Size, g.need))
				}
			}
			want := (g.starved+per-1)/per - freeing[r]
			if want <= 0 {
				continue
			}
			misfits, _ := p.thinNodes(g, 1, func(n Node) bool { // 1: those that cannot run them
				ri, ok := p.regionIdx[n.Offer.Loc]
				return ok && ri == r
			})
			l := p.regions[r].limits
			full := []Block{{Limit: LimitQuota, Loc: p.regions[r].loc, Resource: "instances", Used: l.UsedInstances, Of: l.MaxInstances}}
			for _, i := range misfits[:min(want, len(misfits), max(serving-p.k.Min, 0))] {
				serving--
				p.drain(i, Reason{Kind: DrainFreesInstance, Jobs: g.starved, Need: g.need, Demand: g.d.Key, For: dur(waited), Offer: p.nodes[i].Offer, Blocks: full})
				freeing[r]++
			}
		}
	}
}

// rebalanceCap drains nodes for g, starved for waited under max (clouds
// nil) or under the max_vms of the clouds listed: nodes there that cannot
// run its jobs, or hold fewer of them per VM than the densest offer there (a
// VM of it would take their place under the cap); the fewest held first,
// then those running the fewest jobs. As many as the VMs the jobs need, plus
// any live nodes over the cap, minus the nodes there on their way out; never
// leaving fewer than Min serving. It returns serving less the nodes it
// drained.
func (p *planner) rebalanceCap(g *group, waited time.Duration, freeing []int, serving int, clouds []int) int {
	if serving <= p.k.Min {
		return serving
	}
	in := func(ci int) bool { return clouds == nil || slices.Contains(clouds, ci) }
	per, best := 0, -1
	for _, oi := range g.elig {
		if o := &p.offers[oi]; !o.phantom && in(o.cloud) && fit(o.Size, g.need) > per {
			per, best = fit(o.Size, g.need), oi
		}
	}
	if per == 0 {
		return serving
	}
	out := 0
	for r, n := range freeing {
		if in(p.cloudIdx[p.regions[r].loc.Cloud]) {
			out += n
		}
	}
	// Room for the VMs the jobs need once the servers that exist are back
	// under the cap (those on their way out are counted in out).
	over := max(p.exists+p.created-p.k.Max, 0)
	if clouds != nil {
		over = 0
		for _, ci := range clouds {
			c := &p.clouds[ci]
			over += max(c.exists+c.planned-c.maxVMs, 0)
		}
	}
	want := (g.starved+per-1)/per + over - out
	if want <= 0 {
		return serving
	}
	caps := []Block{{Limit: LimitMax, Of: p.k.Max}}
	if clouds != nil {
		caps = make([]Block, len(clouds))
		for i, ci := range clouds {
			caps[i] = Block{Limit: LimitCloudMax, Cloud: p.clouds[ci].name, Of: p.clouds[ci].maxVMs}
		}
	}
	thin, holds := p.thinNodes(g, per, func(n Node) bool { return in(p.cloudIdx[n.Offer.Loc.Cloud]) })
	for _, i := range thin[:min(want, len(thin), max(serving-p.k.Min, 0))] {
		serving--
		p.drain(i, Reason{Kind: DrainMakesRoom, Jobs: g.starved, Need: g.need, Demand: g.d.Key, For: dur(waited),
			Offer: p.nodes[i].Offer, Holds: holds[i], Best: p.offers[best].Flavor, PerVM: per, Blocks: caps})
		if r, ok := p.regionIdx[p.nodes[i].Offer.Loc]; ok {
			freeing[r]++
		}
	}
	return serving
}

// thinNodes lists the idle or busy nodes, old enough for MinLifetime, that
// keep accepts and that hold fewer than per of g's jobs (0 when their flavor
// cannot run them): the fewest held first, then the fewest running, then by
// name; with what each holds.
func (p *planner) thinNodes(g *group, per int, keep func(Node) bool) ([]int, map[int]int) {
	holds := map[int]int{}
	var thin []int
	for i, n := range p.nodes {
		if p.gone[i] || (n.State != Idle && n.State != Busy) || p.in.Now.Sub(n.Created) < p.k.MinLifetime || !keep(n) {
			continue
		}
		k := 0
		if oi, ok := p.offerIdx[n.Offer]; ok && slices.Contains(g.elig, oi) {
			k = fit(p.offers[oi].Size, g.need)
		}
		if k < per {
			holds[i] = k
			thin = append(thin, i)
		}
	}
	slices.SortStableFunc(thin, func(a, b int) int {
		return cmp.Or(cmp.Compare(holds[a], holds[b]), cmp.Compare(p.nodes[a].Running, p.nodes[b].Running), strings.Compare(p.nodes[a].Name, p.nodes[b].Name))
	})
	return thin, holds
}

// serving counts live nodes that are not retiring (nor drained or deleted
// by this decision so far).
func (p *planner) serving() int {
	n := 0
	for i, nd := range p.nodes {
		if !p.gone[i] && p.isLive(nd.State) && nd.State != Retiring {
			n++
		}
	}
	return n
}

// spare counts nodes that demand does not use: idle joined ones and
// requested or booting ones.
func (p *planner) spare() int {
	n := 0
	for _, b := range p.bins {
		if b.kind > 0 && !b.used && !p.gone[b.node] {
			n++
		}
	}
	return n
}

// keepSpare creates VMs of the largest offer (without GPUs, when there is
// one; at equal size the cheapest) while fewer than Spare nodes are unused by
// demand (VMs created for min count, since they will be idle). A spare node
// is there so the next job starts without a boot: it must be able to take
// whatever comes, which the cheapest flavor often cannot.
func (p *planner) keepSpare() {
	have := p.spare() + p.minMade
	want := p.k.Spare - have
	if want <= 0 {
		return
	}
	made, stop := p.fill(p.bySize, want, Reason{Kind: CreateForSpare, Spare: p.k.Spare, Have: have})
	if made < want {
		p.note(Reason{Kind: NoteSpareShort, Spare: p.k.Spare, Wanted: want - made, Blocks: stop})
	}
}

// retireIdle drains idle nodes that have been idle long enough, are old
// enough, and that no waiting job could use, keeping Min nodes that are not
// retiring and Spare unused ones.
func (p *planner) retireIdle() {
	now, k := p.in.Now, p.k
	byOffer := make([][]int, len(p.offers)) // groups eligible per offer
	for gi, g := range p.groups {
		for _, oi := range g.elig {
			byOffer[oi] = append(byOffer[oi], gi)
		}
	}
	type cand struct {
		node  int
		since time.Time
		cost  float64
	}
	// Nothing arriving: no demand now, and none reported and no job started
	// for IdleBeforeRetire. The timer keeps idle nodes for jobs that may
	// come; when none came for that long, it is not worth waiting out, past
	// a short grace for the next step of a workflow (DAGMan submits a child
	// job seconds after its parent ends, on a node that just fell idle).
	quiet := len(p.groups) == 0 && !p.in.LastArrival.IsZero() && now.Sub(p.in.LastArrival) >= k.IdleBeforeRetire
	grace := min(k.IdleBeforeRetire, QuietGrace)
	var cands []cand
	for _, b := range p.bins {
		if b.kind != 1 || p.gone[b.node] {
			continue
		}
		n := p.nodes[b.node]
		since := n.IdleSince
		if since.IsZero() {
			since = n.StateSince
		}
		if idle := now.Sub(since); (idle < k.IdleBeforeRetire && !(quiet && idle >= grace)) || now.Sub(n.Created) < k.MinLifetime {
			continue
		}
		wanted := false
		if b.offer >= 0 {
			for _, gi := range byOffer[b.offer] {
				g := &p.groups[gi]
				if fit(n.Free, g.need) > 0 {
					wanted = true
					break
				}
			}
		}
		if wanted {
			continue
		}
		c := cand{node: b.node, since: since}
		if b.offer >= 0 {
			c.cost = p.offers[b.offer].Cost
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return
	}
	serving := p.serving()
	spare := p.spare()
	allow := min(len(cands), serving-k.Min, spare-k.Spare)
	if allow <= 0 {
		return
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		return cmp.Or(a.since.Compare(b.since), cmp.Compare(b.cost, a.cost))
	})
	for _, c := range cands[:allow] {
		idle := now.Sub(c.since)
		if idle < k.IdleBeforeRetire {
			p.drain(c.node, Reason{Kind: DrainNothingArriving, For: dur(idle), Quiet: dur(now.Sub(p.in.LastArrival)), Knob: k.IdleBeforeRetire, Min: k.Min, Spare: k.Spare})
			continue
		}
		p.drain(c.node, Reason{Kind: DrainIdle, For: dur(idle), Knob: k.IdleBeforeRetire, Min: k.Min, Spare: k.Spare})
	}
}

func (p *planner) finish() Decision {
	for i := range p.d.Creates {
		s := p.serves[i]
		slices.Sort(s)
		p.d.Creates[i].Serves = slices.Compact(s)
	}
	byNode := func(a, b Action) int { return cmp.Or(strings.Compare(a.Node, b.Node), strings.Compare(a.ID, b.ID)) }
	slices.SortStableFunc(p.d.Drains, byNode)
	slices.SortStableFunc(p.d.Deletes, byNode)
	slices.SortStableFunc(p.d.Unmet, func(a, b Unmet) int {
		if c := strings.Compare(a.Demand, b.Demand); c != 0 {
			return c
		}
		return strings.Compare(a.Reason.String(), b.Reason.String())
	})
	p.d.Notes = sortNotes(p.d.Notes)
	return p.d
}

// sortNotes sorts notes by their text, rendering each once.
func sortNotes(notes []Reason) []Reason {
	type note struct {
		text string
		r    Reason
	}
	byText := make([]note, len(notes))
	for i, r := range notes {
		byText[i] = note{r.String(), r}
	}
	slices.SortStableFunc(byText, func(a, b note) int { return strings.Compare(a.text, b.text) })
	for i, n := range byText {
		notes[i] = n.r
	}
	return notes
}
