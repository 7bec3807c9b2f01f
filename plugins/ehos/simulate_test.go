package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// runEhos runs `ehos ARGS` as main does, for options before the command.
func runEhos(t *testing.T, args ...string) (string, error) {
	t.Helper()
	t.Setenv("EHOS_CONFIG", "")
	var out, errOut bytes.Buffer
	app := newAppWith(&out, &errOut, &deps{})
	cmdline.Prepare(app)
	err := app.RunContext(context.Background(), cmdline.Args(app, append([]string{"ehos"}, args...)))
	return out.String(), err
}

// simConfig writes an ehos.yaml for the simulator with the given scaling
// max and flavors.
func simConfig(t *testing.T, max int, flavors string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sim.yaml")
	y := fmt.Sprintf("pool: {name: p, central_manager: cm}\nscaling: {max: %d, cycle: 30s, idle_before_retire: 2m}\nclouds:\n  - name: c\n    image: i\n    regions: [r]\n    flavors: [%s]\n", max, flavors)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeTrace(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trace.csv")
	if err := os.WriteFile(p, []byte("submit_s,runtime_s,cpus,memory_mb\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Flags and configs that cannot run the trace are refused before anything
// runs, with an error that names the problem; nothing is printed.
func TestSimulateRefusals(t *testing.T) {
	bursty := "../../lib/sim/testdata/bursty.csv"
	wide := writeTrace(t, "0,60,16,100", "10,60,32,100")
	for _, tc := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"--trace", bursty, "--quota-instances", "0"}, "the quota per region (instances 0, cores 200, RAM 409600 MB) holds no configured flavor", false},
		{[]string{"--trace", bursty, "--quota-cores", "0", "--baseline"}, "holds no configured flavor", false},
		{[]string{"--trace", bursty, "--baseline", "--baseline-flavor", "m1.nope"}, `--baseline-flavor "m1.nope" is not a configured flavor within the quota (configured: m1.large, m1.medium, m1.small)`, false},
		{[]string{"--trace", wide}, "no configured flavor within the quota holds any job of the trace (1× 16 cpus 100 MB, 1× 32 cpus 100 MB", false},
		{[]string{"--trace", bursty, "--config", simConfig(t, 5, "m1.huge")}, `"m1.huge" has no size`, false},
		{[]string{"--trace", bursty, "--sweep", "nope=1,2"}, `unknown knob "nope"`, true},
		{[]string{"--trace", bursty, "--sweep", "spare=0,x"}, `spare "x": want a whole number`, true},
		{[]string{"--trace", bursty, "--sweep", "spare=0,1", "--baseline"}, "--sweep varies ehos's knobs", true},
		{[]string{"--trace", bursty, "--sweep", "spare=0", "--sweep", "spare=1"}, "--sweep spare given twice", true},
		{[]string{"--trace", bursty, "--seeds", "3"}, "--seeds is for --sweep", true},
		{[]string{"--trace", bursty, "--sweep", "spare=0,1", "--seeds", "0"}, "--seeds 0: want 1 to 100", true},
		{[]string{"--trace", bursty, "--sweep", "spare=0,1", "--seeds", "101"}, "--seeds 101: want 1 to 100", true},
	} {
		out, err := runSimulate(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
		var ue *cmdline.UsageError
		if got := errors.As(err, &ue); got != tc.usage {
			t.Errorf("%v: usage error %v, want %v", tc.args, got, tc.usage)
		}
		if !tc.usage && !strings.Contains(err.Error(), "refused, nothing was run") {
			t.Errorf("%v: %v does not say that nothing ran", tc.args, err)
		}
		if out != "" {
			t.Errorf("%v: printed a result although refused:\n%s", tc.args, out)
		}
	}
}

// -c/--config is honoured before and after the command, and the report
// names the file; without one it names the built-in config.
func TestSimulateNamesItsConfig(t *testing.T) {
	cfg := simConfig(t, 10, "m1.large")
	tr := writeTrace(t, "0,600,1,100", "30,600,2,100")
	for _, args := range [][]string{
		{"-c", cfg, "simulate", "--trace", tr},
		{"--config", cfg, "simulate", "--trace", tr},
		{"simulate", "--trace", tr, "-c", cfg},
	} {
		out, err := runEhos(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(out, "config      "+cfg+"\n") || !strings.Contains(out, "peak 1,") {
			t.Errorf("%v: the report does not name %s or did not use its one m1.large:\n%s", args, cfg, out)
		}
	}
	out, err := runSimulate(t, "--trace", tr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "config      built-in demo config") {
		t.Errorf("without a config:\n%s", out)
	}
}

// When the baseline cannot run the trace, ehos's result is printed all
// the same, the baseline's reason beside it, in text and JSON; jobs no
// flavor holds are listed by shape.
func TestSimulateBaselineCannotRun(t *testing.T) {
	tr := writeTrace(t, "0,600,1,100", "30,600,2,100", "60,60,16,100", "70,60,16,100")
	out, err := runSimulate(t, "--trace", tr, "--baseline")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"policy      ehos\n", "jobs        4: 2 finished, 2 no flavor holds", "unservable  2× 16 cpus 100 MB: no configured flavor holds them, so no policy runs them; the bound leaves them out",
		"\nbaseline    not run: baseline: no configured flavor holds every job of the trace"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	out, err = runSimulate(t, "--trace", tr, "--baseline", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Settled bool `json:"settled"`
		Ehos    struct {
			Settled bool    `json:"settled"`
			Cost    float64 `json:"cost_hours"`
			Ratio   float64 `json:"ratio"`
			Bound   struct {
				Shapes []struct{ Cpus, Jobs int } `json:"unservable_shapes"`
			} `json:"lower_bound"`
		}
		Baseline       *struct{} `json:"baseline"`
		BaselineNotRun string    `json:"baseline_not_run"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !got.Settled || !got.Ehos.Settled || got.Ehos.Cost <= 0 || got.Ehos.Ratio < 1 || got.Baseline != nil ||
		!strings.Contains(got.BaselineNotRun, "no configured flavor holds every job") || len(got.Ehos.Bound.Shapes) != 1 || got.Ehos.Bound.Shapes[0].Jobs != 2 {
		t.Errorf("JSON: %+v\n%s", got, out)
	}
}

// A run that did not settle says so first, in text and JSON, with no
// ratio, no comparison and no verdict.
func TestSimulateUnsettled(t *testing.T) {
	var lines []string
	for range 40 {
		lines = append(lines, "0,7200,1,500")
	}
	tr := writeTrace(t, lines...)
	cfg := simConfig(t, 1, "m1.small")
	out, err := runSimulate(t, "--trace", tr, "--config", cfg, "--baseline")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "NOT SETTLED: ") || strings.Contains(out, "ratio ") || strings.Contains(out, "ehos vs baseline") || !strings.Contains(out, "no comparison: ehos and baseline did not settle") {
		t.Errorf("text:\n%s", out)
	}
	out, err = runSimulate(t, "--trace", tr, "--config", cfg, "--baseline", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "{\n  \"settled\": false,\n  \"ehos\": {\n    \"settled\": false,\n    \"outcome\": \"NOT SETTLED") ||
		strings.Contains(out, `"ratio"`) || strings.Contains(out, `"comparison"`) || !strings.Contains(out, `"no_comparison": "no comparison: ehos and baseline did not settle"`) {
		t.Errorf("JSON:\n%s", out)
	}
}

// --sweep runs the grid, prints the table with the frontier and one
// recommendation, and --svg draws the frontier.
func TestSimulateSweep(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "front.svg")
	out, err := runSimulate(t, "--trace", "../../lib/sim/testdata/steady.csv", "--sweep", "spare=0,2", "--sweep", "cycle=30s,1m", "--svg", svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sweep       4 configurations of spare × cycle", "config      built-in demo config", "frontier", "\nrecommended spare="} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.Contains(b, []byte("recommended: spare=")) || bytes.Count(b, []byte("<circle")) != 5 {
		t.Errorf("SVG (%v): %.300s", err, b)
	}
	out, err = runSimulate(t, "--trace", "../../lib/sim/testdata/steady.csv", "--sweep", "spare=0,1", "--seeds", "3", "--seed", "4")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"seeds       4 to 6: each figure is the mean of 3 runs", "cost range", "wait range"} {
		if !strings.Contains(out, want) {
			t.Errorf("--seeds 3: text lacks %q:\n%s", want, out)
		}
	}
	out, err = runSimulate(t, "--trace", "../../lib/sim/testdata/steady.csv", "--sweep", "idle_before_retire=0s,5m", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sw struct {
		Points []struct {
			Values      []string
			Recommended bool
		}
		Why string
	}
	if err := json.Unmarshal([]byte(out), &sw); err != nil || len(sw.Points) != 2 || sw.Why == "" {
		t.Errorf("JSON (%v): %s", err, out)
	}
}
