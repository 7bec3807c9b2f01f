package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/config"
)

// SweepKnobs are the scaling knobs a sweep can vary, as ehos.yaml names
// them.
var SweepKnobs = []string{"spare", "idle_before_retire", "max_creates_per_cycle", "cycle", "min", "max_booting", "min_lifetime", "headroom_window"}

// Knob is one scaling knob and the values a sweep tries for it.
type Knob struct {
	Name   string   `json:"knob"`
	Values []string `json:"values"`
}

// ParseKnob reads KNOB=V1,V2,… and checks every value on a copy of cfg.
func ParseKnob(spec string, cfg *config.Config) (Knob, error) {
	name, vals, ok := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(vals) == "" {
		return Knob{}, fmt.Errorf("--sweep %q: want KNOB=V1,V2,… (knobs: %s)", spec, strings.Join(SweepKnobs, ", "))
	}
	k := Knob{Name: name}
	for _, v := range strings.Split(vals, ",") {
		v = strings.TrimSpace(v)
		c := *cfg
		if err := setKnob(&c, name, v); err != nil {
			return Knob{}, fmt.Errorf("--sweep %q: %w", spec, err)
		}
		k.Values = append(k.Values, v)
	}
	return k, nil
}

// setKnob sets one scaling knob of cfg from its text.
func setKnob(cfg *config.Config, name, v string) error {
	s := &cfg.Scaling
	var ip *int
	var dp *time.Duration
	switch name {
	case "spare":
		ip = &s.Spare
	case "min":
		ip = &s.Min
	case "max_creates_per_cycle":
		ip = &s.MaxCreatesPerCycle
	case "max_booting":
		ip = &s.MaxBooting
	case "idle_before_retire":
		dp = &s.IdleBeforeRetire
	case "cycle":
		dp = &s.Cycle
	case "min_lifetime":
		dp = &s.MinLifetime
	case "headroom_window":
		dp = &s.HeadroomWindow
	default:
		return fmt.Errorf("unknown knob %q (knobs: %s)", name, strings.Join(SweepKnobs, ", "))
	}
	if ip != nil {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s %q: want a whole number, 0 or more", name, v)
		}
		*ip = n
	} else {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (name == "cycle" && d == 0) {
			return fmt.Errorf("%s %q: want a duration such as 90s or 5m (cycle above zero)", name, v)
		}
		*dp = d
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s %s: %w", name, v, err)
	}
	return nil
}

// SweepPoint is one configuration of the grid and how it did.
type SweepPoint struct {
	Values   []string `json:"values"` // one per Sweep.Knobs, in order
	Settled  bool     `json:"settled"`
	Outcome  string   `json:"outcome"`
	Cost     float64  `json:"cost_hours"`
	Ratio    float64  `json:"ratio,omitempty"`
	MeanWait float64  `json:"mean_wait_s"`
	P95Wait  float64  `json:"p95_wait_s"`
	Creates  int      `json:"creates"` // with Seeds > 1, the mean rounded
	// With Seeds > 1 the figures above are means over the seeds, and
	// these their least and greatest, so a difference between two
	// points can be told from the boot times' noise.
	WaitMin     float64 `json:"mean_wait_min_s,omitempty"`
	WaitMax     float64 `json:"mean_wait_max_s,omitempty"`
	CostMin     float64 `json:"cost_hours_min,omitempty"`
	CostMax     float64 `json:"cost_hours_max,omitempty"`
	Frontier    bool    `json:"frontier"`              // no other settled point is as cheap and waits as little, and better at one
	Current     bool    `json:"current,omitempty"`     // the configuration's own values
	Recommended bool    `json:"recommended,omitempty"` // see Sweep.Why
}

