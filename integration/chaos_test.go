//go:build integration

package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// Rounds of four one-per-VM jobs (2 cores, only m1.medium holds one; 2
// creates per cycle, as in issue 27's incident) with the provisioner killed
// -9 at random moments of each round's scale-up and scale-down: every job
// starts once and every VM is gone before the next round; every round
// makes exactly 4 VMs for the jobs with 4 create calls, and at most one
// more as the headroom rule's spare. Before the restart fixes of
// docs/ha.md a round made 5 to 7 now and then (5 of 39 rounds). The seed
// is logged; EHOS_CHAOS_SEED replays one.
func TestChaosKillsDuringScaleUpAndDown(t *testing.T) {
	// Parallel although it kills -9: only its own stack's provisioner, and
	// nothing it asserts depends on timing (the kill moments are random
	// anyway).
	t.Parallel()
	rnd := chaosRand(t, 27)
	scaling := strings.NewReplacer("max_creates_per_cycle: 6", "max_creates_per_cycle: 2", "idle_before_retire: 15s", "idle_before_retire: 5s").Replace(defaultStackScaling)
	// Back within 4 s of every kill: the test is about what a restart does,
	// not about the back-off (TestProvisionerCrashLoopComesBackFast).
	s := StartStack(t, StackOptions{BootDelay: 2 * time.Second, Scaling: scaling, CMConfig: "MASTER_EHOS_PROVISIONER_BACKOFF_CEILING = 4\n"})
	w := watchServers(t, s)
	ctx := context.Background()
	kill := func(round int, when string) {
		t.Helper()
		time.Sleep(time.Duration(rnd.Int64N(int64(6 * time.Second)))) // the random moment
		pid := s.ProvisionerPID()
		if pid == 0 {
			return // between a kill and condor_master's restart
		}
		s.KillProvisioner(t)
		t.Logf("round %d: killed the provisioner (pid %d) %s, %d VMs listed", round, pid, when, len(s.Servers()))
		s.Pool.WaitFor(t, 30*time.Second, "condor_master to restart the provisioner", func(context.Context) (bool, error) {
			p := s.ProvisionerPID()
			return p != 0 && p != pid, nil
		})
	}
	const rounds, jobs = 3, 4
	for round := 1; round <= rounds; round++ {
		seenBefore, _, _ := w.snapshot()
		createsBefore := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"]
		sparesBefore := headroomSpares(s.ProvisionerLog())
		cluster, err := s.Pool.Client().Submit(ctx, fmt.Sprintf("executable = /bin/sleep\narguments = 20\nrequest_cpus = 2\nrequest_memory = 1500\nqueue %d\n", jobs))
		if err != nil {
			t.Fatal(err)
		}
		kill(round, "during the scale-up")
		kill(round, "during the scale-up")
		s.WaitJobsDone(t, cluster, 3*time.Minute)
		kill(round, "during the scale-down")
		s.WaitNoVMs(t, 2*time.Minute)

		seen, _, _ := w.snapshot()
		created := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"] - createsBefore
		vms := len(seen) - len(seenBefore)
		starts, err := s.Pool.Client().Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "NumJobStarts")
		if err != nil {
			t.Fatal(err)
		}
		// The headroom rule (scaling.headroom_window) may add one VM of
		// room while jobs wait and some worker runs jobs: a spare by
		// design, which a restart's extra cycle can make, not a VM for
		// jobs already served.
		spares := headroomSpares(s.ProvisionerLog()) - sparesBefore
		t.Logf("round %d: %d VMs, %d create calls (%d of them the headroom rule's spare), job starts %q", round, vms, created, spares, strings.Fields(string(starts)))
		if vms != created || created-spares != jobs || spares > 1 {
			// Jobs run 20 s: long enough that none waits for a VM another
			// job of the round left: fewer VMs is a miscount too.
			t.Errorf("round %d: EXTRA VMS: %d VMs and %d create calls (%d the headroom rule's spare) for %d one-per-VM jobs; the provisioner's creates so far:\n%s", round, vms, created, spares, jobs, createLines(s.ProvisionerLog()))
		}
		if got := strings.Fields(string(starts)); strings.Join(got, "") != strings.Repeat("1", jobs) {
			t.Errorf("round %d: NumJobStarts %q, want each job started once", round, got)
		}
	}
}

// chaosRand is a test's source of kill moments: seeded from the clock, or
// from EHOS_CHAOS_SEED to replay one (the seed is logged); stream keeps
// two tests given one seed apart.
func chaosRand(t *testing.T, stream uint64) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("EHOS_CHAOS_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (EHOS_CHAOS_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewPCG(seed, stream))
}

// headroomCreate begins the reason of a VM the headroom rule created, in
// the provisioner log's "created" lines (lib/scale, CreateForHeadroom).
const headroomCreate = `"reason":"jobs wait and no node has room for a job of`

// headroomSpares counts the VMs the headroom rule created in provisioner
// logs: while jobs wait and some worker runs jobs it keeps room for one
// more, by design, so a test that counts VMs for its jobs counts these
// apart (at most one while the burst's VMs boot).
func headroomSpares(logs ...string) int {
	n := 0
	for _, l := range logs {
		n += strings.Count(l, headroomCreate)
	}
	return n
}

