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

	"github.com/ehos-project/ehos/integration/netns"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/condorpool"
	"github.com/ehos-project/ehos/lib/provision"
)

// natPool is a pool whose central manager sits behind a floating address
// (netns.Sites): its daemons advertise that address (TCP_FORWARDING_HOST)
// and name their own private network, as cloudinit/master.yaml sets them.
type natPool struct {
	*Pool
	Sites *netns.Sites
}

func startNATPool(t *testing.T, extra string, regions ...string) *natPool {
	t.Helper()
	RequireCondor(t)
	n := RequireNetwork(t)
	cmHost := AddHost(t, n, "cm", netns.HTCondorGroup...)
	s, err := netns.NewSites(n, cmHost, regions...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("remove the sites: %v", err)
		}
	})
	p := StartPool(t, PoolOptions{Host: cmHost, ExtraConfig: cmBehindFloatingConfig(s.Floating, cmHost.Addr, cmNetworkName) + extra})
	return &natPool{Pool: p, Sites: s}
}

// regionWorkerConfig points a worker in a region at the floating address,
// with the broker as ehos's worker config sets it.
func regionWorkerConfig(floating, network string) string {
	return fmt.Sprintf("\nCONDOR_HOST = %s\nCOLLECTOR_HOST = %[1]s:%d\nPRIVATE_NETWORK_NAME = %s\nCCB_ADDRESS = $(COLLECTOR_HOST)\n", floating, netns.HTCondorPort, network)
}

// A worker in a region behind a masquerading router, with a firewall that
// lets nothing in and only the narrow worker token (ADVERTISE_STARTD,
// ADVERTISE_MASTER, READ), registers with the collector as its broker and
// runs a job: the schedd reaches it through the collector at the central
// manager's floating address. The slot's address names the broker and the
// worker's private network; the collector logs the registration. The
// registration (CCB_REGISTER) is authorized by the token's ADVERTISE_*
// scope: a second worker whose token holds READ alone is refused it.
func TestBrokeredWorkerBehindNATRunsAJob(t *testing.T) {
	t.Parallel()
	// The collector's file limit as the shipped central manager sets it.
	shipped, err := os.ReadFile(filepath.Join(RequireCondor(t).Repo, "condor-config", "50-ehos-central-manager.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var fdLine string
	for _, l := range strings.Split(string(shipped), "\n") {
		if strings.HasPrefix(l, "COLLECTOR_MAX_FILE_DESCRIPTORS") {
			fdLine = l
		}
	}
	if fdLine == "" {
		t.Fatal("50-ehos-central-manager.conf sets no COLLECTOR_MAX_FILE_DESCRIPTORS")
	}
	p := startNATPool(t, fdLine+"\n", "one")
	if lim, want := collectorLimit(t, p.Pool), strings.TrimSpace(fdLine[strings.IndexByte(fdLine, '=')+1:]); lim != want {
		t.Errorf("the collector's open-file limit is %s, want %s (%s)", lim, want, fdLine)
	}
	fds0, rss0 := collectorUse(t, p.Pool)
	t0 := time.Now()
	const n = 3
	var workers []*Worker
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("worker%d", i)
		h := AddHost(t, p.Sites.Regions["one"], name) // no rule: nothing new comes in
		workers = append(workers, p.StartWorkerWith(t, name, WorkerOptions{Host: h, ExtraConfig: regionWorkerConfig(p.Sites.Floating, "region-one")}))
	}
	joined := time.Since(t0)
	c := p.Client()
	ctx := context.Background()
	ads, err := c.Status(ctx, condor.StatusQuery{Attrs: []string{"Name", "MyAddress"}})
	if err != nil || len(ads) != n {
		t.Fatalf("slot ads: %v %v, want %d", ads, err, n)
	}
	for _, a := range ads {
		addr := a.GetString("MyAddress")
		if !strings.Contains(addr, "CCBID="+p.Sites.Floating+":9618") || !strings.Contains(addr, "PrivNet=region-one") {
			t.Fatalf("%s's address %s: want a CCBID at the floating address %s:9618 and PrivNet=region-one", a.GetString("Name"), addr, p.Sites.Floating)
		}
	}
	addr := ads[0].GetString("MyAddress")
	cluster, err := c.Submit(ctx, "executable = /bin/true\ntransfer_executable = false\nrequest_cpus = 1\nrequest_memory = 64\nqueue\n")
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	p.WaitFor(t, 90*time.Second, "the job to run on the brokered worker", func(ctx context.Context) (bool, error) {
		ads, err := c.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return err == nil && len(ads) == 0, err
	})
	t.Logf("%d brokered workers: joined in %v, job done %v after submit; address %s", n, joined.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond), addr)
	var reg []string
	for _, l := range strings.Split(p.Log("CollectorLog"), "\n") {
		if strings.Contains(l, "CCB_REGISTER") {
			reg = append(reg, l)
		}
	}
	if len(reg) < n {
		t.Fatalf("the collector logged %d CCB_REGISTER, want one per worker (%d)", len(reg), n)
	}
	t.Logf("the collector took %d CCB registrations, e.g. %s", len(reg), reg[0])
	fds1, rss1 := collectorUse(t, p.Pool)
	t.Logf("collector with 0 → %d brokered workers: %d → %d open files, VmRSS %d → %d kB", n, fds0, fds1, rss0, rss1)

	// READ alone does not let a daemon register with the broker.
	readOnly := p.MintToken(t, WorkerIdentity, []string{"READ"}, time.Hour)
	roHost := AddHost(t, p.Sites.Regions["one"], "readonly")
	p.StartWorkerWith(t, "readonly", WorkerOptions{Host: roHost, Token: readOnly, NoWait: true, ExtraConfig: regionWorkerConfig(p.Sites.Floating, "region-one")})
	p.WaitFor(t, 60*time.Second, "the collector to refuse the READ-only worker's CCB registration", func(context.Context) (bool, error) {
		return strings.Contains(p.Log("CollectorLog"), "limited authorization which did not include this command (67 CCB_REGISTER)"), nil
	})
	for _, w := range workers {
		if s := w.Log("StartLog"); strings.Contains(s, "PERMISSION DENIED") {
			t.Errorf("%s was refused something:\n%s", w.Name, s)
		}
	}
}

