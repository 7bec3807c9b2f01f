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

// Bound is the least a trace can cost on the configured flavors, in two
// units.
//
// VM-hours. A job of c cpus running r hours on a flavor whose worker has C
// cpus takes at least r·c/C VM-hours of that flavor however well jobs are
// packed; the least is on the largest flavor that holds the job. So VMWork =
// Σ r·c/C_largest is the fewest VM-hours any policy could spend on running
// the jobs, even one that packs perfectly and never leaves a VM idle. Memory
// only decides which flavors hold a job: counting cpus alone can only make
// the bound lower. VMs come whole: a VM of any flavor holds jobs whose
// shares c/C_largest add up to at most 1 (its own cpus are at most each
// job's C_largest), so while jobs of total share L run, at least ⌈L⌉ VMs
// are up. VMRound = ∫ (⌈L⌉ − L) dt is that rounding, with every job running
// from its submit time (no wait). Every VM also boots before it runs
// anything: VMBoot charges the whole-VM profile ⌈L⌉ as CoreBoot charges the
// core profile (below): per level k, one boot, and across each lull the idle
// time or a new boot, whichever is shorter. VMs is the peak of ⌈L⌉, and
// VMHours = VMWork + VMRound + VMBoot.
//
// VM-hours reward large flavors (a 4-cpu VM counts as much as a 1-cpu one),
// while ehos picks the cheapest fit, so the fair measure of ehos is in
// core-hours (VM-hours × the flavor's vcpus, proportional to cost when cost
// is per core, as with the default vcpus + ram_gb/4 on flavors with 2 GB per
// vcpu). CoreWork = Σ r·c holds for any flavor choice. CoreBoot is what a
// zero-wait schedule must add for boots: for each core level k (needed while
// at least k cores' worth of jobs run), one boot, and across each lull either
// the idle time or a new boot, whichever is shorter (see levelBoots). It
// ignores that cores come in whole VMs, so it stays a lower bound.
//
// Both boot terms are for a schedule in which no job waits; a policy that
// lets jobs wait may need fewer VMs, so "lower bound" is strictly true only
// for zero-wait policies. A ratio near 1 means close to perfect packing with
// no idle VM and no needless boot.
type Bound struct {
	VMWork     float64 `json:"vm_work_hours"`
	VMRound    float64 `json:"vm_round_hours"`
	VMBoot     float64 `json:"vm_boot_hours"`
	VMHours    float64 `json:"vm_hours"`
	VMs        int     `json:"vms"`
	CoreWork   float64 `json:"core_work_hours"`
	CoreBoot   float64 `json:"core_boot_hours"`
	CoreHours  float64 `json:"core_hours"`
	PeakCores  int     `json:"peak_cores"`
	Unservable int     `json:"unservable"` // jobs no configured flavor holds
}

type loadEv struct {
	t     time.Duration
	share float64
}

// sortLoad puts load events in time order, ends before starts at equal
// times, so a slot freed can be reused at once.
func sortLoad(es []loadEv) {
	sort.Slice(es, func(a, b int) bool {
		if es[a].t != es[b].t {
			return es[a].t < es[b].t
		}
		return es[a].share < es[b].share
	})
}

// peak is the highest sum of shares at any instant (sortLoad's order).
func peak(es []loadEv) float64 {
	sortLoad(es)
	load, top := 0.0, 0.0
	for _, e := range es {
		load += e.share
		top = math.Max(top, load)
	}
	return top
}

// levelBoots is the least boot and idle time that keeping up with an
// integral load profile (events of whole cores) costs on top of the load
// itself. Each core level k is needed while the load is at least k: a union
// of intervals. Providing it costs one boot, and across each gap between
// two intervals either the idle gap (keep the core) or a new boot (release
// it and boot again), whichever is less. This is the offline optimum of
// that rent-or-buy choice, level by level.
func levelBoots(es []loadEv, boot time.Duration) time.Duration {
	sortLoad(es)
	type span struct{ lastEnd time.Duration }
	var levels []span // per level: when it was last released; -1 while held
	var total time.Duration
	load := 0
	for _, e := range es {
		n := int(math.Round(e.share))
		if n > 0 {
			for k := load; k < load+n; k++ {
				if k >= len(levels) {
					levels = append(levels, span{})
					total += boot
					continue
				}
				total += min(e.t-levels[k].lastEnd, boot)
			}
			load += n
		} else {
			for k := load + n; k < load; k++ {
				levels[k].lastEnd = e.t
			}
			load += n
		}
	}
	return total
}

// lowerBound computes the Bound of jobs on offers with one boot of the given
// length per VM.
func lowerBound(jobs []Job, offers []boundOffer, boot time.Duration) Bound {
	var b Bound
	var shares, cores []loadEv
	for _, j := range jobs {
		o := largestFit(j, offers)
		if o == nil {
			b.Unservable++
			continue
		}
		c := float64(max(j.Cpus, 1))
		share := c / float64(o.Size.Cpus)
		h := j.Runtime.Hours()
		b.VMWork += h * share
		b.CoreWork += h * c
		shares = append(shares, loadEv{j.Submit, share}, loadEv{j.Submit + j.Runtime, -share})
		cores = append(cores, loadEv{j.Submit, c}, loadEv{j.Submit + j.Runtime, -c})
	}
	whole, vmh, vms := wholeVMs(shares)
	b.VMs = vms
	b.VMRound = max(vmh-b.VMWork, 0)
	b.VMBoot = levelBoots(whole, boot).Hours()
	b.PeakCores = int(math.Round(peak(cores)))
	b.CoreBoot = levelBoots(cores, boot).Hours()
	b.VMHours = b.VMWork + b.VMRound + b.VMBoot
	b.CoreHours = b.CoreWork + b.CoreBoot
	return b
}

// wholeVMs turns a profile of shares into the profile of whole VMs it needs,
// ⌈load⌉ (events of ±whole VMs), and returns it with its integral in hours
// and its peak.
func wholeVMs(es []loadEv) (out []loadEv, hours float64, top int) {
	sortLoad(es)
	load, n := 0.0, 0
	var last time.Duration
	for _, e := range es {
		hours += float64(n) * (e.t - last).Hours()
		last = e.t
		load += e.share
		if m := int(math.Ceil(load - 1e-9)); m != n {
			out = append(out, loadEv{e.t, float64(m - n)})
			n = m
			top = max(top, n)
		}
	}
	return out, hours, top
}

func holds(o boundOffer, j Job) bool {
	return o.Size.Cpus >= max(j.Cpus, 1) && o.Size.MemoryMB >= j.MemoryMB
}

// largestFit is the flavor with the most cpus (then the cheapest) that
// holds j.
func largestFit(j Job, offers []boundOffer) *boundOffer {
	var best *boundOffer
	for i := range offers {
		o := &offers[i]
		if !holds(*o, j) {
			continue
		}
		if best == nil || o.Size.Cpus > best.Size.Cpus || (o.Size.Cpus == best.Size.Cpus && o.Cost < best.Cost) {
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
