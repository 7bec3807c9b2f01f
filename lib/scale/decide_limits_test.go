package scale

import (
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Whole decisions: max, max_vms, max_booting, quotas, back-offs.
var limitCases = []decideCase{
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
}
