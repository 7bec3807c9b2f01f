//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/provision"
)

// haCM is one central manager of a HAD pair in the harness: its own
// condor_master (its own pid namespace, as on a machine of its own) that
// runs ehos's HAD and, when that HAD leads, the provisioner.
type haCM struct {
	name, dir, config string
	extra             string // its configuration beyond the pool's
	master            *Process
}

func (c *haCM) provisionerPID() int { return provisionerPIDOf(c.config) }

func (c *haCM) hadLog() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log", "EHOSHADLog"))
	return string(b)
}

func (c *haCM) log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "EHOSProvisionerLog"))
	return string(b)
}

// startHACM starts central manager name of the pair: the stack's pool
// config (its signing key and token: one pool), then the shipped condor-config/51-ehos-ha.conf, then what
// differs on loopback (both central managers are 127.0.0.1, so each HAD
// gets a port of its own where two machines would share one).
func startHACM(t *testing.T, s *Stack, name string, port int, list string) *haCM {
	t.Helper()
	c := &haCM{name: name, dir: filepath.Join(s.Dir, name)}
	c.config = filepath.Join(c.dir, "condor_config")
	c.extra = `DAEMON_LIST = MASTER, EHOS_PROVISIONER
SEC_USE_FAMILY_SESSION = False
EHOS_PROVISIONER_LOG = ` + filepath.Join(c.dir, "EHOSProvisionerLog") + "\n" +
		string(repoFile(t, "condor-config/51-ehos-ha.conf")) +
		fmt.Sprintf("EHOS_HAD_PORT = %d\nEHOS_HAD.HAD_LIST = %s\nEHOS_HAD.HAD_DEBUG = D_FULLDEBUG\n", port, list)
	c.master = startSideMaster(t, s, name, c.extra)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: condor_master output:\n%s", name, tail(c.master.Output, 10))
			t.Logf("%s: HAD log tail:\n%s", name, tail(filepath.Join(c.dir, "log", "EHOSHADLog"), 30))
			t.Logf("%s: MasterLog tail:\n%s", name, tail(filepath.Join(c.dir, "log", "MasterLog"), 30))
			t.Logf("%s: provisioner log tail:\n%s", name, tail(filepath.Join(c.dir, "EHOSProvisionerLog"), 20))
		}
	})
	return c
}

// startSideMaster starts a condor_master beside the stack's pool, as
// another central manager would run one: the pool's configuration and
// signing key, a directory of its own (s.Dir/name, condor_config there),
// then extra. It is stopped at the test's end.
func startSideMaster(t *testing.T, s *Stack, name, extra string) *Process {
	t.Helper()
	inst := RequireCondor(t)
	dir := filepath.Join(s.Dir, name)
	for _, sub := range []string{"", "log", "spool", "execute", "lock", "run"} {
		mkdirOwned(t, filepath.Join(dir, sub), 0o700)
	}
	config := filepath.Join(dir, "condor_config")
	writeOwned(t, config, []byte(fmt.Sprintf(`include : %s
LOCAL_DIR = %s
MASTER_NAME = %s
SEC_PASSWORD_DIRECTORY = %[4]s/passwords.d
SEC_TOKEN_SYSTEM_DIRECTORY = %[4]s/tokens.d
SEC_TOKEN_DIRECTORY = %[4]s/tokens.d
`, s.Pool.ConfigFile, dir, name, s.Pool.Dir)+extra), 0o644)
	m, err := StartMaster(context.Background(), inst, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop(context.Background()) })
	return m
}

