package scale

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Each kind renders from its figures alone; the sentences the whole
// decisions produce are checked in decide_*_test.go.
func TestReasonText(t *testing.T) {
	need := Resources{Cpus: 2, MemoryMB: 4096}
	maxBlock := Block{Limit: LimitMax, Of: 3, Exists: 3, Out: StateCounts{Drained: 1, Deleting: 2}, Planned: 1}
	for _, tc := range []struct {
		r    Reason
		want string
	}{
		{Reason{Kind: CreateForDemand, Jobs: 3, Need: need, Demand: "s#1", Count: 2, Offer: small, PerVM: 2, Choice: &Choice{Pick: PickCheapest}},
			"3 idle jobs of 2 cpu/4096 MB from s#1 need 2 × m1.small in siteA/RegionOne (cheapest fit, 2 jobs per VM)"},
		{Reason{Kind: CreateForDemand, Jobs: 1, Need: need, Demand: "s#1", Count: 1, Offer: large, PerVM: 4,
			Choice: &Choice{Pick: PickServesMost, Other: small, Serve: 2, Block: maxBlock}}, "1 idle job of 2 cpu/4096 MB from s#1 need 1 × m1.large in siteA/RegionOne " +
			"(serves the most of them; m1.small in siteA/RegionOne would serve 2 under max 3: 3 servers exist (1 drained, 2 deleting), 1 planned, 4 jobs per VM)"},
		{Reason{Kind: CreateForDemand, Jobs: 1, Need: need, Demand: "s#1", Count: 1, Offer: cSmall, PerVM: 1, Moved: true,
			Choice: &Choice{Pick: PickCheapestWithRoom, Other: small, Block: Block{Limit: LimitQuotaUnknown, Loc: locA}}},
			"moved from a failing region: 1 idle job of 2 cpu/4096 MB from s#1 need 1 × m1.small in siteA/RegionTwo (cheapest fit with room; m1.small in siteA/RegionOne: siteA/RegionOne quota unknown, 1 job per VM)"},
		{Reason{Kind: CreateForMin, Min: 2, Live: 1, Count: 1, Offer: small}, "min 2: 1 live, 0 planned; 1 × m1.small in siteA/RegionOne (cheapest offer)"},
		{Reason{Kind: CreateForSpare, Spare: 1, Count: 1, Offer: large}, "spare 1: 0 unused now; 1 × m1.large in siteA/RegionOne (largest offer: takes any job a flavor can)"},
		{Reason{Kind: CreateForHeadroom, Demand: "s#2", Need: need, Knob: 5 * time.Minute, Count: 1, Offer: medium},
			"jobs wait and no node has room for a job of 2 cpu/4096 MB, the widest from s#2 seen waiting in the last 5m0s; 1 × m1.medium in siteA/RegionOne (cheapest offer that holds one)"},
		{Reason{Kind: DeleteFailed}, "failed in the cloud: no fault message"},
		{Reason{Kind: DeleteNeverJoined, Knob: 15 * time.Minute, State: Booting, For: 20 * time.Minute}, "never joined within boot timeout 15m0s (booting for 20m0s)"},
		{Reason{Kind: DeleteVanishedTokenExpired, At: now}, "startd ad vanished, its token expired at 2026-11-24T12:00:00Z, and no schedd runs a job there"},
		{Reason{Kind: DeleteRetry, For: time.Hour, Attempt: 3}, "delete still pending after 1h0m0s: retry, attempt 3"},
		{Reason{Kind: DrainFreesInstance, Jobs: 2, Need: need, Demand: "s#1", For: time.Hour, Offer: small,
			Blocks: []Block{{Limit: LimitQuota, Loc: locA, Resource: "instances", Used: 4, Of: 4}}},
			"frees an instance for 2 jobs of 2 cpu/4096 MB from s#1, waiting 1h0m0s: siteA/RegionOne instance quota full (4 of 4) and this m1.small cannot run them; running jobs finish first"},
		{Reason{Kind: DrainMakesRoom, Jobs: 2, Need: need, Demand: "s#1", For: time.Hour, Offer: small, Holds: 1, Best: "m1.large", PerVM: 4,
			Blocks: []Block{{Limit: LimitCloudMax, Cloud: "a", Of: 2}, {Limit: LimitCloudMax, Cloud: "b", Of: 3}}},
			"makes room under cloud a max_vms 2, cloud b max_vms 3 for 2 jobs of 2 cpu/4096 MB from s#1, waiting 1h0m0s: this m1.small holds 1 of them, a m1.large 4; running jobs finish first"},
		{Reason{Kind: UnmetNoRoom, Blocks: []Block{maxBlock, {Limit: LimitQuota, Loc: locB, Resource: "cores", Used: 8, Planned: 4, Of: 16, Flavor: "g.large", Needs: 8}}},
			"no room: max 3 reached: 3 servers exist (1 drained, 2 deleting), 1 planned; siteB/RegionOne quota: cores 8 used + 4 planned of 16, g.large needs 8"},
		{Reason{Kind: UnmetNotOffered, Offers: []OfferKey{small, bMed, small}}, "none of the flavors matched (siteA/RegionOne/m1.small, siteB/RegionOne/b.medium) is offered this cycle"},
		{Reason{Kind: UnmetUnmatched, Beside: []Beside{{Offer: small, For: time.Minute}}},
			"unmatched on real workers: these jobs stayed idle beside idle workers of m1.small in siteA/RegionOne for 1m0s (HTCondor matched them only to the offline flavor ads); no VM is booted for them"},
		{Reason{Kind: NoteScheddJobs, Node: "w1", State: Retiring, ScheddJobs: []string{"a", "b", "c", "d", "e"}},
			"w1: retiring and due for deletion but a, b, c and 2 more runs there; keeping"},
		{Reason{Kind: NoteSpareShort, Spare: 2, Wanted: 1}, "spare 2 workers: 1 more wanted, blocked: no offer configured"},
		{Reason{Kind: NoteBackoff, Blocks: []Block{{Limit: LimitBackoff, Loc: locB, Until: now}}}, "siteB/RegionOne backing off until 2026-11-24T12:00:00Z (no reason given): no VM created there"},
		{TextNote("dry run"), "dry run"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.r.Kind, got, tc.want)
		}
	}
}

// A reason read back from JSON (as `ehos status` reads the provisioner's
// report) keeps its kind and figures, and so renders the same sentence.
func TestReasonJSON(t *testing.T) {
	in := base()
	in.Knobs.Max, in.Knobs.Min, in.Knobs.Spare = 3, 1, 1
	in.Nodes = []Node{node("w1", Deleting, small), node("w2", Idle, small, age(time.Hour)), node("w3", Failed, small), node("w4", Drained, small, running(1))}
	in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium, large), jobs("s#2", 64, 1, 1, large)}
	in.Regions[1].Limits = nil
	d := Decide(in)
	if len(d.Creates)+len(d.Deletes)+len(d.Unmet)+len(d.Notes) < 5 {
		t.Fatalf("too little to check: %+v", d)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "no room") {
		t.Errorf("JSON carries words, want kinds and figures: %s", b)
	}
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("decision changed through JSON (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(d, back, asText); diff != "" {
		t.Errorf("sentences changed through JSON (-before +after):\n%s", diff)
	}
}
