package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

type env struct {
	srv  *localcloud.Server
	opts openstack.Options
	dir  string
}

func start(t *testing.T) *env {
	t.Helper()
	srv, err := localcloud.Start(localcloud.Options{BootDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	path := filepath.Join(dir, "clouds.yaml")
	if err := srv.WriteCloudsYAML(path); err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, opts: openstack.Options{CloudsFile: path, Timeout: 5 * time.Second}, dir: dir}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func alpha() cloud.Config {
	return cloud.Config{Name: "alpha", Regions: []string{"RegionOne", "RegionTwo"}, Image: "ehos-worker",
		Flavors: []string{"m1.small", "m1.medium"}, Network: "private", KeyPair: "ehos-key", SecurityGroups: []string{"ehos"}}
}

// brokered is a pool whose central manager workers reach at a public
// address, on a network of its own: every cloud's workers are brokered.
var brokered = Net{Pool: config.Pool{CentralManager: "203.0.113.10"}, CMNetwork: "demo-cm"}

// direct makes region of c share the central manager's network.
func direct(c cloud.Config, region string) cloud.Config {
	if c.RegionOverrides == nil {
		c.RegionOverrides = map[string]cloud.RegionConfig{}
	}
	c.RegionOverrides[region] = cloud.RegionConfig{PrivateNetwork: brokered.CMNetwork, CentralManager: "10.0.0.10"}
	return c
}

func text(fs Findings) string {
	var b bytes.Buffer
	fs.Write(&b)
	return b.String()
}

func TestCheckCloudsAllGood(t *testing.T) {
	e := start(t)
	fs := CheckClouds(ctx(t), []cloud.Config{direct(alpha(), "RegionTwo")}, brokered, e.opts)
	if fs.Failed() != 0 {
		t.Fatalf("failures:\n%s", text(fs))
	}
	out := text(fs)
	for _, want := range []string{"alpha/RegionTwo: image \"ehos-worker\"", "allow 22/tcp from admins", "quota: room for",
		"OK   alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 203.0.113.10",
		"OK   alpha/RegionTwo: topology direct: workers share the central manager's network demo-cm, join it at 10.0.0.10",
		"OK   alpha/RegionTwo: security groups [ehos] allow 9618/tcp from the nodes",
		// The local cloud's group lets 9618 in from itself, as the flat
		// network wanted it: brokered workers do not need it, nobody UDP.
		"WARN alpha/RegionOne: security groups [ehos] let 9618/tcp in from group ",
		"WARN alpha/RegionTwo: security groups [ehos] let 9618/udp in from group ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "peer") {
		t.Errorf("a pool without an HA peer is told of one:\n%s", out)
	}
}

// In a pool of two central managers each region's topology line names
// the peer its workers are told, and a peer brokered workers cannot reach
// is warned of where it is told, not elsewhere.
func TestCheckCloudsNamesTheHAPeer(t *testing.T) {
	e := start(t)
	n := brokered
	n.Pool.HAPeer = "10.0.0.11"
	c := direct(alpha(), "RegionTwo")
	o := c.RegionOverrides["RegionTwo"]
	o.HAPeer = "10.0.0.12"
	c.RegionOverrides["RegionTwo"] = o
	fs := CheckClouds(ctx(t), []cloud.Config{c}, n, e.opts)
	out := text(fs)
	for _, want := range []string{
		"OK   alpha/RegionOne: topology brokered: workers on network alpha.RegionOne.private join the collector at 203.0.113.10 (and its HA peer 10.0.0.11) and are claimed through it (CCB)",
		"WARN alpha/RegionOne: HA peer 10.0.0.11 is a private address and these workers on network alpha.RegionOne.private are not on the central manager's network demo-cm",
		"fix: give clouds[].ha_peer (region_overrides.REGION.ha_peer) the other central manager's floating IP or DNS name",
		"OK   alpha/RegionTwo: topology direct: workers share the central manager's network demo-cm, join it at 10.0.0.10 (and its HA peer 10.0.0.12) and are claimed directly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WARN alpha/RegionTwo: HA peer") || fs.Failed() != 0 {
		t.Errorf("the direct region's private peer is right there:\n%s", out)
	}
}

func TestCheckCloudsWarnsOfAnInstanceQuotaSmallFlavorsUseUp(t *testing.T) {
	e := start(t)
	q := localcloud.DefaultQuota // 20 instances, 40 cores: no warning
	out := text(CheckClouds(ctx(t), []cloud.Config{alpha()}, brokered, e.opts))
	if strings.Contains(out, "WARN alpha/RegionTwo: quota") {
		t.Errorf("warning with the default quota:\n%s", out)
	}
	q.Instances = 5
	if err := e.srv.SetQuota("RegionTwo", q); err != nil {
		t.Fatal(err)
	}
	fs := CheckClouds(ctx(t), []cloud.Config{alpha()}, brokered, e.opts)
	out = text(fs)
	want := "WARN alpha/RegionTwo: quota: 5 instances of m1.small (1 vcpu) would use 5 of 40 cores: small jobs on the cheapest flavor can use up the instances while larger jobs wait — fix: list only flavors that hold several jobs (e.g. m1.medium)"
	if !strings.Contains(out, want) || strings.Contains(out, "WARN alpha/RegionOne: quota") || fs.Failed() != 0 {
		t.Errorf("want one warning for RegionTwo, no failure:\n%s", out)
	}
}

func TestCheckCloudsBadInput(t *testing.T) {
	e := start(t)
	for _, r := range []string{"RegionOne", "RegionTwo"} {
		if _, err := e.srv.DropSecurityRules(r, "ehos", "tcp", 9618); err != nil {
			t.Fatal(err)
		}
	}
	bad := direct(alpha(), "RegionOne")
	bad.Image = "no-such-image"
	bad.Flavors = []string{"m1.small", "m9.huge"}
	bad.KeyPair = "admin-key"
	fs := CheckClouds(ctx(t), []cloud.Config{bad}, brokered, e.opts)
	out := text(fs)
	for _, want := range []string{
		`FAIL alpha/RegionOne: image "no-such-image"`,
		`FAIL alpha/RegionOne: flavor "m9.huge"`,
		`FAIL alpha/RegionOne: key pair "admin-key"`,
		`FAIL alpha/RegionOne: security groups [ehos]: no ingress rule allows 9618/tcp from the central manager, which claims these workers directly — fix: ` + "`ehos clouds setup --cloud alpha`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "RegionTwo: security groups [ehos]: no ingress rule") {
		t.Errorf("brokered RegionTwo needs no 9618/tcp:\n%s", out)
	}
	// Exactly the injected faults: image ×2, flavor ×2, key ×2, tcp ×1.
	if fs.Failed() != 7 {
		t.Errorf("%d failures, want 7:\n%s", fs.Failed(), out)
	}
}

func TestCheckCloudsWrongCredentials(t *testing.T) {
	e := start(t)
	b, _ := os.ReadFile(e.opts.CloudsFile)
	b = bytes.ReplaceAll(b, []byte("password: alpha-secret"), []byte("password: wrong"))
	os.WriteFile(e.opts.CloudsFile, b, 0o600)
	fs := CheckClouds(ctx(t), []cloud.Config{alpha()}, brokered, e.opts)
	out := text(fs)
	if fs.Failed() != 1 || !strings.Contains(out, "FAIL alpha: authentication:") || !strings.Contains(out, "check the credentials") {
		t.Errorf("want one authentication failure with its fix:\n%s", out)
	}
	if strings.Contains(out, "wrong") {
		t.Errorf("the password leaked:\n%s", out)
	}
}

func TestSetupClouds(t *testing.T) {
	e := start(t)
	for _, r := range []string{"RegionOne", "RegionTwo"} {
		e.srv.DropSecurityRules(r, "ehos", "udp", 9618)
		e.srv.DropSecurityRules(r, "ehos", "tcp", 9618)
		e.srv.DropSecurityRules(r, "ehos", "tcp", 22)
	}
	cfg := direct(alpha(), "RegionTwo")
	cfg.KeyPair = "admin-key"
	// Without --admin-cidr no SSH rule is added, and setup says so. The
	// brokered region gets no 9618 rule, the direct one 9618/tcp.
	fs := SetupClouds(ctx(t), []cloud.Config{cfg}, brokered, e.opts, Setup{})
	out := text(fs)
	if strings.Contains(out, "22/tcp from") || !strings.Contains(out, "no rule added for 22/tcp: give --admin-cidr") ||
		!strings.Contains(out, "OK   alpha/RegionTwo: added ingress 9618/tcp from the group itself") || strings.Contains(out, "RegionOne: added ingress 9618") || strings.Contains(out, "9618/udp") {
		t.Errorf("setup without --admin-cidr:\n%s", out)
	}
	fs = SetupClouds(ctx(t), []cloud.Config{cfg}, brokered, e.opts, Setup{AdminCIDR: "192.0.2.0/24", PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIt0SRHGDwMEikyiUWKT8+WVy9mMHvJOJwPLZsTFaKB admin@host"})
	if fs.Failed() != 0 {
		t.Fatalf("setup failed:\n%s", text(fs))
	}
	out = text(fs)
	if !strings.Contains(out, "added ingress 22/tcp from 192.0.2.0/24") || !strings.Contains(out, `uploaded key pair "admin-key"`) {
		t.Errorf("setup output:\n%s", out)
	}
	if fs := CheckClouds(ctx(t), []cloud.Config{cfg}, brokered, e.opts); fs.Failed() != 0 || strings.Contains(text(fs), "WARN") {
		t.Errorf("check after setup:\n%s", text(fs))
	}
	// Idempotent.
	fs = SetupClouds(ctx(t), []cloud.Config{cfg}, brokered, e.opts, Setup{AdminCIDR: "192.0.2.0/24"})
	if fs.Failed() != 0 || strings.Contains(text(fs), "added") {
		t.Errorf("second setup:\n%s", text(fs))
	}
}

func TestCheckConfig(t *testing.T) {
	e := start(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "ehos.yaml")
	os.WriteFile(good, []byte("pool:\n  name: demo\n  central_manager: 127.0.0.1\nclouds:\n  - name: alpha\n    image: ehos-worker\n    flavors: [m1.small]\n  - name: gamma\n    image: x\n    flavors: [m1.small]\n"), 0o600)
	_, fs := CheckConfig(ctx(t), ConfigCheck{Path: good, Clouds: e.opts})
	out := text(fs)
	if fs.Failed() != 1 || !strings.Contains(out, `FAIL clouds.yaml gamma: cloud "gamma"`) || !strings.Contains(out, "OK   clouds.yaml alpha") {
		t.Errorf("want gamma missing from clouds.yaml:\n%s", out)
	}
	if !strings.Contains(out, "SKIP knobs") {
		t.Errorf("knobs not skipped without HTCondor:\n%s", out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("pool:\n  name: demo\n  central_manager: 127.0.0.1\nscaling:\n  min: 5\n  max: 2\n  cycle: -1s\nclouds:\n  - name: alpha\n    image: ehos-worker\n    flavors: []\n"), 0o600)
	_, fs = CheckConfig(ctx(t), ConfigCheck{Path: bad, Clouds: e.opts})
	if fs.Failed() < 3 {
		t.Errorf("want every problem at once (≥3):\n%s", text(fs))
	}
}

func TestStatusFromAds(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	loc := cloud.Location{Cloud: "alpha", Region: "RegionOne"}
	rep := provision.Report{Time: now.Add(-10 * time.Second), Cycle: 20 * time.Second, Duration: 300 * time.Millisecond, Pool: "demo", Owner: "cm",
		Demand: []scale.Demand{{Key: "cm#1", Need: scale.Resources{Cpus: 2, MemoryMB: 4096}, Idle: 3,
			Eligible: []scale.OfferKey{{Loc: loc, Flavor: "m1.medium"}}}},
		Nodes: []provision.NodeReport{
			{Name: "ehos-demo-aaaa", ID: "1", Location: loc, Flavor: "m1.medium", State: scale.Busy, Created: now.Add(-5 * time.Minute), Running: 2},
			{Name: "ehos-demo-bbbb", ID: "2", Location: loc, Flavor: "m1.medium", State: scale.Idle, Created: now.Add(-3 * time.Minute), IdleSince: now.Add(-90 * time.Second)},
		},
		Regions: []provision.RegionReport{{Location: loc, Listed: true, VMs: 2, BackoffUntil: now.Add(time.Minute), BackoffReason: "quota"}},
		Decision: scale.Decision{Creates: []scale.Create{{Offer: scale.OfferKey{Loc: loc, Flavor: "m1.medium"}, Count: 1,
			Reason: scale.Reason{Kind: scale.CreateForDemand, Jobs: 3, Need: scale.Resources{Cpus: 2, MemoryMB: 4096}, Demand: "cm#1", Count: 1, Offer: scale.OfferKey{Loc: loc, Flavor: "m1.medium"}, PerVM: 1}}},
			Unmet: []scale.Unmet{{Demand: "cm#1", Jobs: 1, Reason: scale.Reason{Kind: scale.UnmetNoRoom, Blocks: []scale.Block{{Limit: scale.LimitMax, Of: 2, Exists: 2}}}}}},
		Rescheduled: "1 worker(s) joined while 3 job(s) wait",
		Refused:     []provision.Refusal{{Ad: "slot1@forged@vm", Identity: "ehos-demo-cccc@d", Claimed: `EHOSName="ehos-demo-aaaa" EHOSRetire=true`, Why: "only ehos-demo-aaaa@d may speak for VM ehos-demo-aaaa"}},
	}
	st := StatusFromAds([]classad.Ad{rep.Ad(1)}, now)
	if !st.Healthy() || st.Cycle != 20*time.Second {
		t.Fatalf("fresh ad judged %+v", st)
	}
	var b bytes.Buffer
	WriteStatus(&b, st)
	for _, want := range []string{"provisioner demo@cm: last cycle 10s ago (every 20s, took 300ms): OK", "demand: 3 idle jobs", "→ alpha/RegionOne m1.medium",
		"alpha/RegionOne          1 idle, 1 busy", "backing off until", "create 1 × alpha/RegionOne m1.medium: 3 idle jobs of 2 cpu/4096 MB from cm#1", "unmet  cm#1 (1 jobs): no room: max 2 reached",
		"negotiate now: 1 worker(s) joined while 3 job(s) wait",
		"refused ads (not acted on; docs/security.md):\n  ad \"slot1@forged@vm\" from ehos-demo-cccc@d claimed EHOSName=\"ehos-demo-aaaa\" EHOSRetire=true: only ehos-demo-aaaa@d"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}

	old := rep
	old.Time = now.Add(-61 * time.Second)
	st = StatusFromAds([]classad.Ad{old.Ad(2)}, now)
	if !st.Stale || st.Healthy() || !strings.Contains(st.Problem, "STALE") {
		t.Errorf("stale ad judged %+v", st)
	}
	st = StatusFromAds(nil, now)
	b.Reset()
	WriteStatus(&b, st)
	if st.Found || !strings.Contains(b.String(), "provisioner: MISSING") {
		t.Errorf("missing ad: %s", b.String())
	}
	// Missing, but a forged one was ignored: status says so.
	st.Identity, st.Refused, st.RefusedBy = "condor@cm", 1, []string{"ehos-demo-1@cm"}
	b.Reset()
	WriteStatus(&b, st)
	if !strings.Contains(b.String(), "1 EHOSProvisioner ads from other identities ignored: ehos-demo-1@cm; only condor@cm writes") {
		t.Errorf("missing ad with a forged one ignored: %s", b.String())
	}

	b.Reset()
	WriteNodes(&b, NodeRows(rep, now))
	want := "NAME            CLOUD/REGION     FLAVOR     VM      HTCONDOR  JOBS  AGE    IDLE\n" +
		"ehos-demo-aaaa  alpha/RegionOne  m1.medium  active  busy      2     5m00s  -\n" +
		"ehos-demo-bbbb  alpha/RegionOne  m1.medium  active  idle      0     3m00s  1m30s\n"
	if b.String() != want {
		t.Errorf("nodes table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestStatusOfALargePool: a report too large for the ad leaves out the
// demand groups first, then the nodes; status still counts both, from the
// ad's own attributes.
func TestStatusOfALargePool(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	loc := cloud.Location{Cloud: "alpha", Region: "RegionOne"}
	report := func(nodes int) provision.Report {
		rep := provision.Report{Time: now.Add(-10 * time.Second), Cycle: 20 * time.Second, Pool: "demo", Owner: "cm",
			Regions: []provision.RegionReport{{Location: loc, Listed: true, VMs: nodes}}}
		for g := range 1000 {
			d := scale.Demand{Key: fmt.Sprintf("cm#%d", g), Need: scale.Resources{Cpus: 1}, Idle: 100}
			for f := range 20 {
				d.Eligible = append(d.Eligible, scale.OfferKey{Loc: loc, Flavor: fmt.Sprintf("f%02d", f)})
			}
			rep.Demand = append(rep.Demand, d)
		}
		for i := range nodes {
			rep.Nodes = append(rep.Nodes, provision.NodeReport{Name: fmt.Sprintf("ehos-demo-%05d", i), ID: fmt.Sprint(i), Location: loc, Flavor: "m1.large",
				State: []scale.NodeState{scale.Busy, scale.Busy, scale.Idle}[i%3], Created: now.Add(-time.Hour), Running: 1})
		}
		return rep
	}
	for _, tc := range []struct {
		nodes   int
		dropped []string
		want    []string
	}{
		{300, []string{"demand"}, []string{"demand: 100000 idle jobs\n  (groups left out of the ad to keep it small)", "nodes: 300\n", "alpha/RegionOne          100 idle, 200 busy"}},
		{2000, []string{"demand", "nodes"}, []string{"demand: 100000 idle jobs\n  (groups left out", "nodes: 2000\n  666 idle, 1334 busy (by region below", "alpha/RegionOne          2000 VMs"}},
	} {
		st := StatusFromAds([]classad.Ad{report(tc.nodes).Ad(1)}, now)
		if !st.Healthy() || !slices.Equal(st.Report.Dropped, tc.dropped) {
			t.Fatalf("%d nodes: healthy %v, %q; dropped %q, want %q", tc.nodes, st.Healthy(), st.Problem, st.Report.Dropped, tc.dropped)
		}
		var b bytes.Buffer
		WriteStatus(&b, st)
		for _, want := range tc.want {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%d nodes: status lacks %q:\n%s", tc.nodes, want, b.String())
			}
		}
	}
}

func openAlpha(t *testing.T, e *env) *openstack.Cloud {
	t.Helper()
	c, err := openstack.Open(ctx(t), alpha(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuildImage(t *testing.T) {
	e := start(t)
	c := openAlpha(t, e)
	ud := []byte("#cloud-config\npackages: [condor]\nfinal_message: \"EHOS-BASE-READY built after $UPTIME seconds\"\n")
	b := ImageBuild{Region: "RegionTwo", ImageName: "ehos-base-test", Poll: 10 * time.Millisecond, Timeout: 10 * time.Second,
		Boot: cloud.CreateRequest{Name: "ehos-image-build", Flavor: "m1.small", Image: "debian-12", Network: "private", UserData: ud}}
	id, err := BuildImage(ctx(t), c, b)
	if err != nil {
		t.Fatal(err)
	}
	img, err := c.ResolveImage(ctx(t), "RegionTwo", "ehos-base-test")
	if err != nil || img.ID != id || img.Status != "active" {
		t.Errorf("image %s: %+v %v", id, img, err)
	}
	if s := e.srv.Servers("RegionTwo"); len(s) != 0 {
		t.Errorf("build VM left behind: %+v", s)
	}
}

func TestBuildImageFailuresDeleteTheVM(t *testing.T) {
	e := start(t)
	c := openAlpha(t, e)
	base := ImageBuild{Region: "RegionOne", ImageName: "x", Poll: 10 * time.Millisecond, Timeout: 300 * time.Millisecond,
		Boot: cloud.CreateRequest{Name: "ehos-image-build", Flavor: "m1.small", Image: "debian-12", Network: "private"}}

	// No marker (user-data without final_message): times out.
	b := base
	b.Boot.UserData = []byte("#cloud-config\npackages: [condor]\n")
	if _, err := BuildImage(ctx(t), c, b); err == nil || !strings.Contains(err.Error(), "no EHOS-BASE-READY") {
		t.Errorf("no marker: %v", err)
	}
	// The failure marker.
	b.Boot.UserData = []byte("#cloud-config\nfinal_message: \"EHOS-BASE-FAILED: condor not installed\"\n")
	if _, err := BuildImage(ctx(t), c, b); err == nil || !strings.Contains(err.Error(), "EHOS-BASE-FAILED: condor not installed") {
		t.Errorf("failure marker: %v", err)
	}
	// A missing source image: nothing is created.
	b.Boot.Image = "no-such-image"
	if _, err := BuildImage(ctx(t), c, b); err == nil || !errors.Is(err, cloud.ErrNotFound) && !strings.Contains(err.Error(), "image") {
		t.Errorf("missing image: %v", err)
	}
	// Boot error.
	e.srv.SetFaults("RegionOne", localcloud.Faults{BootError: "No valid host was found."})
	b = base
	if _, err := BuildImage(ctx(t), c, b); err == nil || !strings.Contains(err.Error(), "No valid host") {
		t.Errorf("boot error: %v", err)
	}
	if s := e.srv.Servers("RegionOne"); len(s) != 0 {
		t.Errorf("build VMs left behind: %+v", s)
	}
}

func TestDefaultGroupDoesNotLetAdminsIn(t *testing.T) {
	e := start(t)
	cfg := alpha()
	cfg.SecurityGroups = nil // "default": ingress from itself only
	out := text(CheckClouds(ctx(t), []cloud.Config{cfg}, brokered, e.opts))
	if !strings.Contains(out, "WARN alpha/RegionOne: security groups [default] let no 22/tcp in: admins cannot log in to a worker (optional)") {
		t.Errorf("default group:\n%s", out)
	}
}

func TestCheckTemplatesSaysWhichFile(t *testing.T) {
	root := t.TempDir()
	cfg, err := config.Parse("ehos.yaml", []byte("pool:\n  name: demo\n  central_manager: 127.0.0.1\nclouds:\n  - name: alpha\n    image: x\n    flavors: [m1.small]\ntemplates:\n  etc_dir: /etc/ehos\n  share_dir: /share/ehos\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"worker.yaml", "master.yaml", "base.yaml"} {
		b, err := os.ReadFile("../../cloudinit/" + n)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, "share/ehos"), 0o755)
		os.WriteFile(filepath.Join(root, "share/ehos", n), b, 0o644)
	}
	os.MkdirAll(filepath.Join(root, "etc/ehos"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/ehos/master.yaml"), []byte("#cloud-config\nruncmd:\n  - echo <no_such_tag>\n"), 0o644)
	out := text(CheckTemplates(os.DirFS(root), cfg, ""))
	for _, want := range []string{
		"OK   template worker: /share/ehos/worker.yaml renders (shipped copy)",
		"FAIL template master: /etc/ehos/master.yaml (the admin's copy in the etc dir (wins over /share/ehos)) does not render:",
		"no_such_tag",
		"OK   template base: /share/ehos/base.yaml renders",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
}

func TestFindVMRefusesForeignOwner(t *testing.T) {
	e := start(t)
	c := openAlpha(t, e)
	e.srv.AddServers("RegionTwo", "w", 1, map[string]string{cloud.MetaPool: "demo", cloud.MetaOwner: "cm", cloud.MetaName: "ehos-demo-1"})
	e.srv.AddServers("RegionOne", "x", 1, map[string]string{cloud.MetaPool: "demo", cloud.MetaOwner: "other-cm", cloud.MetaName: "ehos-demo-2"})
	vm, err := FindVM(ctx(t), []*openstack.Cloud{c}, "demo", "cm", "ehos-demo-1")
	if err != nil || vm.VM.Location.Region != "RegionTwo" {
		t.Errorf("own VM: %+v %v", vm.VM, err)
	}
	if _, err := FindVM(ctx(t), []*openstack.Cloud{c}, "demo", "cm", "ehos-demo-2"); !errors.Is(err, ErrNotOurs) {
		t.Errorf("foreign VM: %v", err)
	}
	if _, err := FindVM(ctx(t), []*openstack.Cloud{c}, "demo", "cm", "ehos-demo-9"); err == nil {
		t.Error("unknown VM found")
	}
}

func TestAddFile(t *testing.T) {
	out, err := AddFile([]byte("#cloud-config\nwrite_files:\n  - path: /a\n    content: x\nruncmd: [true]\n"), "/usr/local/etc/ehos/ehos.yaml", "0640", []byte("pool: {name: demo}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, "#cloud-config\n") || strings.Count(s, "#cloud-config") != 1 || !strings.Contains(s, "path: '/usr/local/etc/ehos/ehos.yaml'") || !strings.Contains(s, "path: /a") || !strings.Contains(s, "runcmd:") {
		t.Errorf("got:\n%s", s)
	}
}

// doctor passes on what the provisioner met in its last cycle, with a fix
// that fits: a refused reschedule names condor_ping, anything else the log.
func TestCycleErrors(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	if fs := cycleErrors(provision.Report{Time: at}); len(fs) != 0 {
		t.Fatalf("findings for a clean cycle: %v", fs)
	}
	fs := cycleErrors(provision.Report{Time: at, Errors: []string{
		"reschedule: schedd submit1@x: condor_reschedule: PERMISSION DENIED",
		"alpha/RegionOne: limits: 503 Service Unavailable",
	}})
	if len(fs) != 2 || fs[0].Level != Warn || fs[1].Level != Warn {
		t.Fatalf("findings: %v", fs)
	}
	if !strings.Contains(fs[0].String(), "its last cycle (09:30:00 UTC) met: reschedule: schedd submit1@x") || !strings.Contains(fs[0].Fix, "condor_ping -verbose -type schedd -name SCHEDD RESCHEDULE") {
		t.Errorf("reschedule finding: %s", fs[0])
	}
	if !strings.Contains(fs[1].What, "alpha/RegionOne: limits: 503") || !strings.Contains(fs[1].Fix, "EHOSProvisionerLog") {
		t.Errorf("cloud finding: %s", fs[1])
	}
}

// doctor names every ad the provisioner refused: which ad, from whom,
// claiming what.
func TestDoctorReportsRefusedAds(t *testing.T) {
	if fs := refusals(provision.Report{}, 0); len(fs) != 1 || fs[0].Level != OK {
		t.Fatalf("findings for no refusal: %v", fs)
	}
	var rep provision.Report
	for i := 0; i < 7; i++ {
		rep.Refused = append(rep.Refused, provision.Refusal{Ad: fmt.Sprintf("slot1@forged%d", i), Identity: "ehos-demo-1a@d",
			Claimed: `EHOSName="ehos-demo-2b" EHOSRetire=true`, Why: "only ehos-demo-2b@d may speak for VM ehos-demo-2b"})
	}
	fs := refusals(rep, 0)
	if len(fs) != maxRefusalFindings+1 || fs[0].Level != Warn {
		t.Fatalf("findings: %v", fs)
	}
	s := fs[0].String()
	for _, want := range []string{"slot1@forged0", "ehos-demo-1a@d", `EHOSName="ehos-demo-2b" EHOSRetire=true`, "only ehos-demo-2b@d"} {
		if !strings.Contains(s, want) {
			t.Errorf("finding %q lacks %q", s, want)
		}
	}
	if !strings.Contains(fs[maxRefusalFindings].What, "2 more") {
		t.Errorf("last finding %q", fs[maxRefusalFindings].What)
	}
}
