package scale

import (
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Whole decisions: lifecycle, unmatched jobs, offers gone.
var lifeCases = []decideCase{
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
