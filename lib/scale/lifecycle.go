package scale

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// act is a drain or delete of one node (an index into the sorted nodes).
type act struct {
	node int
	why  Reason
}

// life is what the lifecycle step decided about each node by its state
// alone.
type life struct {
	nodes   []Node // the Input's nodes, by name then id
	deletes []act
	drains  []act
	notes   []Reason
	// gone: deleted or drained by this decision, no capacity any more;
	// deleted: deleted by this decision, no longer live
	gone, deleted []bool
}

// lifecycle deletes failed, never joined, drained and timed-out nodes,
// retries deletes that are due, and drains nodes at the end of their
// lifetime or token; a node a schedd says runs a job is never deleted.
func lifecycle(in Input, k Knobs) life {
	l := life{nodes: slices.Clone(in.Nodes)}
	byName := func(a, b Node) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)) }
	if !slices.IsSortedFunc(l.nodes, byName) { // usually sorted already (provision lists them so)
		slices.SortStableFunc(l.nodes, byName)
	}
	l.gone = make([]bool, len(l.nodes))
	l.deleted = make([]bool, len(l.nodes))
	for i, n := range l.nodes {
		why, drain, notes := nodeFate(n, in.Now, k, in.ScheddJobsUnknown)
		l.notes = append(l.notes, notes...)
		switch {
		case why.Kind == "":
		case drain:
			l.gone[i] = true
			l.drains = append(l.drains, act{i, why})
		default:
			l.gone[i], l.deleted[i] = true, true
			l.deletes = append(l.deletes, act{i, why})
		}
	}
	return l
}

// nodeFate is what becomes of node n by its state alone: deleted (why set,
// drain false), drained (drain true) or kept (why zero), with the notes to
// show. scheddsUnknown says why the schedds could not all be asked.
func nodeFate(n Node, now time.Time, k Knobs, scheddsUnknown string) (why Reason, drain bool, notes []Reason) {
	in := now.Sub(n.StateSince)
	switch n.State {
	case Failed:
		return Reason{Kind: DeleteFailed, Text: n.Fault}, false, nil
	case Requested, Booting:
		if k.BootTimeout > 0 && in >= k.BootTimeout {
			return unlessJobsThere(n, scheddsUnknown, Reason{Kind: DeleteNeverJoined, Knob: k.BootTimeout, State: n.State, For: dur(in)})
		}
	case Drained:
		return drainedFate(n, now, k, scheddsUnknown)
	case Deleting:
		if att := max(n.Attempts, 1); k.DeleteTimeout > 0 && in >= DeleteDue(k.DeleteTimeout, att) {
			return Reason{Kind: DeleteRetry, For: dur(in), Attempt: att + 1}, false, nil
		}
	case Retiring:
		if k.DrainTimeout > 0 && in >= k.DrainTimeout {
			if n.Running > 0 {
				return Reason{}, false, []Reason{{Kind: NoteRetiringRunning, Node: n.Name, For: dur(in), Knob: k.DrainTimeout, Running: n.Running}}
			}
			return unlessJobsThere(n, scheddsUnknown, Reason{Kind: DeleteDrainTimeout, For: dur(in), Knob: k.DrainTimeout})
		}
	case Idle, Busy:
		if age := now.Sub(n.Created); k.MaxLifetime > 0 && age >= k.MaxLifetime {
			return Reason{Kind: DrainMaxLifetime, Knob: k.MaxLifetime, For: dur(age)}, true, nil
		} else if !n.TokenExpires.IsZero() && !now.Before(n.TokenExpires.Add(-k.DrainTimeout)) {
			return Reason{Kind: DrainTokenExpiry, At: n.TokenExpires, Knob: k.DrainTimeout}, true, nil
		}
	}
	return Reason{}, false, nil
}

// unlessJobsThere is a delete for why, or, when a schedd says a job runs
// there (or could not be asked), no delete and a note saying so.
func unlessJobsThere(n Node, scheddsUnknown string, why Reason) (Reason, bool, []Reason) {
	if note, ok := jobsThere(n, scheddsUnknown); ok {
		return Reason{}, false, []Reason{note}
	}
	return why, false, nil
}

// drainedFate is nodeFate for a drained node.
func drainedFate(n Node, now time.Time, k Knobs, scheddsUnknown string) (Reason, bool, []Reason) {
	switch {
	case n.Running > 0:
		return Reason{}, false, []Reason{{Kind: NoteDrainedRunning, Node: n.Name, Running: n.Running}}
	case n.AdVanished && n.RetireAsked:
		return unlessJobsThere(n, scheddsUnknown, Reason{Kind: DeleteVanishedRetired})
	case n.AdVanished:
		if why, ok := vanishedMayGo(n, now, k); ok {
			return unlessJobsThere(n, scheddsUnknown, why)
		}
		if note, ok := jobsThere(n, scheddsUnknown); ok {
			return Reason{}, false, []Reason{note}
		}
		return Reason{}, false, []Reason{{Kind: NoteVanishedKept, Node: n.Name}}
	}
	return unlessJobsThere(n, scheddsUnknown, Reason{Kind: DeleteDrained})
}