// collectorLimit is the collector's soft limit of open files.
func collectorLimit(t *testing.T, p *Pool) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + collectorPID(t, p) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(strings.TrimPrefix(l, "Max open files")); len(f) > 0 && strings.HasPrefix(l, "Max open files") {
			return f[0]
		}
	}
	t.Fatalf("no open-files line in the collector's limits:\n%s", b)
	return ""
}

// collectorUse is the collector's open files and resident memory (kB),
// found among the processes of the central manager's host.
func collectorUse(t *testing.T, p *Pool) (fds, rssKB int) {
	t.Helper()
	pid := collectorPID(t, p)
	ents, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	status, _ := os.ReadFile("/proc/" + pid + "/status")
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			fmt.Sscan(v, &rssKB)
		}
	}
	return len(ents), rssKB
}

// collectorPID finds the collector among the central manager's host's
// processes.
func collectorPID(t *testing.T, p *Pool) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", p.Host.NS).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range strings.Fields(string(out)) {
		if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "condor_collecto" {
			return pid
		}
	}
	t.Fatalf("no condor_collector among the central manager's processes %s", out)
	return ""
}

// The provisioner's probe (condorpool.Pool.Reach, condor_ping -address
// from the central manager) against real workers behind NAT: a brokered
// worker is reached through the collector; one registered with no broker is
// not, its private address having no route from the central manager; one
// whose startd refuses the central manager's credentials is reached all the
// same (connected, then refused): on real VMs a worker cannot check the
// central manager's token, and that must not read as unreachable.
func TestReachProbeThroughTheBroker(t *testing.T) {
	t.Parallel()
	p := startNATPool(t, "", "one")
	cfg := regionWorkerConfig(p.Sites.Floating, "region-one")
	for name, extra := range map[string]string{
		"brokered": "",
		"nobroker": "CCB_ADDRESS =\n",
		"refusing": "STARTD.SEC_READ_AUTHENTICATION_METHODS = KERBEROS\nSTARTD.SEC_READ_AUTHENTICATION = REQUIRED\nSTARTD.SEC_CLIENT_AUTHENTICATION_METHODS = FS, IDTOKENS\n",
	} {
		p.StartWorkerWith(t, name, WorkerOptions{Host: AddHost(t, p.Sites.Regions["one"], name), ExtraConfig: cfg + extra})
	}
	tools := p.Client()
	pool := condorpool.New(tools, "", 0)
	ads, err := tools.Status(context.Background(), condor.StatusQuery{Attrs: []string{"Name", "MyAddress"}})
	if err != nil || len(ads) != 3 {
		t.Fatalf("slot ads: %v %v, want 3", ads, err)
	}
	for _, a := range ads {
		name := strings.Split(a.GetString("Name"), "@")[1]
		t0 := time.Now()
		err := pool.Reach(context.Background(), provision.Worker{Name: name, Address: a.GetString("MyAddress")})
		took := time.Since(t0).Round(time.Millisecond)
		t.Logf("%s at %s: %v in %v", name, a.GetString("MyAddress"), err, took)
		switch unreachable := errors.Is(err, provision.ErrUnreachable); {
		case name == "nobroker" && !unreachable:
			t.Errorf("%s: %v, want no connection", name, err)
		case name != "nobroker" && err != nil:
			t.Errorf("%s: %v, want a connection", name, err)
		}
	}
}
