package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/integration/netns"
	"github.com/ehos-project/ehos/integration/vmagent"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/provision"
)

// StackOptions shape a whole ehos on one machine: the loopback pool with
// the provisioner under its condor_master, the demand job in its schedd, and
// the local OpenStack API whose servers are real workers.
type StackOptions struct {
	// Clouds is the clouds: section of ehos.yaml (YAML, indented as a list
	// under "clouds:"). Default: alpha RegionOne+RegionTwo and beta, flavors
	// m1.small and m1.medium.
	Clouds string
	// Scaling is the scaling: section (YAML mapping lines, indented two
	// spaces). Default: fast test values.
	Scaling string
	// BootDelay is how long servers stay in BUILD. Default 1s.
	BootDelay time.Duration
	// Faults per region, set before the provisioner starts.
	Faults map[string]localcloud.Faults
	// Quota for every region (default localcloud.DefaultQuota).
	Quota *localcloud.Quota
	// WorkerConfig is appended to every VM's HTCondor config.
	WorkerConfig string
	// CloudInit boots workers through Debian's real cloud-init
	// (localcloud.CloudInitRunner on the root of scripts/install-cloudinit.sh):
	// NoCloud seed with the rendered user-data, cloud-init's stages and
	// modules, whose runcmd starts HTCondor. Off, the project's own
	// write_files applier (localcloud.CondorRunner) starts condor_master
	// from the user-data's HTCondor files: quicker, and all that needs is
	// the HTCondor root. With OwnHosts, each cloud-init VM boots on a test
	// host of its own.
	CloudInit bool
	// NoDemandJob leaves the demand reporter out.
	NoDemandJob bool
	// NoCollectorRules switches the shipped COLLECTOR_REQUIREMENTS off (the
	// rest of the shipped trust rules stay), for a test of what the
	// provisioner's own checks stand against.
	NoCollectorRules bool
	// External runs the stack against a real OpenStack instead of the
	// local API: Clouds must then name its clouds.yaml entries, and a
	// vmagent.Agent makes its servers real workers. BootDelay, Faults and
	// Quota do not apply.
	External *ExternalCloud
	// OwnHosts puts the central manager on a test host of its own
	// (integration/netns), with the provisioner and the local cloud's API
	// (on that host's loopback), and every worker VM on another, each
	// behind a firewall letting in only 9618 (netns.HTCondorGroup, the
	// security group docs/network.md advises): pool.central_manager, and so
	// the workers' <host_ip> and CONDOR_HOST, is the central manager's
	// address, collector_port 9618. Not with External. EHOS_OWN_HOSTS=1
	// turns it on for every stack.
	OwnHosts bool
	// NATRegions, with OwnHosts, puts the central manager behind a
	// floating address and each listed region's VMs on a private network
	// of its own behind a masquerading router, letting nothing in
	// (netns.Sites; natstack.go). pool.central_manager is then the
	// floating address, and "{cm_addr}" in Clouds the central manager's
	// private one (for a region on its own network).
	NATRegions []string
	// CMConfig is appended to the central manager's HTCondor config, after
	// the stack's own lines (so it overrides them).
	CMConfig string
	// Pool is appended to ehos.yaml's pool section (indented key lines,
	// such as "  ha_peer: 127.0.0.1:9700\n").
	Pool string
}

// ExternalCloud is a real OpenStack for StackOptions.External.
type ExternalCloud struct {
	// CloudsFile is the clouds.yaml the provisioner reads; it must also
	// hold AdminCloud.
	CloudsFile string
	// AdminCloud is the entry the VM agent uses: an admin that lists every
	// project's servers and reads their user-data.
	AdminCloud string
	// Region of the servers; default RegionOne.
	Region string
}

// Stack is a running ehos on loopback.
type Stack struct {
	Pool       *Pool
	Cloud      *localcloud.Server // nil with StackOptions.External
	Agent      *vmagent.Agent     // only with StackOptions.External
	Dir        string
	ConfigFile string         // ehos.yaml
	CloudsFile string         // clouds.yaml
	Bin        string         // the ehos binaries
	Network    *netns.Network // with StackOptions.OwnHosts
	CMHost     *netns.Host    // the central manager's host, with OwnHosts
	Sites      *netns.Sites   // with StackOptions.NATRegions
}

