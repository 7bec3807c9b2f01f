//go:build integration

package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/netns"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/provision"
)

// natClouds: alpha's two regions each behind NAT (StackOptions.NATRegions),
// beta's RegionThree on the central manager's own network, told its private
// address and network name.
const natClouds = `  - name: alpha
    regions: [RegionOne, RegionTwo]
    image: ehos-worker
    flavors: [m1.small]
    network: private
    security_groups: [ehos]
  - name: beta
    image: ehos-worker
    flavors: [m1.small]
    network: private
    security_groups: [ehos]
    central_manager: "{cm_addr}"
    private_network: ` + cmNetworkName + `
`

// submitPinned submits n one-core jobs that run only in region.
func submitPinned(t *testing.T, s *Stack, region string, n int) int {
	t.Helper()
	cluster, err := s.Pool.Client().Submit(context.Background(), fmt.Sprintf("executable = /bin/sleep\narguments = 3\n"+
		"request_cpus = 1\nrequest_memory = 512\n+EHOSRegion = %q\nqueue %d\n", region, n))
	if err != nil {
		t.Fatal(err)
	}
	return cluster
}

// claimAddrs is the startd address of each finished job of cluster (the
// address part of LastPublicClaimId).
func claimAddrs(t *testing.T, s *Stack, cluster int) []string {
	t.Helper()
	out, err := s.Pool.Client().Run(context.Background(), "condor_history", fmt.Sprint(cluster), "-af", "LastPublicClaimId")
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, l := range strings.Fields(string(out)) {
		addrs = append(addrs, l[:strings.IndexByte(l+">", '>')+1])
	}
	return addrs
}

// A burst across two regions whose workers sit behind NAT routers with no
// inbound port, the central manager reachable from them only at a floating
// address not on its interface, plus a region on the central manager's own
// network: every job runs, the NAT'd workers claimed through the collector
// as broker and the same-network worker directly (its firewall counted the
// schedd's connections in); then the pool goes back to zero with every VM
// and host gone.
func TestBurstAcrossRegionsBehindNAT(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{OwnHosts: true, NATRegions: []string{"RegionOne", "RegionTwo"}, Clouds: natClouds})
	t0 := time.Now()
	one, two := submitPinned(t, s, "RegionOne", 2), submitPinned(t, s, "RegionTwo", 2)
	home := submitPinned(t, s, "RegionThree", 1)

	// The same-network worker: claimed directly, so connections came in
	// through its firewall (counted before it retires).
	s.WaitJobsDone(t, home, 4*time.Minute)
	var direct int
	for _, h := range s.Network.Hosts() {
		if h != s.CMHost && h != s.Sites.CMRouter {
			n, err := h.Accepted(netns.Rule{Proto: "tcp", Port: netns.HTCondorPort})
			if err != nil {
				t.Fatal(err)
			}
			direct += n
		}
	}
	if direct == 0 {
		t.Errorf("no connection came in to the worker on the central manager's network: it was not claimed directly")
	}
	for _, a := range claimAddrs(t, s, home) {
		if !strings.Contains(a, "PrivNet="+cmNetworkName) {
			t.Errorf("RegionThree's job ran at %s: want a worker on the central manager's network %s", a, cmNetworkName)
		}
	}
	s.WaitJobsDone(t, one, 4*time.Minute)
	s.WaitJobsDone(t, two, 4*time.Minute)
	t.Logf("5 jobs done in %v; %d connections in to the same-network worker", time.Since(t0).Round(time.Second), direct)

	for cluster, region := range map[int]string{one: "RegionOne", two: "RegionTwo"} {
		addrs := claimAddrs(t, s, cluster)
		if len(addrs) != 2 {
			t.Errorf("%s: %d jobs in the history, want 2", region, len(addrs))
		}
		sub := s.Sites.Regions[region].Subnet()
		prefix := sub[:strings.LastIndexByte(sub, '.')+1]
		for _, a := range addrs {
			if !strings.HasPrefix(a, "<"+prefix) || !strings.Contains(a, "CCBID="+s.Sites.Floating+":9618") || !strings.Contains(a, "PrivNet=alpha."+region+".private") {
				t.Errorf("%s's job ran at %s: want a worker on %s brokered at %s:9618", region, a, sub, s.Sites.Floating)
			}
		}
	}
	// Submit to start, brokered and direct (the VMs boot alike): what the
	// broker adds to a worker's first job.
	for cluster, what := range map[int]string{one: "brokered RegionOne", two: "brokered RegionTwo", home: "direct RegionThree"} {
		out, err := s.Pool.Client().Run(context.Background(), "condor_history", fmt.Sprint(cluster), "-af", "JobStartDate - QDate")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: submit to start %s s", what, strings.Join(strings.Fields(string(out)), ", "))
	}
	if n := strings.Count(s.Pool.Log("CollectorLog"), "(CCB_REQUEST)"); n == 0 {
		t.Errorf("the collector brokered no connection (no CCB_REQUEST)")
	} else {
		t.Logf("the collector brokered %d connections", n)
	}

	s.WaitNoVMs(t, 3*time.Minute)
	s.Pool.WaitFor(t, 30*time.Second, "every VM's host removed", func(ctx context.Context) (bool, error) {
		n := len(s.Network.Hosts()) // cm and its router
		for _, net := range s.Sites.Regions {
			n += len(net.Hosts()) - 1 // each region's router
		}
		return n == 2, nil
	})
	s.Pool.WaitFor(t, 30*time.Second, "the provisioner's report to list no node", func(ctx context.Context) (bool, error) {
		rep, err := s.Report(ctx)
		return err == nil && len(rep.Nodes) == 0 && len(rep.Errors) == 0, err
	})
	// Brokered workers are never taken for unreachable; any probe of one
	// connected.
	plog := s.ProvisionerLog()
	if strings.Contains(plog, provision.UnreachableMsg) {
		t.Errorf("a brokered worker was reported unreachable:\n%s", tail(filepath.Join(s.Dir, "EHOSProvisionerLog"), 30))
	}
	t.Logf("scaled up across NAT and back to zero in %v; %d probes of waiting workers, %d failed", time.Since(t0).Round(time.Second),
		strings.Count(plog, `"message":"probed a waiting worker"`), strings.Count(plog, `"result":"no connection`))
}

