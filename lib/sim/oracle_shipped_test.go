package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
)

// The oracle (bound_property_test.go) on the shipped traces: the bound
// holds for it there too, and what it costs is what knowing every job in
// advance buys, with no job waiting for a boot: docs/simulate.md compares
// ehos and the baselines with it. It boots one VM per job, so it does not
// pack jobs that arrive together; it is a policy, not the optimum (the
// reuse oracle, oracle_reuse_test.go, keeps VMs for later jobs).
func TestTheOracleOnTheShippedTraces(t *testing.T) {
	for _, c := range shippedCases(t) {
		tr, err := ReadTrace(c.trace)
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Config: c.cfg, Flavors: c.flavors, Quota: cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1}, Cloud: DefaultModel, JoinDelay: DefaultJoinDelay}
		offers, err := usableOffers(o.Config, o.Flavors, o.Quota)
		if err != nil {
			t.Fatal(err)
		}
		withOracle(&o, tr.Jobs, offers, o.Cloud.BootMean+o.Cloud.BootJitter+o.JoinDelay)
		start := time.Now()
		res, err := Run(context.Background(), tr, o)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Settled {
			t.Errorf("%s: the oracle did not settle: %s", c.trace, res.Outcome)
			continue
		}
		if res.Cost < res.Bound.Cost {
			t.Errorf("%s: the oracle's cost %.1f is below the lower bound %.1f", c.trace, res.Cost, res.Bound.Cost)
		}
		t.Logf("%-26s oracle cost %9.1f bound %9.1f ratio %.3f, mean wait %3.0f s, p95 %3.0f s (%s)", c.trace, res.Cost, res.Bound.Cost, res.Cost/res.Bound.Cost, res.MeanWait, res.P95Wait, time.Since(start).Round(time.Millisecond))
	}
}

// shippedCase is one shipped trace with the config and flavors the oracle
// tests run it with: the demo config for bursty, steady and wave;
// testdata/mixed/ehos.yaml with its three wide flavors for mixed and wide.
type shippedCase struct {
	trace   string
	cfg     *config.Config
	flavors map[string]cloud.Flavor
}

func shippedCases(t *testing.T) []shippedCase {
	t.Helper()
	mixed, err := config.Load("testdata/mixed/ehos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wide := DefaultFlavors()
	for _, f := range []cloud.Flavor{{Name: "m1.2xlarge", VCPUs: 16, RAMMB: 32768}, {Name: "m1.4xlarge", VCPUs: 32, RAMMB: 65536}, {Name: "m1.8xlarge", VCPUs: 64, RAMMB: 131072}} {
		wide[f.Name] = f
	}
	return []shippedCase{
		{"testdata/bursty.csv", DemoConfig(), DefaultFlavors()},
		{"testdata/steady.csv", DemoConfig(), DefaultFlavors()},
		{"testdata/wave.swf", DemoConfig(), DefaultFlavors()},
		{"testdata/mixed/mixed.csv", mixed, wide},
		{"testdata/mixed/wide.csv", mixed, wide},
	}
}
