//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/tmpl"
	"gopkg.in/yaml.v3"
)

// vmIdentity is the identity the provisioner mints into the token of the VM
// named name (worker.token_identity's default), which
// condor-config/50-ehos-central-manager.conf lets advertise that VM alone.
func vmIdentity(name string) string { return name + "@" + Domain }

// repoFile reads a file of this source tree.
func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cmSecurity is the central manager snippet's ALLOW_ADVERTISE_* lines and
// its trust rules (ShippedTrustRules), so the real collector and
// negotiator enforce what ehos ships, plus what the test pool's own
// daemons (ehos@ over FS or their tools token) need, and READ for workers
// (the shipped snippet keeps READ open to all; the test pool does not).
func cmSecurity(t *testing.T) string {
	adv, err := shippedLines("..", shippedCM, "ALLOW_ADVERTISE_")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for l := range strings.Lines(adv) {
		b.WriteString(strings.TrimSuffix(l, "\n") + " ehos@$(UID_DOMAIN)\n")
	}
	b.WriteString("ALLOW_READ = $(ALLOW_READ) ehos-*@" + Domain + "\n")
	b.WriteString(ShippedTrustRules(t, ".."))
	return b.String()
}

// renderWorker renders the shipped cloudinit/worker.yaml for the VM name
// of pool p, with its token.
func renderWorker(t *testing.T, p *Pool, name, token string) []byte {
	t.Helper()
	port := p.CollectorAddr[strings.LastIndex(p.CollectorAddr, ":")+1:]
	var cport int
	fmt.Sscan(port, &cport)
	cfg := &config.Config{Pool: config.Pool{Name: "itest", CentralManager: "127.0.0.1", CollectorPort: cport, UIDDomain: Domain, TrustDomain: Domain}}
	values, err := tmpl.Values(cfg, tmpl.VMValues{InstanceName: name, Cloud: "local", Region: "RegionOne", Flavor: "m1.small", WorkerToken: token, Cpus: 1, MemoryMB: 1792})
	if err != nil {
		t.Fatal(err)
	}
	userData, err := tmpl.Render("cloudinit/worker.yaml", repoFile(t, "cloudinit/worker.yaml"), values)
	if err != nil {
		t.Fatal(err)
	}
	return userData
}

