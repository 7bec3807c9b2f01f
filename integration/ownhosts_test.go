//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/netns"
	"github.com/ehos-project/ehos/lib/condor"
)

// The central manager and a worker on hosts of their own, each behind a
// firewall that lets only 9618 (TCP and UDP) in, as docs/network.md tells
// users to set the security group: the worker joins at CONDOR_HOST and runs
// a job (schedd → startd and starter → shadow also cross on 9618). With
// 9618 closed on the central manager a second worker cannot join; opened
// again, it does.
func TestWorkersOnTheirOwnHostsNeed9618(t *testing.T) {
	t.Parallel()
	RequireCondor(t)
	n := RequireNetwork(t)
	cmHost := AddHost(t, n, "cm", netns.HTCondorGroup...)
	w1Host := AddHost(t, n, "worker1", netns.HTCondorGroup...)
	w2Host := AddHost(t, n, "worker2", netns.HTCondorGroup...)

	pool := StartPool(t, PoolOptions{Host: cmHost})
	if want := cmHost.Addr + ":9618"; pool.CollectorAddr != want {
		t.Fatalf("collector at %s, want %s", pool.CollectorAddr, want)
	}
	pool.StartWorkerWith(t, "worker1", WorkerOptions{Host: w1Host})
	c := pool.Client()
	ctx := context.Background()

	ads, err := c.Status(ctx, condor.StatusQuery{Attrs: []string{"Name", "MyAddress"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) == 0 || !strings.Contains(ads[0].GetString("MyAddress"), "<"+w1Host.Addr+":9618?") {
		t.Fatalf("worker1's slot ad: %v, want its address %s:9618 (behind the shared port)", ads, w1Host.Addr)
	}

	jobDir := pool.JobDir(t, "where")
	cluster, err := c.Submit(ctx, fmt.Sprintf(`universe = vanilla
executable = /bin/cat
transfer_executable = false
arguments = /proc/net/fib_trie
initialdir = %s
output = out.txt
error = err.txt
log = job.log
request_cpus = 1
request_memory = 64
request_disk = 1024
should_transfer_files = YES
queue
`, jobDir))
	if err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 90*time.Second, "the job to run on worker1", func(ctx context.Context) (bool, error) {
		ads, err := c.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return err == nil && len(ads) == 0, err
	})
	out, _ := os.ReadFile(filepath.Join(jobDir, "out.txt"))
	if !strings.Contains(string(out), "-- "+w1Host.Addr+"\n") || strings.Contains(string(out), "-- "+cmHost.Addr+"\n") {
		t.Errorf("the job did not run on worker1's host (%s); its addresses:\n%s", w1Host.Addr, out)
	}

	// 9618 closed on the central manager (only 22 open): worker2 stays out.
	if err := cmHost.Firewall(netns.Rule{Proto: "tcp", Port: 22}); err != nil {
		t.Fatal(err)
	}
	w2 := pool.StartWorkerWith(t, "worker2", WorkerOptions{Host: w2Host, NoWait: true})
	joined := func(ctx context.Context) (bool, error) {
		ads, err := c.Status(ctx, condor.StatusQuery{Attrs: []string{"Name"}})
		for _, a := range ads {
			if w2.OwnsSlot(a.GetString("Name")) {
				return true, nil
			}
		}
		return false, err
	}
	time.Sleep(15 * time.Second) // three update intervals
	if ok, err := joined(ctx); ok || err != nil {
		t.Fatalf("with 9618 closed on the central manager: worker2 joined %v (%v)", ok, err)
	}
	// Reopened, the same worker joins: it was the rule that kept it out.
	if err := cmHost.Firewall(netns.HTCondorGroup...); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pool.WaitFor(t, 90*time.Second, "worker2 to join once 9618 is open", joined)
	t.Logf("worker2 joined %v after 9618 opened", time.Since(start).Round(time.Second))
}

// The whole chain across a network: the central manager (with the
// provisioner and the cloud API) on one host, every worker VM the burst
// makes on a host of its own, all behind firewalls letting only 9618 in.
// The workers join at the <host_ip> their rendered worker.yaml names, the
// jobs run there, and the pool scales back to zero with every VM's host
// gone.
func TestBurstScalesThroughWorkersOnTheirOwnHosts(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{OwnHosts: true})
	cl := s.Pool.Client()
	ctx := context.Background()
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 4\n"+
		"request_cpus = 1\nrequest_memory = 512\nqueue 6\n")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.WaitJobsDone(t, cluster, 4*time.Minute)
	t.Logf("6 jobs done in %v", time.Since(t0).Round(time.Second))
	s.JobHosts(t, cluster)

	// Each job ran at a worker's own address, never the central manager's:
	// its claim id starts with the startd's address.
	out, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "LastPublicClaimId")
	if err != nil {
		t.Fatal(err)
	}
	prefix := s.CMHost.Addr[:strings.LastIndex(s.CMHost.Addr, ".")+1]
	addrs := map[string]bool{}
	for _, a := range strings.Fields(string(out)) {
		ip := strings.TrimPrefix(a, "<")
		ip = ip[:strings.IndexAny(ip+":", ":")]
		if !strings.HasPrefix(ip, prefix) || ip == s.CMHost.Addr || !strings.Contains(a, ":9618?") {
			t.Errorf("a job ran at %s: not a worker's own host on %s behind 9618", a, s.Network.Subnet())
		}
		addrs[ip] = true
	}
	if len(addrs) == 0 {
		t.Fatalf("no LastPublicClaimId in the history: %q", out)
	}
	t.Logf("jobs ran at %d worker addresses: %v", len(addrs), addrs)
	// The workers' configuration came from the rendered template: CONDOR_HOST
	// is the central manager's address.
	log := s.ProvisionerLog()
	if !strings.Contains(log, `"message":"created"`) {
		t.Errorf("provisioner log lacks a created VM")
	}

	s.WaitNoVMs(t, 3*time.Minute)
	s.Pool.WaitFor(t, 30*time.Second, "every VM's host removed", func(ctx context.Context) (bool, error) {
		return len(s.Network.Hosts()) == 1, nil // cm
	})
	s.Pool.WaitFor(t, 30*time.Second, "the provisioner's report to list no node", func(ctx context.Context) (bool, error) {
		rep, err := s.Report(ctx)
		return err == nil && len(rep.Nodes) == 0 && len(rep.Errors) == 0, err
	})
	t.Logf("scaled up and back to zero in %v; condor_drain refused across hosts %d times (the retire request carried those drains)",
		time.Since(t0).Round(time.Second), strings.Count(s.ProvisionerLog(), "condor_drain refused"))
}