const defaultStackClouds = `  - name: alpha
    regions: [RegionOne, RegionTwo]
    image: ehos-worker
    flavors: [m1.small, m1.medium]
    network: private
    key_pair: ehos-key
    security_groups: [ehos]
    weight: 2
  - name: beta
    image: ehos-worker
    flavors: [m1.small, m1.medium]
    network: private
    security_groups: [ehos]
`

const defaultStackScaling = `  min: 0
  max: 6
  max_booting: 6
  max_creates_per_cycle: 6
  cycle: 3s
  idle_before_retire: 15s
  boot_timeout: 90s
  drain_timeout: 10m
  delete_timeout: 20s
  orphan_grace: 30s
  backoff_initial: 5s
  backoff_max: 30s
`

// StartStack brings everything up and stops it all in t.Cleanup. The ehos
// binaries must be built (make build) into the repository's bin/.
func StartStack(t testing.TB, o StackOptions) *Stack {
	t.Helper()
	inst := RequireCondor(t)
	bin := filepath.Join(inst.Repo, "bin")
	for _, b := range []string{"ehos", "ehos_provisioner", "ehos_demand", "ehos_startd_cron"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Fatalf("%s not built: run make build first (%v)", b, err)
		}
	}
	o = o.withDefaults()
	s := &Stack{Dir: makeDir(t, "stack"), Bin: bin}

	// The local cloud first: its clouds.yaml goes into ehos.yaml's world.
	runner := s.vmRunner(t, inst, o)
	s.CloudsFile = filepath.Join(s.Dir, "clouds.yaml")
	if o.External != nil {
		s.startAgent(t, o.External, runner)
	} else {
		s.startLocalCloud(t, o, runner)
	}
	os.Chown(s.CloudsFile, PoolUID, PoolUID)
	os.Chmod(s.CloudsFile, 0o600)

	s.ConfigFile = filepath.Join(s.Dir, "ehos.yaml")
	s.startCentralManager(t, inst, o)
	if !o.NoDemandJob {
		s.submitDemandJob(t)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provisioner log tail:\n%s", tail(s.provisionerLogFile(), 40))
		}
	})
	return s
}

// withDefaults fills in the default clouds, scaling and boot delay, and
// EHOS_OWN_HOSTS=1 (the whole stack suite across a network).
func (o StackOptions) withDefaults() StackOptions {
	if o.Clouds == "" {
		o.Clouds = defaultStackClouds
	}
	if o.Scaling == "" {
		o.Scaling = defaultStackScaling
	}
	if o.BootDelay == 0 {
		o.BootDelay = time.Second
	}
	if os.Getenv("EHOS_OWN_HOSTS") == "1" && o.External == nil {
		o.OwnHosts = true
	}
	return o
}

// vmRunner makes the runner that turns the cloud's servers into workers
// (CondorRunner, or real cloud-init with o.CloudInit), and with o.OwnHosts
// the test network, the central manager's host and the NAT sites.
func (s *Stack) vmRunner(t testing.TB, inst *Install, o StackOptions) localcloud.VMRunner {
	t.Helper()
	vms := filepath.Join(s.Dir, "vms")
	mkdirOwned(t, vms, 0o755)
	cr := WorkerRunner(inst, vms, s.Bin, o.WorkerConfig)
	if o.OwnHosts {
		if o.External != nil {
			t.Fatal("StackOptions: OwnHosts with External is not supported")
		}
		s.Network = RequireNetwork(t)
		s.CMHost = AddHost(t, s.Network, "cm", netns.HTCondorGroup...)
		cr.Hosts, cr.Firewall = s.Network, netns.HTCondorGroup
		cr.StartMasterIn = func(ctx context.Context, cfg, ns string) (localcloud.Stopper, error) {
			return StartMasterIn(ctx, inst, cfg, ns)
		}
		if len(o.NATRegions) > 0 {
			s.startSites(t, cr, o.NATRegions)
		}
	}
	if !o.CloudInit {
		return cr
	}
	if o.External != nil {
		t.Fatal("StackOptions: CloudInit with External is not supported")
	}
	ciRoot := RequireCloudInit(t)
	return &localcloud.CloudInitRunner{
		Dir: vms,
		Boot: func(ctx context.Context, vmDir, hostname, netNS string, console io.Writer) (localcloud.Stopper, error) {
			// The image's ehos binaries are this build's; /tmp is shared
			// with the pool (as on CondorRunner) so FS authentication
			// works between the central manager and the VM on one
			// machine (across hosts too: the filesystem is one).
			return StartCloudInitVM(ctx, inst, CloudInitVM{Root: ciRoot, Dir: vmDir, Hostname: hostname, NetNS: netNS,
				Binds: []string{s.Bin + ":/usr/local/libexec/ehos:ro", "/tmp:/tmp"}, Console: console})
		},
		ExtraConfig: cr.ExtraConfig,
		// With OwnHosts, each VM on a host of its own behind 9618 only.
		Hosts: cr.Hosts, Firewall: cr.Firewall,
	}
}

