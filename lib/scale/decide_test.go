package scale

import (
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

func TestDecide(t *testing.T) {
	backoffUntil := now.Add(10 * time.Minute)
	tests := []struct {
		name string
		mod  func(*Input)
		want Decision
	}{
		{
			name: "nothing to do",
			mod:  func(in *Input) {},
			want: Decision{},
		},
		{
			name: "scale from zero workers, two jobs per VM",
			mod:  func(in *Input) { in.Demand = []Demand{jobs("s#1", 4, 8192, 4, large)} },
			want: Decision{Creates: []Create{{Offer: large, Count: 2, Serves: []string{"s#1"},
				Reason: text("4 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.large in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "cheapest flavor that fits",
			mod:  func(in *Input) { in.Demand = []Demand{jobs("s#1", 2, 2048, 1, large, small, medium)} },
			want: Decision{Creates: []Create{{Offer: small, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 2 cpu/2048 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "equal cost per job: the VM holding fewer jobs",
			// 3 jobs: 3 × m1.medium = 12 = m1.large (2 jobs) + m1.medium;
			// smaller VMs are released as their jobs end.
			mod: func(in *Input) { in.Demand = []Demand{jobs("s#1", 4, 8192, 3, large, medium)} },
			want: Decision{Creates: []Create{{Offer: medium, Count: 3, Serves: []string{"s#1"},
				Reason: text("3 idle jobs of 4 cpu/8192 MB from s#1 need 3 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "a partly empty VM counts only the jobs left for it",
			// m1.large made cheaper per job (6 for 2) than m1.medium (4
			// for 1): full m1.large VMs for 4 jobs, the fifth job alone on
			// m1.medium (4), not a half-empty m1.large (6).
			mod: func(in *Input) {
				in.Regions[0].Offers[2].Cost = 6
				in.Demand = []Demand{jobs("s#1", 4, 8192, 5, large, medium)}
			},
			want: Decision{Creates: []Create{
				{Offer: large, Count: 2, Serves: []string{"s#1"},
					Reason: text("4 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.large in siteA/RegionOne (cheapest fit, 2 jobs per VM)")},
				{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")},
			}},
		},
		{
			name: "an instance limit takes the VMs that hold more jobs",
			// Room for 1 instance: m1.medium would serve 1 of 3 jobs,
			// m1.large serves 2.
			mod: func(in *Input) {
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 5, UsedInstances: 4, MaxCores: -1, MaxRAMMB: -1}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, large, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: large, Count: 1, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 1 × m1.large in siteA/RegionOne (serves the most of them; m1.medium in siteA/RegionOne would serve 1 under siteA/RegionOne quota: instances 4 used + 0 planned of 5, 2 jobs per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: siteA/RegionOne quota: instances 4 used + 1 planned of 5")}},
			},
		},
		{
			name: "an instance quota in one region: the same flavor elsewhere takes the rest",
			mod: func(in *Input) {
				in.Regions = append(in.Regions, Region{Loc: locC, Offers: []Offer{{OfferKey: cSmall, Size: sizes[small], Cost: 2}, {OfferKey: cLarge, Size: sizes[large], Cost: 8}}, Limits: unlimitedQuota()})
				in.Clouds = append(in.Clouds, Cloud{Name: "siteA"})
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 5, UsedInstances: 4, MaxCores: -1, MaxRAMMB: -1}
				in.Demand = []Demand{jobs("s#1", 2, 4096, 3, small, large, cSmall, cLarge)}
			},
			want: Decision{Creates: []Create{
				{Offer: small, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 2 cpu/4096 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 1 job per VM)")},
				{Offer: cSmall, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 2 cpu/4096 MB from s#1 need 2 × m1.small in siteA/RegionTwo (cheapest fit with room; m1.small in siteA/RegionOne: siteA/RegionOne quota: instances 4 used + 1 planned of 5, 1 job per VM)")},
			}},
		},
		{
			name: "instance quota full of VMs that cannot run starved jobs: one drained per VM the jobs need",
			// 3 jobs of 8 cpu wait 20 min (boot timeout 15m); siteA's 4
			// instances hold m1.small nodes (2 cpu). The jobs need 3
			// m1.large; w3 is already retiring, so 2 more are freed: idle w4
			// first, then w2, busy with fewer jobs than w1.
			mod: func(in *Input) {
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 4, UsedInstances: 4, MaxCores: -1, MaxRAMMB: -1}
				d := jobs("s#1", 8, 16384, 3, large)
				d.Oldest = now.Add(-20 * time.Minute)
				in.Demand = []Demand{d}
				in.Nodes = []Node{
					node("w1", Busy, small, func(n *Node) { n.Running = 2 }),
					node("w2", Busy, small),
					node("w3", Retiring, small, since(10*time.Minute), func(n *Node) { n.Running = 1 }),
					node("w4", Idle, small, idleFor(time.Minute)),
				}
			},
			want: Decision{
				Drains: []Action{
					{Node: "w2", ID: "id-w2", Reason: text("frees an instance for 3 jobs of 8 cpu/16384 MB from s#1, waiting 20m0s: siteA/RegionOne instance quota full (4 of 4) and this m1.small cannot run them; running jobs finish first")},
					{Node: "w4", ID: "id-w4", Reason: text("frees an instance for 3 jobs of 8 cpu/16384 MB from s#1, waiting 20m0s: siteA/RegionOne instance quota full (4 of 4) and this m1.small cannot run them; running jobs finish first")},
				},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 3, Reason: text("no room: siteA/RegionOne quota: instances 4 used + 0 planned of 4")}},
			},
		},
		{
			name: "instance quota full, jobs waiting less than the boot timeout: nothing drained",
			mod: func(in *Input) {
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 1, UsedInstances: 1, MaxCores: -1, MaxRAMMB: -1}
				d := jobs("s#1", 8, 16384, 1, large)
				d.Oldest = now.Add(-10 * time.Minute)
				in.Demand = []Demand{d}
				in.Nodes = []Node{node("w1", Busy, small)}
			},
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: siteA/RegionOne quota: instances 1 used + 0 planned of 1")}}},
		},
		{
			name: "instance quota full: a node that can run the jobs is not drained, nor below min",
			mod: func(in *Input) {
				in.Knobs.Min = 2
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 2, UsedInstances: 2, MaxCores: -1, MaxRAMMB: -1}
				d := jobs("s#1", 8, 16384, 2, large)
				d.Oldest = now.Add(-time.Hour)
				in.Demand = []Demand{d}
				in.Nodes = []Node{node("w1", Busy, large), node("w2", Busy, small)}
			},
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 2, Reason: text("no room: siteA/RegionOne quota: instances 2 used + 0 planned of 2")}}},
		},
		{
			name: "max binds on jobs that waited past the boot timeout: the VM holding the most of them",
			// Room for 2 VMs under max, 5 jobs waiting 20 min: m1.small
			// would run 2 of them, one m1.large runs 4, and a m1.small the
			// last one.
			mod: func(in *Input) {
				in.Knobs.Max = 2
				d := jobs("s#1", 2, 4096, 5, small, medium, large)
				d.Oldest = now.Add(-20 * time.Minute)
				in.Demand = []Demand{d}
			},
			want: Decision{Creates: []Create{
				{Offer: large, Count: 1, Serves: []string{"s#1"},
					Reason: text("4 idle jobs of 2 cpu/4096 MB from s#1 need 1 × m1.large in siteA/RegionOne (serves the most of them; m1.small in siteA/RegionOne would serve 2 under max 2: 0 servers exist, 0 planned, 4 jobs per VM)")},
				{Offer: small, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 2 cpu/4096 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 1 job per VM)")},
			}},
		},
		{
			name: "max full of VMs holding few of jobs waiting past the boot timeout: those are drained",
			// 6 jobs of 2 cpu wait 20 min; max 3 is full. A m1.large holds
			// 4 of them, so they need 2 VMs: the m1.small (holds 1) and the
			// m1.medium (2) make room; the m1.large stays.
			mod: func(in *Input) {
				in.Knobs.Max = 3
				d := jobs("s#1", 2, 4096, 6, small, medium, large)
				d.Oldest = now.Add(-20 * time.Minute)
				in.Demand = []Demand{d}
				in.Nodes = []Node{node("w1", Busy, small), node("w2", Busy, large, running(4)), node("w3", Busy, medium, running(2))}
			},
			want: Decision{
				Drains: []Action{
					{Node: "w1", ID: "id-w1", Reason: text("makes room under max 3 for 6 jobs of 2 cpu/4096 MB from s#1, waiting 20m0s: this m1.small holds 1 of them, a m1.large 4; running jobs finish first")},
					{Node: "w3", ID: "id-w3", Reason: text("makes room under max 3 for 6 jobs of 2 cpu/4096 MB from s#1, waiting 20m0s: this m1.medium holds 2 of them, a m1.large 4; running jobs finish first")},
				},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 6, Reason: text("no room: max 3 reached: 3 servers exist, 0 planned")}},
			},
		},
		{
			name: "max full, jobs waiting less than the boot timeout, or min: nothing drained",
			mod: func(in *Input) {
				in.Knobs.Max = 2
				d := jobs("s#1", 2, 4096, 6, small, large)
				d.Oldest = now.Add(-10 * time.Minute)
				e := jobs("s#2", 8, 16384, 1, large)
				e.Oldest = now.Add(-time.Hour)
				in.Knobs.Min = 2
				in.Demand = []Demand{d, e}
				in.Nodes = []Node{node("w1", Busy, small), node("w2", Busy, small)}
			},
			want: Decision{Unmet: []Unmet{
				{Demand: "s#1", Jobs: 6, Reason: text("no room: max 2 reached: 2 servers exist, 0 planned")},
				{Demand: "s#2", Jobs: 1, Reason: text("no room: max 2 reached: 2 servers exist, 0 planned")},
			}},
		},
		{
			name: "max workers, jobs that just came: cheapest fit, larger VMs do not get round it",
			mod: func(in *Input) {
				in.Knobs.Max = 2
				in.Demand = []Demand{jobs("s#1", 2, 4096, 5, small, medium, large)}
			},
			want: Decision{
				Creates: []Create{{Offer: small, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 2 cpu/4096 MB from s#1 need 2 × m1.small in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 3, Reason: text("no room: max 2 reached: 0 servers exist, 2 planned")}},
			},
		},
		{
			name: "one job: the cheapest VM that holds it, not the largest",
			mod:  func(in *Input) { in.Demand = []Demand{jobs("s#1", 4, 8192, 1, large, medium)} },
			want: Decision{Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "weight breaks a cost tie",
			mod:  func(in *Input) { in.Demand = []Demand{jobs("s#1", 4, 8192, 2, medium, bMed)} },
			want: Decision{Creates: []Create{{Offer: bMed, Count: 2, Serves: []string{"s#1"},
				Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 2 × b.medium in siteB/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "pinned to one cloud",
			mod:  func(in *Input) { in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)} },
			want: Decision{Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "gpu jobs only on the gpu flavor",
			mod: func(in *Input) {
				d := jobs("s#1", 4, 8192, 1, large, gpu)
				d.Need.GPUs = 1
				in.Demand = []Demand{d}
			},
			want: Decision{Creates: []Create{{Offer: gpu, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB/1 gpu from s#1 need 1 × g.large in siteB/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "impossible demand: no eligible flavor",
			mod:  func(in *Input) { in.Demand = []Demand{jobs("s#1", 1, 1024, 5)} },
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 5,
				Reason: text("no configured flavor matches these jobs (HTCondor's negotiator matched none)")}}},
		},
		{
			name: "guard: eligible flavors too small",
			mod:  func(in *Input) { in.Demand = []Demand{jobs("s#1", 16, 8192, 2, small, large)} },
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 2,
				Reason: text("no eligible flavor is large enough for 16 cpu/8192 MB")}}},
		},
		{
			name: "eligible flavor not offered this cycle",
			mod: func(in *Input) {
				in.Demand = []Demand{jobs("s#1", 1, 1024, 1, OfferKey{Loc: cloud.Location{Cloud: "siteC", Region: "R"}, Flavor: "x"})}
			},
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 1,
				Reason: text("none of the flavors matched (siteC/R/x) is offered this cycle")}}},
		},
		{
			name: "mixed shapes packed: small jobs fill the large job's VM",
			mod: func(in *Input) {
				in.Demand = []Demand{jobs("s#2", 2, 4096, 2, small, large), jobs("s#1", 4, 8192, 1, large)}
			},
			want: Decision{Creates: []Create{{Offer: large, Count: 1, Serves: []string{"s#1", "s#2"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.large in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "booting capacity counted: no double create",
			mod: func(in *Input) {
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, large)}
				in.Nodes = []Node{node("w1", Booting, large, since(2*time.Minute))}
			},
			want: Decision{Creates: []Create{{Offer: large, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.large in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "requested capacity counted",
			mod: func(in *Input) {
				in.Demand = []Demand{jobs("s#1", 4, 8192, 2, large)}
				in.Nodes = []Node{node("w1", Requested, large, since(time.Minute))}
			},
			want: Decision{},
		},
		{
			name: "free capacity on a busy node counted",
			mod: func(in *Input) {
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, large)}
				in.Nodes = []Node{node("w1", Busy, large, free(Resources{Cpus: 4, MemoryMB: 8192, DiskMB: 40960}))}
			},
			want: Decision{},
		},
		{
			name: "free capacity of a flavor the jobs do not match is not used",
			mod: func(in *Input) {
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
				in.Nodes = []Node{node("w1", Busy, large, free(Resources{Cpus: 4, MemoryMB: 8192, DiskMB: 40960}))}
			},
			want: Decision{Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "max",
			mod: func(in *Input) {
				in.Knobs.Max = 3
				in.Nodes = []Node{node("w1", Busy, small)}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 5, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 3, Reason: text("no room: max 3 reached: 1 server exists, 2 planned")}},
			},
		},
		{
			name: "already above max: nothing created",
			mod: func(in *Input) {
				in.Knobs.Max = 1
				in.Nodes = []Node{node("w1", Busy, small), node("w2", Busy, small)}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
			},
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: max 1 reached: 2 servers exist, 0 planned")}}},
		},
		{
			// A delete the cloud refuses (409) leaves the server listed:
			// it still costs and holds quota, so no VM is created beside it.
			name: "max counts a server whose delete is pending",
			mod: func(in *Input) {
				in.Knobs.Max = 1
				in.Nodes = []Node{node("w1", Deleting, medium, since(time.Minute), func(n *Node) { n.Attempts = 1 })}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
			},
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: max 1 reached: 1 server exists (1 deleting), 0 planned")}}},
		},
		{
			name: "max counts a failed server deleted now until the cloud drops it",
			mod: func(in *Input) {
				in.Knobs.Max = 2
				in.Nodes = []Node{node("w1", Failed, medium, func(n *Node) { n.Fault = "boom" }), node("w2", Busy, small)}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
			},
			want: Decision{
				Deletes: []Action{{Node: "w1", ID: "id-w1", Reason: text("failed in the cloud: boom")}},
				Unmet:   []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: max 2 reached: 2 servers exist (1 deleting), 0 planned")}},
			},
		},
		{
			name: "min counts live nodes, max every server: min is blocked by a deleting one",
			mod: func(in *Input) {
				in.Knobs.Min, in.Knobs.Max = 1, 1
				in.Nodes = []Node{node("w1", Deleting, medium, since(time.Minute), func(n *Node) { n.Attempts = 1 })}
			},
			want: Decision{Notes: texts("min 1 workers: 1 more wanted, blocked: max 1 reached: 1 server exists (1 deleting), 0 planned")},
		},
		{
			name: "a cloud's max_vms counts drained and deleting servers",
			mod: func(in *Input) {
				in.Clouds[0].MaxVMs = 2
				in.Nodes = []Node{
					node("w1", Drained, small, running(1)),
					node("w2", Deleting, small, since(time.Minute), func(n *Node) { n.Attempts = 1 }),
				}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
			},
			want: Decision{
				Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: cloud siteA max_vms 2 reached: 2 servers exist (1 drained, 1 deleting), 0 planned")}},
				Notes: texts("w1 is drained but reports 1 running jobs: not deleted"),
			},
		},
		{
			name: "a cloud's max_vms full of deleting servers moves demand to the other cloud",
			mod: func(in *Input) {
				in.Clouds[1].MaxVMs = 1
				in.Nodes = []Node{node("w1", Deleting, bMed, since(time.Minute), func(n *Node) { n.Attempts = 1 })}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium, bMed)}
			},
			want: Decision{Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit with room; b.medium in siteB/RegionOne: cloud siteB max_vms 1 reached: 1 server exists (1 deleting), 0 planned, 1 job per VM)")}}},
		},
		{
			name: "max booting",
			mod: func(in *Input) {
				in.Knobs.MaxBooting = 3
				in.Nodes = []Node{node("w1", Booting, small, since(time.Minute)), node("w2", Requested, small, since(time.Minute))}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 2, Reason: text("no room: max_booting 3 reached (2 booting, 1 planned)")}},
			},
		},
		{
			name: "max creates per cycle",
			mod: func(in *Input) {
				in.Knobs.MaxCreatesPerCycle = 2
				in.Demand = []Demand{jobs("s#1", 4, 8192, 5, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 3, Reason: text("no room: max_creates_per_cycle 2 reached")}},
			},
		},
		{
			name: "per-cloud max moves demand to the other cloud",
			mod: func(in *Input) {
				in.Clouds[1].MaxVMs = 1
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium, bMed)}
			},
			want: Decision{Creates: []Create{
				{Offer: bMed, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × b.medium in siteB/RegionOne (cheapest fit, 1 job per VM)")},
				{Offer: medium, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.medium in siteA/RegionOne (cheapest fit with room; b.medium in siteB/RegionOne: cloud siteB max_vms 1 reached: 0 servers exist, 1 planned, 1 job per VM)")},
			}},
		},
		{
			name: "a cloud's max_vms binds on jobs that waited past the boot timeout, no other cloud can run them: the VM holding the most",
			mod: func(in *Input) {
				in.Clouds[0].MaxVMs = 2
				d := jobs("s#1", 2, 4096, 5, small, medium, large)
				d.Oldest = now.Add(-20 * time.Minute)
				in.Demand = []Demand{d}
			},
			want: Decision{Creates: []Create{
				{Offer: large, Count: 1, Serves: []string{"s#1"},
					Reason: text("4 idle jobs of 2 cpu/4096 MB from s#1 need 1 × m1.large in siteA/RegionOne (serves the most of them; m1.small in siteA/RegionOne would serve 2 under cloud siteA max_vms 2: 0 servers exist, 0 planned, 4 jobs per VM)")},
				{Offer: small, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 2 cpu/4096 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 1 job per VM)")},
			}},
		},
		{
			name: "a cloud's max_vms binds on jobs that waited long, another cloud has room at the same cost: cheapest fit there",
			mod: func(in *Input) {
				in.Clouds[1].MaxVMs = 1
				d := jobs("s#1", 4, 8192, 3, medium, large, bMed)
				d.Oldest = now.Add(-20 * time.Minute)
				in.Demand = []Demand{d}
			},
			want: Decision{Creates: []Create{
				{Offer: bMed, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × b.medium in siteB/RegionOne (cheapest fit, 1 job per VM)")},
				{Offer: medium, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.medium in siteA/RegionOne (cheapest fit with room; b.medium in siteB/RegionOne: cloud siteB max_vms 1 reached: 0 servers exist, 1 planned, 1 job per VM)")},
			}},
		},
		{
			name: "a cloud's max_vms full of VMs holding few of jobs waiting past the boot timeout: those drained, not another cloud's",
			// siteA's max_vms 2 is full of m1.small (1 job each); a
			// m1.large holds 4 of the 6 jobs, so 2 VMs make room. siteB's
			// b.medium cannot run them but is under no cap that binds.
			mod: func(in *Input) {
				in.Clouds[0].MaxVMs = 2
				d := jobs("s#1", 2, 4096, 6, small, medium, large)
				d.Oldest = now.Add(-20 * time.Minute)
				in.Demand = []Demand{d}
				in.Nodes = []Node{node("w1", Busy, small), node("w2", Busy, small, running(0)), node("w3", Idle, bMed)}
			},
			want: Decision{
				Drains: []Action{
					{Node: "w1", ID: "id-w1", Reason: text("makes room under cloud siteA max_vms 2 for 6 jobs of 2 cpu/4096 MB from s#1, waiting 20m0s: this m1.small holds 1 of them, a m1.large 4; running jobs finish first")},
					{Node: "w2", ID: "id-w2", Reason: text("makes room under cloud siteA max_vms 2 for 6 jobs of 2 cpu/4096 MB from s#1, waiting 20m0s: this m1.small holds 1 of them, a m1.large 4; running jobs finish first")},
					{Node: "w3", ID: "id-w3", Reason: text("idle for 1h0m0s (idle_before_retire 10m0s) and no waiting job fits it; keeps min 0, spare 0")},
				},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 6, Reason: text("no room: cloud siteA max_vms 2 reached: 2 servers exist, 0 planned")}},
			},
		},
		{
			name: "quota: instances",
			mod: func(in *Input) {
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 5, UsedInstances: 4, MaxCores: -1, MaxRAMMB: -1}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 2, Reason: text("no room: siteA/RegionOne quota: instances 4 used + 1 planned of 5")}},
			},
		},
		{
			name: "quota: cores",
			mod: func(in *Input) {
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: -1, MaxCores: 10, UsedCores: 4, MaxRAMMB: -1}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 2, Reason: text("no room: siteA/RegionOne quota: cores 4 used + 4 planned of 10, m1.medium needs 4")}},
			},
		},
		{
			name: "quota: ram counts the flavor's own RAM, not what jobs get",
			mod: func(in *Input) {
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: 20000}
				in.Regions[0].Offers[1].RAMMB = 9000
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: siteA/RegionOne quota: ram 0 MB used + 18000 MB planned of 20000 MB, m1.medium needs 9000 MB")}},
			},
		},
		{
			name: "quota unknown: nothing created there",
			mod: func(in *Input) {
				in.Regions[1].Limits = nil
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, bMed)}
			},
			want: Decision{
				Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: siteB/RegionOne quota unknown")}},
				Notes: texts("siteB/RegionOne quota unknown (limits not read this cycle): no VM created there"),
			},
		},
		{
			name: "backoff moves demand to another region",
			mod: func(in *Input) {
				in.Regions[1].BackoffUntil, in.Regions[1].BackoffReason = backoffUntil, "quota exceeded"
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, bMed, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit with room; b.medium in siteB/RegionOne: siteB/RegionOne backing off until 2026-11-24T12:10:00Z (quota exceeded), 1 job per VM)")}},
				Notes: texts("siteB/RegionOne backing off until 2026-11-24T12:10:00Z (quota exceeded): no VM created there"),
			},
		},
		{
			name: "backoff over: region used again",
			mod: func(in *Input) {
				in.Regions[1].BackoffUntil = now.Add(-time.Second)
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, bMed, medium)}
			},
			want: Decision{Creates: []Create{{Offer: bMed, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × b.medium in siteB/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "min from zero: cheapest offer",
			mod:  func(in *Input) { in.Knobs.Min = 2 },
			want: Decision{Creates: []Create{{Offer: small, Count: 2,
				Reason: text("min 2: 0 live, 0 planned; 2 × m1.small in siteA/RegionOne (cheapest offer)")}}},
		},
		{
			name: "min met by demand creates",
			mod: func(in *Input) {
				in.Knobs.Min = 1
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
			},
			want: Decision{Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
		{
			name: "min kept: only the surplus idle node is drained, longest idle first",
			mod: func(in *Input) {
				in.Knobs.Min = 1
				in.Nodes = []Node{node("w1", Idle, small, idleFor(20*time.Minute)), node("w2", Idle, small, idleFor(50*time.Minute))}
			},
			want: Decision{Drains: []Action{{Node: "w2", ID: "id-w2",
				Reason: text("idle for 50m0s (idle_before_retire 10m0s) and no waiting job fits it; keeps min 1, spare 0")}}},
		},
		{
			name: "spare on top of demand",
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
			},
			want: Decision{Creates: []Create{
				{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")},
				{Offer: large, Count: 1, Reason: text("spare 1: 0 unused now; 1 × m1.large in siteA/RegionOne (largest offer: takes any job a flavor can)")},
			}},
		},
		{
			name: "spare met by a booting node no demand uses",
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Nodes = []Node{node("w1", Booting, small, since(time.Minute))}
			},
			want: Decision{},
		},
		{
			name: "an idle node demand uses is not spare",
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Nodes = []Node{node("w1", Idle, large)}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, large)}
			},
			want: Decision{Creates: []Create{{Offer: large, Count: 1,
				Reason: text("spare 1: 0 unused now; 1 × m1.large in siteA/RegionOne (largest offer: takes any job a flavor can)")}}},
		},
		{
			name: "spare idle nodes kept from retiring",
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Nodes = []Node{node("w1", Idle, small), node("w2", Idle, small, idleFor(2*time.Hour))}
			},
			want: Decision{Drains: []Action{{Node: "w2", ID: "id-w2",
				Reason: text("idle for 2h0m0s (idle_before_retire 10m0s) and no waiting job fits it; keeps min 0, spare 1")}}},
		},
		{
			name: "idle retire order: longest idle first, then the dearer one",
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Nodes = []Node{
					node("w1", Idle, small, idleFor(30*time.Minute)),
					node("w2", Idle, large, idleFor(30*time.Minute)),
					node("w3", Idle, medium, idleFor(90*time.Minute)),
				}
			},
			want: Decision{Drains: []Action{
				{Node: "w2", ID: "id-w2", Reason: text("idle for 30m0s (idle_before_retire 10m0s) and no waiting job fits it; keeps min 0, spare 1")},
				{Node: "w3", ID: "id-w3", Reason: text("idle for 1h30m0s (idle_before_retire 10m0s) and no waiting job fits it; keeps min 0, spare 1")},
			}},
		},
		{
			name: "idle not long enough",
			mod:  func(in *Input) { in.Nodes = []Node{node("w1", Idle, small, idleFor(5*time.Minute))} },
			want: Decision{},
		},
		{
			name: "nothing arriving: an idle node retires before idle_before_retire",
			mod: func(in *Input) {
				in.Nodes = []Node{node("w1", Idle, small, idleFor(time.Minute))}
				in.LastArrival = now.Add(-11 * time.Minute)
			},
			want: Decision{Drains: []Action{{Node: "w1", ID: "id-w1",
				Reason: text("idle for 1m0s, and no job queued or started for 11m0s (idle_before_retire 10m0s): nothing is arriving; keeps min 0, spare 0")}}},
		},
		{
			name: "nothing arriving, but idle under 30 s: kept for a workflow's next step",
			mod: func(in *Input) {
				in.Nodes = []Node{node("w1", Idle, small, idleFor(29*time.Second))}
				in.LastArrival = now.Add(-11 * time.Minute)
			},
			want: Decision{},
		},
		{
			name: "work arrived within idle_before_retire: the idle node waits it out",
			mod: func(in *Input) {
				in.Nodes = []Node{node("w1", Idle, small, idleFor(time.Minute))}
				in.LastArrival = now.Add(-9 * time.Minute)
			},
			want: Decision{},
		},
		{
			name: "arrivals unknown (zero, after a restart): the idle node waits it out",
			mod:  func(in *Input) { in.Nodes = []Node{node("w1", Idle, small, idleFor(time.Minute))} },
			want: Decision{},
		},
		{
			name: "demand now is arrival enough, even when it does not fit the idle node",
			mod: func(in *Input) {
				in.Nodes = []Node{node("w1", Idle, small, idleFor(time.Minute))}
				in.LastArrival = now.Add(-11 * time.Minute)
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1)}
			},
			want: Decision{Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no configured flavor matches these jobs (HTCondor's negotiator matched none)")}}},
		},
		{
			name: "nothing arriving still respects min lifetime and spare",
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Nodes = []Node{
					node("w1", Idle, small, idleFor(time.Minute)),
					node("w2", Idle, small, idleFor(2*time.Minute), age(20*time.Minute)),
					node("w3", Idle, small, idleFor(3*time.Minute)),
				}
				in.LastArrival = now.Add(-time.Hour)
			},
			want: Decision{Drains: []Action{
				{Node: "w1", ID: "id-w1", Reason: text("idle for 1m0s, and no job queued or started for 1h0m0s (idle_before_retire 10m0s): nothing is arriving; keeps min 0, spare 1")},
				{Node: "w3", ID: "id-w3", Reason: text("idle for 3m0s, and no job queued or started for 1h0m0s (idle_before_retire 10m0s): nothing is arriving; keeps min 0, spare 1")},
			}},
		},
		{
			name: "min lifetime protects a young idle node",
			mod: func(in *Input) {
				in.Nodes = []Node{node("w1", Idle, small, age(20*time.Minute), idleFor(15*time.Minute))}
			},
			want: Decision{},
		},
		{
			name: "idle node a waiting job could use is not retired",
			// The job is packed onto the busy node's free cpus, but it could
			// run on the idle one too: keep it.
			mod: func(in *Input) {
				in.Nodes = []Node{
					node("w1", Busy, large, free(Resources{Cpus: 4, MemoryMB: 8192, DiskMB: 40960})),
					node("w2", Idle, large),
				}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, large)}
			},
			want: Decision{},
		},
		{
			name: "busy node never drained without max lifetime",
			mod:  func(in *Input) { in.Nodes = []Node{node("w1", Busy, large, age(100*time.Hour))} },
			want: Decision{},
		},
		{
			name: "max lifetime drains a busy node peacefully; its free capacity is not counted",
			mod: func(in *Input) {
				in.Knobs.MaxLifetime = 24 * time.Hour
				in.Nodes = []Node{node("w1", Busy, large, age(25*time.Hour), free(Resources{Cpus: 4, MemoryMB: 8192, DiskMB: 40960}))}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, large)}
			},
			want: Decision{
				Creates: []Create{{Offer: large, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.large in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}},
				Drains: []Action{{Node: "w1", ID: "id-w1", Reason: text("max lifetime 24h0m0s reached (age 25h0m0s): running jobs finish first")}},
			},
		},
		{
			name: "boot timeout: never joined nodes deleted and replaced",
			mod: func(in *Input) {
				in.Nodes = []Node{
					node("w1", Booting, medium, since(20*time.Minute)),
					node("w2", Requested, medium, since(16*time.Minute)),
					node("w3", Booting, medium, since(14*time.Minute)),
				}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 2, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 4 cpu/8192 MB from s#1 need 2 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Deletes: []Action{
					{Node: "w1", ID: "id-w1", Reason: text("never joined within boot timeout 15m0s (booting for 20m0s)")},
					{Node: "w2", Reason: text("never joined within boot timeout 15m0s (requested for 16m0s)")},
				},
			},
		},
		{
			name: "boot timeout frees max booting for replacements",
			mod: func(in *Input) {
				in.Knobs.MaxBooting = 1
				in.Nodes = []Node{node("w1", Booting, medium, since(20*time.Minute))}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium)}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Deletes: []Action{{Node: "w1", ID: "id-w1", Reason: text("never joined within boot timeout 15m0s (booting for 20m0s)")}},
			},
		},
		{
			name: "failed node deleted with its fault",
			mod: func(in *Input) {
				in.Nodes = []Node{node("w1", Failed, medium, func(n *Node) { n.Fault = "No valid host was found" })}
			},
			want: Decision{Deletes: []Action{{Node: "w1", ID: "id-w1", Reason: text("failed in the cloud: No valid host was found")}}},
		},
		{
			name: "drained node deleted",
			mod:  func(in *Input) { in.Nodes = []Node{node("w1", Drained, medium)} },
			want: Decision{Deletes: []Action{{Node: "w1", ID: "id-w1", Reason: text("drained, no job running")}}},
		},
		{
			name: "vanished ad: kept while a schedd runs a job there, deleted after",
			mod: func(in *Input) {
				gone := func(n *Node) { n.AdVanished, n.RetireAsked = true, true }
				in.Nodes = []Node{
					node("w1", Drained, medium, gone, func(n *Node) { n.ScheddJobs = []string{"schedd s1 job 12.0"} }),
					node("w2", Drained, medium, gone),
					node("w3", Booting, medium, since(20*time.Minute), func(n *Node) {
						n.ScheddJobs = []string{"schedd s1 job 13.0", "schedd s2 job 1.0", "schedd s1 job 14.0", "schedd s1 job 15.0"}
					}),
					node("w4", Retiring, medium, since(2*time.Hour), func(n *Node) { n.ScheddJobs = []string{"schedd s1 job 16.0"} }),
				}
			},
			want: Decision{
				Deletes: []Action{{Node: "w2", ID: "id-w2", Reason: text("startd ad vanished and no schedd runs a job there")}},
				Notes: texts(
					"w1: startd ad vanished but schedd s1 job 12.0 runs there; keeping",
					"w3: booting and due for deletion but schedd s1 job 13.0, schedd s1 job 14.0, schedd s1 job 15.0 and 1 more runs there; keeping",
					"w4: retiring and due for deletion but schedd s1 job 16.0 runs there; keeping",
				),
			},
		},
		{
			name: "vanished ad, not asked to retire: kept until its token or lifetime runs out",
			mod: func(in *Input) {
				in.Knobs.MaxLifetime = 48 * time.Hour
				gone := func(n *Node) { n.AdVanished = true }
				in.Nodes = []Node{
					node("w1", Drained, medium, gone, func(n *Node) { n.TokenExpires = in.Now.Add(time.Hour) }),
					node("w2", Drained, medium, gone, func(n *Node) { n.TokenExpires = in.Now.Add(-time.Minute) }),
					node("w3", Drained, medium, gone, func(n *Node) { n.Created = in.Now.Add(-49 * time.Hour) }),
				}
			},
			want: Decision{
				Deletes: []Action{
					{Node: "w2", ID: "id-w2", Reason: text("startd ad vanished, its token expired at 2026-11-24T11:59:00Z, and no schedd runs a job there")},
					{Node: "w3", ID: "id-w3", Reason: text("startd ad vanished, max lifetime 48h0m0s reached, and no schedd runs a job there")},
				},
				Notes: texts("w1: startd ad vanished but it was not asked to retire and its token and lifetime have not run out: kept (any worker's token can withdraw another VM's ads)"),
			},
		},
		{
			name: "vanished ad kept: it counts towards min, no replacement beside it",
			mod: func(in *Input) {
				in.Knobs.Min = 1
				in.Nodes = []Node{node("w1", Drained, medium, func(n *Node) { n.AdVanished, n.TokenExpires = true, in.Now.Add(time.Hour) })}
			},
			want: Decision{Notes: texts("w1: startd ad vanished but it was not asked to retire and its token and lifetime have not run out: kept (any worker's token can withdraw another VM's ads)")},
		},
		{
			name: "vanished ad and schedds not all asked: kept",
			mod: func(in *Input) {
				in.ScheddJobsUnknown = "schedd s2: connection refused"
				in.Nodes = []Node{
					node("w1", Drained, medium, func(n *Node) { n.AdVanished = true }),
					node("w2", Drained, medium),
					node("w3", Booting, medium, since(20*time.Minute)),
				}
			},
			want: Decision{
				Deletes: []Action{
					{Node: "w2", ID: "id-w2", Reason: text("drained, no job running")},
					{Node: "w3", ID: "id-w3", Reason: text("never joined within boot timeout 15m0s (booting for 20m0s)")},
				},
				Notes: texts("w1: startd ad vanished and the schedds could not all be asked whether a job runs there (schedd s2: connection refused); keeping"),
			},
		},
		{
			name: "delete retried with growing gaps",
			mod: func(in *Input) {
				in.Nodes = []Node{
					node("w1", Deleting, medium, since(6*time.Minute), func(n *Node) { n.Attempts = 1 }),
					node("w2", Deleting, medium, since(6*time.Minute), func(n *Node) { n.Attempts = 2 }),  // next due at 15m
					node("w3", Deleting, medium, since(16*time.Minute), func(n *Node) { n.Attempts = 2 }), // due
					node("w4", Deleting, medium, since(4*time.Minute), func(n *Node) { n.Attempts = 1 }),  // not yet
				}
			},
			want: Decision{Deletes: []Action{
				{Node: "w1", ID: "id-w1", Reason: text("delete still pending after 6m0s: retry, attempt 2")},
				{Node: "w3", ID: "id-w3", Reason: text("delete still pending after 16m0s: retry, attempt 3")},
			}},
		},
		{
			name: "drain timeout: running jobs are never killed, a note instead",
			mod: func(in *Input) {
				in.Nodes = []Node{
					node("w1", Retiring, large, since(2*time.Hour), running(2)),
					node("w2", Retiring, large, since(2*time.Hour)),
					node("w3", Retiring, large, since(10*time.Minute), running(1)),
				}
			},
			want: Decision{
				Deletes: []Action{{Node: "w2", ID: "id-w2", Reason: text("retiring for 2h0m0s, past drain timeout 1h0m0s, no job running")}},
				Notes:   texts("w1 has been retiring for 2h0m0s, past drain timeout 1h0m0s, and still runs 2 jobs: waiting, a running job is never killed"),
			},
		},
		{
			name: "retiring, deleting and failed nodes offer no capacity",
			mod: func(in *Input) {
				in.Nodes = []Node{
					node("w1", Retiring, large, since(time.Minute), free(sizes[large])),
					node("w2", Deleting, large, since(time.Minute), free(sizes[large])),
				}
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, large)}
			},
			want: Decision{Creates: []Create{{Offer: large, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.large in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "largest group first when max binds",
			mod: func(in *Input) {
				in.Knobs.Max = 1
				in.Demand = []Demand{jobs("s#1", 1, 1024, 1, small), jobs("s#2", 2, 4096, 1, small)}
			},
			want: Decision{
				Creates: []Create{{Offer: small, Count: 1, Serves: []string{"s#2"},
					Reason: text("1 idle job of 2 cpu/4096 MB from s#2 need 1 × m1.small in siteA/RegionOne (cheapest fit, 1 job per VM)")}},
				Unmet: []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("no room: max 1 reached: 0 servers exist, 1 planned")}},
			},
		},
		{
			name: "min blocked by max: a note",
			mod: func(in *Input) {
				in.Knobs.Min, in.Knobs.Max = 3, 2
				in.Nodes = []Node{node("w1", Busy, small)}
			},
			want: Decision{
				Creates: []Create{{Offer: small, Count: 1, Reason: text("min 3: 1 live, 0 planned; 1 × m1.small in siteA/RegionOne (cheapest offer)")}},
				Notes:   texts("min 3 workers: 1 more wanted, blocked: max 2 reached: 1 server exists, 1 planned"),
			},
		},
		{
			name: "spare blocked by quota everywhere: a note naming each block",
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 0, MaxCores: -1, MaxRAMMB: -1}
				in.Regions[1].Limits = nil
			},
			want: Decision{Notes: texts(
				"siteB/RegionOne quota unknown (limits not read this cycle): no VM created there",
				"spare 1 workers: 1 more wanted, blocked: siteA/RegionOne quota: instances 0 used + 0 planned of 0; siteB/RegionOne quota unknown",
			)},
		},
		{
			name: "spare falls to the next largest offer with room; a GPU flavor last",
			// g.large (8 cpu, 1 gpu) is larger than b.medium, but a spare
			// GPU VM would be an expensive way to wait for cpu jobs.
			mod: func(in *Input) {
				in.Knobs.Spare = 1
				in.Regions[0].Limits = &cloud.Limits{MaxInstances: 0, MaxCores: -1, MaxRAMMB: -1}
			},
			want: Decision{Creates: []Create{{Offer: bMed, Count: 1,
				Reason: text("spare 1: 0 unused now; 1 × b.medium in siteB/RegionOne (largest offer: takes any job a flavor can)")}}},
		},
		{
			name: "idle node of a flavor no longer offered still serves demand that lists it",
			mod: func(in *Input) {
				old := OfferKey{Loc: locA, Flavor: "m1.old"}
				in.Nodes = []Node{node("w1", Idle, old, free(Resources{Cpus: 4, MemoryMB: 8192}))}
				in.Demand = []Demand{jobs("s#1", 1, 1024, 5, old, small)}
			},
			want: Decision{Creates: []Create{{Offer: small, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 1 cpu/1024 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "idle node of a flavor no longer offered is retired when unused",
			mod: func(in *Input) {
				old := OfferKey{Loc: locA, Flavor: "m1.old"}
				in.Nodes = []Node{node("w1", Idle, old, free(Resources{Cpus: 4, MemoryMB: 8192}))}
				in.Demand = []Demand{jobs("s#1", 1, 1024, 1, old)}
				in.Demand[0].Need.Cpus = 8
			},
			want: Decision{
				Drains: []Action{{Node: "w1", ID: "id-w1", Reason: text("idle for 1h0m0s (idle_before_retire 10m0s) and no waiting job fits it; keeps min 0, spare 0")}},
				Unmet:  []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("none of the flavors matched (siteA/RegionOne/m1.old) is offered this cycle")}},
			},
		},
		{
			// A job whose Requirements hold only against the offline ads
			// (TARGET.Offline =?= True): the worker booted for it stood
			// idle beside it past UnmatchedAfter. Not demand for that
			// flavor any more: no VM, and the idle worker is not held.
			name: "jobs unmatched beside an idle worker past UnmatchedAfter: no VM, the worker retires",
			mod: func(in *Input) {
				d := jobs("s#1", 1, 1024, 1, small)
				d.Unmatched = []Unmatched{{Offer: small, Since: now.Add(-4 * time.Minute)}}
				in.Demand = []Demand{d}
				in.Nodes = []Node{node("w1", Idle, small)}
			},
			want: Decision{
				Drains: []Action{{Node: "w1", ID: "id-w1", Reason: text("idle for 1h0m0s (idle_before_retire 10m0s) and no waiting job fits it; keeps min 0, spare 0")}},
				Unmet:  []Unmet{{Demand: "s#1", Jobs: 1, Reason: text("unmatched on real workers: these jobs stayed idle beside idle workers of m1.small in siteA/RegionOne for 4m0s (HTCondor matched them only to the offline flavor ads); no VM is booted for them")}},
			},
		},
		{
			name: "jobs unmatched beside an idle worker for less than UnmatchedAfter: still demand, the worker is kept",
			mod: func(in *Input) {
				d := jobs("s#1", 1, 1024, 3, small)
				d.Unmatched = []Unmatched{{Offer: small, Since: now.Add(-2 * time.Minute)}}
				in.Demand = []Demand{d}
				in.Nodes = []Node{node("w1", Idle, small)}
			},
			want: Decision{Creates: []Create{{Offer: small, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 1 cpu/1024 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "unmatched on one flavor's workers: the other flavors still serve the jobs",
			mod: func(in *Input) {
				d := jobs("s#1", 1, 1024, 2, small, medium)
				d.Unmatched = []Unmatched{{Offer: small, Since: now.Add(-10 * time.Minute)}}
				in.Demand = []Demand{d}
			},
			want: Decision{
				Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
					Reason: text("2 idle jobs of 1 cpu/1024 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 4 jobs per VM)")}},
				Notes: texts("s#1: unmatched on real workers: these jobs stayed idle beside idle workers of m1.small in siteA/RegionOne for 10m0s (HTCondor matched them only to the offline flavor ads); no VM is booted for them there"),
			},
		},
		{
			name: "UnmatchedAfter below zero: the rule is off",
			mod: func(in *Input) {
				in.Knobs.UnmatchedAfter = -1
				d := jobs("s#1", 1, 1024, 1, small)
				d.Unmatched = []Unmatched{{Offer: small, Since: now.Add(-time.Hour)}}
				in.Demand = []Demand{d}
			},
			want: Decision{Creates: []Create{{Offer: small, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 1 cpu/1024 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "an unmatched entry for an offer the jobs are not eligible for changes nothing",
			mod: func(in *Input) {
				in.Knobs.UnmatchedAfter = time.Minute
				d := jobs("s#1", 1, 1024, 1, small)
				d.Unmatched = []Unmatched{{Offer: medium, Since: now.Add(-time.Hour)}}
				in.Demand = []Demand{d}
			},
			want: Decision{Creates: []Create{{Offer: small, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 1 cpu/1024 MB from s#1 need 1 × m1.small in siteA/RegionOne (cheapest fit, 2 jobs per VM)")}}},
		},
		{
			name: "a cloud missing from Clouds has weight 0 and no max",
			mod: func(in *Input) {
				in.Clouds = in.Clouds[:1]
				in.Demand = []Demand{jobs("s#1", 4, 8192, 1, medium, bMed, bMed)}
			},
			want: Decision{Creates: []Create{{Offer: medium, Count: 1, Serves: []string{"s#1"},
				Reason: text("1 idle job of 4 cpu/8192 MB from s#1 need 1 × m1.medium in siteA/RegionOne (cheapest fit, 1 job per VM)")}}},
		},
	}
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
	// One rule: the delete due after att attempts is the sum of the gaps
	// lib/provision waits between them.
	var sum time.Duration
	for att := 1; att <= 20; att++ {
		sum += DeleteRetryGap(T, att)
		if got := DeleteDue(T, att); got != sum {
			t.Errorf("DeleteDue(T, %d) = %v, the gaps DeleteRetryGap gives sum to %v", att, got, sum)
		}
	}
}
