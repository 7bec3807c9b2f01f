package scale

import (
	"cmp"
	"slices"
	"time"
)

// QuietGrace is how long a node must have been idle before it is retired
// early because nothing is arriving (see the package documentation): long
// enough for DAGMan to see a job end and submit the next (it reads the job
// log every 5 s) and for that job to be matched; with lib/provision's
// IdleSince (the cycle it first saw the node idle) it means "seen idle in two
// cycles".
const QuietGrace = 30 * time.Second

// idle is what the retiring step looks at.
type idle struct {
	now         time.Time
	k           Knobs
	lastArrival time.Time
	cat         *catalog
	nodes       []Node
	gone        []bool
	bins        []bin
	used        []bool // per bin: demand or the headroom step uses it
	groups      []group
}

// retireIdle drains idle nodes that have been idle long enough, are old
// enough, and that no waiting job could use, keeping Min nodes that are not
// retiring and Spare unused ones: the longest idle first, at equal idle
// time the dearer.
func retireIdle(in idle) []act {
	type cand struct {
		node  int
		since time.Time
		cost  float64
	}
	byOffer := make([][]int, len(in.cat.offers)) // groups eligible per offer
	for gi, g := range in.groups {
		for _, oi := range g.elig {
			byOffer[oi] = append(byOffer[oi], gi)
		}
	}
	var cands []cand
	for bi, b := range in.bins {
		since, ok := in.retirable(b, byOffer)
		if !ok || in.used[bi] {
			continue
		}
		c := cand{node: b.node, since: since}
		if b.offer >= 0 {
			c.cost = in.cat.offers[b.offer].Cost
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil
	}
	k := in.k
	allow := min(len(cands), serving(in.nodes, in.gone)-k.Min, spare(in.bins, in.used, in.gone)-k.Spare)
	if allow <= 0 {
		return nil
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		return cmp.Or(a.since.Compare(b.since), cmp.Compare(b.cost, a.cost))
	})
	drains := make([]act, allow)
	for i, c := range cands[:allow] {
		idle := in.now.Sub(c.since)
		drains[i] = act{c.node, Reason{Kind: DrainIdle, For: dur(idle), Knob: k.IdleBeforeRetire, Min: k.Min, Spare: k.Spare}}
		if idle < k.IdleBeforeRetire {
			drains[i].why.Kind, drains[i].why.Quiet = DrainNothingArriving, dur(in.now.Sub(in.lastArrival))
		}
	}
	return drains
}

// retirable says an idle node of bin b may retire, and since when it is
// idle: idle at least IdleBeforeRetire, or QuietGrace (at most
// IdleBeforeRetire) when nothing is arriving; at least MinLifetime old; and
// no waiting group eligible for its offer (byOffer) has a job that fits it.
func (in *idle) retirable(b bin, byOffer [][]int) (time.Time, bool) {
	if b.kind != 1 || in.gone[b.node] {
		return time.Time{}, false
	}
	n, k := in.nodes[b.node], in.k
	since := n.IdleSince
	if since.IsZero() {
		since = n.StateSince
	}
	// Nothing arriving: no demand now, and none reported and no job started
	// for IdleBeforeRetire. The timer keeps idle nodes for jobs that may
	// come; when none came for that long, it is not worth waiting out, past
	// a short grace for the next step of a workflow (DAGMan submits a child
	// job seconds after its parent ends, on a node that just fell idle).
	quiet := len(in.groups) == 0 && !in.lastArrival.IsZero() && in.now.Sub(in.lastArrival) >= k.IdleBeforeRetire
	grace := min(k.IdleBeforeRetire, QuietGrace)
	if idle := in.now.Sub(since); (idle < k.IdleBeforeRetire && !(quiet && idle >= grace)) || in.now.Sub(n.Created) < k.MinLifetime {
		return time.Time{}, false
	}
	if b.offer >= 0 {
		for _, gi := range byOffer[b.offer] {
			if fit(n.Free, in.groups[gi].need) > 0 {
				return time.Time{}, false // a waiting job could use it
			}
		}
	}
	return since, true
}
