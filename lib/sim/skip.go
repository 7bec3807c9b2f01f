package sim

import (
	"container/heap"
	"slices"
	"time"

	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/scale"
)

// skipper decides which policy cycles Run may leave out because nothing
// can change in them: the policy would see what it saw at its last cycle,
// that cycle did nothing, and none of its clocks runs out in between. A
// skipped cycle is still counted, sampled and charged the cloud calls it
// would have made; its outcome is known, so the policy's code is not run.
//
// A cycle at t is skipped when all of these hold:
//
//   - the last cycle that ran (at L) was at rest: no action, no error, no
//     follow-up cycle asked for (Provisioner), nothing created or deleted
//     (Baseline);
//   - no job was idle after it: waiting jobs make the provisioner note when
//     it last saw demand, which it does on every cycle;
//   - nothing the policy reads changed in (L, t]: no job submitted, started
//     (by negotiation or on a reused claim) or ended, no startd joined,
//     drained or left, no offer changed, no server created or deleted
//     (Pool.changes, Cloud.changes), and no server changed status on its
//     own: its boot ends (ActiveAt, ACTIVE or ERROR) and its startd joins
//     (ActiveAt + JoinDelay) are wake-ups;
//   - no wake-up of the policy's own clocks falls in (L, t].
//
// The provisioner's clocks (lib/provision and lib/scale as of this writing)
// all start at an instant of one of its cycles and run for a duration of
// its knobs or defaults. A node's clocks start when it was created, entered
// its state (a drain or delete sent) or was first seen idle: the report
// gives those instants, and each node's clocks (nodeClocks) from them are
// wake-ups as soon as the report shows them. The others start at the cycle
// itself (demand or a job start last seen, work last arriving, demand first
// found unmatched, flavors read, a worker last seen): each of cycleClocks
// from a cycle that may have started one (the world had changed since the
// cycle before, either of them acted, a node changed, flavors were read) is
// a wake-up. Back-offs end at the instant the report gives, and a cycle in
// back-off is never at rest; BackoffMax after its end a region's failures
// are forgotten, which is a wake-up too. A cycle that ran only because a wake-up came
// and found nothing to do starts no clock: its state is its predecessor's.
// TestSkipChangesNothing replays traces with and without skipping and
// demands identical results.
type skipper struct {
	off                     bool
	cycleClocks, nodeClocks []time.Duration
	k                       scale.Knobs
	backoffMax              time.Duration
	wakes                   timeHeap
	waking                  map[int64]bool // the instants in wakes (many clocks share one)
	// At the last cycle that ran: whether it was at rest, the world's
	// change count after it, its node states and back-offs.
	rest    bool
	changes int
	nodes   map[string]nodeState
	anchors []anchor // the instants ran took wake-ups from, this cycle
	// quietCalls is the cloud calls of the last cycle at rest, but for
	// flavor lists (their refresh is a wake-up): what a skipped cycle
	// would have called.
	quietCalls map[*Cloud]map[string]Calls
	before     map[*Cloud]map[string]Calls
}

// anchor is an instant a node's clocks of one kind start at.
type anchor struct {
	kind int
	t    time.Time
}

// nodeWakes is wakeAfter for a node's clocks, once per anchor and cycle:
// nodes that changed together share their instants.
func (sk *skipper) nodeWakes(a anchor, ds ...time.Duration) {
	if slices.Contains(sk.anchors, a) {
		return
	}
	sk.anchors = append(sk.anchors, a)
	sk.wakeAfter(a.t, ds...)
}

type nodeState struct {
	state                     scale.NodeState
	since, created, idleSince time.Time
}

// flavorRefresh is provision.Options.FlavorRefresh's default, which the
// simulator leaves in force: how often the provisioner lists flavors again.
const flavorRefresh = 10 * time.Minute

func newSkipper(cfg *config.Config, off bool) *skipper {
	k := Knobs(cfg)
	s := cfg.Scaling
	orphan := s.OrphanGrace
	if orphan <= 0 {
		orphan = 10 * time.Minute // provision.New's default
	}
	// provision.New's defaults and rule
	initial := s.BackoffInitial
	if initial <= 0 {
		initial = 30 * time.Second
	}
	backoffMax := s.BackoffMax
	if backoffMax < initial {
		backoffMax = 30 * initial
	}
	sk := &skipper{off: off, k: k, backoffMax: backoffMax, nodes: map[string]nodeState{}, waking: map[int64]bool{}, quietCalls: map[*Cloud]map[string]Calls{}, before: map[*Cloud]map[string]Calls{}}
	positive := func(ds ...time.Duration) []time.Duration {
		var out []time.Duration
		for _, d := range ds {
			if d > 0 {
				out = append(out, d)
			}
		}
		return out
	}
	grace := min(k.IdleBeforeRetire, scale.QuietGrace)
	// rebalance: waits of BootTimeout, or 15 minutes when that is off.
	sk.cycleClocks = positive(k.IdleBeforeRetire, grace, scale.UnmatchedAfter(k), orphan, flavorRefresh,
		k.BootTimeout, 15*time.Minute, s.Cycle/2)
	sk.nodeClocks = positive(k.IdleBeforeRetire, grace, k.BootTimeout, k.DrainTimeout, orphan, s.Cycle/2,
		k.DeleteTimeout, 3*k.DeleteTimeout, 7*k.DeleteTimeout, 15*k.DeleteTimeout)
	return sk
}

