package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/integration/netns"
	"github.com/ehos-project/ehos/lib/condor"
)

// Installed is a central manager installed the way a user installs one:
// a fresh copy of the HTCondor root where `make install DESTDIR=` and
// scripts/install-master.sh put the shipped binaries, config snippets,
// templates and submit file, unmodified. The only files written for the
// test are the ones an admin writes: the site file install-master.sh leaves
// for editing (this machine's port and intervals), ehos.yaml and clouds.yaml.
// Its condor_master runs as root, as an installed HTCondor does, and starts
// ehos_provisioner from the shipped knobs.
type Installed struct {
	Install *Install // the HTCondor install the root was copied from
	Root    string   // the installed central manager's root
	Dir     string   // the test directory holding Root
	Pool    string   // pool name given to install-master.sh
	Port    int      // the collector's port
	// CentralManager is the address install-master.sh was given and the
	// workers reach: 127.0.0.1, or the central manager's own host's.
	CentralManager string
	// Network and Host, with InstalledOptions.OwnHosts: the test network
	// and the central manager's host on it.
	Network *netns.Network
	Host    *netns.Host
	Cloud   *localcloud.Server
	Master  *Process
	// InstallLog is what make install and install-master.sh printed.
	InstallLog string
}

// InstalledOptions shape InstallCentralManager.
type InstalledOptions struct {
	Pool string // default "e2e"
	// EhosYAML is the admin's ehos.yaml with %[1]s for the central
	// manager's address and %[2]d for the collector port; pool.name must be
	// Pool.
	EhosYAML string
	// SiteConfig is appended to the site file install-master.sh wrote
	// (the admin's own HTCondor settings for this machine).
	SiteConfig string
	// Before runs after the install, before condor_master starts.
	Before func(t testing.TB, in *Installed)
	// OwnHosts puts the central manager on a test host of its own
	// (integration/netns, only 9618 let in), installed with that host's
	// address and HTCondor's own network defaults (the shared port 9618),
	// and every worker VM on a host of its own, as StackOptions.OwnHosts
	// does. EHOS_OWN_HOSTS=1 turns it on.
	OwnHosts bool
}

// Paths of the install, as the root sees them.
const (
	InstalledShare    = "/usr/local/share/ehos"
	InstalledLibexec  = "/usr/local/libexec/ehos"
	InstalledEhosYAML = "/usr/local/etc/ehos/ehos.yaml"
	InstalledClouds   = "/etc/openstack/clouds.yaml"
	InstalledSite     = "/etc/condor/config.d/40-ehos-central-manager-site.conf"
	installedConfig   = "/etc/condor/condor_config"
)

// InstallCentralManager installs and starts a central manager in a copy of
// the HTCondor root, with a local OpenStack API whose servers become real
// workers. Everything is stopped and removed in t.Cleanup.
func InstallCentralManager(t testing.TB, o InstalledOptions) *Installed {
	t.Helper()
	inst := RequireCondor(t)
	if o.Pool == "" {
		o.Pool = "e2e"
	}
	if os.Getenv("EHOS_OWN_HOSTS") == "1" {
		o.OwnHosts = true
	}
	in := &Installed{Install: inst, Dir: makeDir(t, "install"), Pool: o.Pool, Port: freePort(t), CentralManager: "127.0.0.1"}
	if o.OwnHosts {
		in.Network = RequireNetwork(t)
		in.Host = AddHost(t, in.Network, "cm", netns.HTCondorGroup...)
		in.CentralManager, in.Port = in.Host.Addr, netns.HTCondorPort
	}
	in.Root = filepath.Join(in.Dir, "root")
	start := time.Now()
	in.install(t)
	// The admin's files.
	site := filepath.Join(in.Root, InstalledSite)
	b, err := os.ReadFile(site)
	if err != nil {
		t.Fatalf("install-master.sh wrote no site file: %v", err)
	}
	if err := os.WriteFile(site, append(b, installedSite(in.Port, in.Host != nil, o.SiteConfig)...), 0o644); err != nil {
		t.Fatal(err)
	}
	in.startLocalCloud(t)
	if err := os.WriteFile(filepath.Join(in.Root, InstalledEhosYAML), []byte(fmt.Sprintf(o.EhosYAML, in.CentralManager, in.Port)), 0o640); err != nil {
		t.Fatal(err)
	}
	in.run(t, "", "chroot", in.Root, "chown", "root:condor", InstalledEhosYAML)
	t.Logf("installed central manager in %s in %s, at %s:%d", in.Root, time.Since(start).Round(time.Millisecond), in.CentralManager, in.Port)

	if o.Before != nil {
		o.Before(t, in)
	}
	in.startMaster(t)
	return in
}