// Sweep is the grid of a sweep, its frontier and the configuration it
// recommends.
type Sweep struct {
	Trace  string       `json:"trace"`
	Config string       `json:"config,omitempty"`
	Knobs  []Knob       `json:"knobs"`
	Points []SweepPoint `json:"points"`
	Bound  float64      `json:"lower_bound_cost_hours"`
	// Seeds is how many runs each point is the mean of, with the cloud
	// model's seeds FirstSeed, FirstSeed+1, …: boot times differ from
	// seed to seed, and one draw can rank two close configurations
	// either way.
	Seeds     int    `json:"seeds"`
	FirstSeed uint64 `json:"first_seed"`
	// Goal is the mean wait the recommendation aims at: boot, join and
	// one negotiation interval, the least a policy that boots on demand
	// can give.
	Goal float64 `json:"goal_mean_wait_s"`
	Why  string  `json:"why"`
}

// RunSweep replays trace seeds times per point of the grid of knobs (every
// combination of their values) over opt, the cloud model's seed counting
// up from opt's, at most parallel runs at a time (0: GOMAXPROCS); a point's
// figures are the means of its runs.
func RunSweep(ctx context.Context, trace *Trace, opt Options, knobs []Knob, seeds, parallel int) (*Sweep, error) {
	if len(knobs) == 0 {
		return nil, errors.New("sweep: no knob")
	}
	if seeds < 1 {
		return nil, fmt.Errorf("sweep: %d seeds: want 1 or more", seeds)
	}
	seen := map[string]bool{}
	for _, k := range knobs {
		if seen[k.Name] {
			return nil, fmt.Errorf("sweep: knob %s given twice", k.Name)
		}
		seen[k.Name] = true
	}
	grid := [][]string{nil}
	for _, k := range knobs {
		var next [][]string
		for _, g := range grid {
			for _, v := range k.Values {
				next = append(next, append(append([]string(nil), g...), v))
			}
		}
		grid = next
	}
	sw := &Sweep{Trace: trace.Name, Knobs: knobs, Points: make([]SweepPoint, len(grid)),
		Seeds: seeds, FirstSeed: opt.Cloud.Seed,
		Goal: (opt.Cloud.BootMean + opt.JoinDelay + negotiationInterval(opt)).Seconds()}
	cfgs := make([]*config.Config, len(grid))
	for i, vals := range grid {
		c := *opt.Config
		for k, v := range vals {
			if err := setKnob(&c, knobs[k].Name, v); err != nil {
				return nil, fmt.Errorf("sweep: %s: %w", strings.Join(vals, " "), err)
			}
		}
		o := opt
		o.Config = &c
		if err := Check(trace, o); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		cfgs[i] = &c
		sw.Points[i].Values = vals
		sw.Points[i].Current = c.Scaling == opt.Config.Scaling
	}
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	runs := len(grid) * seeds // run r is point r/seeds with seed FirstSeed + r%seeds
	errs := make([]error, runs)
	results := make([]*Result, runs)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, runs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				i := r / seeds
				o := opt
				o.Config, o.Samples = cfgs[i], false
				o.Cloud.Seed = opt.Cloud.Seed + uint64(r%seeds)
				res, err := Run(ctx, trace, o)
				if err != nil {
					errs[r] = fmt.Errorf("sweep: %s (seed %d): %w", strings.Join(grid[i], " "), o.Cloud.Seed, err)
					continue
				}
				results[r] = res
			}
		}()
	}
	for r := range runs {
		next <- r
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The bound is each run's and the same for all: neither the knobs nor
	// the seed move it.
	sw.Bound = results[0].Bound.Cost
	for i := range sw.Points {
		sw.Points[i].average(results[i*seeds:(i+1)*seeds], opt.Cloud.Seed)
	}
	sw.recommend()
	return sw, nil
}

