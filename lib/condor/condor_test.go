package condor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeTools makes a BinDir whose tools are shell scripts: each prints the
// given testdata file (stdout), an error text (stderr) and exits with code.
type fake struct {
	stdoutFile string // in testdata/
	stderrFile string // in testdata/
	stdout     string
	code       int
}

func fakeBin(t *testing.T, tools map[string]fake) string {
	t.Helper()
	dir := t.TempDir()
	td, _ := filepath.Abs("testdata")
	for name, f := range tools {
		var b strings.Builder
		b.WriteString("#!/bin/sh\n")
		b.WriteString("echo \"$0 $*\" >>\"$(dirname \"$0\")/calls\"\n")
		if f.stdoutFile != "" {
			b.WriteString("cat '" + filepath.Join(td, f.stdoutFile) + "'\n")
		}
		if f.stdout != "" {
			b.WriteString("printf '%s' '" + strings.ReplaceAll(f.stdout, "'", `'\''`) + "'\n")
		}
		if f.stderrFile != "" {
			b.WriteString("cat '" + filepath.Join(td, f.stderrFile) + "' >&2\n")
		}
		b.WriteString("exit " + strconv.Itoa(f.code) + "\n")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func calls(t *testing.T, dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return string(b)
}

func TestStatusParsesPartitionableAndDynamicSlots(t *testing.T) {
	bin := fakeBin(t, map[string]fake{"condor_status": {stdoutFile: "status-slots.json"}})
	c := &Client{BinDir: bin}
	ads, err := c.Status(context.Background(), StatusQuery{Constraint: `Machine == "vm"`, Attrs: []string{"Name", "Cpus"}, Pool: "127.0.0.1:9618"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 2 {
		t.Fatalf("got %d ads, want 2", len(ads))
	}
	p, d := ads[0], ads[1]
	if p.GetString("Name") != "slot1@worker1@vm" || !p.GetBool("PartitionableSlot", false) {
		t.Errorf("first ad is not the partitionable slot: %v", p.GetString("Name"))
	}
	if d.GetString("Name") != "slot1_1@worker1@vm" || !d.GetBool("DynamicSlot", false) || d.GetInt("Cpus", 0) != 1 {
		t.Errorf("second ad is not a 1-cpu dynamic slot: %v", d.GetString("Name"))
	}
	if p.GetInt("Cpus", -1) != 1 || p.GetInt("TotalSlotCpus", -1) != 2 {
		t.Errorf("partitionable slot: Cpus %d (left) TotalSlotCpus %d", p.GetInt("Cpus", -1), p.GetInt("TotalSlotCpus", -1))
	}
	if _, ok := p["Requirements"].ExprText(); !ok {
		t.Errorf("Requirements is not an expression: %#v", p["Requirements"])
	}
	want := "condor_status -pool 127.0.0.1:9618 -constraint Machine == \"vm\" -attributes Name,Cpus -json"
	if got := calls(t, bin); !strings.Contains(got, want) {
		t.Errorf("called %q, want %q", got, want)
	}
}

func TestStatusStartdAndAny(t *testing.T) {
	bin := fakeBin(t, map[string]fake{"condor_status": {stdoutFile: "status-startd.json"}})
	ads, err := (&Client{BinDir: bin}).Status(context.Background(), StatusQuery{Kind: "-startd"})
	if err != nil || len(ads) != 1 || ads[0].GetString("MyType") != "StartD" || ads[0].GetString("Name") != "worker1@vm" {
		t.Fatalf("startd ads: %v %v", ads, err)
	}
	bin = fakeBin(t, map[string]fake{"condor_status": {stdoutFile: "status-any-projected.json"}})
	ads, err = (&Client{BinDir: bin}).Status(context.Background(), StatusQuery{Kind: "-any", Attrs: []string{"MyType", "Name"}})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, a := range ads {
		types[a.GetString("MyType")]++
	}
	for _, want := range []string{"Collector", "Negotiator", "Scheduler", "Machine", "StartD", "DaemonMaster"} {
		if types[want] == 0 {
			t.Errorf("no %s ad in -any output: %v", want, types)
		}
	}
}

func TestEmptyOutputIsNoAds(t *testing.T) {
	bin := fakeBin(t, map[string]fake{
		"condor_status": {stdoutFile: "status-empty.json"},
		"condor_q":      {stdoutFile: "queue-empty.json"},
	})
	c := &Client{BinDir: bin}
	if ads, err := c.Status(context.Background(), StatusQuery{Constraint: "False"}); err != nil || len(ads) != 0 {
		t.Errorf("status: %v %v", ads, err)
	}
	if ads, err := c.Queue(context.Background(), QueueQuery{Constraint: "False"}); err != nil || len(ads) != 0 {
		t.Errorf("queue: %v %v", ads, err)
	}
}

func TestQueueAndAutoclusters(t *testing.T) {
	bin := fakeBin(t, map[string]fake{"condor_q": {stdoutFile: "queue.json"}})
	c := &Client{BinDir: bin}
	ads, err := c.Queue(context.Background(), QueueQuery{AllUsers: true, Name: "ehos@vm", Attrs: []string{"JobStatus"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 3 || ads[0].GetInt("JobStatus", 0) != 2 || ads[1].GetInt("JobStatus", 0) != 1 || ads[1].GetInt("RequestCpus", 0) != 4 {
		t.Errorf("queue: %d ads", len(ads))
	}
	if got := calls(t, bin); !strings.Contains(got, "condor_q -name ehos@vm -allusers -attributes JobStatus -json") {
		t.Errorf("called %q", got)
	}

	bin = fakeBin(t, map[string]fake{"condor_q": {stdoutFile: "queue-autocluster.json"}})
	out, err := (&Client{BinDir: bin}).Run(context.Background(), "condor_q", "-autocluster", "-json")
	if err != nil {
		t.Fatal(err)
	}
	acs, err := parseAds("condor_q -autocluster -json", out)
	if err != nil {
		t.Fatal(err)
	}
	if len(acs) != 2 || acs[1].GetInt("JobCount", 0) != 2 || acs[1].GetInt("RequestCpus", 0) != 4 {
		t.Errorf("autoclusters: %v", acs)
	}
	if e, ok := acs[0]["RequestDisk"].ExprText(); !ok || e != "DiskUsage" {
		t.Errorf("RequestDisk = %#v", acs[0]["RequestDisk"])
	}
}

func TestErrorsAreClassified(t *testing.T) {
	bin := fakeBin(t, map[string]fake{
		"condor_status":    {stderrFile: "unreachable-status.txt", code: 1},
		"condor_q":         {stdout: "[{ broken"},
		"condor_drain":     {stdout: "Can't find address for startd w1", code: 1},
		"condor_off":       {stdout: "condor-wrap: condor_off: not found", code: 7},
		"condor_submit":    {stdout: "1.0 - 1.0\n"},
		"condor_advertise": {stdout: "Sent 1 of 2 ads; 1 failed"},
	})
	c := &Client{BinDir: bin}
	ctx := context.Background()

	_, err := c.Status(ctx, StatusQuery{Kind: "-startd"})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "condor_status -startd -json") || !strings.Contains(err.Error(), "CEDAR:6001") {
		t.Errorf("unreachable collector: %v", err)
	}
	_, err = c.Queue(ctx, QueueQuery{})
	if !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), "condor_q -json") {
		t.Errorf("broken JSON: %v", err)
	}
	if err := c.Drain(ctx, "slot1@w1@vm", true); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "condor_drain -graceful slot1@w1@vm") {
		t.Errorf("drain: %v", err)
	}
	if err := c.Off(ctx, "w1@vm", true); err == nil || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "condor_off -peaceful -startd -name w1@vm") {
		t.Errorf("off with an unclassified failure: %v", err)
	}
	if _, err := c.Run(ctx, "condor_nonesuch"); !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "condor_nonesuch") {
		t.Errorf("missing tool: %v", err)
	}
	if _, err := (&Client{BinDir: "/nonexistent"}).Run(ctx, "condor_q"); !errors.Is(err, ErrToolMissing) {
		t.Errorf("missing bin dir: %v", err)
	}
	if n, err := c.Submit(ctx, "queue\n"); err != nil || n != 1 {
		t.Errorf("submit: %d %v", n, err)
	}
	if err := c.Advertise(ctx, "UPDATE_AD_GENERIC", nil); err != nil {
		t.Errorf("advertise nothing: %v", err)
	}
}

func TestTimeoutIsUnreachable(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "condor_status"), []byte("#!/bin/sh\nexec sleep 5\n"), 0o755)
	c := &Client{BinDir: dir, Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := c.Status(context.Background(), StatusQuery{})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("timeout: %v", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("timeout took %v", time.Since(start))
	}
}

