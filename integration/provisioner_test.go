//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/condor"
)

// The whole chain on one machine: jobs submitted → demand ads → VMs created
// from the rendered worker template → workers join with their own tokens →
// every job completes → workers drain and their VMs are deleted, back to
// min (0).
func TestProvisionerScalesUpAndDown(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{})
	cl := s.Pool.Client()
	ctx := context.Background()
	jobs := OneQueue("executable = /bin/sleep\narguments = 6\n", []string{"request_cpus", "request_memory"},
		QueueRow{Count: 12, Values: []string{"1", "512"}},
		QueueRow{Count: 8, Values: []string{"2", "1500"}})
	cluster, err := cl.Submit(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.WaitJobsDone(t, cluster, 4*time.Minute)
	t.Logf("20 jobs done in %v", time.Since(t0).Round(time.Second))

	// They ran on ehos workers, not elsewhere: history names the startds.
	hosts := s.JobHosts(t, cluster)
	t.Logf("jobs ran on %d workers", len(hosts))

	// The servers were created from the rendered template with ownership metadata.
	created := s.Cloud.RequestCounts()
	t.Logf("cloud requests: %v", created)

	s.WaitNoVMs(t, 3*time.Minute)
	s.Pool.WaitFor(t, 30*time.Second, "the provisioner's report to list no node", func(ctx context.Context) (bool, error) {
		rep, err := s.Report(ctx)
		return err == nil && len(rep.Nodes) == 0 && len(rep.Errors) == 0, err
	})
	log := s.ProvisionerLog()
	for _, want := range []string{`"message":"created"`, `"message":"draining"`, `"message":"deleted"`} {
		if !strings.Contains(log, want) {
			t.Errorf("provisioner log lacks %s", want)
		}
	}
	if strings.Contains(log, "eyJ") {
		t.Errorf("a token appears in the provisioner log")
	}
	// Whether a worker is first seen while jobs still wait depends on
	// timing (the test pool negotiates every 5 s; integration/
	// reschedule_test.go checks condor_reschedule itself), but when the
	// provisioner asks, the schedd must accept.
	if strings.Contains(log, "reschedule failed") {
		t.Errorf("condor_reschedule failed in the provisioner log")
	}
	t.Logf("asked for a negotiation: %d times", strings.Count(log, `"message":"asked the schedds for a negotiation"`))
}

// watchServers records, until the test ends, every server the local cloud
// ever held (by name, with its region and last status) and the most alive at
// once.
type serverWatch struct {
	mu       sync.Mutex
	seen     map[string]string // name → region
	status   map[string]string
	maxAlive int
}

func watchServers(t *testing.T, s *Stack) *serverWatch {
	w := &serverWatch{seen: map[string]string{}, status: map[string]string{}}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			srv := s.Servers()
			w.mu.Lock()
			for _, v := range srv {
				w.seen[v.Name] = v.Region
				w.status[v.Name] = v.Status
			}
			w.maxAlive = max(w.maxAlive, len(srv))
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *serverWatch) snapshot() (seen map[string]string, status map[string]string, maxAlive int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen, status = map[string]string{}, map[string]string{}
	for k, v := range w.seen {
		seen[k] = v
	}
	for k, v := range w.status {
		status[k] = v
	}
	return seen, status, w.maxAlive
}

// kill -9 of the provisioner in the middle of a scale-up: condor_master
// starts it again, it adopts the VMs it had created (their metadata says
// they are its own) and creates only what is still missing. No VM is
// created twice and none is left behind.
func TestProvisionerKilledMidScaleUp(t *testing.T) {
	// Runs alone (no t.Parallel): kill -9 of the provisioner at a chosen moment of the scale-up.
	s := StartStack(t, StackOptions{BootDelay: 8 * time.Second, Scaling: strings.Replace(defaultStackScaling, "max_creates_per_cycle: 6", "max_creates_per_cycle: 2", 1)})
	w := watchServers(t, s)
	ctx := context.Background()
	// Four 2-core jobs: only m1.medium holds one, one job per VM → 4 VMs.
	cluster, err := s.Pool.Client().Submit(ctx, "executable = /bin/sleep\narguments = 5\nrequest_cpus = 2\nrequest_memory = 1500\nqueue 4\n")
	if err != nil {
		t.Fatal(err)
	}
	s.Pool.WaitFor(t, time.Minute, "the first VMs to be created", func(context.Context) (bool, error) {
		return len(s.Servers()) >= 2, nil
	})
	before := len(s.Servers())
	pid := s.ProvisionerPID()
	s.KillProvisioner(t)
	s.Pool.WaitFor(t, 30*time.Second, "condor_master to restart the provisioner", func(context.Context) (bool, error) {
		p := s.ProvisionerPID()
		return p != 0 && p != pid, nil
	})
	t.Logf("killed provisioner %d with %d VMs booting; restarted as %d", pid, before, s.ProvisionerPID())
	s.WaitJobsDone(t, cluster, 3*time.Minute)
	s.WaitNoVMs(t, 2*time.Minute)
	seen, _, maxAlive := w.snapshot()
	spares := headroomSpares(s.ProvisionerLog())
	if len(seen)-spares != 4 || spares > 1 || maxAlive > 4+spares {
		t.Errorf("%d VMs created in all (%d alive at most, %d the headroom rule's spare) for 4 one-per-VM jobs: %v", len(seen), maxAlive, spares, seen)
	}
	if n := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"]; n != len(seen) {
		t.Errorf("%d create calls for %d VMs", n, len(seen))
	}
}

