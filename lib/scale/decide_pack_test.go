package scale

import (
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Whole decisions: packing demand and choosing offers.
var packCases = []decideCase{
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
}
