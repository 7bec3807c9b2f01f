package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehos-project/ehos/lib/cmdline"
)

// runSimulate runs `ehos simulate ARGS` as main does.
func runSimulate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	t.Setenv("EHOS_CONFIG", "")
	var out, errOut bytes.Buffer
	app := newAppWith(&out, &errOut, &deps{})
	cmdline.Prepare(app)
	err := app.RunContext(context.Background(), cmdline.Args(app, append([]string{"ehos", "simulate"}, args...)))
	return out.String(), err
}

func TestSimulateJSONAndSVG(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "plot.svg")
	out, err := runSimulate(t, "--trace", "../../lib/sim/testdata/bursty.csv", "--json", "--baseline", "--svg", svg)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Ehos, Baseline struct {
			Policy   string  `json:"policy"`
			Finished int     `json:"finished"`
			Jobs     int     `json:"jobs"`
			VMHours  float64 `json:"vm_hours"`
		}
		Comparison struct {
			WaitFactor float64 `json:"wait_factor"`
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Ehos.Policy != "ehos" || got.Baseline.Policy != "baseline" || got.Ehos.Finished != got.Ehos.Jobs || got.Ehos.VMHours <= 0 || got.Comparison.WaitFactor <= 0 {
		t.Errorf("unexpected result: %+v", got)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("<svg")) || !bytes.Contains(b, []byte("<polyline")) || !bytes.Contains(b, []byte("baseline VMs")) {
		t.Errorf("SVG lacks the plot: %.200s", b)
	}
}

func TestSimulateText(t *testing.T) {
	out, err := runSimulate(t, "--trace", "../../lib/sim/testdata/wave.swf", "--negotiation-interval", "20s")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"VM-hours", "lower bound", "wait", "peak", "API calls"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A pool's own history, as condor_history printed it, replays like any
// trace; the jobs that never ran on a worker are counted, not replayed.
func TestSimulateHistory(t *testing.T) {
	out, err := runSimulate(t, "--trace", "../../lib/sim/testdata/history/condor-23.9.6.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "jobs        6: 6 finished") || !strings.Contains(out, "(2 records that never ran on a worker skipped)") {
		t.Errorf("output:\n%s", out)
	}
}

func TestSimulateErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("submit_s,runtime_s,cpus,memory_mb\n0,60,1,100\n5,x,1,100\n"), 0o644)
	cfg := filepath.Join(dir, "ehos.yaml")
	os.WriteFile(cfg, []byte("pool: {name: p, central_manager: cm}\nclouds:\n  - name: c\n    image: i\n    flavors: [weird.flavor]\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--trace", bad}, "bad.csv:3: runtime_s"},
		{[]string{"--trace", filepath.Join(dir, "missing.csv")}, "no such file"},
		{[]string{"--trace", "../../lib/sim/testdata/bursty.csv", "--config", cfg}, `"weird.flavor" has no size`},
		{[]string{"--trace", "../../lib/sim/testdata/bursty.csv", "--flavor", "x=1"}, "NAME=VCPUS:RAM_MB"},
		{[]string{"--trace", "../../lib/sim/testdata/bursty.csv", "--fail-rate", "1.5"}, "--fail-rate"},
		{[]string{"--trace", "../../lib/sim/testdata/bursty.csv", "--claim-worklife", "-1m"}, "--claim-worklife -1m0s must not be negative"},
		{[]string{"--trace", "../../lib/sim/testdata/bursty.csv", "--reschedule-delay", "-3s"}, "--reschedule-delay -3s must not be negative"},
		{[]string{"--trace", "../../lib/sim/testdata/bursty.csv", "--drain-recheck", "-5s"}, "--drain-recheck -5s must not be negative"},
	} {
		_, err := runSimulate(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	// a flavor given on the command line makes that config work
	if _, err := runSimulate(t, "--trace", "../../lib/sim/testdata/bursty.csv", "--config", cfg, "--flavor", "weird.flavor=8:32768"); err != nil {
		t.Errorf("with --flavor: %v", err)
	}
}
