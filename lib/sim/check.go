package sim

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// Check refuses options that cannot run trace, before anything runs: no
// configuration or cycle, a flavor with no size, a quota that holds no
// configured flavor, a trace no usable flavor holds a job of, an unknown
// BaselineFlavor. Every problem is named, all of them at once.
func Check(trace *Trace, opt Options) error {
	cfg := opt.Config
	if cfg == nil {
		return errors.New("sim: no configuration")
	}
	var errs []error
	if cfg.Scaling.Cycle <= 0 {
		errs = append(errs, fmt.Errorf("scaling.cycle %s must be positive", cfg.Scaling.Cycle))
	}
	if cfg.Scaling.Max < 1 {
		errs = append(errs, fmt.Errorf("scaling.max %d holds no VM", cfg.Scaling.Max))
	}
	offers, err := usableOffers(cfg, opt.Flavors, opt.Quota)
	if err != nil {
		errs = append(errs, err)
	} else if len(trace.Jobs) > 0 && !slices.ContainsFunc(trace.Jobs, func(j Job) bool { return anyHolds(offers, jobShape(j)) }) {
		b := lowerBound(trace.Jobs, offers, 0)
		errs = append(errs, fmt.Errorf("no configured flavor within the quota holds any job of the trace (%s; flavors: %s)",
			ShapesText(b.Shapes, 5), offerList(offers)))
	}
	if name := opt.BaselineFlavor; name != "" && err == nil && !hasOffer(offers, name) {
		errs = append(errs, fmt.Errorf("--baseline-flavor %q is not a configured flavor within the quota (%s)", name, offerList(offers)))
	}
	return errors.Join(errs...)
}

// BaselineFlavor is the one flavor the original-EHOS baseline runs trace
// on: opt.BaselineFlavor, else the smallest configured flavor that holds
// every job. The error says why the baseline cannot run the trace.
func BaselineFlavor(trace *Trace, opt Options) (string, error) {
	offers, err := usableOffers(opt.Config, opt.Flavors, opt.Quota)
	if err != nil {
		return "", err
	}
	if name := opt.BaselineFlavor; name != "" {
		for _, o := range offers {
			if o.Name != name {
				continue
			}
			n, shapes := 0, map[Shape]int{}
			for _, j := range trace.Jobs {
				if s := jobShape(j); !holds(o, s) {
					n++
					shapes[s]++
				}
			}
			if n > 0 {
				return "", fmt.Errorf("baseline: its one flavor %s holds not every job: %d do not fit (%s); the original would leave them queued for ever", name, n, ShapesText(shapeList(shapes), 5))
			}
			return name, nil
		}
		return "", fmt.Errorf("baseline: --baseline-flavor %q is not a configured flavor within the quota (%s)", name, offerList(offers))
	}
	if fl := baselineFlavor(trace.Jobs, offers); fl != "" {
		return fl, nil
	}
	return "", fmt.Errorf("baseline: no configured flavor holds every job of the trace (the original runs one flavor for all); choose one with --baseline-flavor (%s)", offerList(offers))
}

// usableOffers lists every configured flavor of every enabled cloud that
// one VM of fits in an empty region's quota, as the provisioner would offer
// it (the worker's size after the operating system's share, FlavorCost).
// Flavors over the quota can never be created, so they are left out, and it
// is an error when that leaves none.
func usableOffers(cfg *config.Config, flavors map[string]cloud.Flavor, quota cloud.Limits) ([]boundOffer, error) {
	var out []boundOffer
	var errs []error
	var over []string
	for i, cc := range cfg.Clouds {
		if !cc.IsEnabled() {
			continue
		}
		for _, name := range cc.Flavors {
			f, ok := flavors[name]
			if !ok {
				errs = append(errs, fmt.Errorf("clouds[%d].flavors: %q has no size in the simulator's flavor table (give it with --flavor %s=VCPUS:RAM_MB)", i, name, name))
				continue
			}
			if !fitsQuota(f, quota) {
				over = append(over, fmt.Sprintf("%s (%d vcpus, %d MB)", name, f.VCPUs, f.RAMMB))
				continue
			}
			size := provision.WorkerSize(f)
			out = append(out, boundOffer{Name: name, Size: scale.Resources{Cpus: size.Cpus, MemoryMB: size.MemoryMB}, VCPUs: f.VCPUs,
				Cost: FlavorCost(f, cc.FlavorOverrides[name])})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		if len(over) > 0 {
			return nil, fmt.Errorf("the quota per region (instances %d, cores %d, RAM %d MB) holds no configured flavor: %s", quota.MaxInstances, quota.MaxCores, quota.MaxRAMMB, strings.Join(over, ", "))
		}
		return nil, errors.New("no enabled cloud with a flavor in the configuration")
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// fitsQuota says whether one VM of f fits an empty region (limits below
// zero are unlimited).
func fitsQuota(f cloud.Flavor, q cloud.Limits) bool {
	within := func(limit, n int) bool { return limit < 0 || n <= limit }
	return within(q.MaxInstances, 1) && within(q.MaxCores, f.VCPUs) && within(q.MaxRAMMB, f.RAMMB)
}

func hasOffer(offers []boundOffer, name string) bool {
	for _, o := range offers {
		if o.Name == name {
			return true
		}
	}
	return false
}

func offerList(offers []boundOffer) string {
	var names []string
	for _, o := range offers {
		if !slices.Contains(names, o.Name) {
			names = append(names, o.Name)
		}
	}
	return "configured: " + strings.Join(names, ", ")
}

func jobShape(j Job) Shape { return Shape{Cpus: max(j.Cpus, 1), MemoryMB: j.MemoryMB} }

// shapeList turns counts per shape into Shapes, most jobs first.
func shapeList(counts map[Shape]int) []Shape {
	out := make([]Shape, 0, len(counts))
	for s, n := range counts {
		s.Jobs = n
		out = append(out, s)
	}
	sort.Slice(out, func(i, k int) bool {
		x, y := out[i], out[k]
		if x.Jobs != y.Jobs {
			return x.Jobs > y.Jobs
		}
		if x.Cpus != y.Cpus {
			return x.Cpus < y.Cpus
		}
		return x.MemoryMB < y.MemoryMB
	})
	return out
}

// minBoot is the shortest create → joined time the cloud model draws.
func minBoot(m CloudModel, join time.Duration) time.Duration {
	return max(m.BootMean-max(m.BootJitter, 0), time.Second) + join
}
