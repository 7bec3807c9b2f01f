package sim

import (
	"context"
	"testing"
)

func TestRepeatable(t *testing.T) {
	a := runTrace(t, "testdata/bursty.csv", false)
	for i := 0; i < 3; i++ {
		b := runTrace(t, "testdata/bursty.csv", false)
		if a.CoreHours != b.CoreHours || a.MeanWait != b.MeanWait || a.Creates != b.Creates {
			t.Errorf("run %d differs: core-h %.4f/%.4f wait %.2f/%.2f creates %d/%d", i, a.CoreHours, b.CoreHours, a.MeanWait, b.MeanWait, a.Creates, b.Creates)
		}
	}
}

// TestRepeatableToTheLastDigit: workers still up at the end (spare 2) are
// accounted in a fixed order, so the float sums, and the JSON, repeat.
func TestRepeatableToTheLastDigit(t *testing.T) {
	tr, err := ReadTrace("testdata/steady.csv")
	if err != nil {
		t.Fatal(err)
	}
	var first Spent
	for i := 0; i < 8; i++ {
		opt := demoOptions()
		opt.Config.Scaling.Spare = 2
		opt.Baseline = true
		res, err := Run(context.Background(), tr, opt)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res.Spent
		} else if res.Spent != first {
			t.Fatalf("run %d spent %+v, run 0 %+v", i, res.Spent, first)
		}
	}
}
