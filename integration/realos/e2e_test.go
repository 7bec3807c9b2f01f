//go:build integration && openstack

package realos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// The end-to-end scenario of TestProvisionerScalesUpAndDown (integration/),
// against the real Nova: the provisioner authenticates with the application
// credential and creates servers from the rendered worker template; the VM
// agent (integration/vmagent, admin entry) turns each ACTIVE server into a
// real condor_master+startd from its user-data, as the local API does.
//
//	make integration-openstack
//
// m1.large (4 vCPU) is left out: SmallFakeDriver reports 2 vCPUs, so
// Placement's max_unit is 2 and every m1.large goes ERROR (NoValidHost).
const e2eClouds = `  - name: ehos-appcred
    image: ehos-test-image
    flavors: [m1.small, m1.medium]
    network: ehos-stub-net
    security_groups: [default]
`

// e2eScaling: like the local stack's, with fewer VMs (real Nova on sqlite
// and 2 busy cores) and a longer boot timeout.
const e2eScaling = `  min: 0
  max: 4
  max_booting: 4
  max_creates_per_cycle: 4
  cycle: 3s
  idle_before_retire: 15s
  boot_timeout: 3m
  drain_timeout: 10m
  delete_timeout: 30s
  orphan_grace: 60s
  backoff_initial: 5s
  backoff_max: 30s
`

type e2e struct {
	*fixture
	s *integration.Stack
}

// startE2E sweeps servers of the stack's pool an earlier run left, starts
// the stack on the real cloud and deletes the pool's servers when the test
// ends (after the stack, and so the agent and its workers, stopped).
func startE2E(t *testing.T, scaling string) *e2e {
	f := setup(t)
	path := os.Getenv("OS_CLIENT_CONFIG_FILE")
	e := &e2e{fixture: f}
	e.sweepPool(t)
	t.Cleanup(func() { e.sweepPool(t) })
	e.s = integration.StartStack(t, integration.StackOptions{
		Clouds: e2eClouds, Scaling: scaling,
		External: &integration.ExternalCloud{CloudsFile: path, AdminCloud: "ehos-admin"},
	})
	return e
}

// poolServers lists every project's servers of the stack's pool (admin).
func (e *e2e) poolServers(ctx context.Context) ([]servers.Server, error) {
	pages, err := servers.List(e.admin, servers.ListOpts{AllTenants: true}).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, err
	}
	var out []servers.Server
	for _, s := range all {
		if s.Metadata["ehos_pool"] == "demo" {
			out = append(out, s)
		}
	}
	return out, nil
}

func (e *e2e) sweepPool(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	left, err := e.poolServers(ctx)
	if err != nil {
		t.Errorf("list the pool's servers: %v", err)
		return
	}
	for _, s := range left {
		t.Logf("deleting server %s (%s, %s) left behind", s.ID, s.Name, s.Status)
		if err := servers.Delete(ctx, e.admin, s.ID).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete %s: %v", s.ID, err)
		}
	}
	err = gophercloud.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		l, err := e.poolServers(ctx)
		return err == nil && len(l) == 0, err
	})
	if err != nil {
		t.Errorf("the pool's servers are not gone: %v", err)
	}
}

// watch records every pool server Nova ever listed and the most at once.
func (e *e2e) watch(t *testing.T) func() (seen map[string]string, maxAlive int) {
	var mu sync.Mutex
	seen, maxAlive := map[string]string{}, 0
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
		tk := time.NewTicker(500 * time.Millisecond)
		defer tk.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			l, err := e.poolServers(ctx)
			cancel()
			if err == nil {
				mu.Lock()
				for _, s := range l {
					seen[s.Name] = s.Status
				}
				maxAlive = max(maxAlive, len(l))
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	}()
	return func() (map[string]string, int) {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]string{}
		for k, v := range seen {
			out[k] = v
		}
		return out, maxAlive
	}
}

func (e *e2e) waitNoServers(t *testing.T, timeout time.Duration) {
	t.Helper()
	e.s.Pool.WaitFor(t, timeout, "every server deleted in Nova", func(ctx context.Context) (bool, error) {
		l, err := e.poolServers(ctx)
		return err == nil && len(l) == 0, err
	})
}