func TestTokenCreateKeepsTheTokenOutOfErrors(t *testing.T) {
	bin := fakeBin(t, map[string]fake{"condor_token_create": {stdout: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb25kb3IifQ.c2ln\n"}})
	tok, err := (&Client{BinDir: bin}).TokenCreate(context.Background(), TokenRequest{Identity: "condor@pool", Authz: []string{"READ", "ADVERTISE_STARTD"}, Lifetime: 90 * time.Minute})
	if err != nil || tok != "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb25kb3IifQ.c2ln" {
		t.Fatalf("token %q %v", tok, err)
	}
	if got := calls(t, bin); !strings.Contains(got, "-identity condor@pool -authz READ -authz ADVERTISE_STARTD -lifetime 5400") {
		t.Errorf("called %q", got)
	}
}

// A failing condor_token_create that printed a token before failing (and
// said nothing on stderr) must not put the token into the error: errors
// reach the provisioner log, its ad (readable by every worker), ehos status
// and doctor.
func TestFailedToolErrorsHoldNoToken(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiIsImtpZCI6IlBPT0wifQ.eyJzdWIiOiJlaG9zLXdvcmtlckBwb29sIn0.c2lnbmF0dXJlLXBhcnQ"
	bin := fakeBin(t, map[string]fake{
		"condor_token_create": {stdout: tok + "\nERROR: could not write\n", code: 1},
		// Another tool that echoes a token on stdout while failing.
		"condor_status": {stdout: "Error: bad token " + tok + " in /etc/condor/tokens.d/w\n", code: 1},
	})
	c := &Client{BinDir: bin}
	_, err := c.TokenCreate(context.Background(), TokenRequest{Identity: "ehos-worker@pool"})
	// Its stdout is dropped whole, not only redacted: the shape of a token
	// is a guess, the tool's output is a secret.
	if err == nil || strings.Contains(err.Error(), "eyJ") || strings.Contains(err.Error(), "redacted") || strings.Contains(err.Error(), "could not write") {
		t.Errorf("token_create error quotes its stdout: %v", err)
	}
	_, err = c.Status(context.Background(), StatusQuery{})
	if err == nil || strings.Contains(err.Error(), "eyJ") || !strings.Contains(err.Error(), "[token redacted]") {
		t.Errorf("condor_status error: %v", err)
	}
}

func TestConfigValReadsAllKnobsInOneCall(t *testing.T) {
	dir := t.TempDir()
	// As condor_config_val does: defined values on stdout in order, the
	// others named on stderr, exit 1 when any is undefined.
	script := "#!/bin/sh\necho \"$*\" >>\"$(dirname \"$0\")/calls\"\nrc=0\nfor n in \"$@\"; do case $n in A) echo 1;; C) echo 'x y';; E) echo;; *) echo \"Not defined: $n\" >&2; rc=1;; esac; done\nexit $rc\n"
	if err := os.WriteFile(filepath.Join(dir, "condor_config_val"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Client{BinDir: dir}
	got, err := c.ConfigVal(context.Background(), "A", "B", "C", "D", "E")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"A": "1", "C": "x y", "E": ""}, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if n := strings.Count(calls(t, dir), "\n"); n != 1 {
		t.Errorf("%d condor_config_val calls, want 1:\n%s", n, calls(t, dir))
	}
}
