//go:build integration

package integration_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/provision"
)

// The admin's ehos.yaml for the install-path test: the local cloud's alpha
// entry, quick scaling so the test ends in minutes.
const installedEhosYAML = `pool:
  name: e2e
  central_manager: %[1]s
  collector_port: %[2]d
scaling:
  min: 0
  max: 4
  cycle: 3s
  idle_before_retire: 15s
  boot_timeout: 90s
  delete_timeout: 20s
  orphan_grace: 30s
clouds:
  - name: alpha
    regions: [RegionOne]
    image: ehos-worker
    flavors: [m1.small]
    network: private
    security_groups: [ehos]
log:
  level: debug
`

// TestInstallPathScalesUpAndDown installs ehos as docs/install.md says, on
// a fresh copy of the HTCondor root: make install, install-master.sh, the
// admin's ehos.yaml and clouds.yaml. condor_master (as root) starts the
// shipped ehos_provisioner from the shipped knobs; the demand job is
// submitted, as the condor user, from the shipped submit file as installed;
// a user's burst scales the pool up and back to zero. No shipped file is
// rewritten for the test: anything that had to be is a bug in the file.
//
// It runs twice side by side: on loopback, and with the central manager and
// every worker on a test host of its own (network namespaces, 9618 only).
func TestInstallPathScalesUpAndDown(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{false, true} {
		name := map[bool]string{false: "loopback", true: "own-hosts"}[own]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			installPathScalesUpAndDown(t, own)
		})
	}
}