// Jobs submitted → servers created in real Nova from the rendered template →
// workers join (via the VM agent) → jobs complete → drained → servers
// deleted.
func TestRealNovaScalesUpAndDown(t *testing.T) {
	t0 := time.Now()
	e := startE2E(t, e2eScaling)
	snap := e.watch(t)
	cl := e.s.Pool.Client()
	ctx := context.Background()
	// m1.* have little RAM (512/1024/2048 MB): the jobs ask for 100 MB.
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 5\n"+
		"request_cpus = 1\nrequest_memory = 100\nqueue 4\n"+
		"request_cpus = 2\nrequest_memory = 100\nqueue 2\n")
	if err != nil {
		t.Fatal(err)
	}
	// `ehos nodes` lists what Nova lists: the same servers, by id.
	e.s.Pool.WaitFor(t, 3*time.Minute, "ehos nodes to list exactly the servers Nova lists", func(ctx context.Context) (bool, error) {
		nova, err := e.poolServers(ctx)
		if err != nil || len(nova) == 0 {
			return false, err
		}
		rows, err := e.ehosNodes(ctx)
		if err != nil {
			return false, err
		}
		return sameIDs(nova, rows), nil
	})
	e.s.WaitJobsDone(t, cluster, 5*time.Minute)
	t.Logf("6 jobs done %v after start", time.Since(t0).Round(time.Second))
	hosts := e.s.JobHosts(t, cluster)
	if len(hosts) == 0 {
		t.Error("no job in history")
	}
	e.waitNoServers(t, 4*time.Minute)
	seen, maxAlive := snap()
	t.Logf("jobs ran on %d workers; Nova listed %d servers (%d at once): %v; all deleted %v after start",
		len(hosts), len(seen), maxAlive, seen, time.Since(t0).Round(time.Second))
	if len(seen) == 0 || maxAlive > 4 {
		t.Errorf("%d servers seen, %d at once (max 4)", len(seen), maxAlive)
	}
	log := e.s.ProvisionerLog()
	for _, want := range []string{`"message":"created"`, `"message":"draining"`, `"message":"deleted"`} {
		if !strings.Contains(log, want) {
			t.Errorf("provisioner log lacks %s", want)
		}
	}
	if strings.Contains(log, "eyJ") {
		t.Errorf("a token appears in the provisioner log")
	}
	e.tokenRenewed(t, t0)
}

// tokenRenewed checks that the provisioner outlived its first Keystone
// token: make integration-openstack runs Keystone with 60 s tokens, so the
// token the provisioner got at its start expires while it runs. A later
// call then meets a 401, lib/openstack re-authenticates (AllowReauth) and
// the provisioner logs it; after that, a cycle must still list every
// region with no error, and nothing in the log may be an auth failure.
func (e *e2e) tokenRenewed(t *testing.T, t0 time.Time) {
	t.Helper()
	ttl := tokenLifetime(t, e.user)
	if ttl > shortTokens {
		t.Logf("Keystone tokens live %v: token renewal not exercised (make integration-openstack runs it with 60 s)", ttl)
		return
	}
	const renewed = `"message":"token expired: re-authenticated"`
	e.s.Pool.WaitFor(t, ttl+time.Minute, "the provisioner to re-authenticate once its token expired", func(context.Context) (bool, error) {
		return strings.Contains(e.s.ProvisionerLog(), renewed), nil
	})
	at := time.Now()
	t.Logf("provisioner re-authenticated by %v after start (tokens live %v)", at.Sub(t0).Round(time.Second), ttl)
	e.s.Pool.WaitFor(t, time.Minute, "a cycle after the re-authentication to list every region without error", func(ctx context.Context) (bool, error) {
		rep, err := e.s.Report(ctx)
		if err != nil || !rep.Time.After(at) || len(rep.Regions) == 0 || len(rep.Errors) > 0 {
			return false, nil
		}
		for _, r := range rep.Regions {
			if !r.Listed || r.Error != "" {
				return false, nil
			}
		}
		return true, nil
	})
	log := e.s.ProvisionerLog()
	for _, bad := range []string{"re-authentication failed", "authentication failed", "Unauthorized"} {
		if strings.Contains(log, bad) {
			t.Errorf("provisioner log has %q after token renewal", bad)
		}
	}
	i := strings.Index(log, renewed)
	t.Logf("after the first re-authentication the provisioner logged: %d created, %d deleted",
		strings.Count(log[i:], `"message":"created"`), strings.Count(log[i:], `"message":"deleted"`))
}

