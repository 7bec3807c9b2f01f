package sim

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/provision"
)

// BenchmarkSimTrace replays each shipped trace with ehos's provisioner and
// reports what the run cost against the lower bound and how long jobs
// waited. ns/op is the time to simulate the whole trace.
func BenchmarkSimTrace(b *testing.B) {
	files, _ := filepath.Glob("testdata/*.*")
	for _, f := range files {
		tr, err := ReadTrace(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, base := range []bool{false, true} {
			name := filepath.Base(f) + "/ehos"
			if base {
				name = filepath.Base(f) + "/baseline"
			}
			b.Run(name, func(b *testing.B) {
				var res *Result
				opt := demoOptions()
				opt.Baseline = base
				for i := 0; i < b.N; i++ {
					res, err = Run(context.Background(), tr, opt)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(res.Ratio, "cost/bound")
				b.ReportMetric(res.MeanWait, "wait-s")
				b.ReportMetric(res.P95Wait, "p95-wait-s")
				b.ReportMetric(float64(res.PeakVMs), "peak-vms")
			})
		}
	}
}

// scaleWorld is issue 7's scale: 3 regions (two clouds) with 10 flavors
// each, vms VMs (90% joined, most busy), and 100,000 idle jobs in 1,000
// shapes.
func scaleWorld(b *testing.B, vms int) (*World, *provision.Provisioner) {
	b.Helper()
	flavors := map[string]cloud.Flavor{}
	var names []string
	for f := 0; f < 10; f++ {
		cpus := 1 << (f / 2)
		n := fmt.Sprintf("f%02d", f)
		flavors[n] = cloud.Flavor{ID: n, Name: n, VCPUs: cpus, RAMMB: cpus * 2048 << (f % 2), DiskGB: 20 * cpus}
		names = append(names, n)
	}
	cfg := DemoConfig()
	cfg.Clouds = []cloud.Config{
		{Name: "siteA", Regions: []string{"RegionOne", "RegionTwo"}, Image: "img", Flavors: names, Weight: 1},
		{Name: "siteB", Regions: []string{"RegionOne"}, Image: "img", Flavors: names, Weight: 2},
	}
	cfg.Scaling.Max = vms // at max: a steady cycle creates nothing
	var jobs []Job
	for g := 0; g < 1000; g++ {
		for k := 0; k < 100; k++ {
			jobs = append(jobs, Job{Runtime: 24 * time.Hour, Cpus: 1 << (g % 4), MemoryMB: 256 + 17*g})
		}
	}
	w, err := NewWorld(cfg, flavors, cloud.Limits{MaxInstances: 5000, MaxCores: 100000, MaxRAMMB: 400 << 20}, CloudModel{BootMean: time.Minute}, 0, jobs)
	if err != nil {
		b.Fatal(err)
	}
	created := Epoch.Add(-time.Hour)
	var servers []*Server
	locs := []struct {
		c *Cloud
		r string
	}{{w.Clouds[0], "RegionOne"}, {w.Clouds[0], "RegionTwo"}, {w.Clouds[1], "RegionOne"}}
	for i := 0; i < vms; i++ {
		l := locs[i%3]
		if i%10 == 9 { // one in ten still booting
			s := l.c.EnsureServers(l.r, names[i%10], cfg.Pool.Name, cfg.Pool.Owner, 1, Epoch.Add(-time.Minute))[0]
			s.ActiveAt = Epoch.Add(time.Minute)
			continue
		}
		servers = append(servers, l.c.EnsureServers(l.r, names[i%10], cfg.Pool.Name, cfg.Pool.Owner, 1, created)...)
	}
	for _, s := range servers {
		w.Pool.Join(s, created)
	}
	for _, c := range w.Clouds {
		w.seen[c] = len(c.Servers())
	}
	w.Clock.Set(Epoch)
	w.Pool.Advance(Epoch)
	w.Pool.Negotiate(Epoch)
	p, err := provision.New(provision.Options{
		Pool: cfg.Pool.Name, Owner: cfg.Pool.Owner, Knobs: Knobs(cfg), Clouds: w.Specs, Log: zerolog.Nop(),
	}, w.Pool, Bootstrap())
	if err != nil {
		b.Fatal(err)
	}
	return w, p
}

func totalCalls(w *World) map[string]int {
	out := map[string]int{}
	for _, c := range w.Clouds {
		for r, n := range c.Calls() {
			out[c.Name()+"/"+r] = n.Total()
		}
	}
	return out
}

// BenchmarkRunOnceScale measures one provision.RunOnce (observe, decide,
// act, publish) against the simulated cloud and pool at issue 7's scale,
// and at smaller VM counts to show the cloud API calls per cycle per region
// stay constant as VMs grow.
func BenchmarkRunOnceScale(b *testing.B) {
	for _, vms := range []int{500, 2000} {
		b.Run(fmt.Sprintf("vms=%d", vms), func(b *testing.B) {
			w, p := scaleWorld(b, vms)
			ctx := context.Background()
			if _, err := p.RunOnce(ctx, Epoch); err != nil { // first cycle reads flavors
				b.Fatal(err)
			}
			rep, _ := p.RunOnce(ctx, Epoch)
			if len(rep.Errors) > 0 || len(rep.Decision.Creates) > 0 {
				b.Fatalf("not a steady cycle: errors %v creates %v", rep.Errors, rep.Decision.Creates)
			}
			before := totalCalls(w)
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.RunOnce(ctx, Epoch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
			top := 0.0
			for k, n := range totalCalls(w) {
				top = max(top, float64(n-before[k])/float64(b.N))
			}
			b.ReportMetric(top, "api-calls/cycle/region")
		})
	}
}

// BenchmarkSimMonth replays MonthTrace with ehos's provisioner on
// MonthOptions' pool: days=30 is issue 24's goal, a month of 1,000,000 jobs
// within 60 s (ns/op) and 1 GB (peak-rss-MB, the whole test process's
// largest resident size so far); days=3 is the same shape at a tenth, for
// profiling. Run it alone (make bench-sim): peak-rss-MB counts whatever ran
// before it in the same process.
func BenchmarkSimMonth(b *testing.B) {
	for _, c := range []struct{ jobs, days int }{{100_000, 3}, {1_000_000, 30}} {
		b.Run(fmt.Sprintf("days=%d", c.days), func(b *testing.B) {
			tr := MonthTrace(1, c.jobs, c.days)
			var res *Result
			var last Progress
			opt := MonthOptions()
			opt.Progress = func(p Progress) { last = p }
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var err error
				if res, err = Run(context.Background(), tr, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB") // Linux: KB
			}
			b.ReportMetric(float64(res.Finished), "finished")
			b.ReportMetric(res.MeanWait, "wait-s")
			b.ReportMetric(float64(res.PeakVMs), "peak-vms")
			b.ReportMetric(float64(res.Cycles), "cycles")
			b.ReportMetric(float64(last.Ran), "cycles-run")
			if !res.Settled {
				b.Errorf("run did not settle: %d of %d jobs finished by %.0f s", res.Finished, res.Jobs, res.End)
			}
		})
	}
}
