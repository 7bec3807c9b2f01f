//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
)

const poolSiteConfig = `pool:
  name: demo
  owner: cm
  central_manager: 127.0.0.1
  trust_domain: ` + integration.Domain + `
clouds:
  - name: alpha
    regions: [RegionOne]
    image: ehos-worker
    flavors: [m1.small]
    network: private
    key_pair: ehos-key
    security_groups: [ehos]
`

func (s *site) runPool(t *testing.T, p *integration.Pool, args ...string) (string, string, error) {
	t.Helper()
	var o, e bytes.Buffer
	app := newAppWith(&o, &e, &deps{condor: p.Client()})
	err := app.Run(append([]string{"ehos", "--config", s.config, "--clouds", s.clouds}, args...))
	return o.String(), e.String(), err
}

func TestPoolStatusStaleAndDoctor(t *testing.T) {
	// The ads below are advertised by the test's own identity, the pool
	// user's: the provisioner's identity here, as in the harness's stacks.
	p := integration.StartPool(t, integration.PoolOptions{ExtraConfig: "EHOS_PROVISIONER_IDENTITY = ehos@$(UID_DOMAIN)\n"})
	s := newSite(t, poolSiteConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// No provisioner ad yet.
	out, _, err := s.runPool(t, p, "status")
	if exitCode(err) != 1 || !strings.Contains(out, "MISSING") {
		t.Errorf("no ad: %v\n%s", err, out)
	}

	// A stale ad, advertised by hand.
	stale := sampleReport(time.Now().Add(-10 * time.Minute)).Ad(1)
	if err := p.Client().Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{stale}); err != nil {
		t.Fatal(err)
	}
	out, serr, err := s.runPool(t, p, "status")
	if exitCode(err) != 1 || !strings.Contains(out, "STALE: the provisioner's last cycle was 10m") {
		t.Errorf("stale ad: exit %d\n%s%s", exitCode(err), out, serr)
	}
	out, _, _ = s.runPool(t, p, "doctor")
	for _, want := range []string{"OK   htcondor: collector", "FAIL htcondor: DAEMON_LIST", "FAIL provisioner: STALE", "FAIL demand job: no ehos_demand job", "OK   worker token: can mint", "OK   template worker:", "OK   alpha/RegionOne: image"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "eyJ") {
		t.Errorf("doctor printed a token:\n%s", out)
	}

	// A fresh one.
	fresh := sampleReport(time.Now()).Ad(2)
	if err := p.Client().Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{fresh}); err != nil {
		t.Fatal(err)
	}
	out, _, err = s.runPool(t, p, "status")
	if err != nil || !strings.Contains(out, "): OK") {
		t.Errorf("fresh ad: %v\n%s", err, out)
	}
	out, _, err = s.runPool(t, p, "nodes")
	if err != nil || !strings.Contains(out, "ehos-demo-1a2b3c4d") {
		t.Errorf("nodes: %v\n%s", err, out)
	}
	// Knobs are read: a bad one is reported.
	out, _, _ = s.runPool(t, p, "config", "check")
	if !strings.Contains(out, "knobs") || strings.Contains(out, "SKIP knobs") {
		t.Errorf("knobs not checked against the pool:\n%s", out)
	}
}

