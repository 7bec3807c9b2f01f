package sim

import (
	"math"
	"sort"
	"time"

	"github.com/ehos-project/ehos/lib/scale"
)

// boundOffer is one configured flavor as the lower bound sees it.
type boundOffer struct {
	Name  string
	Size  scale.Resources // what a worker offers jobs (provision.WorkerSize)
	VCPUs int
	Cost  float64
}

// Bound is the lower bound of the VM-hours a trace needs on the configured
// flavors.
//
// Each job is put on the flavor ehos's cost model prefers for it: the
// cheapest configured flavor whose worker holds it (ties: the larger one).
// A job of c cpus running r hours on a flavor whose worker has C cpus uses
// at least r·c/C VM-hours of that flavor, however well jobs are packed, so
// Work = Σ r·c/C is a floor for any policy that runs each job on that
// flavor and never leaves a core idle. Memory only picks the flavor: a
// cpu-only count can only make the bound lower.
//
// A VM also boots before it runs anything. VMs is the number of VMs a
// policy needs so that no job waits: per flavor, the peak of Σ c/C over
// the jobs running at once when each starts at its submit time, rounded up.
// Each is charged one boot (mean boot time plus the startd's join delay):
// Boot = VMs × boot. A policy that retires VMs in a lull and boots them
// again pays more boots than this; one that lets jobs wait may need fewer
// VMs. So the bound is the cost of the ideal zero-wait schedule, not of
// every conceivable one, and a ratio near 1 means "close to perfect
// packing with no idle VM".
type Bound struct {
	Work       float64 `json:"work_vm_hours"`
	Boot       float64 `json:"boot_vm_hours"`
	VMHours    float64 `json:"vm_hours"`
	CoreHours  float64 `json:"core_hours"` // the same bound counted in flavor vcpus
	VMs        int     `json:"vms"`
	Unservable int     `json:"unservable"` // jobs no configured flavor holds
}

// LowerBound computes the Bound of jobs on offers with one boot of the given
// length per VM.
func LowerBound(jobs []Job, offers []boundOffer, boot time.Duration) Bound {
	var b Bound
	type ev struct {
		t     time.Duration
		share float64
	}
	evs := map[string][]ev{}
	vcpus := map[string]int{}
	for _, j := range jobs {
		o := cheapestFit(j, offers)
		if o == nil {
			b.Unservable++
			continue
		}
		share := float64(max(j.Cpus, 1)) / float64(o.Size.Cpus)
		h := j.Runtime.Hours()
		b.Work += h * share
		b.CoreHours += h * share * float64(o.VCPUs)
		vcpus[o.Name] = o.VCPUs
		evs[o.Name] = append(evs[o.Name], ev{j.Submit, share}, ev{j.Submit + j.Runtime, -share})
	}
	for name, es := range evs {
		// ends before starts at the same instant: a slot freed can be reused
		sort.Slice(es, func(a, b int) bool {
			if es[a].t != es[b].t {
				return es[a].t < es[b].t
			}
			return es[a].share < es[b].share
		})
		load, peak := 0.0, 0.0
		for _, e := range es {
			load += e.share
			peak = math.Max(peak, load)
		}
		n := int(math.Ceil(peak - 1e-9))
		b.VMs += n
		b.Boot += float64(n) * boot.Hours()
		b.CoreHours += float64(n*vcpus[name]) * boot.Hours()
	}
	b.VMHours = b.Work + b.Boot
	return b
}

func holds(o boundOffer, j Job) bool {
	return o.Size.Cpus >= max(j.Cpus, 1) && o.Size.MemoryMB >= j.MemoryMB
}

func cheapestFit(j Job, offers []boundOffer) *boundOffer {
	var best *boundOffer
	for i := range offers {
		o := &offers[i]
		if !holds(*o, j) {
			continue
		}
		if best == nil || o.Cost < best.Cost || (o.Cost == best.Cost && o.Size.Cpus > best.Size.Cpus) {
			best = o
		}
	}
	return best
}

// baselineFlavor is the smallest (by vcpus, then cost) configured flavor
// that holds every job: the one flavor an admin of the original would pick.
func baselineFlavor(jobs []Job, offers []boundOffer) string {
	best := ""
	var bo boundOffer
	for _, o := range offers {
		ok := true
		for _, j := range jobs {
			if !holds(o, j) {
				ok = false
				break
			}
		}
		if ok && (best == "" || o.VCPUs < bo.VCPUs || (o.VCPUs == bo.VCPUs && o.Cost < bo.Cost)) {
			best, bo = o.Name, o
		}
	}
	return best
}
