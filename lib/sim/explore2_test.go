package sim

import (
	"context"
	"os"
	"testing"
)

func TestExploreUnused(t *testing.T) {
	if os.Getenv("SIM_EXPLORE") == "" {
		t.Skip()
	}
	tr, _ := ReadTrace("testdata/bursty.csv")
	one := &Trace{Name: "one-shape"}
	for _, j := range tr.Jobs {
		j.Cpus, j.MemoryMB = 1, 1500
		one.Jobs = append(one.Jobs, j)
	}
	for _, x := range []*Trace{tr, one} {
		for _, ff := range []bool{false, true} {
			res, _ := Run(context.Background(), x, Options{Config: DemoConfig(), Flavors: DefaultFlavors(), Quota: DefaultQuota, Cloud: DefaultModel, JoinDelay: DefaultJoinDelay, FirstFit: ff})
			t.Logf("%s firstfit %v: creates %d unused %d ratio %.3f wait %.0f", x.Name, ff, res.Creates, res.Unused, res.CoreRatio, res.MeanWait)
		}
	}
}
