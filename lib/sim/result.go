package sim

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Result is what one run cost and how long its jobs waited. Times are in
// seconds, cost in flavor cost-hours (FlavorCost).
type Result struct {
	// Settled comes first: a run that did not settle (jobs left or VMs
	// up at the time limit) has partial figures, and no ratio.
	Settled bool `json:"settled"` // every job done and the pool back to min
	// Outcome says the same for people, with what was left.
	Outcome string `json:"outcome"`
	Trace   string `json:"trace"`
	Config  string `json:"config,omitempty"` // the ehos.yaml used (set by the caller)
	Policy  string `json:"policy"`
	Flavor  string `json:"flavor,omitempty"` // the baseline's one flavor

	Jobs       int `json:"jobs"`
	Finished   int `json:"finished"`
	Skipped    int `json:"skipped,omitempty"` // trace records that never ran on a worker
	Unservable int `json:"unservable"`        // no configured flavor holds them (shapes in Bound.Shapes)
	Killed     int `json:"killed"`            // jobs whose VM was deleted under them: must be 0

	// Cost is every VM's life (create → delete) times its flavor's cost
	// an hour.
	Cost  float64 `json:"cost_hours"`
	Bound Bound   `json:"lower_bound"`
	// Ratio is Cost / Bound.Cost, only for a settled run.
	Ratio     float64 `json:"ratio,omitempty"`
	VMHours   float64 `json:"vm_hours"`
	CoreHours float64 `json:"core_hours"` // VM-hours × the flavor's vcpus

	MeanWait float64 `json:"mean_wait_s"`
	P95Wait  float64 `json:"p95_wait_s"`
	MaxWait  float64 `json:"max_wait_s"`
	// WaitTarget is issue 7's goal for the mean wait: boot (BootMean +
	// JoinDelay) plus two cycles.
	WaitTarget float64 `json:"wait_target_s"`

	PeakVMs int `json:"peak_vms"`
	Creates int `json:"creates"`
	Deletes int `json:"deletes"`
	Failed  int `json:"failed"`   // servers that ended in ERROR
	Unused  int `json:"unused"`   // VMs deleted without ever running a job (failed ones included)
	OverMax int `json:"over_max"` // cycles that ended with more VMs than scaling.max
	// OverMaxNote describes the first such cycle.
	OverMaxNote string `json:"over_max_note,omitempty"`

	Cycles              int     `json:"cycles"`
	Cycle               float64 `json:"cycle_s"`
	Boot                float64 `json:"boot_s"` // mean boot + join delay
	NegotiationInterval float64 `json:"negotiation_interval_s"`
	Rescheduled         int     `json:"negotiations_asked_for"` // by submits or by the provisioner, before the periodic one
	FollowUps           int     `json:"follow_up_cycles"`       // provisioner cycles seconds after one that drained idle workers
	ReusedClaims        int     `json:"jobs_on_reused_claims"`
	End                 float64 `json:"end_s"` // simulated time at the end of the run
	LeftUp              int     `json:"vms_up_at_end"`
	CycleErrors         int     `json:"cycle_errors,omitempty"`
	// APICalls is cloud API calls per provisioner cycle (follow-up cycles
	// included), per cloud/region.
	APICalls map[string]float64 `json:"api_calls_per_cycle"`
	// LastVMGone is when the last VM was deleted, in seconds after the last
	// job ended (negative: before).
	LastVMGone float64 `json:"last_vm_gone_after_last_job_s"`

	// Spent splits CoreHours by what the cores were doing.
	Spent Spent `json:"spent_core_hours"`

	Samples []Sample `json:"samples,omitempty"`
}

// Spent is where core-hours went. The parts add up to CoreHours (up to
// memory the OS keeps, which does not change cpus).
type Spent struct {
	Jobs    float64 `json:"jobs"`    // cores running jobs
	Boot    float64 `json:"boot"`    // create → startd joined (or → deleted, if it never joined)
	Idle    float64 `json:"idle"`    // joined workers running nothing
	Partial float64 `json:"partial"` // free cores of workers running something
	Tail    float64 `json:"tail"`    // startd gone (drained) → VM deleted
}

