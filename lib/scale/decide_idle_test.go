package scale

import (
	"time"
)

// Whole decisions: min, spare and retiring idle nodes.
var floorCases = []decideCase{
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
}
