package scale

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// randomInput makes a small random world: a few regions with random quota,
// back-off and flavors, random demand and nodes in every state, random knobs.
func randomInput(r *rand.Rand) Input {
	pick := func(n int) int { return r.IntN(n) }
	minutes := func(n int) time.Duration { return time.Duration(pick(n)) * time.Minute }
	in := Input{Now: now, Knobs: Knobs{
		Min: pick(4), Max: pick(15), Spare: pick(3), MaxBooting: pick(6), MaxCreatesPerCycle: pick(6),
		IdleBeforeRetire: minutes(30), MinLifetime: minutes(60), BootTimeout: minutes(30),
		DrainTimeout: minutes(120), DeleteTimeout: minutes(10),
	}}
	if pick(2) == 0 {
		in.Knobs.MaxLifetime = minutes(300)
	}
	var all []Offer
	for c := 0; c < 2; c++ {
		name := fmt.Sprintf("c%d", c)
		in.Clouds = append(in.Clouds, Cloud{Name: name, MaxVMs: pick(8), Weight: pick(3)})
		for rg := 0; rg < 1+pick(2); rg++ {
			reg := Region{Loc: cloud.Location{Cloud: name, Region: fmt.Sprintf("r%d", rg)}}
			switch pick(8) {
			case 0: // quota unknown
			case 1:
				reg.Limits = &cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1}
			default:
				reg.Limits = &cloud.Limits{MaxInstances: pick(12), UsedInstances: pick(8), MaxCores: pick(60), UsedCores: pick(40), MaxRAMMB: pick(200000), UsedRAMMB: pick(100000)}
			}
			if pick(5) == 0 {
				reg.BackoffUntil, reg.BackoffReason = now.Add(minutes(20)-10*time.Minute), "test"
			}
			for f := 0; f < 1+pick(4); f++ {
				cpus := 1 << pick(4)
				o := Offer{OfferKey: OfferKey{Loc: reg.Loc, Flavor: fmt.Sprintf("f%d", f)},
					Size: Resources{Cpus: cpus, MemoryMB: cpus * 2048, DiskMB: cpus * 10240, GPUs: pick(2) * pick(2)},
					Cost: float64(1 + pick(10))}
				if pick(2) == 0 {
					o.VCPUs, o.RAMMB = cpus, cpus*2048+512
				}
				reg.Offers = append(reg.Offers, o)
				all = append(all, o)
			}
			in.Regions = append(in.Regions, reg)
		}
	}
	for g := 0; g < pick(8); g++ {
		d := Demand{Key: fmt.Sprintf("s#%d", g), Idle: pick(12), Oldest: now.Add(-minutes(60)),
			Need: Resources{Cpus: pick(9), MemoryMB: pick(20000), DiskMB: pick(2) * pick(50000), GPUs: pick(2) * pick(2)}}
		for _, o := range all {
			if pick(3) == 0 {
				d.Eligible = append(d.Eligible, o.OfferKey)
			}
		}
		for _, k := range d.Eligible {
			if pick(4) == 0 { // jobs that sat beside idle workers of it
				d.Unmatched = append(d.Unmatched, Unmatched{Offer: k, Since: now.Add(-minutes(8))})
			}
		}
		if pick(5) == 0 { // a flavor only old nodes still have
			d.Eligible = append(d.Eligible, OfferKey{Loc: cloud.Location{Cloud: "gone", Region: "r"}, Flavor: "old"})
		}
		in.Demand = append(in.Demand, d)
	}
	states := []NodeState{Requested, Booting, Idle, Busy, Retiring, Drained, Deleting, Failed}
	for v := 0; v < pick(14); v++ {
		o := all[pick(len(all))]
		if pick(10) == 0 {
			o = Offer{OfferKey: OfferKey{Loc: cloud.Location{Cloud: "gone", Region: "r"}, Flavor: "old"}, Size: Resources{Cpus: 4, MemoryMB: 8192}}
		}
		n := Node{ID: fmt.Sprintf("id%d", v), Name: fmt.Sprintf("w%d", v), Offer: o.OfferKey, State: states[pick(len(states))],
			Created: now.Add(-minutes(600)), StateSince: now.Add(-minutes(120)), Attempts: pick(4)}
		switch n.State {
		case Idle:
			n.Free, n.IdleSince = o.Size, now.Add(-minutes(120))
		case Busy:
			n.Running = 1 + pick(3)
			n.Free = Resources{Cpus: pick(o.Size.Cpus + 1), MemoryMB: pick(o.Size.MemoryMB + 1), DiskMB: pick(o.Size.DiskMB + 1)}
		case Retiring, Drained, Failed:
			n.Running = pick(2) * pick(3)
		}
		in.Nodes = append(in.Nodes, n)
	}
	return in
}

