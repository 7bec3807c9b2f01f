package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// FlavorCost is what one hour of a flavor costs in the simulator's unit,
// flavor cost-hours: the cost ehos.yaml gives it (clouds[].flavor_overrides),
// else its vCPUs, so that by default cost is counted in core-hours.
func FlavorCost(f cloud.Flavor, extra cloud.FlavorExtra) float64 {
	if extra.Cost > 0 {
		return extra.Cost
	}
	return float64(f.VCPUs)
}

// boundOffer is one configured flavor of one cloud as the lower bound sees
// it.
type boundOffer struct {
	Name  string
	Size  scale.Resources // what a worker offers jobs (provision.WorkerSize)
	VCPUs int
	Cost  float64 // FlavorCost
}

// Bound is the least any policy can spend on a trace, in flavor
// cost-hours, given the configured flavors and the shortest boot the cloud
// model can draw. It holds for every policy, whether or not it lets jobs
// wait, and even for one that knows the future (docs/simulate.md, "Why the
// bound is a bound").
//
// Work. A VM of flavor f costs Cost_f an hour, and the jobs running on it
// at any instant use at most its Cpus_f cores and MemoryMB_f memory. So for
// any mix λ in [0, 1], Cost_f ≥ Σ over those jobs of
// Cost_f·(λ·cpus/Cpus_f + (1−λ)·mem/MemoryMB_f), and each job's term is at
// least its price on the cheapest flavor that holds it. Over time, the
// running of the jobs alone costs at least
//
//	W(λ) = Σ_j runtime_j · min over f holding j of Cost_f·(λ·cpus_j/Cpus_f + (1−λ)·mem_j/MemoryMB_f)
//
// for every λ; Work is the largest W(λ) (CoreWork is W(1), cores alone;
// MemoryWork is W(0), memory alone). Where a job leaves its VM too little
// room for any job of the trace beside it, it has the VM to itself while it
// runs, and is charged Cost_f whole on that flavor instead of its share.
//
// Boot. A VM runs nothing between its create call and its startd joining,
// which takes at least the shortest boot plus the join delay. Some VM must
// hold the job whose cheapest holder is dearest, so at least one boot at
// that price is paid on top of the work.
//
// Jobs no flavor holds (Unservable, listed by shape in Shapes) never run
// under any policy and cost nothing: the bound leaves them out.
type Bound struct {
	Work       float64 `json:"work_cost_hours"`
	CoreWork   float64 `json:"core_work_cost_hours"`
	MemoryWork float64 `json:"memory_work_cost_hours"`
	Mix        float64 `json:"mix"` // the λ of Work
	Boot       float64 `json:"boot_cost_hours"`
	Cost       float64 `json:"cost_hours"` // Work + Boot
	// BootSeconds is the shortest create → joined time the bound charges.
	BootSeconds float64 `json:"boot_s"`
	Unservable  int     `json:"unservable"` // jobs no configured flavor holds
	Shapes      []Shape `json:"unservable_shapes,omitempty"`
}

// Shape is a job shape and how many jobs of the trace have it.
type Shape struct {
	Cpus     int `json:"cpus"`
	MemoryMB int `json:"memory_mb"`
	Jobs     int `json:"jobs"`
}

func (s Shape) String() string {
	return fmt.Sprintf("%d× %d cpus %d MB", s.Jobs, s.Cpus, s.MemoryMB)
}

// ShapesText lists shapes for people, at most n of them.
func ShapesText(shapes []Shape, n int) string {
	var parts []string
	for i, s := range shapes {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more shapes", len(shapes)-n))
			break
		}
		parts = append(parts, s.String())
	}
	return strings.Join(parts, ", ")
}

// mixSteps is how finely Work searches λ. Every λ gives a valid bound, so
// the grid only decides how close to the best one Work gets.
const mixSteps = 100