func (r *Result) finish(w *World) {
	end := w.Clock.Now()
	for _, wk := range w.Pool.sortedWorkers(false) { // sums in a fixed order: runs repeat exactly
		w.Pool.account(wk, end)
	}
	joinedAt := map[string]time.Time{}
	for _, s := range w.joined {
		joinedAt[s.VM.ID] = s.ActiveAt.Add(w.JoinDelay)
	}
	r.Spent.Idle = w.Pool.idleCPUs / 3600
	r.Spent.Partial = w.Pool.partialCPUs / 3600
	lastGone := time.Time{}
	extra := map[string]map[string]cloud.FlavorExtra{}
	for _, s := range w.Specs {
		extra[s.Config.Name] = s.Config.FlavorOverrides
	}
	for _, c := range w.Clouds {
		servers := c.Servers()
		// creation order varies with the regions' goroutines; sums must not
		sort.Slice(servers, func(i, j int) bool { return servers[i].VM.ID < servers[j].VM.ID })
		for _, s := range servers {
			gone := s.Deleted
			if gone.IsZero() {
				gone = end
				r.LeftUp++
			} else {
				r.Deletes++
				if gone.After(lastGone) {
					lastGone = gone
				}
			}
			h := gone.Sub(s.VM.Created).Hours()
			r.VMHours += h
			r.CoreHours += h * float64(s.Flavor.VCPUs)
			r.Cost += h * FlavorCost(s.Flavor, extra[c.name][s.Flavor.Name])
			cpus := float64(s.Flavor.VCPUs)
			if j, ok := joinedAt[s.VM.ID]; ok {
				r.Spent.Boot += j.Sub(s.VM.Created).Hours() * cpus
				if l, ok := w.Pool.left[s.VM.Metadata["ehos_name"]]; ok {
					r.Spent.Tail += gone.Sub(l).Hours() * cpus
				}
			} else {
				r.Spent.Boot += h * cpus
			}
			r.Creates++
			if s.Fails {
				r.Failed++
			}
			if name := s.VM.Metadata["ehos_name"]; !w.Pool.ran[name] {
				r.Unused++
			}
		}
		calls := c.Calls()
		for reg, n := range calls {
			if r.APICalls == nil {
				r.APICalls = map[string]float64{}
			}
			if r.Cycles > 0 {
				r.APICalls[c.name+"/"+reg] = float64(n.Total()) / float64(r.Cycles+r.FollowUps)
			}
		}
	}
	var waits []float64
	lastEnd := time.Time{}
	for _, j := range w.Pool.jobs {
		r.Killed += j.killed
		if j.state != done {
			continue
		}
		r.Finished++
		r.Spent.Jobs += j.Runtime.Hours() * float64(max(j.Cpus, 1))
		waits = append(waits, j.start.Sub(j.submit).Seconds())
		if j.end.After(lastEnd) {
			lastEnd = j.end
		}
	}
	if !lastGone.IsZero() && !lastEnd.IsZero() {
		r.LastVMGone = lastGone.Sub(lastEnd).Seconds()
	}
	if len(waits) > 0 {
		sort.Float64s(waits)
		sum := 0.0
		for _, x := range waits {
			sum += x
		}
		r.MeanWait = sum / float64(len(waits))
		r.P95Wait = waits[int(math.Ceil(0.95*float64(len(waits))))-1]
		r.MaxWait = waits[len(waits)-1]
	}
	r.WaitTarget = r.Boot + 2*r.Cycle
	if r.Settled {
		r.Outcome = "settled"
		if r.Bound.Cost > 0 {
			r.Ratio = r.Cost / r.Bound.Cost
		}
	} else {
		r.Outcome = fmt.Sprintf("NOT SETTLED: at the time limit (%s) %d of %d jobs had not finished and %d VMs were up; the figures are partial: no ratio, no verdict",
			secsDur(r.End), r.Jobs-r.Unservable-r.Finished, r.Jobs-r.Unservable, r.LeftUp)
	}
}

func secsDur(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Second)
}