// createLines are the provisioner log's lines of creates and restarts.
func createLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"message":"created"`) || strings.Contains(l, `"message":"starting"`) || strings.Contains(l, "unmatched marks taken") || strings.Contains(l, "verdicts remembered") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Two rounds of three one-per-VM jobs on a pair of central managers under
// HTCondor's HAD, the active one's whole machine (condor_master, its HAD
// and its provisioner) killed -9 at a random moment of one round's
// scale-up and the other's scale-down, then booted again, as the standby
// (two rounds, not more: the suite's longest test, in CI's 20 minutes): the other's
// provisioner takes over every round, adopting the dead one's VMs. Every
// job starts once, every VM is gone before the next round, and each round
// makes one VM per job (at most one more as the headroom rule's spare),
// one create call each (the reasons read from both provisioners' logs).
func TestChaosKillsTheActiveCentralManager(t *testing.T) {
	t.Parallel()
	rnd := chaosRand(t, 28)
	// The pool's own central manager runs no provisioner: the pair does.
	s := StartStack(t, StackOptions{BootDelay: 2 * time.Second, CMConfig: "DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD\n"})
	w := watchServers(t, s)
	pa, pb := freePort(t), freePort(t)
	list := fmt.Sprintf("127.0.0.1:%d, 127.0.0.1:%d", pa, pb)
	cms := []*haCM{startHACM(t, s, "cma", pa, list)}
	s.Pool.WaitFor(t, 90*time.Second, "cma's HAD to start its provisioner", func(context.Context) (bool, error) {
		return cms[0].provisionerPID() != 0, nil
	})
	cms = append(cms, startHACM(t, s, "cmb", pb, list))
	s.Pool.WaitFor(t, time.Minute, "cmb's HAD to hear the leader", func(context.Context) (bool, error) {
		return strings.Contains(cms[1].hadLog(), "received HAD_ALIVE_CMD"), nil
	})
	const acting = `"message":"holding the pool's lease: acting"`
	logs := func() string { return cms[0].log() + cms[1].log() }
	crash := func(round int, when string) {
		t.Helper()
		time.Sleep(time.Duration(rnd.Int64N(int64(6 * time.Second)))) // the random moment
		var dead, other *haCM
		s.Pool.WaitFor(t, time.Minute, "one central manager to run the provisioner", func(context.Context) (bool, error) {
			for i, c := range cms {
				if c.provisionerPID() != 0 {
					dead, other = c, cms[1-i]
					return true, nil
				}
			}
			return false, nil
		})
		took := strings.Count(other.log(), acting)
		dead.crash(t)
		gone := time.Now()
		t.Logf("round %d: crashed %s %s, %d VMs listed", round, dead.name, when, len(s.Servers()))
		s.Pool.WaitFor(t, 3*time.Minute, other.name+"'s provisioner to take over", func(context.Context) (bool, error) {
			return strings.Count(other.log(), acting) > took, nil
		})
		t.Logf("round %d: %s acted %v after the crash; %s boots again", round, other.name, time.Since(gone).Round(time.Second), dead.name)
		dead.restart(t, s)
	}
	const rounds, jobs = 2, 3
	upFirst := rnd.IntN(2)
	for round := 1; round <= rounds; round++ {
		seenBefore, _, _ := w.snapshot()
		createsBefore := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"]
		loggedBefore := strings.Count(logs(), `"message":"created"`)
		sparesBefore := headroomSpares(logs())
		cluster, err := s.Pool.Client().Submit(context.Background(), fmt.Sprintf("executable = /bin/sleep\narguments = 20\nrequest_cpus = 1\nrequest_memory = 512\nqueue %d\n", jobs))
		if err != nil {
			t.Fatal(err)
		}
		scaleUp := (round+upFirst)%2 == 0 // one round each way, in a random order
		if scaleUp {
			crash(round, "during the scale-up")
		}
		s.WaitJobsDone(t, cluster, 4*time.Minute)
		if !scaleUp {
			crash(round, "during the scale-down")
		}
		s.WaitNoVMs(t, 3*time.Minute)

		seen, _, _ := w.snapshot()
		vms := len(seen) - len(seenBefore)
		created := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"] - createsBefore
		logged := strings.Count(logs(), `"message":"created"`) - loggedBefore
		spares := headroomSpares(logs()) - sparesBefore
		starts, err := s.Pool.Client().Run(context.Background(), "condor_history", fmt.Sprint(cluster), "-af", "NumJobStarts")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d VMs, %d create calls (%d logged, %d the headroom rule's spare), job starts %q", round, vms, created, logged, spares, strings.Fields(string(starts)))
		if vms != created || created-spares != jobs || spares > 1 {
			t.Errorf("round %d: %d VMs, %d create calls, %d logged by the provisioners (%d the headroom rule's spare) for %d one-per-VM jobs: a VM created twice or for jobs already served; their creates:\n%s", round, vms, created, logged, spares, jobs, createLines(logs()))
		}
		if got := strings.Fields(string(starts)); strings.Join(got, "") != strings.Repeat("1", jobs) {
			t.Errorf("round %d: NumJobStarts %q, want each job started once", round, got)
		}
	}
}
