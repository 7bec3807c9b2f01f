//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/tmpl"
	"gopkg.in/yaml.v3"
)

// renderShipped renders a shipped template as the provisioner and `ehos
// render` do, with the values of a realistic pool and VM.
func renderShipped(t *testing.T, name string) []byte {
	t.Helper()
	cfg := config.Default()
	cfg.Pool = config.Pool{Name: "bgo-pool", CentralManager: "10.0.0.5", CollectorPort: 9618, UIDDomain: "ehos.example.org", TrustDomain: "10.0.0.5"}
	// A token of the shape condor_token_create prints (header.payload.signature).
	token := "eyJhbGciOiJIUzI1NiIsImtpZCI6IlBPT0wifQ.eyJpYXQiOjE3MDAwMDAwMDAsImlzcyI6IjEwLjAuMC41Iiwic2NvcGUiOiJjb25kb3I6XC9BRFZFUlRJU0VfU1RBUlREIGNvbmRvcjpcL0FEVkVSVElTRV9NQVNURVIgY29uZG9yOlwvUkVBRCIsInN1YiI6ImVob3Mtd29ya2VyQGVob3MuZXhhbXBsZS5vcmcifQ.c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2Vu"
	values, err := tmpl.Values(&cfg, tmpl.VMValues{InstanceName: "ehos-bgo-pool-0001", Cloud: "uh-iaas", Region: "bgo", Flavor: "m1.large", WorkerToken: token, Cpus: 4, MemoryMB: 7168})
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.Render("cloudinit/"+name, repoFile(t, "cloudinit/"+name), values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every shipped template, rendered, passes Debian's cloud-init schema check
// (cloud-init 25.1 of trixie); a document with a wrong key type does not, so
// the check can fail.
func TestCloudInitSchema(t *testing.T) {
	t.Parallel()
	root := RequireCloudInit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range []string{"worker.yaml", "master.yaml", "base.yaml"} {
		t.Run(name, func(t *testing.T) {
			out, err := CloudInitSchema(ctx, root, name, renderShipped(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "Valid schema") || strings.Contains(strings.ToLower(out), "deprecat") {
				t.Errorf("cloud-init schema on %s:\n%s", name, out)
			}
		})
	}
	t.Run("rejects", func(t *testing.T) {
		bad := []byte("#cloud-config\nruncmd: not-a-list\nwrite_files:\n  - content: no path\n")
		if out, err := CloudInitSchema(ctx, root, "bad.yaml", bad); err == nil {
			t.Errorf("cloud-init schema accepted a bad document:\n%s", out)
		}
	})
}

// Workers boot through real cloud-init: the provisioner renders worker.yaml,
// the local cloud seeds it as NoCloud user-data, cloud-init's four stages
// run its write_files and runcmd (systemctl restart condor), and the
// startds join the pool and run a burst of jobs; then the pool scales back
// to zero.
func TestCloudInitWorkersRunJobs(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{CloudInit: true})
	cl := s.Pool.Client()
	ctx := context.Background()
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 3\nrequest_cpus = 1\nrequest_memory = 512\nqueue 4\n")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(s.Dir, "vms", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("VM %s:\n%s", l, b)
			}
		}
	})
	// While workers run, look at one: what cloud-init did.
	var checked bool
	s.Pool.WaitFor(t, 4*time.Minute, "a worker booted by cloud-init", func(ctx context.Context) (bool, error) {
		vms, _ := filepath.Glob(filepath.Join(s.Dir, "vms", "*", "upper", "var", "lib", "cloud", "data", "result.json"))
		for _, res := range vms {
			b, err := os.ReadFile(res)
			if err != nil {
				continue
			}
			var r struct {
				V1 struct {
					Datasource string   `json:"datasource"`
					Errors     []string `json:"errors"`
				} `json:"v1"`
			}
			vm := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(res))))))
			console, _ := os.ReadFile(filepath.Join(vm, "console.log"))
			if json.Unmarshal(b, &r) != nil || !strings.Contains(string(console), "cloudinit-vm: boot finished") {
				continue
			}
			if len(r.V1.Errors) > 0 || !strings.Contains(r.V1.Datasource, "NoCloud") {
				t.Errorf("cloud-init in %s: datasource %q, errors %q", vm, r.V1.Datasource, r.V1.Errors)
			}
			for _, want := range []string{"running 'init-local'", "running 'init'", "running 'modules:config'", "running 'modules:final'", "started condor.service", "status: done"} {
				if !strings.Contains(string(console), want) {
					t.Errorf("console of %s lacks %q:\n%s", vm, want, console)
				}
			}
			// write_files wrote the token as worker.yaml says: root, 0600.
			st, err := os.Stat(filepath.Join(vm, "upper", tmpl.DefaultTokenFile))
			if err != nil {
				t.Errorf("token file: %v", err)
			} else if st.Mode().Perm() != 0o600 {
				t.Errorf("token file mode %v, want 0600", st.Mode().Perm())
			}
			checked = true
			return true, nil
		}
		return false, nil
	})
	if !checked {
		t.Fatal("no VM checked")
	}
	s.WaitJobsDone(t, cluster, 4*time.Minute)
	hosts := s.JobHosts(t, cluster)
	t.Logf("4 jobs ran on %d cloud-init workers: %v", len(hosts), hosts)
	s.WaitNoVMs(t, 3*time.Minute)
	// Each deleted VM was shut down as a machine is: its services stopped.
	// (The local cloud stops a VM after the server is gone: wait for the
	// last VM directory to be removed, its log kept.)
	var logs []string
	s.Pool.WaitFor(t, time.Minute, "every VM stopped and its log kept", func(ctx context.Context) (bool, error) {
		all, _ := filepath.Glob(filepath.Join(s.Dir, "vms", "*"))
		logs, _ = filepath.Glob(filepath.Join(s.Dir, "vms", "*.log"))
		return len(logs) > 0 && len(all) == len(logs), nil
	})
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if !strings.Contains(string(b), "cloudinit-vm: shutting down") {
			t.Errorf("%s: the VM was not shut down through its init", l)
		}
	}
}

