package sim

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/cloud"
)

// TestSkipChangesNothing replays traces with every cycle run and with the
// cycles where nothing can change skipped, under settings that exercise the
// provisioner's clocks (idle, lifetimes, boot failures, quota back-offs,
// spare and min workers) and the baseline, and wants the same results.
// (The wave trace and the history behave like steady; -short leaves out a
// day of MonthTrace.)
func TestSkipChangesNothing(t *testing.T) {
	files := []string{"testdata/bursty.csv", "testdata/steady.csv"}
	traces := map[string]*Trace{}
	if !testing.Short() {
		traces["month-1d"] = MonthTrace(2, 600, 1)
	}
	base := func(tn string) Options {
		if tn == "month-1d" {
			return MonthOptions()
		}
		return demoOptions()
	}
	for _, f := range files {
		tr, err := ReadTrace(f)
		if err != nil {
			t.Fatal(err)
		}
		traces[filepath.Base(f)] = tr
	}
	variants := map[string]func(*Options){
		"demo": func(*Options) {},
		"failures": func(o *Options) {
			o.Cloud.FailRate, o.Cloud.Seed = 0.15, 7
		},
		"quota": func(o *Options) {
			o.Quota = cloud.Limits{MaxInstances: 3, MaxCores: 10, MaxRAMMB: -1}
		},
		"warm": func(o *Options) {
			o.Config.Scaling.Min, o.Config.Scaling.Spare = 1, 2
			o.Config.Scaling.MinLifetime, o.Config.Scaling.IdleBeforeRetire = 10*time.Minute, 7*time.Minute
			o.NegotiationInterval, o.RescheduleDelay = 20*time.Second, -1
		},
		"baseline": func(o *Options) {
			o.Baseline = true
			o.Config.Scaling.Spare = 1
		},
	}
	for tn, tr := range traces {
		for vn, v := range variants {
			t.Run(fmt.Sprintf("%s/%s", tn, vn), func(t *testing.T) {
				run := func(noSkip bool) (*Result, Progress) {
					opt := base(tn)
					v(&opt)
					opt.NoSkip, opt.Samples = noSkip, true
					var last Progress
					opt.Progress = func(p Progress) { last = p }
					res, err := Run(context.Background(), tr, opt)
					if err != nil {
						t.Fatal(err)
					}
					return res, last
				}
				all, allP := run(true)
				skipped, skipP := run(false)
				if diff := cmp.Diff(all, skipped); diff != "" {
					t.Errorf("skipping cycles changed the result (-every cycle +skipping):\n%s", diff)
				}
				if allP.Ran != allP.Cycles {
					t.Errorf("NoSkip: %d of %d cycles ran", allP.Ran, allP.Cycles)
				}
				t.Logf("%d cycles, %d ran with skipping", skipP.Cycles, skipP.Ran)
			})
		}
	}
}