// One region boots servers to ERROR, another leaves them in BUILD for ever:
// ehos deletes the broken ones (ERROR at once, stuck ones after the boot
// timeout), backs those regions off and serves the jobs from the region
// that works.
func TestBrokenRegionsAreReapedAndDemandMoves(t *testing.T) {
	t.Parallel()
	scaling := strings.Replace(defaultStackScaling, "boot_timeout: 90s", "boot_timeout: 20s", 1)
	s := StartStack(t, StackOptions{
		Scaling: scaling,
		Faults: map[string]localcloud.Faults{
			"RegionOne": {BootError: "No valid host was found. There are not enough hosts available."},
			"RegionTwo": {StuckBuild: true},
		},
	})
	w := watchServers(t, s)
	cluster, err := s.Pool.Client().Submit(context.Background(), "executable = /bin/sleep\narguments = 3\nrequest_cpus = 1\nrequest_memory = 512\nqueue 4\n")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitJobsDone(t, cluster, 4*time.Minute)
	s.WaitNoVMs(t, 2*time.Minute)
	seen, status, _ := w.snapshot()
	per := map[string]int{}
	for name, region := range seen {
		per[region]++
		if region == "RegionOne" && status[name] != "ERROR" {
			t.Errorf("%s in RegionOne was %s, want ERROR", name, status[name])
		}
	}
	t.Logf("servers per region: %v", per)
	if per["RegionThree"] == 0 {
		t.Errorf("no server in the working region: %v", per)
	}
	if per["RegionOne"] == 0 || per["RegionTwo"] == 0 {
		t.Errorf("the broken regions were never tried (the test proves nothing): %v", per)
	}
	log := s.ProvisionerLog()
	// Nova's fault text reaches the log (lib/openstack GETs it: real Nova
	// leaves it out of servers/detail, and so does the local API).
	for _, want := range []string{"failed in the cloud", "never joined", "No valid host was found."} {
		if !strings.Contains(log, want) {
			t.Errorf("provisioner log lacks %q", want)
		}
	}
}

// Scale-down never kills a running job: a long job keeps its worker while
// the workers of short jobs around it are drained and deleted; it runs once,
// to the end.
func TestScaleDownNeverKillsARunningJob(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{})
	cl := s.Pool.Client()
	ctx := context.Background()
	long, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 45\nrequest_cpus = 2\nrequest_memory = 1500\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	short, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 2\nrequest_cpus = 1\nrequest_memory = 512\nqueue 3\n")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitJobsDone(t, short, 3*time.Minute)
	s.WaitJobsDone(t, long, 3*time.Minute)
	out, err := cl.Run(ctx, "condor_history", fmt.Sprint(long), "-af", "NumJobStarts", "ExitCode", "JobStatus")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) != 3 || f[0] != "1" || f[1] != "0" || f[2] != "4" {
		t.Errorf("long job: NumJobStarts ExitCode JobStatus = %q, want 1 0 4 (started once, finished)", out)
	}
	s.WaitNoVMs(t, 2*time.Minute)
	if !strings.Contains(s.ProvisionerLog(), `"message":"draining"`) {
		t.Error("no worker was drained: the test proves nothing")
	}

}