// The same NAT'd region with the broker switched off (an empty CCB_ADDRESS
// after ehos's worker config): the workers join the collector, since they
// open that connection, but the schedd cannot reach their private
// addresses, so no job starts; its log names the failed claim. The
// provisioner finds them unreachable (its probe fails the same way), reports
// their addresses with a hint, and boots nothing more into RegionOne while
// they stand, however many jobs wait for it.
func TestBurstBehindNATWithoutBrokerNeverStarts(t *testing.T) {
	t.Parallel()
	// A back-off as a site would have it (the stack's default is 5 s, for
	// tests of cloud errors), so that its effect is seen.
	scaling := strings.Replace(defaultStackScaling, "backoff_initial: 5s\n  backoff_max: 30s", "backoff_initial: 2m\n  backoff_max: 10m", 1)
	s := StartStack(t, StackOptions{OwnHosts: true, NATRegions: []string{"RegionOne"}, Clouds: natClouds, WorkerConfig: "CCB_ADDRESS =\n", Scaling: scaling})
	cl := s.Pool.Client()
	cluster := submitPinned(t, s, "RegionOne", 2)
	var addr string
	s.Pool.WaitFor(t, 3*time.Minute, "a NAT'd worker to join the collector", func(ctx context.Context) (bool, error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: `EHOSRegion == "RegionOne" && Offline =!= True`, Attrs: []string{"MyAddress"}})
		if len(ads) > 0 {
			addr = ads[0].GetString("MyAddress")
		}
		return addr != "", err
	})
	if strings.Contains(addr, "CCBID") {
		t.Fatalf("with CCB_ADDRESS empty the worker still registered with a broker: %s", addr)
	}
	private := strings.TrimPrefix(addr, "<")
	private = private[:strings.IndexAny(private, ":?>")]
	s.Pool.WaitFor(t, 2*time.Minute, "the schedd to fail a claim to "+private, func(ctx context.Context) (bool, error) {
		for _, l := range strings.Split(s.Pool.Log("SchedLog"), "\n") {
			if strings.Contains(l, "REQUEST_CLAIM") && strings.Contains(l, private) {
				t.Logf("schedd: %s", l)
				return true, nil
			}
		}
		return false, nil
	})

	// ehos finds the workers unreachable, names their private addresses,
	// and backs RegionOne off instead of booting more into the same
	// failure: more jobs for RegionOne boot nothing while they stand.
	var rep provision.Report
	// Each worker is marked at its own second failed probe: wait for the
	// one the schedd failed to claim, not only the first marked.
	s.Pool.WaitFor(t, 4*time.Minute, "the provisioner to report the worker at "+private+" unreachable", func(ctx context.Context) (bool, error) {
		var err error
		rep, err = s.Report(ctx)
		return err == nil && slices.ContainsFunc(rep.Unreachable, func(u provision.Unreachable) bool { return strings.HasPrefix(u.Address, "<"+private+":") }), err
	})
	for _, u := range rep.Unreachable {
		t.Logf("reported: %s", u)
		if u.Location.Region != "RegionOne" || !strings.Contains(u.Hint, "CCB_ADDRESS") {
			t.Errorf("unreachable %+v: want a RegionOne worker, and a hint naming the broker", u)
		}
	}
	if !slices.ContainsFunc(rep.Unreachable, func(u provision.Unreachable) bool { return strings.HasPrefix(u.Address, "<"+private+":") }) {
		t.Errorf("unreachable %+v: none at %s, the address the schedd failed to claim", rep.Unreachable, private)
	}
	created := func() int { return strings.Count(s.ProvisionerLog(), `"message":"created"`) }
	n0 := created()
	more := submitPinned(t, s, "RegionOne", 3)
	var seen time.Time
	s.Pool.WaitFor(t, 2*time.Minute, "five cycles with the 3 more jobs counted", func(ctx context.Context) (bool, error) {
		rep, err := s.Report(ctx)
		if err != nil || rep.IdleJobs() < 5 {
			return false, err
		}
		if seen.IsZero() {
			seen = rep.Time
		}
		return rep.Time.Sub(seen) >= 15*time.Second, nil
	})
	if n := created() - n0; n != 0 {
		t.Errorf("%d VMs created for RegionOne with its workers unreachable, want none:\n%s", n, tail(filepath.Join(s.Dir, "EHOSProvisionerLog"), 30))
	}
	rep, err := s.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Regions {
		if r.Location.Region == "RegionOne" && !strings.Contains(r.BackoffReason, "unreachable") {
			t.Errorf("RegionOne: %+v, want it backed off for its unreachable workers", r)
		}
	}
	t.Logf("%d VMs created in all", created())

	ads, err := cl.Queue(context.Background(), condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"NumJobStarts", "JobStatus"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ads {
		if n := a.GetInt("NumJobStarts", 0); n != 0 {
			t.Errorf("a job started %d times without the broker", n)
		}
	}
	if len(ads) != 2 {
		t.Errorf("%d jobs in the queue, want both still waiting", len(ads))
	}
	if _, err := cl.Run(context.Background(), "condor_rm", fmt.Sprint(more)); err != nil {
		t.Fatal(err)
	}
	// Nothing is left behind: the jobs go, and so do the VMs.
	if _, err := cl.Run(context.Background(), "condor_rm", fmt.Sprint(cluster)); err != nil {
		t.Fatal(err)
	}
	s.WaitNoVMs(t, 3*time.Minute)
}