// bootImageVM boots a VM through real cloud-init with user-data doc in its
// own network namespace, and waits for cloud-init to finish. The image's
// cloud-init settings are the local cloud's, and its final stage runs every
// module of the root's cloud.cfg except skip (cloud-init's own list, read
// from the root).
func bootImageVM(t *testing.T, name string, doc []byte, binds []string, skip ...string) (*Process, string) {
	t.Helper()
	root := RequireCloudInit(t)
	inst := RequireCondor(t)
	dir := makeDir(t, "civm-"+name)
	var cc map[string]any
	b, err := os.ReadFile(filepath.Join(root, "etc/cloud/cloud.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cc); err != nil {
		t.Fatal(err)
	}
	cfg := localcloud.ImageCloudCfg
	if len(skip) > 0 {
		mods, _ := cc["cloud_final_modules"].([]any)
		var keep []string
		found := 0
		for _, m := range mods {
			s := fmt.Sprint(m)
			if slices.Contains(skip, s) {
				found++
				continue
			}
			keep = append(keep, s)
		}
		if found != len(skip) {
			t.Fatalf("cloud_final_modules of %s lacks one of %v: %v", root, skip, mods)
		}
		cfg += "# Skipped here: " + strings.Join(skip, ", ") + " (needs the internet)\ncloud_final_modules: [" + strings.Join(keep, ", ") + "]\n"
	}
	files := map[string]string{
		"var/lib/cloud/seed/nocloud/user-data":         string(doc),
		"var/lib/cloud/seed/nocloud/meta-data":         "instance-id: i-" + name + "\nlocal-hostname: " + name + "\n",
		"etc/cloud/cloud.cfg.d/90-ehos-localcloud.cfg": cfg,
	}
	for p, data := range files {
		full := filepath.Join(dir, "upper", p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vm, err := StartCloudInitVM(ctx, inst, CloudInitVM{Root: root, Dir: dir, Hostname: name, Binds: binds, PrivateNet: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := vm.Stop(context.Background()); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("console of %s:\n%s (kept in %s)", name, tail(vm.Output, 80), dir)
			return
		}
		os.RemoveAll(dir)
	})
	var console string
	for ctx.Err() == nil {
		b, _ := os.ReadFile(vm.Output)
		if console = string(b); strings.Contains(console, "cloudinit-vm: boot finished") {
			break
		}
		if vm.Exited() {
			t.Fatalf("VM %s exited during boot:\n%s", name, console)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatalf("VM %s did not finish booting:\n%s", name, console)
	}
	for _, want := range []string{"running 'init-local'", "running 'init'", "running 'modules:config'", "running 'modules:final'", "status: done", "errors: []"} {
		if !strings.Contains(console, want) {
			t.Errorf("console of %s lacks %q", name, want)
		}
	}
	return vm, dir
}

// base.yaml runs through real cloud-init as on a stock trixie image, offline:
// the one module that needs the internet (package-update-upgrade-install:
// package_update, package_upgrade, packages) is skipped; its packages (curl,
// ca-certificates, openssl) and condor are in the root already
// (install-cloudinit.sh), so base.yaml's own `apt-get install condor` finds
// them installed. Then master.yaml boots a central manager on that image:
// write_files, the pool key, condor_master with collector, negotiator and
// schedd, and the provisioner started (ehos itself is in the image: the
// curl download is skipped by master.yaml's own test).
func TestCloudInitBaseAndMasterImages(t *testing.T) {
	t.Parallel()
	t.Run("base.yaml", func(t *testing.T) {
		vm, dir := bootImageVM(t, "ehos-base", renderShipped(t, "base.yaml"), nil, "package-update-upgrade-install")
		b, _ := os.ReadFile(filepath.Join(dir, "console.log"))
		console := string(b)
		if !strings.Contains(console, "EHOS-BASE-READY") || strings.Contains(console, "EHOS-BASE-FAILED") {
			t.Errorf("base.yaml's marker is missing or it failed:\n%s", console)
		}
		// The package enabled it; base.yaml disables it (the wants link is gone).
		if out, err := vm.InVM(context.Background(), "ls", "/etc/systemd/system/multi-user.target.wants/"); err != nil || strings.Contains(out, "condor") {
			t.Errorf("condor is enabled in the base image (%v): %s", err, out)
		}
		for p, mode := range map[string]os.FileMode{"etc/condor/tokens.d": 0o700, "etc/ehos": 0o755, "usr/local/libexec/ehos": 0o755, "usr/local/etc/ehos": 0o755, "usr/local/share/ehos": 0o755} {
			st, err := os.Stat(filepath.Join(dir, "upper", p))
			if err != nil || st.Mode().Perm() != mode {
				t.Errorf("/%s: %v %v, want a directory %v", p, st.Mode(), err, mode)
			}
		}
	})
	t.Run("master.yaml", func(t *testing.T) {
		inst := RequireCondor(t)
		bin := filepath.Join(inst.Repo, "bin")
		if _, err := os.Stat(filepath.Join(bin, "ehos_provisioner")); err != nil {
			t.Fatalf("ehos_provisioner not built: run make build first (%v)", err)
		}
		vm, dir := bootImageVM(t, "ehos-cm", renderShipped(t, "master.yaml"), []string{bin + ":/usr/local/libexec/ehos:ro"})
		st, err := os.Stat(filepath.Join(dir, "upper/etc/condor/passwords.d/POOL"))
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
			t.Errorf("pool key: %v %v", st, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "upper/usr/local/etc/ehos/ehos.yaml")); err != nil || !strings.Contains(string(b), "bgo-pool") {
			t.Errorf("ehos.yaml (deferred write_files): %v\n%s", err, b)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		var out string
		for ctx.Err() == nil {
			out, _ = vm.InVM(ctx, "condor_status", "-any", "-af", "MyType")
			if strings.Contains(out, "Collector") && strings.Contains(out, "Negotiator") && strings.Contains(out, "Scheduler") && strings.Contains(out, "DaemonMaster") {
				break
			}
			time.Sleep(time.Second)
		}
		if ctx.Err() != nil {
			t.Fatalf("central manager's daemons not all in its collector:\n%s", out)
		}
		// condor_master starts the provisioner from the shipped knobs; with
		// master.yaml's starting ehos.yaml (no clouds yet) it says what is missing.
		log, _ := vm.InVM(context.Background(), "sh", "-c", "cat /var/log/condor/MasterLog")
		if !strings.Contains(log, "ehos_provisioner") {
			t.Errorf("condor_master did not start ehos_provisioner:\n%s", log)
		}
	})
}