// A test on hosts of its own killed mid-run (kill -9 of the test binary,
// its pool and worker up) takes every daemon with it, in every host; the
// next network it starts removes the namespaces.
func TestKilledRunOnOwnHostsLeavesNothing(t *testing.T) {
	// Runs alone (no t.Parallel): kills a test run with -9 and times how fast its hosts empty.
	RequireCondor(t)
	RequireNetwork(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestWorkersOnTheirOwnHostsNeed9618$", "-test.v", "-test.count=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "worker worker1 joined") {
			break
		}
	}
	go io.Copy(io.Discard, out)
	pid := cmd.Process.Pid
	var mine []string
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), netns.Prefix) && strings.Contains(e.Name(), fmt.Sprintf(".%d.", pid)) {
			mine = append(mine, e.Name())
		}
	}
	busy := func() (n int) {
		for _, ns := range mine {
			b, _ := exec.Command("ip", "netns", "pids", ns).Output()
			n += len(strings.Fields(string(b)))
		}
		return n
	}
	if len(mine) < 4 || busy() == 0 {
		t.Fatalf("the victim's run: namespaces %v with %d processes, want its bridge, cm, worker1, worker2 with daemons", mine, busy())
	}
	t.Logf("victim %d: %d processes in %d namespaces; kill -9", pid, busy(), len(mine))
	cmd.Process.Kill()
	cmd.Wait()
	killed = true
	kt := time.Now()
	deadline := kt.Add(30 * time.Second)
	for busy() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("30 s after kill -9 of the test binary, %d processes still run in its hosts", busy())
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("every process in its hosts gone %v after the kill", time.Since(kt).Round(100*time.Millisecond))
	netns.Reap()
	for _, ns := range mine {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("%s of the killed run is still there after a reap", ns)
		}
	}
}