// startCentralManager writes ehos.yaml and starts the pool whose
// condor_master runs the provisioner. ehos.yaml is complete before the
// provisioner's first start: the collector's address is chosen first. (A
// placeholder port once let the first provisioner boot VMs pointed at a
// dead collector in the second before it was restarted; they never joined
// and ate the boot timeout.)
func (s *Stack) startCentralManager(t testing.TB, inst *Install, o StackOptions) {
	t.Helper()
	extra, err := s.cmConfig(inst.Repo, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.CMHost == nil {
		port := freePort(t)
		writeOwned(t, s.ConfigFile, []byte(s.ehosYAML("127.0.0.1", port, o)), 0o600)
		s.Pool = StartPool(t, PoolOptions{ExtraConfig: extra, Port: port})
		return
	}
	// On its own host the address and port are known now: the workers
	// reach the central manager where users' do.
	cm := s.CMHost.Addr
	if s.Sites != nil {
		cm, extra = s.Sites.Floating, extra+cmBehindFloatingConfig(s.Sites.Floating, s.CMHost.Addr, cmNetworkName)
		o.Clouds = strings.ReplaceAll(o.Clouds, "{cm_addr}", s.CMHost.Addr)
	}
	writeOwned(t, s.ConfigFile, []byte(s.ehosYAML(cm, netns.HTCondorPort, o)), 0o600)
	s.Pool = StartPool(t, PoolOptions{ExtraConfig: extra, Host: s.CMHost})
}

// cmConfig is what a stack's central manager adds to a test pool's: the
// provisioner under condor_master (EHOS_CONFIG points it at ehos.yaml), the
// shipped snippet's trust rules, offline ad log and token revocation, then
// the test's own lines (cmDepartures lists where they differ from the
// shipped snippet), o.NoCollectorRules and o.CMConfig.
func (s *Stack) cmConfig(repo string, o StackOptions) (string, error) {
	shipped, err := shippedLines(repo, shippedCM, append([]string{"COLLECTOR_PERSISTENT_AD_LOG", "EHOS_TOKEN_REVOCATION_FILE",
		"include ifexist : $(EHOS_TOKEN_REVOCATION_FILE)"}, trustRules...)...)
	if err != nil {
		return "", err
	}
	c := fmt.Sprintf(`
DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD, EHOS_PROVISIONER
EHOS_PROVISIONER = %s/ehos_provisioner
EHOS_PROVISIONER_ARGS = --clouds-file %s
EHOS_CONFIG = %s
EHOS_PROVISIONER_LOG = %s
MASTER_BACKOFF_CONSTANT = 1
MASTER_EHOS_PROVISIONER_BACKOFF_CONSTANT = 1
`, s.Bin, s.CloudsFile, s.ConfigFile, s.provisionerLogFile()) + shipped + testProvisionerIdentity
	if o.NoCollectorRules {
		c += "COLLECTOR_REQUIREMENTS = True\n"
	}
	return c + o.CMConfig, nil
}

// WorkerRunner makes the local cloud's servers real workers: each one a
// condor_master in the HTCondor root, as the pool user, configured from the
// server's rendered user-data, with the ehos hook binaries from bin and
// quick test intervals (plus extra). VM roots go under dir.
func WorkerRunner(inst *Install, dir, bin, extra string) *localcloud.CondorRunner {
	return &localcloud.CondorRunner{
		Dir: dir, UID: PoolUID, GID: PoolUID,
		StartMaster: func(ctx context.Context, cfg string) (localcloud.Stopper, error) {
			return StartMaster(ctx, inst, cfg)
		},
		PathMap:     map[string]string{"/usr/local/libexec/ehos": bin},
		ExtraConfig: vmTestConfig + extra,
	}
}

// vmTestConfig follows a local cloud worker's own configuration (its
// rendered user-data): quick intervals, the hook every 5 s, testRetirement
// (vmDepartures lists where it differs from the shipped worker snippet).
const vmTestConfig = quickIntervals + "STARTD_CRON_EHOS_PERIOD = 5s\n" + testRetirement

// startLocalCloud starts the local OpenStack API with runner making its
// servers real, and writes its clouds.yaml.
func (s *Stack) startLocalCloud(t testing.TB, o StackOptions, runner localcloud.VMRunner) {
	t.Helper()
	q := localcloud.DefaultQuota
	if o.Quota != nil {
		q = *o.Quota
	}
	lo := localcloud.Options{BootDelay: o.BootDelay, Runner: runner, Quota: q, Logf: t.Logf}
	if s.CMHost != nil {
		lo.Listen = s.CMHost.Listen // the provisioner calls it from there
	}
	srv, err := localcloud.Start(lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s.Cloud = srv
	for region, f := range o.Faults {
		if err := srv.SetFaults(region, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.WriteCloudsYAML(s.CloudsFile); err != nil {
		t.Fatal(err)
	}
}

// startAgent copies the external cloud's clouds.yaml for the provisioner and
// starts a VM agent (stopped, with every worker it started, in t.Cleanup).
func (s *Stack) startAgent(t testing.TB, e *ExternalCloud, runner localcloud.VMRunner) {
	t.Helper()
	b, err := os.ReadFile(e.CloudsFile)
	if err != nil {
		t.Fatalf("external cloud: %v", err)
	}
	if err := os.WriteFile(s.CloudsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	region := e.Region
	if region == "" {
		region = "RegionOne"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := vmagent.ComputeClient(ctx, e.CloudsFile, e.AdminCloud, region)
	if err != nil {
		t.Fatalf("external cloud: %v", err)
	}
	s.Agent = &vmagent.Agent{Compute: c, Runner: runner, Pool: "demo", Cloud: e.AdminCloud, Region: region, Logf: t.Logf}
	actx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Agent.Run(actx) }()
	t.Cleanup(func() { stop(); <-done })
}

func (s *Stack) ehosYAML(cm string, port int, o StackOptions) string {
	return fmt.Sprintf(`pool:
  name: demo
  owner: stack
  central_manager: %s
  collector_port: %d
  uid_domain: %s
  trust_domain: %[3]s
%sscaling:
%sclouds:
%sworker:
  token_identity: "%s"
  token_lifetime: 2h
log:
  format: json
  level: debug
`, cm, port, Domain, o.Pool, o.Scaling, o.Clouds, VMIdentity)
}

func (s *Stack) submitDemandJob(t testing.TB) {
	t.Helper()
	jobDir := filepath.Join(s.Dir, "demand-job")
	mkdirOwned(t, jobDir, 0o755)
	sub := fmt.Sprintf(`universe = scheduler
executable = %s/ehos_demand
arguments = --interval 2s --lifetime 12s --pool demo
initialdir = %s
output = EHOSDemandOut
error = EHOSDemandLog
log = EHOSDemandEvents
on_exit_remove = False
environment = "CONDOR_CONFIG=%s"
+EHOSReporter = True
queue 1
`, s.Bin, jobDir, s.Pool.ConfigFile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Pool.Client().Submit(ctx, sub); err != nil {
		t.Fatalf("submit the demand job: %v", err)
	}
}

// ProvisionerPID finds the running provisioner of this stack (by the
// EHOS_CONFIG path in its environment), 0 when none runs.
func (s *Stack) ProvisionerPID() int { return provisionerPIDOf(s.Pool.ConfigFile) }

// provisionerPIDOf is the pid of the ehos_provisioner whose CONDOR_CONFIG
// (or another variable of its environment) is config, 0 when none runs.
func provisionerPIDOf(config string) int {
	out, _ := exec.Command("pgrep", "-f", "ehos_provisioner").Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		fmt.Sscan(f, &pid)
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && strings.Contains(string(env), "="+config+"\x00") {
			return pid
		}
	}
	return 0
}

func (s *Stack) signalProvisioner(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.Pool.waitFor(t, 30*time.Second, "the provisioner process", func(context.Context) (bool, error) {
		return s.ProvisionerPID() != 0, nil
	})
	syscall.Kill(s.ProvisionerPID(), sig)
}

// KillProvisioner sends SIGKILL to the provisioner; condor_master starts it
// again.
func (s *Stack) KillProvisioner(t testing.TB) { s.signalProvisioner(t, syscall.SIGKILL) }

// Report reads the provisioner's latest report from its ad.
func (s *Stack) Report(ctx context.Context) (provision.Report, error) {
	ads, err := s.Pool.Client().Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: "MyType == " + classad.Quote(provision.AdType)})
	if err != nil {
		return provision.Report{}, err
	}
	if len(ads) == 0 {
		return provision.Report{}, fmt.Errorf("no %s ad yet", provision.AdType)
	}
	return provision.ReportFromAd(ads[0])
}

// Servers lists every server of the local cloud, all regions; with an
// external cloud, every server of the pool that Nova lists (nil when the
// listing fails).
func (s *Stack) Servers() []localcloud.ServerInfo {
	var out []localcloud.ServerInfo
	if s.Agent != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := s.Agent.List(ctx)
		if err != nil {
			return nil
		}
		running := map[string]bool{}
		for _, id := range s.Agent.Running() {
			running[id] = true
		}
		for _, v := range list {
			out = append(out, localcloud.ServerInfo{ID: v.ID, Name: v.Name, Region: s.Agent.Region, Status: v.Status, Metadata: v.Metadata, Running: running[v.ID]})
		}
		return out
	}
	for _, r := range s.Cloud.Regions() {
		out = append(out, s.Cloud.Servers(r)...)
	}
	return out
}

// WaitNoVMs waits until the cloud lists no server of the stack (the pool
// scaled back to zero).
func (s *Stack) WaitNoVMs(t testing.TB, timeout time.Duration) {
	t.Helper()
	s.Pool.WaitFor(t, timeout, "every VM deleted (scaled back to min 0)", func(context.Context) (bool, error) {
		return len(s.Servers()) == 0, nil
	})
}

// ProvisionerLog is the provisioner's log so far.
func (s *Stack) ProvisionerLog() string {
	b, _ := os.ReadFile(s.provisionerLogFile())
	return string(b)
}

func (s *Stack) provisionerLogFile() string { return filepath.Join(s.Dir, "EHOSProvisionerLog") }

// WaitJobsDone waits until every job of cluster has left the queue.
func (s *Stack) WaitJobsDone(t testing.TB, cluster int, timeout time.Duration) {
	t.Helper()
	cl := s.Pool.Client()
	s.Pool.WaitFor(t, timeout, fmt.Sprintf("cluster %d to complete on ehos workers", cluster), func(ctx context.Context) (bool, error) {
		ads, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return err == nil && len(ads) == 0, err
	})
}

// JobHosts returns the slots cluster's jobs last ran on (condor_history),
// and fails the test for any that is not an ehos worker of this stack.
func (s *Stack) JobHosts(t testing.TB, cluster int) map[string]bool {
	t.Helper()
	out, err := s.Pool.Client().Run(context.Background(), "condor_history", fmt.Sprint(cluster), "-af", "LastRemoteHost")
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		hosts[l] = true
		if !strings.Contains(l, "ehos-demo-") {
			t.Errorf("a job ran on %q, not an ehos worker", l)
		}
	}
	return hosts
}
