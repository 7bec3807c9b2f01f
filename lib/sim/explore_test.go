package sim

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestExplore prints how the knobs move cost and wait on the shipped
// traces. It only runs with SIM_EXPLORE=1: it is a measurement, not a test.
func TestExplore(t *testing.T) {
	if os.Getenv("SIM_EXPLORE") == "" {
		t.Skip("set SIM_EXPLORE=1 to print the knob sweep")
	}
	files, _ := filepath.Glob("testdata/*.*")
	for _, f := range files {
		tr, err := ReadTrace(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, neg := range []time.Duration{60 * time.Second} {
			opt := demoOptions()
			opt.NegotiationInterval, opt.Baseline = neg, true
			base, _ := Run(context.Background(), tr, opt)
			t.Logf("%-11s neg %-4s baseline               core-h %5.0f ratio %.3f wait %4.0f p95 %4.0f", filepath.Base(f), neg, base.CoreHours, base.CoreRatio, base.MeanWait, base.P95Wait)
			for _, idle := range []time.Duration{0, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute} {
				for _, spare := range []int{0} {
					cfg := DemoConfig()
					cfg.Scaling.IdleBeforeRetire = idle
					cfg.Scaling.Spare = spare
					opt := demoOptions()
					opt.Config, opt.NegotiationInterval = cfg, neg
					res, err := Run(context.Background(), tr, opt)
					if err != nil {
						t.Fatal(err)
					}
					c := Compare(res, base)
					t.Logf("%-11s neg %-4s idle %-5s spare %d core-h %5.0f ratio %.3f wait %4.0f p95 %4.0f peak %3d creates %4d unused %3d | vs baseline: wait %.2fx lower, cost %.2fx",
						filepath.Base(f), neg, idle, spare, res.CoreHours, res.CoreRatio, res.MeanWait, res.P95Wait, res.PeakVMs, res.Creates, res.Unused, c.WaitFactor, c.CoreHoursFactor)
					t.Logf("    spent %+v", res.Spent)
				}
			}
		}
	}
}
