package scale

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// bigInput is issue 7's scale: 100,000 idle jobs in 1,000 shapes, 2,000 VMs
// across 3 regions with 10 flavors each.
func bigInput() Input {
	r := rand.New(rand.NewPCG(7, 7))
	locs := []cloud.Location{{Cloud: "siteA", Region: "RegionOne"}, {Cloud: "siteA", Region: "RegionTwo"}, {Cloud: "siteB", Region: "RegionOne"}}
	in := Input{
		Now: now,
		Knobs: Knobs{
			Min: 10, Max: 5000, Spare: 20, MaxBooting: 1000, MaxCreatesPerCycle: 500,
			IdleBeforeRetire: 10 * time.Minute, MinLifetime: 30 * time.Minute, MaxLifetime: 48 * time.Hour,
			BootTimeout: 15 * time.Minute, DrainTimeout: time.Hour, DeleteTimeout: 5 * time.Minute,
		},
		Clouds: []Cloud{{Name: "siteA", Weight: 1, MaxVMs: 4000}, {Name: "siteB", Weight: 2}},
	}
	var all []OfferKey
	for _, loc := range locs {
		reg := Region{Loc: loc, Limits: &cloud.Limits{MaxInstances: 3000, UsedInstances: 700, MaxCores: 100000, UsedCores: 9000, MaxRAMMB: 400 << 20, UsedRAMMB: 30 << 20}}
		for f := 0; f < 10; f++ {
			cpus := 1 << (f / 2)          // 1,1,2,2,...,16,16
			mem := cpus * 2048 << (f % 2) // 2 or 4 GB per cpu
			k := OfferKey{Loc: loc, Flavor: fmt.Sprintf("f%02d", f)}
			reg.Offers = append(reg.Offers, Offer{OfferKey: k, Size: Resources{Cpus: cpus, MemoryMB: mem, DiskMB: cpus * 20480}, Cost: float64(cpus) + float64(mem)/4096})
			all = append(all, k)
		}
		in.Regions = append(in.Regions, reg)
	}
	for g := 0; g < 1000; g++ {
		need := Resources{Cpus: 1 << r.IntN(4), MemoryMB: 512 * (1 + r.IntN(16)), DiskMB: 1024 * r.IntN(8)}
		var elig []OfferKey
		for _, k := range all {
			if r.IntN(3) > 0 { // most flavors match, as for plain Requirements
				elig = append(elig, k)
			}
		}
		in.Demand = append(in.Demand, Demand{Key: fmt.Sprintf("schedd%d@submit#%d", g%4, g), Need: need, Idle: 100, Oldest: now.Add(-time.Duration(r.IntN(3600)) * time.Second), Eligible: elig})
	}
	states := []NodeState{Busy, Busy, Busy, Busy, Busy, Busy, Idle, Idle, Booting, Requested, Retiring, Deleting, Drained, Failed}
	for v := 0; v < 2000; v++ {
		k := all[r.IntN(len(all))]
		size := in.Regions[v%3].Offers[0].Size
		for _, reg := range in.Regions {
			for _, o := range reg.Offers {
				if o.OfferKey == k {
					size = o.Size
				}
			}
		}
		n := Node{ID: fmt.Sprintf("id-%d", v), Name: fmt.Sprintf("w%05d", v), Offer: k, State: states[r.IntN(len(states))],
			Created: now.Add(-time.Duration(r.IntN(72*60)) * time.Minute), StateSince: now.Add(-time.Duration(r.IntN(120)) * time.Minute)}
		switch n.State {
		case Busy:
			n.Running = 1
			n.Free = Resources{Cpus: size.Cpus / 2, MemoryMB: size.MemoryMB / 2, DiskMB: size.DiskMB / 2}
		case Idle:
			n.Free, n.IdleSince = size, n.StateSince
		case Failed:
			n.Fault = "No valid host was found"
		case Deleting:
			n.Attempts = 1 + r.IntN(3)
		}
		in.Nodes = append(in.Nodes, n)
	}
	return in
}

// BenchmarkDecide runs one decision at issue 7's scale: with the
// production-like limits (most demand ends Unmet), held at max or at the
// clouds' max_vms with jobs that waited long (rebalanced), and with no
// limit at all, so every job is
// packed onto existing, planned or new VMs.
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct {
		name string
		mod  func(*Input)
	}{
		{"limited", func(*Input) {}},
		// Held at max by 2,000 busy nodes while most groups have waited
		// past the boot timeout: every group is starved under max and
		// looks for nodes to drain (rebalanceMax's worst case).
		{"at-max", func(in *Input) {
			in.Knobs.Max = len(in.Nodes)
			for i := range in.Nodes {
				n := &in.Nodes[i]
				n.State, n.Running, n.Fault, n.Attempts = Busy, 1, "", 0
				n.Free = Resources{}
			}
			in.Knobs.MaxLifetime = 0
		}},
		// The same, held by each cloud's max_vms instead (max does not
		// bind): rebalanceCap scoped to the capped clouds.
		{"at-max_vms", func(in *Input) {
			in.Clouds[0].MaxVMs, in.Clouds[1].MaxVMs = 0, 0
			for i := range in.Nodes {
				n := &in.Nodes[i]
				n.State, n.Running, n.Fault, n.Attempts = Busy, 1, "", 0
				n.Free = Resources{}
				if n.Offer.Loc.Cloud == "siteA" {
					in.Clouds[0].MaxVMs++
				} else {
					in.Clouds[1].MaxVMs++
				}
			}
			in.Knobs.MaxLifetime = 0
		}},
		{"unlimited", func(in *Input) {
			in.Knobs.Max, in.Knobs.MaxBooting, in.Knobs.MaxCreatesPerCycle = 0, 0, 0
			in.Clouds[0].MaxVMs = 0
			for i := range in.Regions {
				in.Regions[i].Limits = &cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1}
			}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := bigInput()
			bc.mod(&in)
			var d Decision
			b.ReportAllocs()
			for b.Loop() {
				d = Decide(in)
			}
			creates := 0
			for _, c := range d.Creates {
				creates += c.Count
			}
			b.ReportMetric(float64(creates), "VMs-created/op")
			b.ReportMetric(float64(len(d.Unmet)), "unmet-groups/op")
			b.ReportMetric(float64(len(d.Drains)), "drains/op")
		})
	}
}