// lowerBound computes the Bound of jobs on offers, boot being the shortest
// create → joined time.
func lowerBound(jobs []Job, offers []boundOffer, boot time.Duration) Bound {
	b := Bound{BootSeconds: boot.Seconds()}
	// Jobs of one shape share their price: sum their hours per shape.
	hours := map[Shape]float64{}
	unservable := map[Shape]int{}
	for _, j := range jobs {
		s := jobShape(j)
		if !anyHolds(offers, s) {
			b.Unservable++
			unservable[s]++
			continue
		}
		hours[s] += j.Runtime.Hours()
	}
	b.Shapes = shapeList(unservable)
	shapes := make([]Shape, 0, len(hours))
	for s := range hours {
		shapes = append(shapes, s)
	}
	// A fixed order: float sums must repeat exactly.
	sort.Slice(shapes, func(i, k int) bool {
		if shapes[i].Cpus != shapes[k].Cpus {
			return shapes[i].Cpus < shapes[k].Cpus
		}
		return shapes[i].MemoryMB < shapes[k].MemoryMB
	})
	small := minimalShapes(shapes)
	for i := 0; i <= mixSteps; i++ {
		mix := float64(i) / mixSteps
		w := 0.0
		for _, s := range shapes {
			w += hours[s] * cheapestPrice(offers, s, mix, small)
		}
		switch i {
		case 0:
			b.MemoryWork = w
		case mixSteps:
			b.CoreWork = w
		}
		if w > b.Work {
			b.Work, b.Mix = w, mix
		}
	}
	dearest := 0.0
	for _, s := range shapes {
		dearest = max(dearest, cheapestHolder(offers, s))
	}
	b.Boot = dearest * boot.Hours()
	b.Cost = b.Work + b.Boot
	return b
}

// price is what a job of shape s running for an hour on a VM of o is
// charged at mix: its share of o's cores (weight mix) and of its memory, or
// the whole VM when no job of the trace fits beside it (small: the
// trace's minimal shapes).
func price(o boundOffer, s Shape, mix float64, small []Shape) float64 {
	if alone(o, s, small) {
		return o.Cost
	}
	share := mix * float64(s.Cpus) / float64(o.Size.Cpus)
	if o.Size.MemoryMB > 0 {
		share += (1 - mix) * float64(s.MemoryMB) / float64(o.Size.MemoryMB)
	}
	return o.Cost * share
}

func cheapestPrice(offers []boundOffer, s Shape, mix float64, small []Shape) float64 {
	best := -1.0
	for _, o := range offers {
		if holds(o, s) {
			if p := price(o, s, mix, small); best < 0 || p < best {
				best = p
			}
		}
	}
	return best
}

// alone says whether a job of shape s on a VM of o leaves room for no job
// of the trace beside it: no shape in small fits in what is left.
func alone(o boundOffer, s Shape, small []Shape) bool {
	for _, k := range small {
		if k.Cpus <= o.Size.Cpus-s.Cpus && k.MemoryMB <= o.Size.MemoryMB-s.MemoryMB {
			return false
		}
	}
	return true
}

// minimalShapes are the shapes no other shape is at most as large as in
// both cpus and memory (shapes sorted by cpus, then memory): a job fits
// beside another only if one of them does.
func minimalShapes(shapes []Shape) []Shape {
	var out []Shape
	for _, s := range shapes {
		if len(out) == 0 || s.MemoryMB < out[len(out)-1].MemoryMB {
			out = append(out, s)
		}
	}
	return out
}

func cheapestHolder(offers []boundOffer, s Shape) float64 {
	best := -1.0
	for _, o := range offers {
		if holds(o, s) && (best < 0 || o.Cost < best) {
			best = o.Cost
		}
	}
	return best
}

func holds(o boundOffer, s Shape) bool {
	return o.Size.Cpus >= s.Cpus && o.Size.MemoryMB >= s.MemoryMB
}

func anyHolds(offers []boundOffer, s Shape) bool {
	for _, o := range offers {
		if holds(o, s) {
			return true
		}
	}
	return false
}

// baselineFlavor is the smallest (by vcpus, then cost) configured flavor
// that holds every job: the one flavor an admin of the original would pick.
func baselineFlavor(jobs []Job, offers []boundOffer) string {
	best := ""
	var bo boundOffer
	for _, o := range offers {
		ok := true
		for _, j := range jobs {
			if !holds(o, jobShape(j)) {
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
