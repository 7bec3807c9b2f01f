package sim

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// MonthTrace generates a month-scale trace of n jobs over days days, a pure
// function of its arguments (seed included). BenchmarkSimMonth replays
// MonthTrace(1, 1_000_000, 30), a busy HTCondor pool's month.
//
// Its shape, meant to look like a real pool's condor_history rather than to
// be easy:
//
//   - Arrivals. 70% of the jobs arrive one by one (Poisson) at a rate that
//     follows the working day: weekdays 08:00-20:00 at 1.6× the mean hourly
//     rate, nights at 0.4×, weekends at half the weekday rate. 30% come in
//     bursts, as condor_submit of a cluster or a DAG's level does: bursts of
//     50 to 2,000 jobs (log-uniform), submitted within 1 to 5 minutes,
//     starting at uniform times.
//   - Shapes. Mostly narrow: 75% 1 cpu, 15% 2, 6% 4, 3% 8 and 1% 16 cpus;
//     memory 1,000, 1,500 or 1,700 MB per cpu (so jobs pack onto m1 flavors,
//     whose workers hold 1,792 MB per cpu), and 5% of the 1-cpu jobs
//     memory-heavy (6,000 MB, an m1.large's worth). A burst shares one
//     shape, as a cluster's jobs do.
//   - Run times. Log-normal with a median of 12 minutes and σ 1.2 (mean
//     about 25 minutes), between 1 minute and 12 hours; a burst's jobs vary
//     around the burst's own median.
//
// Submit and run times are whole seconds.
func MonthTrace(seed uint64, n, days int) *Trace {
	r := rand.New(rand.NewPCG(seed, 0x6d6f6e7468))
	span := time.Duration(days) * 24 * time.Hour
	jobs := make([]Job, 0, n)
	shape := func() (cpus, mem int) {
		switch x := r.Float64(); {
		case x < 0.75:
			cpus = 1
		case x < 0.90:
			cpus = 2
		case x < 0.96:
			cpus = 4
		case x < 0.99:
			cpus = 8
		default:
			cpus = 16
		}
		if cpus == 1 && r.Float64() < 0.05 {
			return 1, 6000
		}
		return cpus, cpus * []int{1000, 1500, 1700}[r.IntN(3)]
	}
	runtime := func(median float64) time.Duration {
		s := median * math.Exp(1.2*r.NormFloat64())
		return time.Duration(min(max(s, 60), 12*3600)) * time.Second
	}
	// Bursts: 30% of the jobs.
	for len(jobs) < n*3/10 {
		size := min(int(math.Exp(math.Log(50)+r.Float64()*math.Log(2000.0/50))), n*3/10-len(jobs))
		start := time.Duration(r.Int64N(int64(span)))
		within := time.Minute + time.Duration(r.Int64N(int64(4*time.Minute)))
		cpus, mem := shape()
		median := 720 * math.Exp(0.5*r.NormFloat64())
		for i := 0; i < size; i++ {
			at := start + time.Duration(r.Int64N(int64(within)))
			jobs = append(jobs, Job{Submit: min(at, span-time.Second), Runtime: runtime(median), Cpus: cpus, MemoryMB: mem})
		}
	}
	// The rest one by one, by rejection against the working-day rate.
	for len(jobs) < n {
		at := time.Duration(r.Int64N(int64(span)))
		if r.Float64()*1.6 >= dayRate(at) {
			continue
		}
		cpus, mem := shape()
		jobs = append(jobs, Job{Submit: at, Runtime: runtime(720), Cpus: cpus, MemoryMB: mem})
	}
	for i := range jobs {
		jobs[i].Submit = jobs[i].Submit.Truncate(time.Second)
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].Submit < jobs[b].Submit })
	return &Trace{Name: "month", Jobs: jobs}
}

// dayRate is the relative arrival rate at t after the trace's start (a
// Monday, 00:00): 1.6 on weekday working hours, 0.4 at night, half that at
// weekends.
func dayRate(t time.Duration) float64 {
	day := int(t / (24 * time.Hour))
	hour := int(t%(24*time.Hour)) / int(time.Hour)
	rate := 0.4
	if hour >= 8 && hour < 20 {
		rate = 1.6
	}
	if day%7 >= 5 {
		rate /= 2
	}
	return rate
}

// MonthOptions is the pool that BenchmarkSimMonth replays MonthTrace on: the
// demo config grown to a site's size (up to 400 VMs, 100 booting, 40
// created per cycle) with flavors from 1 to 16 cpus, and a quota of 2,000
// cores per region.
func MonthOptions() Options {
	cfg := DemoConfig()
	cfg.Scaling.Max = 400
	cfg.Scaling.MaxBooting = 100
	cfg.Scaling.MaxCreatesPerCycle = 40
	cfg.Clouds[0].Flavors = []string{"m1.small", "m1.medium", "m1.large", "m1.xlarge", "m1.2xlarge"}
	flavors := DefaultFlavors()
	flavors["m1.2xlarge"] = cloud.Flavor{ID: "6", Name: "m1.2xlarge", VCPUs: 16, RAMMB: 32768, DiskGB: 320}
	return Options{
		Config: cfg, Flavors: flavors, Cloud: DefaultModel, JoinDelay: DefaultJoinDelay,
		Quota: cloud.Limits{MaxInstances: -1, MaxCores: 2000, MaxRAMMB: -1},
	}
}
