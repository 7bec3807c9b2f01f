//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
)

// Hostile strings written by lib/classad go through the real
// condor_advertise and come back from condor_status, in both -json and -long
// form, as classad.Stored says (unchanged but for line breaks and control
// characters, which the old syntax cannot carry): the quoting agrees with
// HTCondor's. (A string that looks like "/Expr(...)/" is not tried: HTCondor's
// JSON cannot tell it from an expression.)
func TestClassadQuotingRoundTripsThroughHTCondor(t *testing.T) {
	t.Parallel()
	pool := StartPool(t, PoolOptions{})
	c := pool.Client()
	ctx := context.Background()
	hostile := []string{
		``, `plain`, `a "quoted" word`, `back\slash`, `trailing\`, `\"`, `\\"`, "new\nline = injected",
		"tab\there", `"; Requirements = True; x = "`, "ctl\x01\x7f", "unicode ✓ ok", "\r\n", `$(DOLLAR)`, `'single'`, `a\"b`, `\\"`, `x\`,
	}
	ad := classad.Ad{
		"MyType": classad.String("EHOSQuoteTest"),
		"Name":   classad.String("quote-test"),
	}
	for i, s := range hostile {
		ad[fmt.Sprintf("S%d", i)] = classad.String(s)
	}
	if err := c.Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{ad}); err != nil {
		t.Fatal(err)
	}
	var got []classad.Ad
	pool.WaitFor(t, 20*time.Second, "the advertised ad", func(ctx context.Context) (bool, error) {
		var err error
		got, err = c.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: `MyType == "EHOSQuoteTest"`})
		return len(got) == 1, err
	})
	long, err := c.Run(ctx, "condor_status", "-any", "-constraint", `MyType == "EHOSQuoteTest"`, "-long")
	if err != nil {
		t.Fatal(err)
	}
	longAds, err := classad.ParseLong(long)
	if err != nil || len(longAds) != 1 {
		t.Fatalf("ParseLong of condor_status -long: %d ads, %v\n%s", len(longAds), err, long)
	}
	for i, s := range hostile {
		name := fmt.Sprintf("S%d", i)
		want := classad.String(classad.Stored(s)).Text()
		if v, ok := got[0].Get(name); !ok || v.Text() != want {
			t.Errorf("-json: %s = %q went in, %s came out", name, s, v.Text())
		}
		if v, ok := longAds[0].Get(name); !ok || v.Text() != want {
			t.Errorf("-long: %s = %q went in, %s came out (line %q)", name, s, v.Text(), grepLine(string(long), name))
		}
	}
	if _, ok := got[0].Get("Requirements"); ok {
		t.Errorf("an injected Requirements attribute appeared")
	}
}

func grepLine(text, name string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+" = ") {
			return l
		}
	}
	return ""
}

// Errors are classified: a missing tool, an unreachable collector.
func TestCondorErrorsAreClassified(t *testing.T) {
	t.Parallel()
	pool := StartPool(t, PoolOptions{})
	c := pool.Client()
	ctx := context.Background()
	_, err := c.Status(ctx, condor.StatusQuery{Pool: fmt.Sprintf("127.0.0.1:%d", freePort(t))})
	if !errors.Is(err, condor.ErrUnreachable) || !strings.Contains(err.Error(), "condor_status") {
		t.Errorf("dead collector: %v, want ErrUnreachable naming condor_status", err)
	}
	_, err = c.Run(ctx, "condor_no_such_tool")
	if !errors.Is(err, condor.ErrToolMissing) {
		t.Errorf("missing tool: %v, want ErrToolMissing", err)
	}
	vals, err := c.ConfigVal(ctx, "COLLECTOR_HOST", "EHOS_NOT_A_KNOB")
	if err != nil {
		t.Fatal(err)
	}
	if vals["COLLECTOR_HOST"] != pool.CollectorAddr {
		t.Errorf("COLLECTOR_HOST = %q, want %q", vals["COLLECTOR_HOST"], pool.CollectorAddr)
	}
	if _, ok := vals["EHOS_NOT_A_KNOB"]; ok {
		t.Errorf("undefined knob present: %v", vals)
	}
}

// TestCaptureTestdata refreshes lib/condor/testdata from a real pool when
// EHOS_CAPTURE=1 (go test -tags integration -run TestCaptureTestdata ./integration/),
// or writes into EHOS_CAPTURE_DIR instead when set.
func TestCaptureTestdata(t *testing.T) {
	t.Parallel()
	if os.Getenv("EHOS_CAPTURE") != "1" {
		t.Skip("set EHOS_CAPTURE=1 to recapture lib/condor/testdata")
	}
	pool := StartPool(t, PoolOptions{})
	pool.StartWorker(t, "worker1", "")
	c := pool.Client()
	ctx := context.Background()
	jobDir := filepath.Join(pool.Dir, "job")
	mkdirOwned(t, jobDir, 0o755)
	if _, err := c.Submit(ctx, OneQueue(fmt.Sprintf(`universe = vanilla
executable = /bin/sleep
transfer_executable = false
arguments = 300
initialdir = %s
log = job.log
`, jobDir), []string{"request_cpus", "request_memory"},
		QueueRow{Count: 1, Values: []string{"1", "128"}},
		QueueRow{Count: 2, Values: []string{"4", "1024"}})); err != nil {
		t.Fatal(err)
	}
	// One job runs in a dynamic slot; two cannot fit (4 cpus) and stay idle.
	pool.WaitFor(t, 60*time.Second, "a dynamic slot", func(ctx context.Context) (bool, error) {
		ads, err := c.Status(ctx, condor.StatusQuery{Constraint: "DynamicSlot =?= True"})
		return len(ads) > 0, err
	})
	out := filepath.Join(pool.Install.Repo, "lib", "condor", "testdata")
	if d := os.Getenv("EHOS_CAPTURE_DIR"); d != "" {
		out = d // e.g. to compare another HTCondor version's output
	}
	save := func(name string, tool string, args ...string) {
		b, err := c.Run(ctx, tool, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	save("status-slots.json", "condor_status", "-json")
	save("status-startd.json", "condor_status", "-startd", "-json")
	save("status-any-projected.json", "condor_status", "-any", "-attributes", "MyType,Name", "-json")
	save("status-empty.json", "condor_status", "-constraint", "False", "-json")
	save("queue.json", "condor_q", "-allusers", "-json")
	save("queue-empty.json", "condor_q", "-allusers", "-constraint", "False", "-json")
	save("queue-autocluster.json", "condor_q", "-allusers", "-autocluster", "-json")
	_, err := c.Run(ctx, "condor_status", "-pool", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-json")
	if err == nil {
		t.Fatal("condor_status against a dead collector succeeded")
	}
	b, _ := runCombined(pool, "condor_status", "-pool", fmt.Sprintf("127.0.0.1:%d", 1), "-json")
	os.WriteFile(filepath.Join(out, "unreachable-status.txt"), b, 0o644)
}

// The tools (ehos@ over FS, with the pool's tools token) may advertise startd
// ads, as the provisioner does for offline flavor ads, although the collector
// demands IDTOKENS for ADVERTISE_STARTD.
func TestToolsCanAdvertiseOfflineStartdAds(t *testing.T) {
	t.Parallel()
	pool := StartPool(t, PoolOptions{})
	c := pool.Client()
	ctx := context.Background()
	ad := classad.Ad{
		"MyType": classad.String("Machine"), "Name": classad.String("flavor-m1.small"), "Machine": classad.String("flavor-m1.small"),
		"Cpus": classad.Int(2), "Memory": classad.Int(4096), "Disk": classad.Int(20000000), "OpSys": classad.String("LINUX"), "Arch": classad.String("X86_64"),
		"START": classad.Bool(true), "Requirements": classad.Expr("START"), "State": classad.String("Unclaimed"), "Activity": classad.String("Idle"),
		"Offline": classad.Bool(true), "MyAddress": classad.String("<127.0.0.1:1>"), "StartdIpAddr": classad.String("<127.0.0.1:1>"), "UpdateSequenceNumber": classad.Int(1),
	}
	if err := c.Advertise(ctx, "UPDATE_STARTD_AD", []classad.Ad{ad}); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 20*time.Second, "the offline ad", func(ctx context.Context) (bool, error) {
		ads, err := c.Status(ctx, condor.StatusQuery{Constraint: "Offline =?= True", Attrs: []string{"Name"}})
		return len(ads) == 1 && ads[0].GetString("Name") == "flavor-m1.small", err
	})
}

// runCombined runs a tool for pool p and returns stdout and stderr together
// (for capturing error messages).
func runCombined(p *Pool, tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(p.Install.BinDir, tool), args...)
	cmd.Env = append(os.Environ(), "CONDOR_CONFIG="+p.ConfigFile)
	return cmd.CombinedOutput()
}
