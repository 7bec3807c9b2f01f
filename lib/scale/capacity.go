package scale

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// bin is the unclaimed capacity of one existing node.
type bin struct {
	node  int // index into the sorted nodes
	offer int // -1 when the node's offer is not known
	free  Resources
	kind  int // 0 busy, 1 idle, 2 requested/booting
}

// group is one demand group to place.
type group struct {
	d      Demand
	need   Resources
	elig   []int // offer indices, sorted, unique
	unknwn []OfferKey
	fits   bool // some eligible offer holds at least one job
	// offered: some eligible offer is offered this cycle
	offered bool
	// refused are the eligible offers taken out because these jobs sat
	// unmatched beside idle real workers of them for UnmatchedAfter
	refused []Unmatched
}

// bins is the capacity of the nodes still standing: busy first, so idle
// ones stay free to retire or to count as spare; booting ones last, since
// joined ones run jobs sooner.
func bins(nodes []Node, gone []bool, cat *catalog) []bin {
	bs := make([]bin, 0, len(nodes))
	for i, n := range nodes {
		if gone[i] {
			continue
		}
		b := bin{node: i, offer: cat.offerOf(n.Offer)}
		switch n.State {
		case Requested, Booting:
			b.kind = 2
			if b.offer >= 0 {
				b.free = cat.offers[b.offer].Size
			}
		case Idle:
			b.kind, b.free = 1, n.Free
		case Busy:
			b.kind, b.free = 0, n.Free
		default:
			continue
		}
		bs = append(bs, b)
	}
	slices.SortStableFunc(bs, func(a, b bin) int { return cmp.Compare(a.kind, b.kind) })
	return bs
}

// regionNotes say which regions get no VM this cycle, and why.
func regionNotes(cat *catalog) []Reason {
	var notes []Reason
	for _, r := range cat.regions {
		switch {
		case r.backoff:
			notes = append(notes, Reason{Kind: NoteBackoff, Blocks: []Block{{Limit: LimitBackoff, Loc: r.loc, Until: r.until, Why: r.why}}})
		case r.limits == nil:
			notes = append(notes, Reason{Kind: NoteQuotaUnknown, Blocks: []Block{{Limit: LimitQuotaUnknown, Loc: r.loc}}})
		}
	}
	return notes
}

// groups are the demand groups with idle jobs, largest first (GPUs, cpus,
// memory, disk; then oldest; then key), each with the offers it may use:
// those it is eligible for, less those its jobs sat unmatched beside for
// after (0: never).
func groups(demand []Demand, now time.Time, after time.Duration, cat *catalog) []group {
	var gs []group
	for _, d := range demand {
		if d.Idle > 0 {
			gs = append(gs, newGroup(d, now, after, cat))
		}
	}
	slices.SortFunc(gs, func(a, b group) int {
		return cmp.Or(CompareWidth(b.need, a.need), a.d.Oldest.Compare(b.d.Oldest), strings.Compare(a.d.Key, b.d.Key))
	})
	return gs
}

// CompareWidth orders jobs' needs by width, as demand is placed: GPUs,
// then cpus, memory, disk. It is above 0 when a is wider than b.
func CompareWidth(a, b Resources) int {
	return cmp.Or(cmp.Compare(a.GPUs, b.GPUs), cmp.Compare(a.Cpus, b.Cpus), cmp.Compare(a.MemoryMB, b.MemoryMB), cmp.Compare(a.DiskMB, b.DiskMB))
}

func newGroup(d Demand, now time.Time, after time.Duration, cat *catalog) group {
	g := group{d: d, need: norm(d.Need)}
	refused := map[OfferKey]bool{}
	if after > 0 {
		for _, u := range d.Unmatched {
			if now.Sub(u.Since) >= after && slices.Contains(d.Eligible, u.Offer) && !refused[u.Offer] {
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
		oi, ok := cat.offerIdx[k]
		if ok {
			g.elig = append(g.elig, oi) // phantoms too: their nodes may serve
		}
		switch {
		case !ok || cat.offers[oi].phantom:
			g.unknwn = append(g.unknwn, k)
		case fit(cat.offers[oi].Size, g.need) > 0:
			g.fits = true
			g.offered = true
		default:
			g.offered = true
		}
	}
	slices.Sort(g.elig)
	g.elig = slices.Compact(g.elig)
	return g
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

// Minus is what is left of r once o is taken; figures can go below zero.
func (r Resources) Minus(o Resources) Resources {
	return Resources{Cpus: r.Cpus - o.Cpus, MemoryMB: r.MemoryMB - o.MemoryMB, DiskMB: r.DiskMB - o.DiskMB, GPUs: r.GPUs - o.GPUs}
}

// times is what n jobs asking r each ask together.
func (r Resources) times(n int) Resources {
	return Resources{Cpus: n * r.Cpus, MemoryMB: n * r.MemoryMB, DiskMB: n * r.DiskMB, GPUs: n * r.GPUs}
}

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