// A Nova quota below demand: instances=2 for the project while 4 one-per-VM
// jobs wait. ehos never has more than 2 servers, its report shows the
// quota, and every job still completes.
func TestRealNovaQuotaBelowDemand(t *testing.T) {
	t0 := time.Now()
	e := startE2E(t, e2eScaling)
	// Set once the project is empty (Nova refuses a quota below usage).
	q, err := quotasets.Get(e.ctx, e.admin, e.projectID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	old, two := q.Instances, 2
	if _, err := quotasets.Update(e.ctx, e.admin, e.projectID, quotasets.UpdateOpts{Instances: &two}).Extract(); err != nil {
		t.Fatalf("set instances quota: %v", err)
	}
	t.Cleanup(func() {
		// Runs before the sweep (registered later): force, servers may remain.
		if _, err := quotasets.Update(context.Background(), e.admin, e.projectID, quotasets.UpdateOpts{Instances: &old, Force: true}).Extract(); err != nil {
			t.Errorf("restore instances quota %d: %v", old, err)
		}
	})
	snap := e.watch(t)
	cl := e.s.Pool.Client()
	// 2-core jobs: only m1.medium holds one → one job per VM, 4 VMs wanted.
	cluster, err := cl.Submit(context.Background(), "executable = /bin/sleep\narguments = 8\nrequest_cpus = 2\nrequest_memory = 100\nqueue 4\n")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Pool.WaitFor(t, 3*time.Minute, "the report to show the instances quota (2)", func(ctx context.Context) (bool, error) {
		rep, err := e.s.Report(ctx)
		if err != nil {
			return false, nil
		}
		for _, r := range rep.Regions {
			if r.Limits != nil && r.Limits.MaxInstances == 2 {
				t.Logf("report: region %s limits %+v", r.Location, *r.Limits)
				return true, nil
			}
		}
		return false, nil
	})
	e.s.WaitJobsDone(t, cluster, 6*time.Minute)
	e.waitNoServers(t, 4*time.Minute)
	seen, maxAlive := snap()
	t.Logf("Nova listed %d servers, %d at once: %v", len(seen), maxAlive, seen)
	if maxAlive > 2 {
		t.Errorf("%d servers at once over an instances quota of 2", maxAlive)
	}
	if len(seen) < 2 {
		t.Errorf("only %d servers for 4 one-per-VM jobs: the test proves nothing", len(seen))
	}
	if strings.Contains(e.s.ProvisionerLog(), "Quota exceeded") {
		t.Log("note: a create hit Nova's quota (403) before the plan took the limits into account")
	}
	e.tokenRenewed(t, t0)
}

// `ehos clouds check` against the real cloud: an image and a flavor that do
// not exist are each named as a FAIL line, what exists is OK, exit status 1.
func TestCloudsCheckNamesMissingImageAndFlavor(t *testing.T) {
	cloudsFile(t)
	bin, err := filepath.Abs("../../bin/ehos")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("bin/ehos not built: run make build first (%v)", err)
	}
	cfg := filepath.Join(t.TempDir(), "ehos.yaml")
	os.WriteFile(cfg, []byte(`pool:
  name: check
  owner: check
  central_manager: 127.0.0.1
  uid_domain: ehos.test
clouds:
  - name: ehos-appcred
    image: no-such-image
    flavors: [m1.small, no-such-flavor]
    network: ehos-stub-net
    security_groups: [default]
`), 0o600)
	ctx := ctxT(t, 2*time.Minute)
	out, err := exec.CommandContext(ctx, bin, "--config", cfg, "--clouds", os.Getenv("OS_CLIENT_CONFIG_FILE"), "clouds", "check").CombinedOutput()
	t.Logf("ehos clouds check:\n%s", out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1", err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^OK .*authenticated`),
		regexp.MustCompile(`(?m)^FAIL .*image "no-such-image".*not found`),
		regexp.MustCompile(`(?m)^FAIL .*flavor "no-such-flavor".*not found`),
		regexp.MustCompile(`(?m)^OK .*flavor "m1.small": 1 vcpu, 512 MB`),
		regexp.MustCompile(`(?m)^OK .*network "ehos-stub-net"`),
	} {
		if !want.Match(out) {
			t.Errorf("output lacks a line matching %s", want)
		}
	}
}

// ehosNodes runs the real `ehos nodes --json` against the stack.
func (e *e2e) ehosNodes(ctx context.Context) ([]struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.s.Bin, "ehos"), "--config", e.s.ConfigFile,
		"--condor-bin", e.s.Pool.Install.BinDir, "nodes", "--json")
	cmd.Env = append(os.Environ(), "CONDOR_CONFIG="+e.s.Pool.ConfigFile)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ehos nodes --json: %w", err)
	}
	var rows []struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		return nil, fmt.Errorf("ehos nodes --json: %w: %s", err, out)
	}
	return rows, nil
}

func sameIDs(nova []servers.Server, rows []struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}) bool {
	if len(nova) != len(rows) {
		return false
	}
	ids := map[string]bool{}
	for _, s := range nova {
		ids[s.ID] = true
	}
	for _, r := range rows {
		if !ids[r.ID] {
			return false
		}
	}
	return true
}