// average sets p's figures from its runs, one per seed counting up from
// first: the means, and with more than one run their least and greatest.
// The point has settled when every run has.
func (p *SweepPoint) average(runs []*Result, first uint64) {
	p.Settled = true
	var creates int
	for k, res := range runs {
		if !res.Settled && p.Settled {
			p.Settled, p.Outcome = false, res.Outcome
			if len(runs) > 1 {
				p.Outcome = fmt.Sprintf("seed %d: %s", first+uint64(k), res.Outcome)
			}
		}
		p.Cost += res.Cost
		p.MeanWait += res.MeanWait
		p.P95Wait += res.P95Wait
		creates += res.Creates
		if k == 0 || res.MeanWait < p.WaitMin {
			p.WaitMin = res.MeanWait
		}
		if k == 0 || res.Cost < p.CostMin {
			p.CostMin = res.Cost
		}
		p.WaitMax, p.CostMax = max(p.WaitMax, res.MeanWait), max(p.CostMax, res.Cost)
	}
	n := float64(len(runs))
	p.Cost, p.MeanWait, p.P95Wait = p.Cost/n, p.MeanWait/n, p.P95Wait/n
	p.Creates = int(math.Round(float64(creates) / n))
	if p.Settled {
		p.Outcome = runs[0].Outcome
		if b := runs[0].Bound.Cost; b > 0 {
			p.Ratio = p.Cost / b
		}
	}
	if len(runs) == 1 {
		p.WaitMin, p.WaitMax, p.CostMin, p.CostMax = 0, 0, 0, 0
	}
}

func negotiationInterval(opt Options) time.Duration {
	if opt.NegotiationInterval <= 0 {
		return 60 * time.Second
	}
	return opt.NegotiationInterval
}

// recommend marks the frontier (settled points no other settled point
// beats on both cost and mean wait) and recommends the cheapest frontier
// point that meets the wait goal, else the one that waits least.
func (sw *Sweep) recommend() {
	ps := sw.Points
	var front []int
	for i := range ps {
		if !ps[i].Settled {
			continue
		}
		dominated := false
		for j := range ps {
			if j != i && ps[j].Settled && ps[j].Cost <= ps[i].Cost && ps[j].MeanWait <= ps[i].MeanWait &&
				(ps[j].Cost < ps[i].Cost || ps[j].MeanWait < ps[i].MeanWait) {
				dominated = true
				break
			}
		}
		if !dominated {
			ps[i].Frontier = true
			front = append(front, i)
		}
	}
	if len(front) == 0 {
		sw.Why = "no configuration settled: nothing to recommend (see each one's outcome)"
		return
	}
	sort.Slice(front, func(a, b int) bool { return ps[front[a]].Cost < ps[front[b]].Cost })
	pick := -1
	for _, i := range front {
		if ps[i].MeanWait <= sw.Goal {
			pick = i
			break
		}
	}
	goal := secsDur(sw.Goal)
	if pick >= 0 {
		sw.Why = fmt.Sprintf("the cheapest configuration whose mean wait (%s) meets the goal of %s (boot + join + one negotiation interval)", secsDur(ps[pick].MeanWait), goal)
		if front[0] != pick {
			c := ps[front[0]]
			sw.Why += fmt.Sprintf("; the cheapest of all (%s) costs %.1f%% less but its jobs wait %s", sw.label(front[0]), 100*(1-c.Cost/ps[pick].Cost), secsDur(c.MeanWait))
		}
	} else {
		pick = front[len(front)-1]
		sw.Why = fmt.Sprintf("no configuration meets the goal of %s (boot + join + one negotiation interval); this one waits least (%s)", goal, secsDur(ps[pick].MeanWait))
	}
	ps[pick].Recommended = true
	for i, p := range ps {
		if p.Current && i != pick && p.Settled {
			sw.Why += fmt.Sprintf("; against your configuration's own values (%s): cost %.2f×, mean wait %s against %s", sw.label(i), ps[pick].Cost/p.Cost, secsDur(ps[pick].MeanWait), secsDur(p.MeanWait))
		}
	}
}

// label names a point by its knob values.
func (sw *Sweep) label(i int) string {
	var parts []string
	for k, v := range sw.Points[i].Values {
		parts = append(parts, sw.Knobs[k].Name+"="+v)
	}
	return strings.Join(parts, " ")
}

// Recommended is the index of the recommended point, -1 for none.
func (sw *Sweep) Recommended() int {
	for i, p := range sw.Points {
		if p.Recommended {
			return i
		}
	}
	return -1
}
