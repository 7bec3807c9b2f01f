//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/tmpl"
	"gopkg.in/yaml.v3"
)

// renderedWorkerFile renders cloudinit/worker.yaml and returns the content
// of its write_files entry for path.
func renderedWorkerFile(t *testing.T, path string) string {
	t.Helper()
	cfg := &config.Config{Pool: config.Pool{Name: "itest", CentralManager: "127.0.0.1", CollectorPort: 9618, UIDDomain: Domain, TrustDomain: Domain}}
	values, err := tmpl.Values(cfg, tmpl.VMValues{InstanceName: "guard", Cloud: "local", Region: "RegionOne", Flavor: "m1.small", WorkerToken: "not-a-token", Cpus: 1, MemoryMB: 1792})
	if err != nil {
		t.Fatal(err)
	}
	userData, err := tmpl.Render("cloudinit/worker.yaml", repoFile(t, "cloudinit/worker.yaml"), values)
	if err != nil {
		t.Fatal(err)
	}
	var cc struct {
		WriteFiles []struct{ Path, Content string } `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(userData, &cc); err != nil {
		t.Fatal(err)
	}
	for _, f := range cc.WriteFiles {
		if f.Path == path {
			return f.Content
		}
	}
	t.Fatalf("the rendered worker.yaml writes no %s", path)
	return ""
}

// The metadata guard that worker.yaml loads, in a network namespace of its
// own where 169.254.169.254 is a local address with an HTTP server on it:
// before the rules, every user reaches it; after them (loaded twice, as a
// re-run of cloud-init would), root still does and any other user (a job's)
// does not. The iptables fallback line is not exercised here (no iptables
// on this host).
func TestMetadataServiceOnlyForRoot(t *testing.T) {
	t.Parallel()
	var missing []string
	for _, tool := range []string{"unshare", "ip", "nft", "python3", "setpriv", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if len(missing) > 0 {
		t.Skipf("needs %s to make a network namespace with a metadata address", strings.Join(missing, ", "))
	}
	rules := filepath.Join(t.TempDir(), "metadata-guard.nft")
	if err := os.WriteFile(rules, []byte(renderedWorkerFile(t, "/etc/ehos/metadata-guard.nft")), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
set -u
ip link set lo up && ip addr add 169.254.169.254/32 dev lo || exit 3
python3 -m http.server --bind 169.254.169.254 80 >/dev/null 2>&1 &
srv=$!
trap 'kill $srv' EXIT
up=""
for i in $(seq 1 40); do curl -s -o /dev/null -m 1 http://169.254.169.254/ && { up=1; break; }; sleep 0.25; done
[ -n "$up" ] || { echo "no metadata server"; exit 4; }
probe() {
  if [ "$2" = root ]; then curl -s -o /dev/null -m 3 http://169.254.169.254/; else setpriv --reuid "$2" --regid "$2" --clear-groups curl -s -o /dev/null -m 3 http://169.254.169.254/; fi
  if [ $? -eq 0 ]; then echo "$1 $2 reached"; else echo "$1 $2 refused"; fi
}
probe before root; probe before 65534; probe before 4242
nft -f "$1" || { echo "nft -f failed"; exit 5; }
nft -f "$1" || { echo "nft -f failed on reload"; exit 5; }
probe after root; probe after 65534; probe after 4242
`
	cmd := exec.Command("timeout", "60", "unshare", "--net", "sh", "-c", script, "guard", rules)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := strings.TrimSpace(string(out))
	want := strings.Join([]string{
		"before root reached", "before 65534 reached", "before 4242 reached",
		"after root reached", "after 65534 refused", "after 4242 refused",
	}, "\n")
	if got != want {
		t.Errorf("probes of the metadata address:\n%s\nwant:\n%s", got, want)
	}
	t.Logf("probed in %v", time.Since(start).Round(time.Millisecond))
}
