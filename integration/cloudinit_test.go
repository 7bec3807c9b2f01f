//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/tmpl"
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
	s := StartStack(t, StackOptions{CloudInit: true})
	cl := s.Pool.Client()
	ctx := context.Background()
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 3\nrequest_cpus = 1\nrequest_memory = 512\nqueue 4\n")
	if err != nil {
		t.Fatal(err)
	}
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
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(s.Dir, "vms", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("VM %s:\n%s", l, b)
			}
		}
	})
	s.WaitJobsDone(t, cluster, 4*time.Minute)
	hosts := s.JobHosts(t, cluster)
	t.Logf("4 jobs ran on %d cloud-init workers: %v", len(hosts), hosts)
	s.Pool.WaitFor(t, 3*time.Minute, "every VM deleted (scaled back to min 0)", func(ctx context.Context) (bool, error) {
		return len(s.Servers()) == 0, nil
	})
}