// crash kills the central manager's whole pid namespace at once, as a
// machine that dies: condor_master, its HAD and its provisioner.
func (c *haCM) crash(t *testing.T) {
	t.Helper()
	init := childPid(c.master.cmd.Process.Pid)
	if init <= 0 {
		t.Fatalf("%s: no init process under the wrapper", c.name)
	}
	if err := syscall.Kill(init, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.master.done
}

// restart boots a crashed central manager again: its condor_master, then
// its HAD, which finds the other leading and stays standby.
func (c *haCM) restart(t *testing.T, s *Stack) {
	t.Helper()
	c.master = startSideMaster(t, s, c.name, c.extra)
}

// Two central managers, each with ehos's HAD (the shipped
// condor-config/51-ehos-ha.conf): only the leader's condor_master runs the
// provisioner; when the leader's machine dies mid-burst, the other's HAD
// takes the lead, its provisioner starts, waits out the dead one's lease,
// adopts every VM (ownership is the pool's), finishes the burst and
// scales to zero, with no VM created twice.
func TestHADRunsOneProvisionerAndFailsOver(t *testing.T) {
	t.Parallel()
	// The pool's own central manager runs no provisioner: the pair does.
	s := StartStack(t, StackOptions{BootDelay: 4 * time.Second, CMConfig: "DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD\n"})
	w := watchServers(t, s)
	pa, pb := freePort(t), freePort(t)
	list := fmt.Sprintf("127.0.0.1:%d, 127.0.0.1:%d", pa, pb)
	a := startHACM(t, s, "cma", pa, list)
	s.Pool.WaitFor(t, 90*time.Second, "cma's HAD to start its provisioner", func(context.Context) (bool, error) {
		return a.provisionerPID() != 0, nil
	})
	b := startHACM(t, s, "cmb", pb, list)
	// cmb's HAD hears the leader's (its log at D_FULLDEBUG), and cmb runs
	// no provisioner all along.
	s.Pool.WaitFor(t, time.Minute, "cmb's HAD to hear the leader", func(context.Context) (bool, error) {
		return strings.Contains(b.hadLog(), "received HAD_ALIVE_CMD"), nil
	})

	ctx := context.Background()
	cluster, err := s.Pool.Client().Submit(ctx, "executable = /bin/sleep\narguments = 20\nrequest_cpus = 1\nrequest_memory = 512\nqueue 3\n")
	if err != nil {
		t.Fatal(err)
	}
	s.Pool.WaitFor(t, time.Minute, "cma's provisioner to create VMs", func(context.Context) (bool, error) {
		return len(s.Servers()) >= 1, nil
	})
	if pid := b.provisionerPID(); pid != 0 {
		t.Errorf("cmb runs a provisioner (pid %d) while cma's HAD leads", pid)
	}

	a.crash(t)
	gone := time.Now()
	s.Pool.WaitFor(t, 2*time.Minute, "cmb's HAD to start its provisioner", func(context.Context) (bool, error) {
		return b.provisionerPID() != 0, nil
	})
	started := time.Since(gone)
	s.Pool.WaitFor(t, time.Minute, "cmb's provisioner to take the lease", func(context.Context) (bool, error) {
		return strings.Contains(b.log(), `"message":"holding the pool's lease: acting"`), nil
	})
	t.Logf("cma died; cmb's provisioner started %v later and acted %v later", started.Round(100*time.Millisecond), time.Since(gone).Round(100*time.Millisecond))

	s.WaitJobsDone(t, cluster, 3*time.Minute)
	s.WaitNoVMs(t, 2*time.Minute)
	seen, _, _ := w.snapshot()
	created := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"]
	byA, byB := strings.Count(a.log(), `"message":"created"`), strings.Count(b.log(), `"message":"created"`)
	spares := headroomSpares(a.log(), b.log())
	t.Logf("%d VMs in all, %d create calls: %d by cma, %d by cmb (%d the headroom rule's spare)", len(seen), created, byA, byB, spares)
	if created != len(seen) || len(seen) > 3+spares || spares > 1 || byA+byB != created {
		t.Errorf("%d create calls (cma %d, cmb %d) for %d VMs (3 one-cpu jobs): a VM created twice, or too many", created, byA, byB, len(seen))
	}
	if !strings.Contains(b.log(), `"message":"deleted"`) {
		t.Errorf("cmb's provisioner deleted no VM: it did not adopt cma's")
	}
}

// A network partition between the two central managers: each HAD hears
// no peer and leads, so both condor_masters run a provisioner, as HAD's
// documentation says a partition does. The lease keeps one acting: the
// other stands by (its ad says why), all VMs are created by one, and the
// pool scales to zero.
func TestHADPartitionElectsTwoTheLeaseKeepsOneActing(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{CMConfig: "DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD\n"})
	w := watchServers(t, s)
	pa, pb := freePort(t), freePort(t)
	// Each side's list names the other at a port where nothing listens.
	a := startHACM(t, s, "cma", pa, fmt.Sprintf("127.0.0.1:%d, 127.0.0.1:%d", pa, freePort(t)))
	b := startHACM(t, s, "cmb", pb, fmt.Sprintf("127.0.0.1:%d, 127.0.0.1:%d", freePort(t), pb))
	s.Pool.WaitFor(t, 2*time.Minute, "both HADs to lead and start their provisioners", func(context.Context) (bool, error) {
		return a.provisionerPID() != 0 && b.provisionerPID() != 0, nil
	})
	var standby string
	s.Pool.WaitFor(t, time.Minute, "one of them to stand by", func(ctx context.Context) (bool, error) {
		ads, err := provisionerAds(ctx, s)
		n := 0
		for _, ad := range ads {
			if why := ad.GetString(provision.AttrStandby); why != "" {
				standby = why
				n++
			}
		}
		return len(ads) == 2 && n == 1, err
	})
	t.Logf("both central managers run a provisioner; one stands by: %s", standby)

	cluster, err := s.Pool.Client().Submit(context.Background(), "executable = /bin/sleep\narguments = 5\nrequest_cpus = 1\nrequest_memory = 512\nqueue 3\n")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitJobsDone(t, cluster, 3*time.Minute)
	s.WaitNoVMs(t, 2*time.Minute)
	seen, _, _ := w.snapshot()
	created := s.Cloud.RequestCounts()["POST /compute/{region}/v2.1/servers"]
	byA, byB := strings.Count(a.log(), `"message":"created"`), strings.Count(b.log(), `"message":"created"`)
	spares := headroomSpares(a.log(), b.log())
	t.Logf("%d VMs in all, %d create calls: %d by cma, %d by cmb (%d the headroom rule's spare)", len(seen), created, byA, byB, spares)
	if created != len(seen) || len(seen) > 3+spares || spares > 1 || byA+byB != created || byA*byB != 0 {
		t.Errorf("%d create calls (cma %d, cmb %d) for %d VMs: both acted, or a VM was created twice", created, byA, byB, len(seen))
	}
}