// WriteText writes the result for people. A run that did not settle says
// so on its first line and shows no ratio.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	if !r.Settled {
		fmt.Fprintf(&b, "%s\n", r.Outcome)
	}
	pol := r.Policy
	if r.Flavor != "" {
		pol += " (one flavor: " + r.Flavor + ")"
	}
	fmt.Fprintf(&b, "trace       %s\n", r.Trace)
	if r.Config != "" {
		fmt.Fprintf(&b, "config      %s\n", r.Config)
	}
	fmt.Fprintf(&b, "policy      %s\n", pol)
	fmt.Fprintf(&b, "jobs        %d: %d finished, %d no flavor holds, %d killed by scale-down", r.Jobs, r.Finished, r.Unservable, r.Killed)
	if r.Skipped > 0 {
		fmt.Fprintf(&b, " (%d records that never ran on a worker skipped)", r.Skipped)
	}
	b.WriteString("\n")
	if r.Unservable > 0 {
		fmt.Fprintf(&b, "unservable  %s: no configured flavor holds them, so no policy runs them; the bound leaves them out\n", ShapesText(r.Bound.Shapes, 8))
	}
	bd := r.Bound
	fmt.Fprintf(&b, "cost        %.1f flavor cost-hours", r.Cost)
	if r.Settled {
		fmt.Fprintf(&b, "; ratio %.3f to the lower bound", r.Ratio)
	} else {
		b.WriteString(" so far (not settled: no ratio)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "lower bound %.1f: jobs' own demand %.1f (cores alone %.1f, memory alone %.1f, mix %.2f) + one boot of %s %.2f\n",
		bd.Cost, bd.Work, bd.CoreWork, bd.MemoryWork, bd.Mix, secsDur(bd.BootSeconds), bd.Boot)
	sp := r.Spent
	fmt.Fprintf(&b, "spent       core-hours on jobs %.1f, booting %.1f, idle workers %.1f, free cores of busy workers %.1f, drained → deleted %.1f\n",
		sp.Jobs, sp.Boot, sp.Idle, sp.Partial, sp.Tail)
	fmt.Fprintf(&b, "wait        mean %s, p95 %s, max %s (goal: mean ≤ boot %s + 2 cycles = %s)\n",
		secsDur(r.MeanWait), secsDur(r.P95Wait), secsDur(r.MaxWait), secsDur(r.Boot), secsDur(r.WaitTarget))
	fmt.Fprintf(&b, "VMs         %.2f VM-hours, %.1f core-hours; peak %d, created %d, deleted %d, failed in the cloud %d, never ran a job %d\n",
		r.VMHours, r.CoreHours, r.PeakVMs, r.Creates, r.Deletes, r.Failed, r.Unused)
	fmt.Fprintf(&b, "time        %d cycles of %s (and %d follow-ups after drains), negotiation every %s (%d asked for by submits or ehos), %d jobs started on a reused claim, ended at %s\n",
		r.Cycles, secsDur(r.Cycle), r.FollowUps, secsDur(r.NegotiationInterval), r.Rescheduled, r.ReusedClaims, secsDur(r.End))
	if len(r.APICalls) > 0 {
		var keys []string
		for k := range r.APICalls {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, r.APICalls[k]))
		}
		fmt.Fprintf(&b, "API calls   per cycle (follow-ups count as cycles): %s\n", strings.Join(parts, ", "))
	}
	if r.OverMax > 0 {
		fmt.Fprintf(&b, "WARNING     %d cycles ended above scaling.max\n", r.OverMax)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Comparison is ehos against the baseline on one trace.
type Comparison struct {
	// WaitFactor is the baseline's mean wait over ehos's: 2 means ehos's
	// jobs wait half as long.
	WaitFactor float64 `json:"wait_factor"`
	// CostFactor and VMHoursFactor are ehos's over the baseline's: at
	// most 1 means ehos spends no more.
	CostFactor    float64 `json:"cost_factor"`
	VMHoursFactor float64 `json:"vm_hours_factor"`
	// The mean waits compared, in seconds.
	Wait         float64 `json:"mean_wait_s"`
	BaselineWait float64 `json:"baseline_mean_wait_s"`
	// Floor is boot + join + one negotiation interval: a baseline that
	// waits no longer leaves no 2× to win.
	Floor float64 `json:"floor_s"`
	// Goal is what ehos must do against this baseline, Met whether it did.
	Goal string `json:"goal"`
	Met  bool   `json:"met"`
}

// Compare sets ehos's result against the baseline's. Runs that did not
// settle have partial figures: comparing them would claim what was not
// shown, so Compare refuses and says which.
func Compare(ehos, base *Result) (Comparison, error) {
	var left []string
	for _, r := range []*Result{ehos, base} {
		if !r.Settled {
			left = append(left, r.Policy)
		}
	}
	if len(left) > 0 {
		return Comparison{}, fmt.Errorf("no comparison: %s did not settle", strings.Join(left, " and "))
	}
	c := Comparison{Wait: ehos.MeanWait, BaselineWait: base.MeanWait}
	if ehos.MeanWait > 0 {
		c.WaitFactor = base.MeanWait / ehos.MeanWait
	}
	if base.Cost > 0 {
		c.CostFactor = ehos.Cost / base.Cost
	}
	if base.VMHours > 0 {
		c.VMHoursFactor = ehos.VMHours / base.VMHours
	}
	c.Floor = ehos.Boot + ehos.NegotiationInterval
	cheap := ehos.Cost <= base.Cost
	if base.MeanWait > c.Floor {
		c.Goal = fmt.Sprintf("mean wait at most half the baseline's (it waits more than boot + join + one negotiation interval, %s) at no more cost", secsDur(c.Floor))
		c.Met = cheap && 2*ehos.MeanWait <= base.MeanWait
	} else {
		c.Goal = fmt.Sprintf("mean wait at most the baseline's (it waits no more than boot + join + one negotiation interval, %s: no 2× to win) at no more cost", secsDur(c.Floor))
		c.Met = cheap && ehos.MeanWait <= base.MeanWait
	}
	return c, nil
}

func (c Comparison) String() string {
	var how string
	switch {
	case c.Wait == c.BaselineWait:
		how = "the same"
	case c.Wait == 0:
		how = "none against some"
	case c.BaselineWait == 0:
		how = "some against none"
	case c.WaitFactor > 1:
		how = fmt.Sprintf("%.2f× lower", c.WaitFactor)
	default:
		how = fmt.Sprintf("%.2f× higher", 1/c.WaitFactor)
	}
	verdict := "not met"
	if c.Met {
		verdict = "met"
	}
	return fmt.Sprintf("ehos vs baseline: mean wait %s against %s (%s); cost %.2f× the baseline's; VM-hours %.2f× the baseline's\ngoal        %s: %s",
		secsDur(c.Wait), secsDur(c.BaselineWait), how, c.CostFactor, c.VMHoursFactor, c.Goal, verdict)
}