func TestPoolDrainAndRetire(t *testing.T) {
	p := integration.StartPool(t, integration.PoolOptions{})
	s := newSite(t, poolSiteConfig)
	attrs := "EHOSName = \"%s\"\nEHOSPool = \"%s\"\nSTARTD_ATTRS = $(STARTD_ATTRS) EHOSName EHOSPool\n"
	// Each with its VM's own token, as the provisioner mints them.
	own := func(vm string) string {
		return p.MintToken(t, vm+"@"+integration.Domain, integration.WorkerAuthz, time.Hour)
	}
	p.StartWorkerWith(t, "w1", integration.WorkerOptions{ExtraConfig: sprintf(attrs, "ehos-demo-w1", "demo"), Token: own("ehos-demo-w1")})
	p.StartWorkerWith(t, "alien", integration.WorkerOptions{ExtraConfig: sprintf(attrs, "ehos-other-a1", "other"), Token: own("ehos-other-a1")})
	// A worker whose token names another VM than its EHOSName.
	p.StartWorkerWith(t, "liar", integration.WorkerOptions{ExtraConfig: sprintf(attrs, "ehos-demo-l1", "demo"), Token: own("ehos-demo-w9")})
	for _, n := range []string{"ehos-demo-w1", "ehos-other-a1", "ehos-demo-l1"} {
		p.WaitFor(t, 30*time.Second, n+"'s slot ads", func(ctx context.Context) (bool, error) {
			ads, err := p.Client().Status(ctx, condor.StatusQuery{Constraint: `EHOSName == "` + n + `"`, Attrs: []string{"Name"}})
			return len(ads) > 0, err
		})
	}
	if err := s.srv.AddServers("RegionOne", "ehos-demo-w1", 1, map[string]string{cloud.MetaPool: "demo", cloud.MetaOwner: "cm", cloud.MetaName: "ehos-demo-w1"}); err != nil {
		t.Fatal(err)
	}

	// Refused: another pool's worker, an unknown node.
	if _, _, err := s.runPool(t, p, "drain", "ehos-other-a1"); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("foreign worker drained: %v", err)
	}
	if _, _, err := s.runPool(t, p, "drain", "ehos-demo-l1"); err == nil || !strings.Contains(err.Error(), "not from the identity of the VM") {
		t.Errorf("drain of a VM whose ads another identity wrote: %v", err)
	}
	if _, _, err := s.runPool(t, p, "drain", "nobody"); err == nil || !strings.Contains(err.Error(), "no startd") {
		t.Errorf("unknown node: %v", err)
	}

	out, stderr, err := s.runPool(t, p, "retire", "--timeout", "60s", "--poll", "500ms", "ehos-demo-w1")
	if err != nil {
		t.Fatalf("retire: %v\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "deleted VM") || len(s.srv.Servers("RegionOne")) != 0 {
		t.Errorf("retire: %s; servers %+v", out, s.srv.Servers("RegionOne"))
	}
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }

// TestStackStatusAndDoctor runs status, nodes and doctor against a whole
// ehos on loopback: the real provisioner under condor_master, the demand
// job, the local cloud. Needs make build.
func TestStackStatusAndDoctor(t *testing.T) {
	st := integration.StartStack(t, integration.StackOptions{})
	run := func(args ...string) (string, error) {
		var o, e bytes.Buffer
		app := newAppWith(&o, &e, &deps{condor: st.Pool.Client()})
		err := app.Run(append([]string{"ehos", "--config", st.ConfigFile, "--clouds", st.CloudsFile}, args...))
		return o.String() + e.String(), err
	}
	st.Pool.WaitFor(t, 60*time.Second, "the provisioner's ad", func(ctx context.Context) (bool, error) {
		_, err := st.Report(ctx)
		return err == nil, nil
	})
	out, err := run("status")
	if err != nil || !strings.Contains(out, "(every 3s,") || !strings.Contains(out, "): OK") {
		t.Errorf("status: %v\n%s", err, out)
	}
	// A burst of jobs: status shows the demand and nodes appear.
	jobDir := st.Pool.JobDir(t, "burst")
	if _, err := st.Pool.Client().Submit(context.Background(), "executable = /bin/sleep\narguments = 20\ntransfer_executable = false\ninitialdir = "+jobDir+"\nrequest_cpus = 1\nrequest_memory = 256\nqueue 3\n"); err != nil {
		t.Fatal(err)
	}
	st.Pool.WaitFor(t, 90*time.Second, "nodes in the report", func(ctx context.Context) (bool, error) {
		r, err := st.Report(ctx)
		return err == nil && len(r.Nodes) > 0, nil
	})
	out, err = run("nodes")
	if err != nil || !strings.Contains(out, "ehos-") {
		t.Errorf("nodes: %v\n%s", err, out)
	}
	t.Logf("ehos nodes:\n%s", out)
	out, err = run("metrics")
	if err != nil || !strings.Contains(out, "\nehos_up 1\n") || !strings.Contains(out, `ehos_region_listed{cloud=`) {
		t.Errorf("metrics: %v\n%s", err, out)
	}
	out, _ = run("doctor")
	t.Logf("ehos doctor:\n%s", out)
	for _, want := range []string{"OK   htcondor: DAEMON_LIST runs EHOS_PROVISIONER", "OK   provisioner: ad", "OK   demand job: 1 ehos_demand job(s) running", "OK   worker token: can mint"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q", want)
		}
	}
	out, _ = run("status")
	t.Logf("ehos status:\n%s", out)
}
