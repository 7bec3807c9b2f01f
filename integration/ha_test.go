//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/provision"
)

// crashLoopBound is what docs/ha.md and the shipped config promise: after
// one to five crashes in a row, condor_master's timer starts the
// provisioner again after these many seconds; startSlack is the most the
// start itself may add (up to 2.2 s seen on HTCondor 25 on the busy 2-core
// machine).
var crashLoopBound = []int{6, 7, 9, 13, 21}

const startSlack = 3 * time.Second

// shippedBackoff is the restart back-off block of the shipped central
// manager config: its MASTER_EHOS_PROVISIONER_* lines.
func shippedBackoff(t *testing.T) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(repoFile(t, "condor-config/50-ehos-central-manager.conf"))))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "MASTER_EHOS_PROVISIONER_") {
			b.WriteString(l + "\n")
		}
	}
	if b.Len() == 0 {
		t.Fatal("no MASTER_EHOS_PROVISIONER_ lines in the central manager snippet")
	}
	return b.String()
}

// A provisioner killed -9 five times in a row, each time as soon as it is
// back, is started again by the real condor_master, with the shipped
// back-off knobs, within the bound docs/ha.md states after each crash; the
// master's log shows the very delays the knobs give.
func TestProvisionerCrashLoopComesBackFast(t *testing.T) {
	// Runs alone (no t.Parallel): kill -9 of the provisioner, and it times condor_master's restarts.
	s := StartStack(t, StackOptions{NoDemandJob: true, CMConfig: shippedBackoff(t)})
	s.Pool.WaitFor(t, 30*time.Second, "the provisioner process", func(context.Context) (bool, error) {
		return s.ProvisionerPID() != 0, nil
	})
	for i, bound := range crashLoopBound {
		pid := s.ProvisionerPID()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %d: %v", pid, err)
		}
		killed := time.Now()
		var back time.Duration
		// Polled every 100 ms, so the measure is close to the master's.
		poll(t, 90*time.Second, 100*time.Millisecond, fmt.Sprintf("condor_master to restart the provisioner after crash %d", i+1),
			func(context.Context) (bool, error) {
				p := s.ProvisionerPID()
				back = time.Since(killed)
				return p != 0 && p != pid, nil
			}, func() string { return "" }, func() string { return logTails(s.Pool.Dir) })
		t.Logf("crash %d: back after %v (bound %d s)", i+1, back.Round(100*time.Millisecond), bound)
		if back > time.Duration(bound)*time.Second+startSlack {
			t.Errorf("crash %d: provisioner back after %v, bound %d s", i+1, back.Round(100*time.Millisecond), bound)
		}
	}
	var delays []string
	for _, m := range regexp.MustCompile(`restarting \S*ehos_provisioner in (\d+) seconds`).FindAllStringSubmatch(s.Pool.Log("MasterLog"), -1) {
		delays = append(delays, m[1])
	}
	if got, want := strings.Join(delays, " "), strings.Trim(fmt.Sprint(crashLoopBound), "[]"); got != want {
		t.Errorf("condor_master's restart delays: %q, want %q", got, want)
	}
}

// provisionerAds are the stack's EHOSProvisioner ads, by Name.
func provisionerAds(ctx context.Context, s *Stack) (map[string]classad.Ad, error) {
	ads, err := s.Pool.Client().Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: "MyType == " + classad.Quote(provision.AdType)})
	out := map[string]classad.Ad{}
	for _, a := range ads {
		out[a.GetString("Name")] = a
	}
	return out, err
}

