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
		for _, idle := range []time.Duration{0, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute} {
			for _, neg := range []time.Duration{20 * time.Second, 60 * time.Second} {
				cfg := DemoConfig()
				cfg.Scaling.IdleBeforeRetire = idle
				res, err := Run(context.Background(), tr, Options{Config: cfg, Flavors: DefaultFlavors(), Quota: DefaultQuota, Cloud: DefaultModel, JoinDelay: DefaultJoinDelay, NegotiationInterval: neg})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%-20s idle %-5s neg %-4s core-h %6.1f bound %6.1f ratio %.3f wait %4.0f p95 %4.0f peak %3d creates %4d unused %3d",
					filepath.Base(f), idle, neg, res.CoreHours, res.Bound.CoreHours, res.CoreRatio, res.MeanWait, res.P95Wait, res.PeakVMs, res.Creates, res.Unused)
				if res.OverMaxNote != "" {
					t.Log(res.OverMaxNote)
				}
			}
		}
	}
}