// shuffled returns in with every list in another order.
func shuffled(r *rand.Rand, in Input) Input {
	out := in
	out.Clouds = slices.Clone(in.Clouds)
	out.Regions = slices.Clone(in.Regions)
	out.Demand = slices.Clone(in.Demand)
	out.Nodes = slices.Clone(in.Nodes)
	for i := range out.Regions {
		out.Regions[i].Offers = slices.Clone(out.Regions[i].Offers)
		r.Shuffle(len(out.Regions[i].Offers), func(a, b int) {
			out.Regions[i].Offers[a], out.Regions[i].Offers[b] = out.Regions[i].Offers[b], out.Regions[i].Offers[a]
		})
	}
	for i := range out.Demand {
		out.Demand[i].Unmatched = slices.Clone(out.Demand[i].Unmatched)
		r.Shuffle(len(out.Demand[i].Unmatched), func(a, b int) {
			out.Demand[i].Unmatched[a], out.Demand[i].Unmatched[b] = out.Demand[i].Unmatched[b], out.Demand[i].Unmatched[a]
		})
		out.Demand[i].Eligible = slices.Clone(out.Demand[i].Eligible)
		r.Shuffle(len(out.Demand[i].Eligible), func(a, b int) {
			out.Demand[i].Eligible[a], out.Demand[i].Eligible[b] = out.Demand[i].Eligible[b], out.Demand[i].Eligible[a]
		})
	}
	r.Shuffle(len(out.Clouds), func(a, b int) { out.Clouds[a], out.Clouds[b] = out.Clouds[b], out.Clouds[a] })
	r.Shuffle(len(out.Regions), func(a, b int) { out.Regions[a], out.Regions[b] = out.Regions[b], out.Regions[a] })
	r.Shuffle(len(out.Demand), func(a, b int) { out.Demand[a], out.Demand[b] = out.Demand[b], out.Demand[a] })
	r.Shuffle(len(out.Nodes), func(a, b int) { out.Nodes[a], out.Nodes[b] = out.Nodes[b], out.Nodes[a] })
	return out
}

func TestDecideProperties(t *testing.T) {
	const runs = 3000
	for seed := uint64(0); seed < runs; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		in := randomInput(r)
		got := Decide(in)
		if problems := checkInvariants(in, got); len(problems) > 0 {
			t.Fatalf("seed %d:\n%s\ninput: %+v\ndecision: %+v", seed, strings.Join(problems, "\n"), in, got)
		}
		if again := Decide(shuffled(r, in)); !cmp.Equal(got, again) {
			t.Fatalf("seed %d: decision depends on input order (-first +shuffled):\n%s", seed, cmp.Diff(got, again))
		}
	}
}