// wakeAfter makes a cycle run when each of ds has passed from t: at t+d
// for clocks that must be reached, and just after for those that must be
// passed.
func (sk *skipper) wakeAfter(t time.Time, ds ...time.Duration) {
	if t.IsZero() {
		return
	}
	for _, d := range ds {
		sk.wake(t.Add(d))
		sk.wake(t.Add(d + time.Nanosecond))
	}
}

// wake makes the first cycle at or after t run.
func (sk *skipper) wake(t time.Time) {
	if k := t.UnixNano(); !sk.waking[k] {
		sk.waking[k] = true
		heap.Push(&sk.wakes, t)
	}
}

// booted notes servers the world saw created: their boot's end and their
// startd's join are wake-ups.
func (sk *skipper) booted(s *Server, join time.Duration) {
	sk.wake(s.ActiveAt)
	if !s.Fails {
		sk.wake(s.ActiveAt.Add(join))
	}
}

func (sk *skipper) worldChanges(w *World) int {
	n := w.Pool.changes
	for _, c := range w.Clouds {
		n += c.changes()
	}
	return n
}

// skip says whether the cycle at t can be left out; when it can, it
// charges the calls the cycle would have made.
func (sk *skipper) skip(t time.Time, w *World) bool {
	if sk.off || !sk.rest || w.Pool.idle > 0 || sk.worldChanges(w) != sk.changes {
		return false
	}
	if len(sk.wakes) > 0 && !sk.wakes[0].After(t) {
		return false
	}
	for c, calls := range sk.quietCalls {
		c.addCalls(calls)
	}
	return true
}

// beforeCycle notes the cloud calls made so far, just before a cycle runs.
func (sk *skipper) beforeCycle(w *World) {
	for _, c := range w.Clouds {
		sk.before[c] = c.Calls()
	}
}

// ran takes in the cycle that ran at t: whether it was at rest, and the
// wake-ups of the clocks it may have started.
func (sk *skipper) ran(t time.Time, pol Policy, w *World) {
	for len(sk.wakes) > 0 && !sk.wakes[0].After(t) {
		delete(sk.waking, heap.Pop(&sk.wakes).(time.Time).UnixNano())
	}
	rest, nodesChanged := true, false
	switch p := pol.(type) {
	case *Provisioner:
		rep := p.Last
		rest = len(rep.Actions) == 0 && len(rep.Errors) == 0 && p.P.FollowUp() == 0
		had, found := len(sk.nodes), 0
		sk.anchors = sk.anchors[:0]
		for _, n := range rep.Nodes {
			ns := nodeState{n.State, n.Since, n.Created, n.IdleSince}
			old, ok := sk.nodes[n.Name]
			if ok {
				found++
				if old == ns {
					continue
				}
			}
			sk.nodes[n.Name] = ns
			nodesChanged = true
			sk.nodeWakes(anchor{0, n.Since}, sk.nodeClocks...)
			sk.nodeWakes(anchor{1, n.IdleSince}, sk.k.IdleBeforeRetire, min(sk.k.IdleBeforeRetire, scale.QuietGrace))
			sk.nodeWakes(anchor{2, n.Created}, sk.k.MinLifetime, sk.k.MaxLifetime)
		}
		if found < had { // some are gone
			nodesChanged = true
			now := make(map[string]bool, len(rep.Nodes))
			for _, n := range rep.Nodes {
				now[n.Name] = true
			}
			for name := range sk.nodes {
				if !now[name] {
					delete(sk.nodes, name)
				}
			}
		}
		for _, r := range rep.Regions {
			if !r.BackoffUntil.IsZero() {
				rest = false // a back-off is a clock of its own
				sk.wakeAfter(r.BackoffUntil, 0, sk.backoffMax)
			}
		}
	case *Baseline:
		rest = !p.acted
	}
	changes := sk.worldChanges(w)
	flavors := false
	for _, c := range w.Clouds {
		delta := map[string]Calls{}
		for r, n := range c.Calls() {
			b := sk.before[c][r]
			d := Calls{List: n.List - b.List, Create: n.Create - b.Create, Delete: n.Delete - b.Delete, Limits: n.Limits - b.Limits}
			flavors = flavors || n.Flavors != b.Flavors
			delta[r] = d
		}
		if rest {
			sk.quietCalls[c] = delta
		}
	}
	if !rest || !sk.rest || changes != sk.changes || nodesChanged || flavors {
		sk.wakeAfter(t, sk.cycleClocks...)
	}
	sk.rest, sk.changes = rest, changes
}

type timeHeap []time.Time

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(a, b int) bool { return h[a].Before(h[b]) }
func (h timeHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(time.Time)) }
func (h *timeHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
