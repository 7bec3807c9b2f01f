package scale

import (
	"math"
	"slices"

	"github.com/ehos-project/ehos/lib/cloud"
)

const unlimited = math.MaxInt32

// ledger keeps the limits creates must fit: Max, MaxBooting,
// MaxCreatesPerCycle, each cloud's MaxVMs and each region's quota, counting
// the servers that exist and what this decision already planned. Room says
// how many more VMs of an offer fit and which limit binds; take books them.
type ledger struct {
	k       Knobs
	cat     *catalog
	n       counts
	created int   // VMs created this decision
	planned []int // per cloud
	// per region, on top of its quota's Used*
	inst, cores, ram []int
}

func newLedger(k Knobs, cat *catalog, n counts) *ledger {
	return &ledger{k: k, cat: cat, n: n, planned: make([]int, len(cat.clouds)),
		inst: make([]int, len(cat.regions)), cores: make([]int, len(cat.regions)), ram: make([]int, len(cat.regions))}
}

// room is how many more VMs of offer oi may be created now, the limit that
// binds (LimitNone when nothing does) and, for a quota, which resource.
func (l *ledger) room(oi int) (int, Limit, string) {
	o := &l.cat.offers[oi]
	if o.phantom {
		return 0, LimitNotOffered, ""
	}
	r := &l.cat.regions[o.region]
	if r.backoff {
		return 0, LimitBackoff, ""
	}
	if r.limits == nil {
		return 0, LimitQuotaUnknown, ""
	}
	n, lim := l.globalRoom()
	bind := ""
	if c := l.cat.clouds[o.cloud]; c.maxVMs > 0 {
		if k := max(c.maxVMs-l.n.cloudExists[o.cloud]-l.planned[o.cloud], 0); k < n {
			n, lim = k, LimitCloudMax
		}
	}
	q := *r.limits
	q.UsedInstances += l.inst[o.region]
	q.UsedCores += l.cores[o.region]
	q.UsedRAMMB += l.ram[o.region]
	if h, b := q.Headroom(cloud.Flavor{VCPUs: o.vcpus, RAMMB: o.ramMB}); h >= 0 && h < n {
		n, lim, bind = h, LimitQuota, b
	}
	return n, lim, bind
}

// globalRoom is how many more VMs the knobs shared by all clouds allow.
func (l *ledger) globalRoom() (int, Limit) {
	n, lim := unlimited, LimitNone
	take := func(k int, li Limit) {
		if k < n {
			n, lim = max(k, 0), li
		}
	}
	if l.k.Max > 0 {
		take(l.k.Max-l.n.exists-l.created, LimitMax)
	}
	if l.k.MaxBooting > 0 {
		take(l.k.MaxBooting-l.n.booting-l.created, LimitMaxBooting)
	}
	if l.k.MaxCreatesPerCycle > 0 {
		take(l.k.MaxCreatesPerCycle-l.created, LimitPerCycle)
	}
	return n, lim
}

// take books n new VMs of offer oi.
func (l *ledger) take(oi, n int) {
	o := &l.cat.offers[oi]
	l.created += n
	l.planned[o.cloud] += n
	l.inst[o.region] += n
	l.cores[o.region] += n * o.vcpus
	l.ram[o.region] += n * o.ramMB
}

// block is the limit lim (bind: the quota resource) that leaves offer oi
// no room, with its figures.
func (l *ledger) block(oi int, lim Limit, bind string) Block {
	o := &l.cat.offers[oi]
	b := Block{Limit: lim}
	switch lim {
	case LimitNotOffered:
		b.Loc, b.Flavor = o.Loc, o.Flavor
	case LimitBackoff:
		r := &l.cat.regions[o.region]
		b.Loc, b.Until, b.Why = r.loc, r.until, r.why
	case LimitQuotaUnknown:
		b.Loc = l.cat.regions[o.region].loc
	case LimitMax:
		b.Of, b.Exists, b.Out, b.Planned = l.k.Max, l.n.exists, l.n.out, l.created
	case LimitMaxBooting:
		b.Of, b.Booting, b.Planned = l.k.MaxBooting, l.n.booting, l.created
	case LimitPerCycle:
		b.Of = l.k.MaxCreatesPerCycle
	case LimitCloudMax:
		c := l.cat.clouds[o.cloud]
		b.Cloud, b.Of, b.Exists, b.Out, b.Planned = c.name, c.maxVMs, l.n.cloudExists[o.cloud], l.n.cloudOut[o.cloud], l.planned[o.cloud]
	case LimitQuota:
		b = l.quotaBlock(o, bind)
	}
	return b
}

func (l *ledger) quotaBlock(o *offer, bind string) Block {
	r := &l.cat.regions[o.region]
	q, ri := r.limits, o.region
	b := Block{Limit: LimitQuota, Loc: r.loc, Resource: bind}
	switch bind {
	case "instances":
		b.Used, b.Planned, b.Of = q.UsedInstances, l.inst[ri], q.MaxInstances
	case "cores":
		b.Used, b.Planned, b.Of, b.Flavor, b.Needs = q.UsedCores, l.cores[ri], q.MaxCores, o.Flavor, o.vcpus
	default:
		b.Resource = "ram"
		b.Used, b.Planned, b.Of, b.Flavor, b.Needs = q.UsedRAMMB, l.ram[ri], q.MaxRAMMB, o.Flavor, o.ramMB
	}
	return b
}

// addBlock adds b to bs unless it is there already.
func addBlock(bs []Block, b Block) []Block {
	if slices.Contains(bs, b) {
		return bs
	}
	return append(bs, b)
}