// The central manager's collector restarts while a job runs on a brokered
// worker behind NAT: the job runs on to its end, once (the starter talks to
// the shadow, not through the broker), the worker registers with the new
// collector again, and nothing is deleted under the running job. The claim
// the schedd then cannot release (docs/network.md's "While the broker is
// away") ends when its worklife does: the workers get CLAIM_WORKLIFE = 120
// here (HTCondor's default is 1200), and the VM then retires and goes.
func TestBrokeredJobSurvivesCollectorRestart(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{OwnHosts: true, NATRegions: []string{"RegionOne"}, Clouds: natClouds, WorkerConfig: "CLAIM_WORKLIFE = 120\n"})
	cl := s.Pool.Client()
	ctx := context.Background()
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 75\nrequest_cpus = 1\nrequest_memory = 512\n+EHOSRegion = \"RegionOne\"\nqueue\n")
	if err != nil {
		t.Fatal(err)
	}
	s.Pool.WaitFor(t, 3*time.Minute, "the job to run", func(ctx context.Context) (bool, error) {
		ads, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return err == nil && len(ads) == 1 && ads[0].GetInt("JobStatus", 0) == 2, err
	})
	registrations := func() int { return strings.Count(s.Pool.Log("CollectorLog"), "(CCB_REGISTER)") }
	before := registrations()
	if _, err := cl.Run(ctx, "condor_restart", "-daemon", "collector"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.Pool.WaitFor(t, 90*time.Second, "the worker to register with the restarted collector", func(context.Context) (bool, error) {
		return registrations() > before, nil
	})
	t.Logf("re-registered %v after the restart", time.Since(t0).Round(100*time.Millisecond))
	s.WaitJobsDone(t, cluster, 3*time.Minute)
	out, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "NumJobStarts", "ExitCode")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "1" || got[1] != "0" {
		t.Errorf("the job's starts and exit code: %q, want it started once and ended with 0", out)
	}
	// The restarted collector rejects the sessions the schedd and the shadow
	// held with the old one, so their first brokered connection after the
	// restart fails (SECMAN:2004), and with it the RELEASE_CLAIM at the
	// job's end: the worker then stays claimed, busy to ehos and so not
	// deleted, until the claim's worklife ends and the startd releases it
	// (the central manager may not vacate a worker: it holds no
	// ADMINISTRATOR there). Released either way, it goes as usual.
	for _, log := range []string{"SchedLog", "ShadowLog"} {
		for _, l := range strings.Split(s.Pool.Log(log), "\n") {
			if strings.Contains(l, "SECMAN:2004") || strings.Contains(l, "RELEASE_CLAIM") {
				t.Logf("%s: %s", log, l)
			}
		}
	}
	if !strings.Contains(s.Pool.Log("SchedLog"), "Failed to send RELEASE_CLAIM") {
		s.WaitNoVMs(t, 3*time.Minute) // released: retired and deleted as usual
		return
	}
	t.Logf("the schedd could not release its claim through the restarted broker: the worker stays claimed until its worklife ends")
	if n := len(s.Servers()); n != 1 {
		t.Errorf("%d VMs after the job, want its one VM, untouched", n)
	}
	if strings.Contains(s.ProvisionerLog(), `"message":"deleted"`) {
		t.Errorf("the provisioner deleted a VM:\n%s", tail(filepath.Join(s.Dir, "EHOSProvisionerLog"), 20))
	}
	t1 := time.Now()
	s.WaitNoVMs(t, 3*time.Minute)
	t.Logf("the startd released the claim at the end of its worklife; the VM was gone %v after the job", time.Since(t1).Round(time.Second))
}
