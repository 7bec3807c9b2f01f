package scale

import (
	"slices"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

var (
	locA = cloud.Location{Cloud: "siteA", Region: "RegionOne"}
	locB = cloud.Location{Cloud: "siteB", Region: "RegionOne"}
	locC = cloud.Location{Cloud: "siteA", Region: "RegionTwo"}

	small  = OfferKey{Loc: locA, Flavor: "m1.small"}  // 2 cpu, cost 2
	medium = OfferKey{Loc: locA, Flavor: "m1.medium"} // 4 cpu, cost 4
	large  = OfferKey{Loc: locA, Flavor: "m1.large"}  // 8 cpu, cost 8
	bMed   = OfferKey{Loc: locB, Flavor: "b.medium"}  // 4 cpu, cost 4, cloud weight 2
	gpu    = OfferKey{Loc: locB, Flavor: "g.large"}   // 8 cpu, 1 gpu, cost 20
	cSmall = OfferKey{Loc: locC, Flavor: "m1.small"}
	cLarge = OfferKey{Loc: locC, Flavor: "m1.large"}
)

var sizes = map[OfferKey]Resources{
	small:  {Cpus: 2, MemoryMB: 4096, DiskMB: 20480},
	medium: {Cpus: 4, MemoryMB: 8192, DiskMB: 40960},
	large:  {Cpus: 8, MemoryMB: 16384, DiskMB: 81920},
	bMed:   {Cpus: 4, MemoryMB: 8192, DiskMB: 40960},
	gpu:    {Cpus: 8, MemoryMB: 32768, DiskMB: 81920, GPUs: 1},
}

func unlimitedQuota() *cloud.Limits {
	return &cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1}
}

// base is two clouds, one region each, generous knobs, nothing running.
func base() Input {
	of := func(k OfferKey, cost float64) Offer { return Offer{OfferKey: k, Size: sizes[k], Cost: cost} }
	return Input{
		Now: now,
		Knobs: Knobs{
			Max: 20, MaxBooting: 10, MaxCreatesPerCycle: 10,
			IdleBeforeRetire: 10 * time.Minute, MinLifetime: 30 * time.Minute,
			BootTimeout: 15 * time.Minute, DrainTimeout: time.Hour, DeleteTimeout: 5 * time.Minute,
		},
		Clouds: []Cloud{{Name: "siteA", Weight: 1}, {Name: "siteB", Weight: 2}},
		Regions: []Region{
			{Loc: locA, Offers: []Offer{of(small, 2), of(medium, 4), of(large, 8)}, Limits: unlimitedQuota()},
			{Loc: locB, Offers: []Offer{of(bMed, 4), of(gpu, 20)}, Limits: unlimitedQuota()},
		},
	}
}

func jobs(key string, cpus, mem, idle int, elig ...OfferKey) Demand {
	return Demand{Key: key, Need: Resources{Cpus: cpus, MemoryMB: mem}, Idle: idle, Oldest: now.Add(-time.Minute), Eligible: elig}
}

// node is a VM two hours old, an hour in its state; idle and booting ones
// offer their whole size, busy ones nothing unless changed.
func node(name string, st NodeState, o OfferKey, mods ...func(*Node)) Node {
	n := Node{ID: "id-" + name, Name: name, Offer: o, State: st, StateSince: now.Add(-time.Hour), Created: now.Add(-2 * time.Hour)}
	switch st {
	case Idle:
		n.Free, n.IdleSince = sizes[o], now.Add(-time.Hour)
	case Busy:
		n.Running = 1
	case Requested:
		n.ID = ""
	}
	for _, m := range mods {
		m(&n)
	}
	return n
}

func since(d time.Duration) func(*Node) { return func(n *Node) { n.StateSince = now.Add(-d) } }
func age(d time.Duration) func(*Node)   { return func(n *Node) { n.Created = now.Add(-d) } }
func idleFor(d time.Duration) func(*Node) {
	return func(n *Node) { n.IdleSince = now.Add(-d) }
}
func free(r Resources) func(*Node) { return func(n *Node) { n.Free = r } }
func running(k int) func(*Node)    { return func(n *Node) { n.Running = k } }

// text is a reason as a person reads it: the whole-decision tables compare
// rendered sentences (asText), which must stay as they were; the steps'
// own tests compare kinds and figures.
func text(s string) Reason { return TextNote(s) }

func texts(s ...string) []Reason {
	rs := make([]Reason, len(s))
	for i, x := range s {
		rs[i] = text(x)
	}
	return rs
}

// asText compares reasons by the sentence they render.
var asText = cmp.Transformer("text", func(r Reason) string { return r.String() })

// untyped lists the reasons of d that carry no kind of their own.
func untyped(d Decision) []string {
	var bad []string
	check := func(what string, r Reason) {
		if r.Kind == "" || r.Kind == NoteText {
			bad = append(bad, what+": "+r.String())
		}
	}
	for _, c := range d.Creates {
		check("create", c.Reason)
	}
	for _, a := range d.Drains {
		check("drain", a.Reason)
	}
	for _, a := range d.Deletes {
		check("delete", a.Reason)
	}
	for _, u := range d.Unmet {
		check("unmet", u.Reason)
	}
	for _, n := range d.Notes {
		check("note", n)
	}
	return bad
}

// decideCase is one whole decision: base() changed by mod, and the
// decision wanted, its reasons compared as the sentences they render.
type decideCase struct {
	name string
	mod  func(*Input)
	want Decision
}

// backoffUntil is when a region backs off until in the cases.
var backoffUntil = now.Add(10 * time.Minute)

func TestDecide(t *testing.T) {
	tests := slices.Concat(packCases, limitCases, floorCases, lifeCases)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.mod(&in)
			got := Decide(in)
			if diff := cmp.Diff(tt.want, got, asText); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}
			if bad := untyped(got); len(bad) > 0 {
				t.Errorf("reasons without a kind: %q", bad)
			}
		})
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
}

func TestDeleteDue(t *testing.T) {
	const T = time.Minute
	for att, want := range []time.Duration{0, T, 3 * T, 7 * T, 15 * T, 23 * T, 31 * T} {
		if att == 0 {
			continue
		}
		if got := DeleteDue(T, att); got != want {
			t.Errorf("DeleteDue(T, %d) = %v, want %v", att, got, want)
		}
	}
	// The gaps lib/provision waits between retries of a failed delete;
	// DeleteDue is their sum.
	for att, want := range []time.Duration{0, T, 2 * T, 4 * T, 8 * T, 8 * T, 8 * T} {
		if att == 0 {
			continue
		}
		if got := DeleteRetryGap(T, att); got != want {
			t.Errorf("DeleteRetryGap(T, %d) = %v, want %v", att, got, want)
		}
	}
}