// bootRenderedWorker does what a VM does with cloudinit/worker.yaml: renders
// it for this pool with token, applies its write_files into a per-VM root
// (every /etc/condor and /etc/ehos path, in file names and in file contents,
// moved under the root) and starts condor_master on that HTCondor config.
func bootRenderedWorker(t *testing.T, p *Pool, name, token string) (dir string) {
	t.Helper()
	userData := renderWorker(t, p, name, token)

	dir = makeDir(t, "vm-"+name)
	root := filepath.Join(dir, "root")
	remap := strings.NewReplacer("/etc/condor/", root+"/etc/condor/", "/etc/ehos/", root+"/etc/ehos/")
	var cc struct {
		WriteFiles []struct {
			Path        string `yaml:"path"`
			Permissions string `yaml:"permissions"`
			Content     string `yaml:"content"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(userData, &cc); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc", "etc/condor", "etc/condor/config.d", "etc/ehos"} {
		mkdirOwned(t, filepath.Join(root, d), 0o755)
	}
	mkdirOwned(t, filepath.Join(root, "etc/condor/tokens.d"), 0o700)
	for _, f := range cc.WriteFiles {
		var mode os.FileMode
		fmt.Sscanf(f.Permissions, "%o", &mode)
		path := remap.Replace(f.Path)
		if !strings.HasPrefix(path, root) {
			t.Fatalf("write_files path %s is outside the prefixes a runner remaps", f.Path)
		}
		writeOwned(t, path, []byte(remap.Replace(f.Content)), mode)
	}
	// What differs from a VM: a shared host (no family session between two
	// masters), fixed resources, loopback, fast updates, own LOCAL_DIR.
	writeOwned(t, filepath.Join(root, "etc/condor/config.d/99-test-host.conf"), []byte(`SEC_USE_FAMILY_SESSION = False
NUM_CPUS = 2
MEMORY = 2048
NETWORK_INTERFACE = 127.0.0.1
UPDATE_INTERVAL = 5
MASTER_UPDATE_INTERVAL = 5
`), 0o644)
	for _, sub := range []string{"log", "spool", "execute", "lock", "run", "cred_dir"} {
		mkdirOwned(t, filepath.Join(dir, sub), 0o700)
	}
	os.Chmod(filepath.Join(dir, "execute"), 0o755)
	conf := filepath.Join(dir, "condor_config")
	baseConfig(dir, p.CollectorAddr).add("\nLOCAL_CONFIG_DIR = "+root+"/etc/condor/config.d\n").write(t, conf)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := StartMaster(ctx, p.Install, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopAndClean(t, m, dir) })
	return dir
}

// startdAds returns every ad (slot and StartD) carrying EHOSName == name.
func startdAds(ctx context.Context, p *Pool, name string) ([]condorAd, error) {
	ads, err := p.Client().Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: fmt.Sprintf("EHOSName == %q", name),
		Attrs: []string{"Name", "EHOSName", "EHOSCloud", "EHOSRegion", "EHOSFlavor", "EHOSPool", "PartitionableSlot", "AuthenticatedIdentity"}})
	out := make([]condorAd, len(ads))
	for i, a := range ads {
		out[i] = condorAd{a.GetString("Name"), a.GetString("EHOSCloud"), a.GetString("EHOSRegion"), a.GetString("EHOSFlavor"), a.GetString("EHOSPool"), a.GetBool("PartitionableSlot", false), a.GetString("AuthenticatedIdentity")}
	}
	return out, err
}

type condorAd struct {
	Name, Cloud, Region, Flavor, Pool string
	Partitionable                     bool
	Identity                          string
}

// The rendered worker.yaml, applied like cloud-init would, joins the real
// pool with its own narrowly scoped token and runs a job.
func TestRenderedWorkerJoinsAndRunsJob(t *testing.T) {
	t.Parallel()
	p := StartPool(t, PoolOptions{ExtraConfig: cmSecurity(t)})
	const vm = "ehos-itest-tw1"
	token := p.MintToken(t, vmIdentity(vm), WorkerAuthz, time.Hour)
	dir := bootRenderedWorker(t, p, vm, token)

	var ad condorAd
	p.WaitFor(t, 60*time.Second, "the rendered worker's startd", func(ctx context.Context) (bool, error) {
		ads, err := startdAds(ctx, p, vm)
		for _, a := range ads {
			if a.Partitionable { // the slot, not the StartD daemon ad
				ad = a
				return true, nil
			}
		}
		return false, err
	})
	t.Logf("worker ad: %+v", ad)
	want := condorAd{Name: ad.Name, Cloud: "local", Region: "RegionOne", Flavor: "m1.small", Pool: "itest", Partitionable: true, Identity: vmIdentity(vm)}
	if ad != want || !strings.HasPrefix(ad.Name, "slot1@"+vm+"@") {
		t.Errorf("ad %+v, want %+v named slot1@%s@...", ad, want, vm)
	}
	if id, _ := os.ReadFile(filepath.Join(dir, "root/etc/ehos/identity")); !strings.Contains(string(id), "name="+vm+"\ncloud=local\nregion=RegionOne\nflavor=m1.small\npool=itest\n") {
		t.Errorf("identity file: %q", id)
	}
	if st, err := os.Stat(filepath.Join(dir, "root", tmpl.DefaultTokenFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v, want mode 0600", st, err)
	}

	c := p.Client()
	ctx := context.Background()
	jobDir := filepath.Join(p.Dir, "job")
	mkdirOwned(t, jobDir, 0o755)
	cluster, err := c.Submit(ctx, fmt.Sprintf(`universe = vanilla
executable = /bin/true
transfer_executable = false
initialdir = %s
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
	p.WaitFor(t, 120*time.Second, "the job to complete", func(ctx context.Context) (bool, error) {
		ads, err := c.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		if err != nil {
			return false, err
		}
		if len(ads) > 0 && ads[0].GetInt("JobStatus", 0) == 5 {
			return false, fmt.Errorf("job held")
		}
		return len(ads) == 0, nil
	})
	hist, err := c.Run(ctx, "condor_history", "-limit", "1", "-af", "JobStatus", "LastRemoteHost", fmt.Sprintf("%d.0", cluster))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(hist), "4 ") || !strings.Contains(string(hist), "@"+vm+"@") {
		t.Errorf("condor_history: %q, want completed (4) on %s", hist, vm)
	}
}

// A worker whose token is expired, or signed by another pool's key, is
// refused by the real collector: its startd never shows up.
func TestRenderedWorkerWithBadTokenIsRefused(t *testing.T) {
	t.Parallel()
	p := StartPool(t, PoolOptions{ExtraConfig: cmSecurity(t)})

	expired := p.MintToken(t, vmIdentity("ehos-itest-expired"), WorkerAuthz, time.Second)

	// A key named POOL too, but another pool's.
	other := makeDir(t, "otherkey")
	mkdirOwned(t, filepath.Join(other, "passwords.d"), 0o700)
	oc := p.Client()
	oc.Env = append(oc.Env, "_CONDOR_SEC_PASSWORD_DIRECTORY="+filepath.Join(other, "passwords.d"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := oc.Run(ctx, "condor_store_cred", "add", "-c", "-p", "another-pools-signing-key", "-f", filepath.Join(other, "passwords.d", "POOL")); err != nil {
		t.Fatal(err)
	}
	foreign, err := oc.TokenCreate(ctx, condor.TokenRequest{Identity: vmIdentity("ehos-itest-foreign"), Key: "POOL", Authz: WorkerAuthz, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	time.Sleep(2 * time.Second) // let the short token expire

	dirs := map[string]string{
		"ehos-itest-expired": bootRenderedWorker(t, p, "ehos-itest-expired", expired),
		"ehos-itest-foreign": bootRenderedWorker(t, p, "ehos-itest-foreign", foreign),
	}
	// A good worker started after them shows the collector took updates in
	// that time; then give the bad ones a few more update intervals.
	bootRenderedWorker(t, p, "ehos-itest-good", p.MintToken(t, vmIdentity("ehos-itest-good"), WorkerAuthz, time.Hour))
	p.WaitFor(t, 60*time.Second, "the good worker", func(ctx context.Context) (bool, error) {
		ads, err := startdAds(ctx, p, "ehos-itest-good")
		return len(ads) > 0, err
	})
	time.Sleep(12 * time.Second)
	for _, name := range []string{"ehos-itest-expired", "ehos-itest-foreign"} {
		ads, err := startdAds(context.Background(), p, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(ads) > 0 {
			t.Errorf("worker %s with a bad token joined: %+v", name, ads)
		}
		// It was kept out by authentication, not by some other failure.
		startLog, _ := os.ReadFile(filepath.Join(dirs[name], "log", "StartLog"))
		if !strings.Contains(string(startLog), "aborting command UPDATE_STARTD_AD") || !strings.Contains(string(startLog), "Failed to authenticate using IDTOKENS") {
			t.Errorf("worker %s: StartLog does not show the collector refusing its token:\n%s", name, tail(filepath.Join(dirs[name], "log", "StartLog"), 10))
		}
	}
}