// A second provisioner started by hand against the same pool decides and
// publishes but acts on nothing, and says why in its ad, its log and
// `ehos status`; when the first (condor_master's) is turned off, the
// second takes over within LeaseCycles+1 cycles, adopts every VM the
// first created, and serves the jobs down to zero VMs, with no VM created
// twice.
func TestSecondProvisionerStandsByThenTakesOver(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{BootDelay: 4 * time.Second})
	w := watchServers(t, s)
	ctx := context.Background()
	var first string
	s.Pool.WaitFor(t, time.Minute, "the first provisioner's ad", func(ctx context.Context) (bool, error) {
		ads, err := provisionerAds(ctx, s)
		for name := range ads {
			first = name
		}
		return len(ads) == 1, err
	})

	pid1 := s.ProvisionerPID() // before the second, which ProvisionerPID would find too
	// The second, by hand: its own process tree (a pid namespace of its
	// own, as on another machine), the same ehos.yaml, clouds and pool.
	inst := RequireCondor(t)
	log2 := filepath.Join(s.Dir, "second.log")
	var out2 strings.Builder
	// Through the root's /bin/sh: condor-wrap looks a tool up in the root
	// before it binds the repository in.
	second := exec.Command(inst.Wrap, "/bin/sh", "-c", `exec "$0" "$@"`, filepath.Join(s.Bin, "ehos_provisioner"), "--config", s.ConfigFile, "--clouds-file", s.CloudsFile, "--log-file", log2)
	var onCM []string // beside the first, on the central manager's host
	if s.CMHost != nil {
		onCM = []string{"EHOS_NETNS=" + s.CMHost.NS}
	}
	second.Env = append(append(os.Environ(), "CONDOR_CONFIG="+s.Pool.ConfigFile, "EHOS_CONDOR_ROOT="+inst.Root, "EHOS_CONDOR_SUPERVISE=1"), onCM...)
	second.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	second.Stdout, second.Stderr = &out2, &out2
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Its wrapper's init passes SIGTERM on as a fast stop; the whole
		// process group is killed if that takes long.
		syscall.Kill(-second.Process.Pid, syscall.SIGTERM)
		stopped := make(chan struct{})
		go func() { second.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(15 * time.Second):
			syscall.Kill(-second.Process.Pid, syscall.SIGKILL)
			<-stopped
		}
		if t.Failed() {
			t.Logf("the second provisioner's output:\n%s", out2.String())
			t.Logf("the second provisioner's log tail:\n%s", tail(log2, 20))
		}
	})
	var standby string
	s.Pool.WaitFor(t, time.Minute, "the second provisioner's ad, standing by", func(ctx context.Context) (bool, error) {
		ads, err := provisionerAds(ctx, s)
		for name, a := range ads {
			if name != first {
				standby = name
				return strings.Contains(a.GetString(provision.AttrStandby), "holds the lease of pool demo"), err
			}
		}
		return false, err
	})

	// Jobs come while both run: only the first creates.
	cluster, err := s.Pool.Client().Submit(ctx, "executable = /bin/sleep\narguments = 20\nrequest_cpus = 1\nrequest_memory = 512\nqueue 3\n")
	if err != nil {
		t.Fatal(err)
	}
	s.Pool.WaitFor(t, time.Minute, "VMs for the jobs", func(context.Context) (bool, error) { return len(s.Servers()) >= 1, nil })
	status := exec.Command(filepath.Join(s.Bin, "ehos"), "--config", s.ConfigFile, "--condor-bin", s.Pool.Install.BinDir, "status")
	status.Env = append(append(os.Environ(), "CONDOR_CONFIG="+s.Pool.ConfigFile), onCM...)
	out, _ := status.CombinedOutput()
	if !strings.Contains(string(out), "STANDBY "+standby+": standby: provisioner ") {
		t.Errorf("ehos status does not name the standby %s:\n%s", standby, out)
	}
	log := func() string { b, _ := os.ReadFile(log2); return string(b) }
	if !strings.Contains(log(), `"message":"standby: touching nothing this cycle"`) {
		t.Errorf("the second's log does not say it stands by:\n%s", tail(log2, 10))
	}

	// Turn the first off (condor_master does not restart it).
	if out, err := s.Pool.Client().Run(ctx, "condor_off", "-daemon", "EHOS_PROVISIONER"); err != nil {
		t.Fatalf("condor_off the first provisioner: %v: %s", err, out)
	}
	s.Pool.WaitFor(t, 30*time.Second, "the first provisioner to exit", func(context.Context) (bool, error) {
		return syscall.Kill(pid1, 0) == syscall.ESRCH, nil
	})
	gone := time.Now()
	if strings.Contains(log(), `"message":"created"`) {
		t.Errorf("the standby created a VM while the first held the lease")
	}
	// The bound is in cycles (docs/ha.md): the second takes over within
	// LeaseCycles+1 of its own cycles. Counted in cycles, not seconds: on
	// a loaded machine a 3 s cycle takes longer (14.9 s against 12 s was
	// seen beside the whole suite and four other engineers' tests).
	cycles := func() int { return strings.Count(log(), `"message":"decided"`) }
	before := cycles()
	bound := provision.LeaseCycles + 1
	s.Pool.WaitFor(t, time.Duration(bound)*3*time.Second+30*time.Second, "the second to take over", func(context.Context) (bool, error) {
		return strings.Contains(log(), `"message":"holding the pool's lease: acting"`), nil
	})
	took := cycles() - before
	t.Logf("the second took over %v and %d of its cycles after the first exited (bound %d cycles, 3 s each)", time.Since(gone).Round(100*time.Millisecond), took, bound)
	if took > bound+1 { // +1: the cycle under way when the first exited
		t.Errorf("took over after %d cycles, bound %d", took, bound)
	}

	s.WaitJobsDone(t, cluster, 3*time.Minute)
	s.WaitNoVMs(t, 2*time.Minute)
	seen, _, _ := w.snapshot()
	created := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"]
	spares := headroomSpares(s.ProvisionerLog(), log())
	t.Logf("%d VMs in all, %d create calls (%d the headroom rule's spare)", len(seen), created, spares)
	if created != len(seen) || len(seen) > 3+spares || spares > 1 {
		t.Errorf("%d create calls for %d VMs (3 one-cpu jobs): a VM created twice, or too many", created, len(seen))
	}
	if !strings.Contains(log(), `"message":"deleted"`) {
		t.Errorf("the second deleted no VM: it did not adopt the first's")
	}
}
