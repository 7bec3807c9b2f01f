package scale

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Decide returns what to do this cycle. It is pure: the same Input always
// gives the same Decision, whatever the order of the slices in it. It is
// the steps below in order, each a function of the values the ones before
// it returned; see the package documentation for the rules.
func Decide(in Input) Decision {
	k := clean(in.Knobs)
	cat := newCatalog(in)
	life := lifecycle(in, k)
	gone := life.gone
	n := count(life, cat)
	bs := bins(life.nodes, gone, cat)
	gs := groups(in.Demand, in.Now, UnmatchedAfter(in.Knobs), cat)
	led := newLedger(k, cat, n)
	pk := pack(in.Now, k, cat, gs, bs, led)
	freed := rebalance(in.Now, k, cat, life.nodes, gone, gs, pk.starved, led)
	gone = markGone(gone, freed)
	forMin, minMade := keepMin(k, cat, n.live, led)
	forSpare := keepSpare(k, cat, spare(bs, pk.used, gone)+minMade, led)
	forRoom, used := headroom(k, widest(in, cat), gs, pk, gone, []floor{forMin, forSpare}, cat, led)
	retired := retireIdle(idle{now: in.Now, k: k, lastArrival: in.LastArrival, cat: cat, nodes: life.nodes, gone: gone, bins: bs, used: used, groups: gs})
	return assemble(life, pk, [][]act{life.drains, freed, retired}, regionNotes(cat), forMin, forSpare, forRoom)
}

// widest is Input.Widest as a group, or nil.
func widest(in Input, cat *catalog) *group {
	if in.Widest == nil {
		return nil
	}
	g := newGroup(*in.Widest, in.Now, UnmatchedAfter(in.Knobs), cat)
	return &g
}

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

// clean turns negative knobs into zero (no limit / disabled).
func clean(k Knobs) Knobs {
	for _, v := range []*int{&k.Min, &k.Max, &k.Spare, &k.MaxBooting, &k.MaxCreatesPerCycle} {
		*v = max(*v, 0)
	}
	for _, v := range []*time.Duration{&k.IdleBeforeRetire, &k.MinLifetime, &k.MaxLifetime, &k.BootTimeout, &k.DrainTimeout, &k.DeleteTimeout, &k.HeadroomWindow} {
		*v = max(*v, 0)
	}
	return k
}

// markGone returns gone with the nodes drained by acts marked.
func markGone(gone []bool, acts []act) []bool {
	gone = slices.Clone(gone)
	for _, a := range acts {
		gone[a.node] = true
	}
	return gone
}

// assemble puts the steps' results together in the order of the Output
// rules: creates as planned (demand, min, spare), drains and deletes by
// node name, unmet by demand key, notes by their text.
func assemble(life life, pk packed, drains [][]act, regionNotes []Reason, floors ...floor) Decision {
	var d Decision
	d.Creates = pk.creates
	notes := slices.Concat(life.notes, regionNotes, pk.notes)
	for _, f := range floors {
		d.Creates = append(d.Creates, f.creates...)
		notes = append(notes, f.notes...)
	}
	d.Drains = actions(life.nodes, slices.Concat(drains...))
	d.Deletes = actions(life.nodes, life.deletes)
	d.Unmet = sortUnmet(pk.unmet)
	d.Notes = sortNotes(notes)
	return d
}

// actions are acts in node order (the nodes are sorted by name and id; a
// node is drained or deleted at most once). Reasons are large: this moves
// each once instead of sorting them.
func actions(nodes []Node, acts []act) []Action {
	if len(acts) == 0 {
		return nil
	}
	at := make([]int, len(nodes))
	for i, a := range acts {
		at[a.node] = i + 1
	}
	out := make([]Action, 0, len(acts))
	for ni, i := range at {
		if i > 0 {
			n := nodes[ni]
			out = append(out, Action{Node: n.Name, ID: n.ID, Reason: acts[i-1].why})
		}
	}
	return out
}

// sortUnmet sorts unmet demand by key, then reason text, moving each once.
func sortUnmet(unmet []Unmet) []Unmet {
	if len(unmet) == 0 {
		return nil
	}
	order := make([]int, len(unmet))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := strings.Compare(unmet[a].Demand, unmet[b].Demand); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(unmet[a].Reason.String(), unmet[b].Reason.String()), cmp.Compare(a, b))
	})
	out := make([]Unmet, len(unmet))
	for i, j := range order {
		out[i] = unmet[j]
	}
	return out
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
