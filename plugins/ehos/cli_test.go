package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
	"github.com/urfave/cli/v2"
)

// site is a local cloud, its clouds.yaml and an ehos.yaml naming it.
type site struct {
	srv    *localcloud.Server
	dir    string
	config string
	clouds string
}

const siteConfig = `pool:
  name: demo
  central_manager: 127.0.0.1
clouds:
  - name: alpha
    regions: [RegionOne, RegionTwo]
    image: ehos-worker
    flavors: [m1.small]
    network: private
    key_pair: ehos-key
    security_groups: [ehos]
`

func newSite(t *testing.T, config string) *site {
	t.Helper()
	srv, err := localcloud.Start(localcloud.Options{BootDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s := &site{srv: srv, dir: t.TempDir()}
	s.clouds = filepath.Join(s.dir, "clouds.yaml")
	if err := srv.WriteCloudsYAML(s.clouds); err != nil {
		t.Fatal(err)
	}
	s.config = filepath.Join(s.dir, "ehos.yaml")
	write(t, s.config, config, 0o600)
	return s
}

// run runs ehos against the site, with HTCondor tools from bin ("" = a
// directory without any, so HTCondor is unreachable).
func (s *site) run(t *testing.T, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if bin == "" {
		bin = t.TempDir()
	}
	var o, e bytes.Buffer
	app := newAppWith(&o, &e, &deps{})
	full := append([]string{"ehos", "--config", s.config, "--clouds", s.clouds, "--condor-bin", bin}, args...)
	cmdline.Prepare(app)
	err = app.Run(cmdline.Args(app, full)) // as main does
	return o.String(), e.String(), err
}

func exitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestCloudsCheck(t *testing.T) {
	s := newSite(t, siteConfig)
	out, stderr, err := s.run(t, "", "clouds", "check")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "OK   alpha: authenticated; regions RegionOne, RegionTwo") || strings.Contains(out, "FAIL") {
		t.Errorf("output:\n%s", out)
	}

	// Bad input: a missing image, and a group without 9618/tcp in a region
	// on the central manager's network (so claimed directly).
	s.srv.DropSecurityRules("RegionTwo", "ehos", "tcp", 9618)
	write(t, s.config, strings.Replace(siteConfig, "image: ehos-worker", "image: no-such-image", 1), 0o600)
	out, _, err = s.run(t, "", "clouds", "check", "--master-network", "alpha.RegionTwo.private")
	if exitCode(err) != 1 {
		t.Errorf("exit %d, want 1: %v", exitCode(err), err)
	}
	for _, want := range []string{`FAIL alpha/RegionOne: image "no-such-image"`, "FAIL alpha/RegionTwo: security groups [ehos]: no ingress rule allows 9618/tcp from the central manager",
		"OK   alpha/RegionTwo: topology direct: workers share the central manager's network alpha.RegionTwo.private"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}

	// setup fixes the rule; check is clean again (with the image back).
	write(t, s.config, siteConfig, 0o600)
	out, _, err = s.run(t, "", "clouds", "setup", "--master-network", "alpha.RegionTwo.private")
	if err != nil || !strings.Contains(out, `OK   alpha/RegionTwo: added ingress 9618/tcp from the group itself to security group "ehos"`) {
		t.Errorf("setup: %v\n%s", err, out)
	}
	if out, _, err = s.run(t, "", "clouds", "check", "--master-network", "alpha.RegionTwo.private"); err != nil {
		t.Errorf("check after setup: %v\n%s", err, out)
	}

	// Wrong credentials.
	b, _ := os.ReadFile(s.clouds)
	os.WriteFile(s.clouds, bytes.ReplaceAll(b, []byte("alpha-secret"), []byte("not-the-password")), 0o600)
	out, _, err = s.run(t, "", "clouds", "check")
	if exitCode(err) != 1 || !strings.Contains(out, "FAIL alpha: authentication:") || strings.Contains(out, "not-the-password") {
		t.Errorf("wrong credentials: %v\n%s", err, out)
	}
}

func TestCloudsSetupUploadsKeyPair(t *testing.T) {
	s := newSite(t, strings.Replace(siteConfig, "key_pair: ehos-key", "key_pair: admin", 1))
	pub := filepath.Join(s.dir, "id.pub")
	write(t, pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIt0SRHGDwMEikyiUWKT8+WVy9mMHvJOJwPLZsTFaKB admin@host\n", 0o644)
	out, _, err := s.run(t, "", "clouds", "setup", "--public-key", pub)
	if err != nil || strings.Count(out, `uploaded key pair "admin"`) != 2 {
		t.Errorf("%v\n%s", err, out)
	}
	priv := filepath.Join(s.dir, "id")
	write(t, priv, "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n", 0o600)
	if _, _, err := s.run(t, "", "clouds", "setup", "--public-key", priv); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("private key accepted: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	s := newSite(t, siteConfig)
	out, _, err := s.run(t, "", "config", "check")
	if err != nil || !strings.Contains(out, "SKIP knobs: EHOS_* knobs not checked: HTCondor not reachable") {
		t.Errorf("%v\n%s", err, out)
	}
	write(t, s.config, siteConfig+"scaling:\n  min: 9\n  max: 3\n  cylce: 10s\n", 0o600)
	out, _, err = s.run(t, "", "config", "check")
	if exitCode(err) != 1 || !strings.Contains(out, "cylce") {
		t.Errorf("typo not reported: %v\n%s", err, out)
	}

	// The local cloud's clouds.yaml holds passwords: readable by every
	// user, it is refused, naming the file and the fix.
	write(t, s.config, siteConfig, 0o600)
	if err := os.Chmod(s.clouds, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = s.run(t, "", "config", "check")
	if exitCode(err) != 1 || !strings.Contains(out, "FAIL clouds.yaml file "+s.clouds+": mode 0644: every user can read its secrets") || !strings.Contains(out, "chmod 600 "+s.clouds) {
		t.Errorf("world-readable clouds.yaml with passwords passed: %v\n%s", err, out)
	}
}

func TestConfigMigrate(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile("../../lib/config/testdata/legacy-ehos.yaml")
	if err != nil {
		t.Skip("no legacy sample:", err)
	}
	write(t, filepath.Join(dir, "old.yaml"), string(old), 0o600)
	out, stderr, err := run(t, "config", "migrate", "-o", filepath.Join(dir, "new.yaml"), filepath.Join(dir, "old.yaml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	st, err := os.Stat(filepath.Join(dir, "clouds.yaml"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("clouds.yaml: %v %v", st, err)
	}
	if !strings.Contains(stderr, "note: ") || strings.Contains(out+stderr, "hunter2-pool-password") {
		t.Errorf("notes missing or the pool password leaked:\n%s%s", out, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "new.yaml"))
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("a secret in the new ehos.yaml:\n%s", b)
	}

	// Run again: both files exist, so nothing is replaced without --force;
	// an edited clouds.yaml is left as it is even when only it exists.
	write(t, filepath.Join(dir, "clouds.yaml"), "clouds: {edited: {}}\n", 0o600)
	os.Remove(filepath.Join(dir, "new.yaml"))
	_, _, err = run(t, "config", "migrate", "-o", filepath.Join(dir, "new.yaml"), filepath.Join(dir, "old.yaml"))
	if err == nil || !strings.Contains(err.Error(), "clouds.yaml exists") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second migrate over an existing clouds.yaml: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "new.yaml")); serr == nil {
		t.Errorf("refused, yet new.yaml was written")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "clouds.yaml")); string(got) != "clouds: {edited: {}}\n" {
		t.Errorf("edited clouds.yaml replaced: %s", got)
	}
	if _, stderr, err := run(t, "config", "migrate", "--force", "-o", filepath.Join(dir, "new.yaml"), filepath.Join(dir, "old.yaml")); err != nil {
		t.Fatalf("--force: %v\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "clouds.yaml")); !strings.Contains(string(got), "hunter2-cloud-secret") {
		t.Errorf("--force did not replace clouds.yaml: %s", got)
	}
}

// fakeIdentity is the provisioner's identity in fakeCondor's config; its
// ads carry it unless they name another.
const fakeIdentity = "ehos@cm"

// fakeCondor writes a condor_status that prints ads as JSON (and condor_q
// printing jobs), into a new directory.
func fakeCondor(t *testing.T, ads []classad.Ad) string {
	t.Helper()
	dir := t.TempDir()
	var list []json.RawMessage
	for _, a := range ads {
		m := map[string]any{"AuthenticatedIdentity": fakeIdentity}
		for k, v := range a {
			switch {
			case v.IsUndefined():
			default:
				if s, ok := v.Str(); ok {
					m[k] = s
				} else if i, ok := v.IntVal(); ok {
					m[k] = i
				} else if f, ok := v.FloatVal(); ok {
					m[k] = f
				} else if b, ok := v.BoolVal(); ok {
					m[k] = b
				}
			}
		}
		b, _ := json.Marshal(m)
		list = append(list, b)
	}
	b, _ := json.Marshal(list)
	write(t, filepath.Join(dir, "ads.json"), string(b), 0o644)
	write(t, filepath.Join(dir, "condor_status"), "#!/bin/sh\ncat "+filepath.Join(dir, "ads.json")+"\n", 0o755)
	writeConfigVal(t, dir)
	return dir
}

// writeConfigVal puts a fake condor_config_val beside the other fake tools
// (a real HTCondor always has one): it knows the provisioner's identity.
func writeConfigVal(t *testing.T, dir string) {
	// As the real one: each knob asked for in one call, a value a line,
	// the others "Not defined" on stderr.
	write(t, filepath.Join(dir, "condor_config_val"), "#!/bin/sh\nrc=0\nfor n in \"$@\"; do\n  if [ \"$n\" = EHOS_PROVISIONER_IDENTITY ]; then echo "+fakeIdentity+"; else echo \"Not defined: $n\" >&2; rc=1; fi\ndone\nexit $rc\n", 0o755)
}

func sampleReport(now time.Time) provision.Report {
	loc := cloud.Location{Cloud: "alpha", Region: "RegionOne"}
	return provision.Report{Time: now, Cycle: 20 * time.Second, Duration: 250 * time.Millisecond, Pool: "demo", Owner: "cm",
		Demand: []scale.Demand{{Key: "cm#7", Need: scale.Resources{Cpus: 1, MemoryMB: 1024}, Idle: 4, Eligible: []scale.OfferKey{{Loc: loc, Flavor: "m1.small"}}}},
		Nodes: []provision.NodeReport{
			{Name: "ehos-demo-1a2b3c4d", ID: "b1", Location: loc, Flavor: "m1.small", State: scale.Busy, Created: now.Add(-7 * time.Minute), Running: 1},
			{Name: "ehos-demo-5e6f7a8b", ID: "b2", Location: loc, Flavor: "m1.small", State: scale.Booting, Created: now.Add(-40 * time.Second)},
		},
		Regions: []provision.RegionReport{{Location: loc, Listed: true, VMs: 2}},
		Decision: scale.Decision{Creates: []scale.Create{{Offer: scale.OfferKey{Loc: loc, Flavor: "m1.small"}, Count: 2,
			Reason: scale.Reason{Kind: scale.CreateForDemand, Jobs: 4, Need: scale.Resources{Cpus: 1, MemoryMB: 1024}, Demand: "cm#7", Count: 2, Offer: scale.OfferKey{Loc: loc, Flavor: "m1.small"}, PerVM: 2}}}},
	}
}

func TestStatusAndNodes(t *testing.T) {
	s := newSite(t, siteConfig)
	now := time.Now()
	bin := fakeCondor(t, []classad.Ad{sampleReport(now.Add(-5 * time.Second)).Ad(3)})
	out, stderr, err := s.run(t, bin, "status")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"provisioner demo@cm: last cycle", "(every 20s, took 250ms): OK", "demand: 4 idle jobs", "alpha/RegionOne          1 booting, 1 busy", "create 2 × alpha/RegionOne m1.small: 4 idle jobs of 1 cpu/1024 MB from cm#7"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, _, err = s.run(t, bin, "status", "--json")
	var st struct {
		Found  bool `json:"found"`
		Stale  bool `json:"stale"`
		Report struct {
			Nodes []any `json:"nodes"`
		} `json:"report"`
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || !st.Found || st.Stale || len(st.Report.Nodes) != 2 {
		t.Errorf("json: %v %+v\n%s", err, st, out)
	}
	out, _, err = s.run(t, bin, "nodes")
	if err != nil || !strings.HasPrefix(out, "NAME                CLOUD/REGION     FLAVOR    VM       HTCONDOR    JOBS  AGE    IDLE\n") ||
		!strings.Contains(out, "ehos-demo-5e6f7a8b  alpha/RegionOne  m1.small  booting  not joined  0     45s    -") {
		t.Errorf("nodes: %v\n%s", err, out)
	}

	// A fresher EHOSProvisioner ad that a worker's token stored (through a
	// startd update): ignored, counted.
	forged := sampleReport(now)
	forged.Nodes = forged.Nodes[:1]
	fad := forged.Ad(9)
	fad["AuthenticatedIdentity"] = classad.String("ehos-demo-9@cm")
	bin = fakeCondor(t, []classad.Ad{fad, sampleReport(now.Add(-5 * time.Second)).Ad(3)})
	out, _, err = s.run(t, bin, "status")
	if err != nil || !strings.Contains(out, "alpha/RegionOne          1 booting, 1 busy") || !strings.Contains(out, "1 EHOSProvisioner ads from other identities ignored: ehos-demo-9@cm") {
		t.Errorf("forged provisioner ad: %v\n%s", err, out)
	}

	// A stale ad: flagged, exit 1.
	bin = fakeCondor(t, []classad.Ad{sampleReport(now.Add(-2 * time.Minute)).Ad(4)})
	out, _, err = s.run(t, bin, "status")
	// The age counts from when the command runs, a second or two after
	// the ad was made on a loaded machine.
	if exitCode(err) != 1 || !regexp.MustCompile(`STALE: the provisioner's last cycle was 2m[0-9]s ago \(cycle 20s\)`).MatchString(out) {
		t.Errorf("stale: %v\n%s", err, out)
	}
	// No ad.
	bin = fakeCondor(t, nil)
	out, _, err = s.run(t, bin, "status")
	if exitCode(err) != 1 || !strings.Contains(out, "provisioner: MISSING") {
		t.Errorf("missing: %v\n%s", err, out)
	}
	// No HTCondor at all.
	_, _, err = s.run(t, "", "status")
	if err == nil || !strings.Contains(err.Error(), "condor_config_val") {
		t.Errorf("no HTCondor: %v", err)
	}
}

// TestNodesOfALargePool: when the ad leaves the per-node rows out, ehos
// nodes says so instead of printing an empty table as if there were none.
func TestNodesOfALargePool(t *testing.T) {
	s := newSite(t, siteConfig)
	rep := sampleReport(time.Now())
	for i := range 2000 {
		n := rep.Nodes[0]
		n.Name, n.ID = fmt.Sprintf("ehos-demo-%08d", i), fmt.Sprintf("3f2b1c9e-0000-0000-0000-%012d", i)
		rep.Nodes = append(rep.Nodes, n)
	}
	bin := fakeCondor(t, []classad.Ad{rep.Ad(1)})
	_, stderr, err := s.run(t, bin, "nodes")
	if err != nil || !strings.Contains(stderr, "warning: the provisioner's ad leaves out its 2002 nodes to stay under 256 KB") {
		t.Errorf("nodes: %v\n%s", err, stderr)
	}
}

func TestMetrics(t *testing.T) {
	s := newSite(t, siteConfig)
	bin := fakeCondor(t, []classad.Ad{sampleReport(time.Now().Add(-5 * time.Second)).Ad(3)})
	out, stderr, err := s.run(t, bin, "metrics")
	if err != nil || !strings.Contains(out, "\nehos_up 1\n") || !strings.Contains(out, "ehos_idle_jobs 4\n") || !strings.Contains(out, `ehos_nodes{state="booting"} 1`) {
		t.Errorf("metrics: %v %s\n%s", err, stderr, out)
	}
	file := filepath.Join(t.TempDir(), "ehos.prom")
	out, _, err = s.run(t, bin, "metrics", "--output", file)
	b, rerr := os.ReadFile(file)
	if err != nil || out != "" || rerr != nil || !strings.Contains(string(b), `ehos_region_vms{cloud="alpha",region="RegionOne"} 2`) {
		t.Errorf("--output: %v, stdout %q, file %v:\n%s", err, out, rerr, b)
	}
	// No HTCondor: ehos_up 0 written, and the command fails.
	_, _, err = s.run(t, "", "metrics", "--output", file)
	b, _ = os.ReadFile(file)
	if err == nil || !strings.Contains(string(b), "\nehos_up 0\n") || !strings.Contains(string(b), "# reading the collector: ") {
		t.Errorf("no HTCondor: %v\n%s", err, b)
	}
	if _, _, err := s.run(t, bin, "metrics", "--listen", "127.0.0.1:0", "--output", file); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Errorf("--listen with --output: %v", err)
	}
}

func TestMetricsListen(t *testing.T) {
	s := newSite(t, siteConfig)
	bin := fakeCondor(t, []classad.Ad{sampleReport(time.Now()).Ad(1)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		app := newAppWith(io.Discard, io.Discard, &deps{})
		done <- app.RunContext(ctx, []string{"ehos", "--config", s.config, "--clouds", s.clouds, "--condor-bin", bin, "metrics", "--listen", addr})
	}()
	var body []byte
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		break
	}
	if !strings.Contains(string(body), "\nehos_up 1\n") {
		t.Errorf("scrape of %s:\n%s", addr, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the metrics server did not stop")
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("still serving after it stopped")
	}
}

func TestStatusWatchPlain(t *testing.T) {
	s := newSite(t, siteConfig)
	bin := fakeCondor(t, []classad.Ad{sampleReport(time.Now()).Ad(1)})
	var o, e bytes.Buffer
	app := newAppWith(&o, &e, &deps{})
	ctx, cancel := contextWithTimeout(250 * time.Millisecond)
	defer cancel()
	err := app.RunContext(ctx, []string{"ehos", "--config", s.config, "--condor-bin", bin, "status", "--watch", "--interval", "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(o.String(), "---- "); n < 2 || strings.Contains(o.String(), "\x1b[") {
		t.Errorf("want ≥2 plain redraws, got %d:\n%s", n, o.String())
	}
}

func TestImageBuildAndMasterDeploy(t *testing.T) {
	s := newSite(t, siteConfig)
	out, stderr, err := s.run(t, "", "image", "build", "--region", "RegionTwo", "--source-image", "debian-12", "--name", "ehos-base-test", "--poll", "10ms")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	f := strings.Fields(out)
	if len(f) != 3 || f[0] != "alpha/RegionTwo" || f[1] != "ehos-base-test" {
		t.Errorf("image build printed %q", out)
	}
	if !strings.Contains(stderr, filepath.Join("cloudinit", "base.yaml")) {
		t.Errorf("does not say which template: %s", stderr)
	}
	if len(s.srv.Servers("RegionTwo")) != 0 {
		t.Error("build VM left behind")
	}
	// A missing source image fails and leaves nothing.
	_, _, err = s.run(t, "", "image", "build", "--region", "RegionOne", "--source-image", "nope", "--poll", "10ms")
	if exitCode(err) != 1 || len(s.srv.Servers("RegionOne")) != 0 {
		t.Errorf("missing source image: %v", err)
	}

	out, stderr, err = s.run(t, "", "master", "deploy", "--region", "RegionOne", "--poll", "10ms")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if f := strings.Fields(out); len(f) < 3 || f[0] != "ehos-master-demo" || !strings.HasPrefix(f[2], "10.0.0.") {
		t.Errorf("master deploy printed %q", out)
	}
	vms := s.srv.Servers("RegionOne")
	if len(vms) != 1 || vms[0].Metadata[cloud.MetaPool] != "" {
		t.Errorf("master VM: %+v", vms)
	}
}

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	app := newApp(&bytes.Buffer{}, &bytes.Buffer{})
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			if len(c.Subcommands) > 0 {
				walk(prefix+c.Name+" ", c.Subcommands)
				continue
			}
			if c.Name == "simulate" {
				continue // the sim helper's command: its examples are its own business
			}
			if c.UsageText == "" || !strings.HasPrefix(c.UsageText, "ehos ") {
				t.Errorf("ehos %s%s: no examples in UsageText", prefix, c.Name)
			}
			var o bytes.Buffer
			a := newApp(&o, &o)
			args := append([]string{"ehos"}, strings.Fields(prefix+c.Name)...)
			if err := a.Run(append(args, "--help")); err != nil || !strings.Contains(o.String(), "ehos ") {
				t.Errorf("%v --help: %v\n%s", args, err, o.String())
			}
		}
	}
	walk("", app.Commands)
}

func TestVerbosityAndVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "ehos ") {
		t.Errorf("version: %v %q", err, out)
	}
	s := newSite(t, siteConfig)
	_, stderr, _ := s.run(t, "", "clouds", "check")
	if strings.Contains(stderr, "INF") {
		t.Errorf("info logged without -v:\n%s", stderr)
	}
	_, stderr, _ = s.run(t, "", "-v", "config", "check")
	if !strings.Contains(stderr, "INF") {
		t.Errorf("no info with -v:\n%s", stderr)
	}
	_, stderr, _ = s.run(t, "", "-vv", "status")
	_ = stderr // -vv parses (debug level); nothing to assert beyond no panic
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