// install copies the HTCondor root (a fresh machine with HTCondor's package
// installed, nothing of ehos yet) and runs the user's two install steps
// from the checkout in it.
func (in *Installed) install(t testing.TB) {
	t.Helper()
	repo := in.Install.Repo
	// Removed with the directory (cleanLeftovers removes it after a killed
	// run).
	in.run(t, "", "cp", "-a", in.Install.Root, in.Root)
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(in.Dir)
		}
	})
	in.InstallLog += in.run(t, repo, "make", "--no-print-directory", "install", "DESTDIR="+in.Root)
	src := filepath.Join(in.Root, "src")
	in.run(t, "", "mkdir", "-p", src)
	for _, d := range []string{"scripts", "cloudinit", "condor-config", "bin"} {
		in.run(t, "", "cp", "-a", filepath.Join(repo, d), src)
	}
	second := in.run(t, "", "chroot", in.Root, "/bin/bash", "/src/scripts/install-master.sh",
		"--pool", in.Pool, "--central-manager", in.CentralManager, "--bin", "/src/bin", "--no-start")
	in.InstallLog += second
	// make install put every file already: install-master.sh agreeing with
	// it installs none again.
	for _, l := range strings.Split(second, "\n") {
		if strings.Contains(l, "installed ") {
			t.Errorf("install-master.sh after make install replaced a file: %s", l)
		}
	}
	os.RemoveAll(src)
	// What systemd's tmpfiles would make on a booted machine.
	in.run(t, "", "chroot", in.Root, "install", "-d", "-o", "condor", "-g", "condor", "/run/condor", "/var/lock/condor")
}

// installedSite is what the test adds to the site file install-master.sh
// left for editing: on loopback this machine's own port and loopback only
// (on a host of its own the network is the site file's alone: CONDOR_HOST
// is the host's address, HTCondor's defaults the shared port 9618), then
// quick intervals and the admin's own lines (extra).
func installedSite(port int, ownHost bool, extra string) string {
	s := fmt.Sprintf("\n# --- added for this test machine (loopback only, its own port, quick intervals)\nCOLLECTOR_HOST = $(CONDOR_HOST):%d\n", port) + loopbackOnly
	if ownHost {
		s = "\n# --- added for this test host (quick intervals)\n"
	}
	return s + "MAIL = /bin/true\n" + quickIntervals + "MASTER_BACKOFF_CONSTANT = 1\n" + extra
}

// startLocalCloud starts the local OpenStack API whose servers become real
// workers, and writes its clouds.yaml where the installed provisioner reads
// it.
func (in *Installed) startLocalCloud(t testing.TB) {
	t.Helper()
	inst := in.Install
	runner := WorkerRunner(inst, filepath.Join(in.Dir, "vms"), filepath.Join(inst.Repo, "bin"), "")
	mkdirOwned(t, runner.Dir, 0o755)
	lo := localcloud.Options{BootDelay: time.Second, Runner: runner, Quota: localcloud.DefaultQuota, Logf: t.Logf}
	if in.Host != nil {
		runner.Hosts, runner.Firewall = in.Network, netns.HTCondorGroup
		runner.StartMasterIn = func(ctx context.Context, cfg, ns string) (localcloud.Stopper, error) {
			return StartMasterIn(ctx, inst, cfg, ns)
		}
		lo.Listen = in.Host.Listen // the provisioner calls it from there
	}
	srv, err := localcloud.Start(lo)
	if err != nil {
		t.Fatal(err)
	}
	in.Cloud = srv
	t.Cleanup(func() { srv.Close() })
	clouds := filepath.Join(in.Root, InstalledClouds)
	in.run(t, "", "mkdir", "-p", filepath.Dir(clouds))
	if err := srv.WriteCloudsYAML(clouds); err != nil {
		t.Fatal(err)
	}
	// As docs/install.md says: readable by root and the condor group only.
	in.run(t, "", "chroot", in.Root, "chown", "root:condor", InstalledClouds)
	in.run(t, "", "chmod", "0640", clouds)
}