// The follow-up cycle on real parts: with a 12 s cycle, a worker drained
// because it sat idle is deleted by the cycle the provisioner runs 5 s later
// (provision.DefaultDrainRecheck), once HTCondor shows the drain, rather
// than by the next regular cycle; and the job it ran finished first.
func TestFollowUpDeletesADrainedWorkerSoon(t *testing.T) {
	t.Parallel()
	const cycle = 12 * time.Second
	s := StartStack(t, StackOptions{Scaling: strings.Replace(strings.Replace(defaultStackScaling,
		"cycle: 3s", "cycle: 12s", 1), "idle_before_retire: 15s", "idle_before_retire: 5s", 1)})
	cl := s.Pool.Client()
	ctx := context.Background()
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 3\nrequest_cpus = 1\nrequest_memory = 512\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitJobsDone(t, cluster, 3*time.Minute)
	s.WaitNoVMs(t, 2*time.Minute)
	out, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "NumJobStarts", "JobStatus")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) != 2 || f[0] != "1" || f[1] != "4" {
		t.Errorf("job: NumJobStarts JobStatus = %q, want 1 4 (started once, finished)", out)
	}

	// When each node was drained and deleted, from the provisioner's log.
	drained, deleted := map[string]time.Time{}, map[string]time.Time{}
	for _, line := range strings.Split(s.ProvisionerLog(), "\n") {
		var e struct{ Time, Message, Node string }
		if json.Unmarshal([]byte(line), &e) != nil || e.Node == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, e.Time)
		if err != nil {
			t.Fatalf("log time %q: %v", e.Time, err)
		}
		switch e.Message {
		case "draining":
			drained[e.Node] = at
		case "deleted":
			deleted[e.Node] = at
		}
	}
	if len(drained) == 0 {
		t.Fatal("no worker was drained: the test proves nothing")
	}
	for node, d := range drained {
		gap := deleted[node].Sub(d)
		t.Logf("%s: drained → deleted in %v (cycle %v)", node, gap, cycle)
		if deleted[node].IsZero() || gap >= cycle-2*time.Second {
			t.Errorf("%s: drained at %s, deleted at %s: not by the follow-up cycle", node, d.Format(time.TimeOnly), deleted[node].Format(time.TimeOnly))
		}
	}
}

// A pool held at max makes room, on real parts: with max 1, a 1-cpu job
// holds the only VM (an m1.small) while a 2-cpu job waits. Once the 2-cpu
// job has waited boot_timeout, the provisioner drains the m1.small, which
// cannot run it; its job runs to the end, the VM goes, and an m1.medium
// takes its place for the 2-cpu job.
func TestMaxHeldPoolMakesRoomWithoutKilling(t *testing.T) {
	t.Parallel()
	scaling := strings.NewReplacer("max: 6", "max: 1", "boot_timeout: 90s", "boot_timeout: 30s").Replace(defaultStackScaling)
	s := StartStack(t, StackOptions{Scaling: scaling})
	cl := s.Pool.Client()
	ctx := context.Background()
	small, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 60\nrequest_cpus = 1\nrequest_memory = 512\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	s.Pool.WaitFor(t, 2*time.Minute, "the 1-cpu job to run", func(ctx context.Context) (bool, error) {
		q, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d && JobStatus == 2", small), Attrs: []string{"ClusterId"}})
		return len(q) == 1, err
	})
	big, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 2\nrequest_cpus = 2\nrequest_memory = 1500\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitJobsDone(t, big, 4*time.Minute)
	s.WaitJobsDone(t, small, time.Minute)
	for _, c := range []int{small, big} {
		out, err := cl.Run(ctx, "condor_history", fmt.Sprint(c), "-af", "NumJobStarts", "JobStatus")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(out)); len(f) != 2 || f[0] != "1" || f[1] != "4" {
			t.Errorf("job %d: NumJobStarts JobStatus = %q, want 1 4 (started once, finished)", c, out)
		}
	}
	log := s.ProvisionerLog()
	if !strings.Contains(log, "makes room under max 1 for 1 job of 2 cpu") {
		t.Errorf("the provisioner did not drain the m1.small to make room; its log:\n%s", tail(filepath.Join(s.Dir, "EHOSProvisionerLog"), 30))
	}
	var created []string // the flavor each create named, in order
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"message":"created"`) {
			for _, f := range []string{"m1.small", "m1.medium"} {
				if strings.Contains(line, "× "+f+" in ") {
					created = append(created, f)
				}
			}
		}
	}
	if len(created) != 2 || created[0] != "m1.small" || created[1] != "m1.medium" {
		t.Errorf("created %v, want an m1.small, then an m1.medium", created)
	}
}