func checkInvariants(in Input, d Decision) []string {
	var bad []string
	fail := func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) }
	k := in.Knobs

	deleted := map[string]bool{}
	for _, a := range d.Deletes {
		deleted[a.Node] = true
	}
	nodes := map[string]Node{}
	live, booting := 0, 0
	// Every server the input lists exists, whatever its state, deleted by
	// this decision or not: the cloud has not said it is gone.
	exists := len(in.Nodes)
	cloudExists := map[string]int{}
	for _, n := range in.Nodes {
		nodes[n.Name] = n
		cloudExists[n.Offer.Loc.Cloud]++
		if deleted[n.Name] {
			continue
		}
		switch n.State {
		case Deleting, Failed, Drained:
		default:
			live++
		}
		if n.State == Requested || n.State == Booting {
			booting++
		}
	}

	regions := map[cloud.Location]Region{}
	offers := map[OfferKey]Offer{}
	for _, rg := range in.Regions {
		regions[rg.Loc] = rg
		for _, o := range rg.Offers {
			offers[o.OfferKey] = o
		}
	}
	demand := map[string]Demand{}
	for _, g := range in.Demand {
		demand[g.Key] = g
	}

	total := 0
	cloudMade := map[string]int{}
	type use struct{ inst, cores, ram int }
	regionMade := map[cloud.Location]*use{}
	for _, c := range d.Creates {
		if c.Count <= 0 {
			fail("create of %d VMs: %+v", c.Count, c)
		}
		total += c.Count
		cloudMade[c.Offer.Loc.Cloud] += c.Count
		o, ok := offers[c.Offer]
		if !ok {
			fail("create of an offer nobody offers: %v", c.Offer)
			continue
		}
		rg := regions[c.Offer.Loc]
		if rg.Limits == nil {
			fail("create in %v whose quota is unknown", rg.Loc)
		}
		if rg.BackoffUntil.After(in.Now) {
			fail("create in %v while it backs off", rg.Loc)
		}
		u := regionMade[rg.Loc]
		if u == nil {
			u = &use{}
			regionMade[rg.Loc] = u
		}
		vc, ram := o.VCPUs, o.RAMMB
		if vc <= 0 {
			vc = o.Size.Cpus
		}
		if ram <= 0 {
			ram = o.Size.MemoryMB
		}
		u.inst += c.Count
		u.cores += c.Count * vc
		u.ram += c.Count * ram
		for _, key := range c.Serves {
			g, ok := demand[key]
			if !ok {
				fail("create serves unknown demand %q", key)
				continue
			}
			if !slices.Contains(g.Eligible, c.Offer) {
				fail("create of %v serves %q, which is not eligible there", c.Offer, key)
			}
			for _, u := range g.Unmatched {
				if after := UnmatchedAfter(k); u.Offer == c.Offer && after > 0 && in.Now.Sub(u.Since) >= after {
					fail("create of %v serves %q, whose jobs sat unmatched beside its workers for %s", c.Offer, key, in.Now.Sub(u.Since))
				}
			}
			if fit(o.Size, norm(g.Need)) == 0 {
				fail("create of %v serves %q, too big for it", c.Offer, key)
			}
		}
	}
	if total > 0 {
		if k.Max > 0 && exists+total > k.Max {
			fail("max %d exceeded: %d servers exist + %d created", k.Max, exists, total)
		}
		if k.MaxBooting > 0 && booting+total > k.MaxBooting {
			fail("max_booting %d exceeded: %d booting + %d created", k.MaxBooting, booting, total)
		}
		if k.MaxCreatesPerCycle > 0 && total > k.MaxCreatesPerCycle {
			fail("max_creates_per_cycle %d exceeded: %d", k.MaxCreatesPerCycle, total)
		}
	}
	for _, c := range in.Clouds {
		if made := cloudMade[c.Name]; made > 0 && c.MaxVMs > 0 && cloudExists[c.Name]+made > c.MaxVMs {
			fail("cloud %s max_vms %d exceeded: %d servers exist + %d", c.Name, c.MaxVMs, cloudExists[c.Name], made)
		}
	}
	for loc, u := range regionMade {
		l := regions[loc].Limits
		if l == nil {
			continue
		}
		if l.MaxInstances >= 0 && l.UsedInstances+u.inst > l.MaxInstances {
			fail("%v instances quota exceeded", loc)
		}
		if l.MaxCores >= 0 && l.UsedCores+u.cores > l.MaxCores {
			fail("%v cores quota exceeded", loc)
		}
		if l.MaxRAMMB >= 0 && l.UsedRAMMB+u.ram > l.MaxRAMMB {
			fail("%v ram quota exceeded", loc)
		}
	}

	for _, g := range in.Demand {
		if len(g.Eligible) == 0 && g.Idle > 0 {
			found := false
			for _, u := range d.Unmet {
				found = found || (u.Demand == g.Key && u.Jobs == g.Idle)
			}
			if !found {
				fail("demand %q with no eligible flavor is not reported unmet", g.Key)
			}
		}
	}
	for _, u := range d.Unmet {
		if g := demand[u.Demand]; u.Jobs <= 0 || u.Jobs > g.Idle {
			fail("unmet %q: %d jobs of %d idle", u.Demand, u.Jobs, g.Idle)
		}
	}

	idleDrains := 0
	for _, a := range d.Drains {
		n := nodes[a.Node]
		maxLife := k.MaxLifetime > 0 && in.Now.Sub(n.Created) >= k.MaxLifetime
		forInstance := a.Reason.Kind == DrainFreesInstance
		if forInstance && !slices.ContainsFunc(d.Unmet, func(u Unmet) bool {
			return blockedBy(u.Reason, func(b Block) bool { return b.Limit == LimitQuota && b.Resource == "instances" })
		}) {
			fail("node %s drained to free an instance, but no demand waits for one", n.Name)
		}
		underMax := a.Reason.Kind == DrainMakesRoom && a.Reason.Blocks[0].Limit == LimitMax
		longWait := k.BootTimeout
		if longWait <= 0 {
			longWait = 15 * time.Minute
		}
		if underMax && !slices.ContainsFunc(d.Unmet, func(u Unmet) bool {
			return u.Reason.Kind == UnmetNoRoom && u.Reason.Blocks[0].Limit == LimitMax && in.Now.Sub(demand[u.Demand].Oldest) >= longWait
		}) {
			fail("node %s drained to make room under max, but no demand has waited for room for the boot timeout", n.Name)
		}
		underCap := a.Reason.Kind == DrainMakesRoom && a.Reason.Blocks[0].Limit == LimitCloudMax
		capOf := func(b Block) bool { return b.Limit == LimitCloudMax && b.Cloud == n.Offer.Loc.Cloud }
		if underCap && !blockedBy(a.Reason, capOf) {
			fail("node %s of cloud %s drained to make room under another cloud's max_vms", n.Name, n.Offer.Loc.Cloud)
		}
		if underCap && !slices.ContainsFunc(d.Unmet, func(u Unmet) bool {
			return blockedBy(u.Reason, capOf) && in.Now.Sub(demand[u.Demand].Oldest) >= longWait
		}) {
			fail("node %s drained to make room under its cloud's max_vms, but no demand has waited for room there for the boot timeout", n.Name)
		}
		rebalance := forInstance || underMax || underCap
		switch {
		case n.State == Busy && !maxLife && !rebalance:
			fail("busy node %s drained without max lifetime", n.Name)
		case n.State == Busy && rebalance && in.Now.Sub(n.Created) < k.MinLifetime:
			fail("busy node %s drained younger than min lifetime", n.Name)
		case n.State != Busy && n.State != Idle:
			fail("%s node %s drained", n.State, n.Name)
		case n.State == Idle && !maxLife:
			idleDrains++
			if in.Now.Sub(n.Created) < k.MinLifetime {
				fail("node %s drained younger than min lifetime", n.Name)
			}
		}
		if deleted[a.Node] {
			fail("node %s both drained and deleted", a.Node)
		}
	}
	if idleDrains > 0 {
		serving := 0
		for _, n := range in.Nodes {
			switch n.State {
			case Requested, Booting, Idle, Busy:
				if !deleted[n.Name] {
					serving++
				}
			}
		}
		for _, a := range d.Drains {
			if n := nodes[a.Node]; n.State == Busy || (k.MaxLifetime > 0 && in.Now.Sub(n.Created) >= k.MaxLifetime) {
				serving--
			}
		}
		if serving-idleDrains < k.Min {
			fail("idle drains leave %d serving nodes, below min %d", serving-idleDrains, k.Min)
		}
	}
	for _, a := range d.Deletes {
		n := nodes[a.Node]
		switch n.State {
		case Idle, Busy:
			fail("%s node %s deleted", n.State, n.Name)
		case Failed:
		default:
			if n.Running > 0 {
				fail("node %s deleted with %d jobs running", n.Name, n.Running)
			}
		}
	}
	return bad
}

// blockedBy says one of r's limits is one that is.
func blockedBy(r Reason, is func(Block) bool) bool { return slices.ContainsFunc(r.Blocks, is) }