// jobsThere says a node must be kept because a schedd says a job runs on
// it, or because its startd ad vanished and the schedds could not all be
// asked; with a note saying why. The startd's own ad can be gone (its
// token expired, the ad was invalidated) while its job runs on: deleting
// the VM would kill the job.
func jobsThere(n Node, scheddsUnknown string) (Reason, bool) {
	r := Reason{Node: n.Name, Vanished: n.AdVanished}
	if !n.AdVanished {
		r.State = n.State
	}
	switch {
	case len(n.ScheddJobs) > 0:
		r.Kind, r.ScheddJobs = NoteScheddJobs, slices.Clone(n.ScheddJobs)
		slices.Sort(r.ScheddJobs)
		return r, true
	case n.AdVanished && scheddsUnknown != "":
		r.Kind, r.Text = NoteScheddsUnknown, scheddsUnknown
		return r, true
	}
	return Reason{}, false
}

// vanishedMayGo says why a node whose ads vanished without being asked to
// retire may be deleted: its token expired (it can no longer speak to the
// pool) or it reached its maximum lifetime; false while neither. An absent
// ad alone is no reason: any worker's token can withdraw another VM's ads.
func vanishedMayGo(n Node, now time.Time, k Knobs) (Reason, bool) {
	switch {
	case !n.TokenExpires.IsZero() && !now.Before(n.TokenExpires):
		return Reason{Kind: DeleteVanishedTokenExpired, At: n.TokenExpires}, true
	case k.MaxLifetime > 0 && now.Sub(n.Created) >= k.MaxLifetime:
		return Reason{Kind: DeleteVanishedMaxLifetime, Knob: k.MaxLifetime}, true
	}
	return Reason{}, false
}

// DeleteRetryGap is how long delete attempt att (1, 2, …) waits after the
// one before it: timeout, doubled each attempt, at most 8 × timeout.
// lib/provision paces its retries of a delete the cloud failed by it.
func DeleteRetryGap(timeout time.Duration, att int) time.Duration {
	return timeout << min(max(att-1, 0), 3)
}

// DeleteDue is when, counted from entering Deleting, the next delete of a
// node that had att attempts is due: the sum of the DeleteRetryGap of each
// attempt made (T, 3T, 7T, 15T, then 8T more each).
func DeleteDue(timeout time.Duration, att int) time.Duration {
	var due time.Duration
	for a := 1; a <= att; a++ {
		due += DeleteRetryGap(timeout, a)
	}
	return due
}

// counts are the servers that exist and are live, for the limits.
type counts struct {
	live int // live nodes (not deleting/failed/drained, not deleted now)
	// exists counts every node in the input, whatever its state: a server
	// costs and holds quota until the cloud stops listing it, so Max and
	// MaxVMs count it (a delete that keeps failing must not let new VMs
	// pile up beside it).
	exists  int
	out     StateCounts // existing nodes that are not live, by state
	booting int         // requested or booting, not deleted now
	// per cloud (indices into catalog.clouds)
	cloudExists []int
	cloudOut    []StateCounts
}

// count tallies the nodes left after the lifecycle step.
func count(l life, cat *catalog) counts {
	c := counts{cloudExists: make([]int, len(cat.clouds)), cloudOut: make([]StateCounts, len(cat.clouds))}
	for i, n := range l.nodes {
		ci := cat.cloudIdx[n.Offer.Loc.Cloud]
		c.exists++
		c.cloudExists[ci]++
		// a node drained now for max lifetime is retiring: still live; so
		// is one whose ads vanished but that is kept (it may well run on,
		// its ads withdrawn by another worker): no replacement is booted
		// beside it
		if (isLive(n.State) || n.State == Drained && n.AdVanished) && !l.deleted[i] {
			c.live++
		} else {
			s := n.State
			if l.deleted[i] {
				s = Deleting // the delete is sent now; it exists until the cloud drops it
			}
			*c.out.of(s)++
			*c.cloudOut[ci].of(s)++
		}
		if (n.State == Requested || n.State == Booting) && !l.deleted[i] {
			c.booting++
		}
	}
	return c
}

func isLive(s NodeState) bool {
	switch s {
	case Deleting, Failed, Drained:
		return false
	}
	return true
}