func installPathScalesUpAndDown(t *testing.T, ownHosts bool) {
	in := integration.InstallCentralManager(t, integration.InstalledOptions{EhosYAML: installedEhosYAML, OwnHosts: ownHosts,
		Before: func(t testing.TB, in *integration.Installed) {
			// A user to submit the burst, as on any submit host.
			cmd := []string{"chroot", in.Root, "useradd", "-m", "-u", "5001", "alice"}
			if out, err := execOut(cmd...); err != nil {
				t.Fatalf("useradd: %v\n%s", err, out)
			}
		}})
	ctx := context.Background()
	root := in.Client("0")

	// The shipped systemd unit (for running the provisioner outside
	// condor_master) runs it as its User=: that user must be able to mint
	// worker tokens, which the provisioner does for every VM.
	user := unitUser(t, filepath.Join(in.Root, integration.InstalledShare, "ehos-provisioner.service"))
	ids, err := execOut("chroot", in.Root, "sh", "-c", fmt.Sprintf("echo $(id -u %s):$(id -g %s)", user, user))
	if err != nil {
		t.Fatalf("the unit's User=%s is not a user of the machine: %v %s", user, err, ids)
	}
	if out, err := in.Exec(ctx, strings.TrimSpace(ids), "/usr/bin/condor_token_create", "-identity", "ehos-worker@127.0.0.1",
		"-key", "POOL", "-authz", "READ", "-lifetime", "60"); err != nil || !strings.HasPrefix(out, "eyJ") {
		t.Errorf("the systemd unit's user %s cannot mint worker tokens: %v\n%s", user, err, condor.Redact(out))
	}

	// The shipped submit file, as installed, submitted as the doctor's fix
	// and the submit file's own comment say: as the ehos user (HTCondor 23
	// refuses jobs owned by condor: "MakeUserRec with illegal identifiers").
	shipped := filepath.Join(integration.InstalledShare, "ehos_demand.submit")
	if _, err := os.Stat(filepath.Join(in.Root, shipped)); err != nil {
		t.Fatalf("make install did not install the submit file: %v", err)
	}
	ids, err = execOut("chroot", in.Root, "sh", "-c", "echo $(id -u ehos):$(id -g ehos)")
	if err != nil {
		t.Fatalf("install-master.sh made no ehos user: %v %s", err, ids)
	}
	out, err := in.Exec(ctx, strings.TrimSpace(ids), "/usr/bin/condor_submit", shipped)
	if err != nil {
		t.Fatalf("condor_submit %s as ehos: %v\n%s", shipped, err, out)
	}

	in.WaitFor(t, 60*time.Second, "the provisioner's ad (condor_master started the shipped ehos_provisioner)", func(ctx context.Context) (bool, error) {
		ads, err := root.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: "MyType == " + classad.Quote(provision.AdType)})
		return err == nil && len(ads) == 1 && ads[0].GetString("EHOSPool") == in.Pool, err
	})

	alice := in.Client("5001:5001")
	cluster, err := alice.Submit(ctx, "executable = /bin/sleep\narguments = 5\nrequest_cpus = 1\nrequest_memory = 512\nqueue 6\n")
	if err != nil {
		t.Fatalf("alice's burst: %v", err)
	}

	// The demand job (shipped interval 20 s) labels its ads with the pool
	// name from the site file's EHOS_POOL_NAME: the provisioner sees them.
	in.WaitFor(t, 90*time.Second, "demand ads of pool e2e", func(ctx context.Context) (bool, error) {
		ads, err := root.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: `MyType == "EHOSDemand" && EHOSPool == "e2e"`})
		return err == nil && len(ads) > 0, err
	})
	peak := 0
	in.WaitFor(t, 5*time.Minute, fmt.Sprintf("cluster %d to run to the end on ehos workers", cluster), func(ctx context.Context) (bool, error) {
		n := 0
		for _, r := range in.Cloud.Regions() {
			n += len(in.Cloud.Servers(r))
		}
		peak = max(peak, n)
		ads, err := root.Queue(ctx, condor.QueueQuery{AllUsers: true, Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return err == nil && len(ads) == 0, err
	})
	if peak == 0 {
		t.Fatalf("the jobs finished but no VM was ever booted")
	}
	hist, err := root.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "LastRemoteHost", "LastPublicClaimId")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(hist)), "\n") {
		h, claim, _ := strings.Cut(l, " ")
		if !strings.Contains(h, "ehos-e2e-") {
			t.Errorf("a job ran on %q, not an ehos worker", h)
		}
		// On hosts of their own: at a worker's own
		// address behind the shared port, not the central manager's.
		if in.Host != nil && (!strings.Contains(claim, ":9618?") || strings.HasPrefix(claim, "<"+in.CentralManager+":")) {
			t.Errorf("a job ran on %s at %s: not a worker's own host behind 9618", h, claim)
		}
	}
	in.WaitFor(t, 3*time.Minute, "the pool back to zero VMs", func(ctx context.Context) (bool, error) {
		for _, r := range in.Cloud.Regions() {
			if len(in.Cloud.Servers(r)) > 0 {
				return false, nil
			}
		}
		return true, nil
	})
	t.Logf("burst of 6 ran on up to %d VMs and the pool went back to zero", peak)

	// The admin CLI as installed agrees: the demand job runs and its ads
	// carry this pool's name, the provisioner's ad is fresh.
	dout, err := in.Exec(ctx, "0", "/usr/local/bin/ehos", "doctor")
	for _, want := range []string{"OK   demand job", "OK   provisioner"} {
		if !strings.Contains(dout, want) {
			t.Errorf("ehos doctor lacks %q (%v):\n%s", want, err, dout)
		}
	}
	if strings.Contains(dout, "FAIL demand ads") {
		t.Errorf("ehos doctor finds demand ads without the pool name:\n%s", dout)
	}
}

// unitUser reads User= of a systemd unit (root when it names none).
func unitUser(t *testing.T, path string) (user string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("make install did not install the unit: %v", err)
	}
	user = "root" // systemd's default
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "User="); ok {
			user = v
		}
	}
	return user
}

func execOut(args ...string) (string, error) {
	b, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(b), err
}

// TestInstallMasterScript runs scripts/test-install-master.sh: install-master.sh
// twice in a copy of the HTCondor root (the second run changes nothing), then
// with --public-address (a central manager behind a floating address).
func TestInstallMasterScript(t *testing.T) {
	t.Parallel()
	inst := integration.RequireCondor(t)
	cmd := exec.Command("bash", filepath.Join(inst.Repo, "scripts", "test-install-master.sh"))
	cmd.Env = append(os.Environ(), "EHOS_CONDOR_ROOT="+inst.Root)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test-install-master: ok") {
		t.Fatalf("scripts/test-install-master.sh: %v\n%s", err, out)
	}
}