// startMaster starts the installed condor_master as root and waits for its
// collector, negotiator and schedd.
func (in *Installed) startMaster(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := StartMasterWith(ctx, in.Install, MasterOptions{ConfigFile: installedConfig, Root: in.Root, UID: "0",
		Output: filepath.Join(in.Dir, "condor_master.out"), NetNS: in.netNS()})
	if err != nil {
		t.Fatal(err)
	}
	in.Master = m
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop the installed central manager: %v", err)
		}
		if t.Failed() {
			t.Logf("kept %s; logs:\n%s", in.Dir, tails(filepath.Join(in.Dir, "condor_master.out"), filepath.Join(in.Root, "var/log/condor")))
		}
	})
	in.WaitFor(t, 90*time.Second, "the installed collector, negotiator and schedd", func(ctx context.Context) (bool, error) {
		ads, err := in.Client("0").Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: `MyType == "Scheduler" || MyType == "Negotiator"`, Attrs: []string{"MyType"}})
		return err == nil && len(ads) >= 2, err
	})
}

// Client runs HTCondor's tools inside the installed root as uid ("0" for
// root, "uid:gid" for a user of the root).
func (in *Installed) Client(uid string) *condor.Client {
	return &condor.Client{
		Env:     append([]string{"CONDOR_CONFIG=" + installedConfig, "EHOS_CONDOR_ROOT=" + in.Root, "EHOS_CONDOR_UID=" + uid}, in.netEnv()...),
		BinDir:  in.Install.BinDir,
		Timeout: 30 * time.Second,
	}
}

// Exec runs a program of the root (a path inside it) as uid, in the same
// namespace set-up as the daemons, and returns its combined output.
func (in *Installed) Exec(ctx context.Context, uid string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, in.Install.Wrap, args...)
	cmd.Env = append(os.Environ(), "CONDOR_CONFIG="+installedConfig, "EHOS_CONDOR_ROOT="+in.Root, "EHOS_CONDOR_UID="+uid, "EHOS_CONDOR_SUPERVISE=")
	cmd.Env = append(cmd.Env, in.netEnv()...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// netNS is the central manager's network namespace, "" on loopback.
func (in *Installed) netNS() string {
	if in.Host == nil {
		return ""
	}
	return in.Host.NS
}

// netEnv puts tools on the central manager's host (scripts/condor-wrap).
func (in *Installed) netEnv() []string {
	if in.Host == nil {
		return nil
	}
	return []string{"EHOS_NETNS=" + in.Host.NS}
}

// WaitFor polls cond until it holds, failing the test after timeout or
// when the central manager's master exits.
func (in *Installed) WaitFor(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	poll(t, timeout, 500*time.Millisecond, what, cond, func() string {
		if in.Master != nil && in.Master.Exited() {
			return "the installed condor_master exited; " + tail(in.Master.Output, 10)
		}
		return ""
	}, func() string { return "" })
}

// ProvisionerLog is the installed provisioner's log ($(LOG)/EHOSProvisionerLog).
func (in *Installed) ProvisionerLog() string {
	b, _ := os.ReadFile(filepath.Join(in.Root, "var/log/condor/EHOSProvisionerLog"))
	return string(b)
}

func (in *Installed) run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
