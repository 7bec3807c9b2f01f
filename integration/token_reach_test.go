//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/tmpl"
	"gopkg.in/yaml.v3"
)

// rootUser looks a user up in the HTCondor root's /etc/passwd.
func rootUser(t *testing.T, inst *Install, name string) (uid, gid int) {
	t.Helper()
	f, err := os.Open(filepath.Join(inst.Root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), ":")
		if len(p) > 3 && p[0] == name {
			uid, _ = strconv.Atoi(p[2])
			gid, _ = strconv.Atoi(p[3])
			return uid, gid
		}
	}
	t.Skipf("no user %s in %s/etc/passwd", name, inst.Root)
	return 0, 0
}

// bootRootWorker is bootRenderedWorker as a VM runs it: condor_master as
// root (its daemons as the condor user, jobs as their owner), the
// write_files owned as they say (root:root), HTCondor's own directories
// owned by condor, and the copy of the user-data cloud-init keeps
// (/var/lib/cloud/instance/user-data.txt, root 0600, as cloud-init writes it
// and worker.yaml's runcmd makes sure of). It returns the VM's root.
func bootRootWorker(t *testing.T, p *Pool, name, token string) (root string) {
	t.Helper()
	condorUID, condorGID := rootUser(t, p.Install, "condor")
	userData := renderWorker(t, p, name, token)
	dir := makeDir(t, "rootvm-"+name)
	root = filepath.Join(dir, "root")
	remap := strings.NewReplacer("/etc/condor/", root+"/etc/condor/", "/etc/ehos/", root+"/etc/ehos/")
	var cc struct {
		WriteFiles []struct{ Path, Owner, Permissions, Content string } `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(userData, &cc); err != nil {
		t.Fatal(err)
	}
	mkdir := func(d string, mode os.FileMode, uid, gid int) {
		if err := os.MkdirAll(d, mode); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, uid, gid)
		os.Chmod(d, mode)
	}
	write := func(path string, data []byte, mode os.FileMode, uid, gid int) {
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chown(path, uid, gid)
		os.Chmod(path, mode)
	}
	for _, d := range []string{"", "etc", "etc/condor", "etc/condor/config.d", "etc/ehos", "var/lib/cloud/instances/i-" + name} {
		mkdir(filepath.Join(root, d), 0o755, 0, 0)
	}
	mkdir(filepath.Join(root, "etc/condor/tokens.d"), 0o700, 0, 0)
	for _, f := range cc.WriteFiles {
		if f.Owner != "root:root" {
			t.Fatalf("write_files %s is owned by %q: this harness writes root:root only", f.Path, f.Owner)
		}
		var mode os.FileMode
		fmt.Sscanf(f.Permissions, "%o", &mode)
		path := remap.Replace(f.Path)
		if !strings.HasPrefix(path, root) {
			t.Fatalf("write_files path %s is outside the prefixes a runner remaps", f.Path)
		}
		write(path, []byte(remap.Replace(f.Content)), mode, 0, 0)
	}
	write(filepath.Join(root, "var/lib/cloud/instances/i-"+name, "user-data.txt"), userData, 0o600, 0, 0)
	if err := os.Symlink("instances/i-"+name, filepath.Join(root, "var/lib/cloud/instance")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(root, "etc/condor/config.d/99-test-host.conf"), []byte(`SEC_USE_FAMILY_SESSION = False
NUM_CPUS = 2
MEMORY = 2048
NETWORK_INTERFACE = 127.0.0.1
UPDATE_INTERVAL = 5
MASTER_UPDATE_INTERVAL = 5
# A chrooted starter cannot unshare a mount namespace (EINVAL): no private
# /dev/shm or /tmp for jobs here. A VM keeps HTCondor's defaults, which
# hide more from the job, not less.
MOUNT_PRIVATE_DEV_SHM = False
MOUNT_UNDER_SCRATCH =
`), 0o644, 0, 0)
	for _, sub := range []string{"log", "spool", "execute", "lock", "run", "cred_dir"} {
		mkdir(filepath.Join(dir, sub), 0o700, condorUID, condorGID)
	}
	os.Chmod(filepath.Join(dir, "execute"), 0o755)
	conf := filepath.Join(dir, "condor_config")
	write(conf, []byte(baseConfig(dir, p.CollectorAddr).add("\nLOCAL_CONFIG_DIR = "+root+"/etc/condor/config.d\n").String()), 0o644, 0, 0)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := StartMasterAsRoot(ctx, p.Install, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopAndClean(t, m, dir) })
	return root
}

// thief is the job: as its owner, it tries every way to the worker's token
// it can think of, and prints whatever it could read.
const thief = `#!/bin/sh
r="$1"; token="$2"
echo "id: $(id -u) $(id -g)"
try() {
  if out=$(cat "$2" 2>&1); then echo "READ $1 $2"; printf '%s\n' "$out"; else echo "DENIED $1 $2: $out"; fi
}
try token "$token"
if ls "$(dirname "$token")" >/dev/null 2>&1; then echo "LISTED $(dirname "$token")"; ls -la "$(dirname "$token")"; else echo "DENIED list $(dirname "$token")"; fi
try userdata "$r/var/lib/cloud/instance/user-data.txt"
for f in $(find "$r" -type f 2>/dev/null); do try file "$f"; done
for p in /proc/[0-9]*; do
  [ -O "$p" ] && continue
  echo "PROC $p $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)"
  try environ "$p/environ"
  if (exec 3<"$p/mem") 2>/dev/null; then echo "OPENED mem $p"; else echo "DENIED mem $p"; fi
  if ls "$p/fd/" >/dev/null 2>&1; then
    for fd in "$p"/fd/*; do echo "FD $fd"; timeout 2 cat "$fd" 2>&1 | head -c 65536; done
  else
    echo "DENIED fd $p"
  fi
  if ls "$p/root/" >/dev/null 2>&1; then echo "LISTED root $p"; else echo "DENIED root $p"; fi
done
echo "== environment"; env
for f in .* *; do
  case "$f" in _condor_stdout|_condor_stderr) continue ;; esac
  [ -f "$f" ] && try sandbox "$f"
done
exit 0
`

// A job on a worker cannot read its worker's token: not in the token file,
// the token directory, the config directory, cloud-init's copy of the
// user-data on disk, the daemons' /proc entries (environ, mem, open files,
// root), its environment or its sandbox. The worker runs as on a VM (its
// master as root, the job as its owner); the metadata address is covered by
// TestMetadataServiceOnlyForRoot, since this pool has no metadata service.
func TestJobCannotReadItsWorkersToken(t *testing.T) {
	t.Parallel()
	p := StartPool(t, PoolOptions{ExtraConfig: cmSecurity(t)})
	const vm = "ehos-itest-tok1" // a worker identity the shipped rules let in
	token := p.MintToken(t, vmIdentity(vm), WorkerAuthz, time.Hour)
	root := bootRootWorker(t, p, vm, token)
	p.WaitFor(t, 90*time.Second, "the root-run worker's startd", func(ctx context.Context) (bool, error) {
		ads, err := startdAds(ctx, p, vm)
		return len(ads) > 0, err
	})

	c := p.Client()
	ctx := context.Background()
	jobDir := filepath.Join(p.Dir, "thief")
	mkdirOwned(t, jobDir, 0o755)
	writeOwned(t, filepath.Join(jobDir, "thief.sh"), []byte(thief), 0o755)
	tokenPath := filepath.Join(root, tmpl.DefaultTokenFile)
	cluster, err := c.Submit(ctx, fmt.Sprintf(`universe = vanilla
executable = %s/thief.sh
arguments = "%s %s"
initialdir = %s
output = out.txt
error = err.txt
log = job.log
request_cpus = 1
request_memory = 64
request_disk = 1024
should_transfer_files = YES
queue
`, jobDir, root, tokenPath, jobDir))
	if err != nil {
		t.Fatal(err)
	}
	p.WaitFor(t, 2*time.Minute, "the job to complete", func(ctx context.Context) (bool, error) {
		ads, err := c.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus", "HoldReason"}})
		if err != nil {
			return false, err
		}
		if len(ads) > 0 && ads[0].GetInt("JobStatus", 0) == 5 {
			logs, _ := filepath.Glob(filepath.Join(filepath.Dir(root), "log", "Starter*"))
			for _, l := range logs {
				t.Logf("%s:\n%s", l, tail(l, 40))
			}
			t.Fatalf("job held: %s", ads[0].GetString("HoldReason"))
		}
		return len(ads) == 0, nil
	})
	out, err := os.ReadFile(filepath.Join(jobDir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if jobErr, _ := os.ReadFile(filepath.Join(jobDir, "err.txt")); len(jobErr) > 0 {
		t.Logf("job stderr: %.2000s", jobErr)
	}

	// The job ran as its owner, not as root or condor, and really tried.
	if !strings.Contains(text, fmt.Sprintf("id: %d ", PoolUID)) {
		t.Fatalf("the job did not run as its owner (uid %d):\n%.2000s", PoolUID, text)
	}
	for _, want := range []string{"DENIED token " + tokenPath, "DENIED list ", "DENIED userdata "} {
		if !strings.Contains(text, want) {
			t.Errorf("job output lacks %q", want)
		}
	}
	daemons := 0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "PROC ") && (strings.Contains(line, "condor_startd") || strings.Contains(line, "condor_master")) {
			daemons++
		}
		if strings.HasPrefix(line, "OPENED mem ") || strings.HasPrefix(line, "READ environ ") && strings.Contains(line, "condor_") {
			t.Errorf("the job got into a process: %s", line)
		}
	}
	if daemons < 2 {
		t.Errorf("the job saw %d of the worker's daemons in /proc, want the master and the startd", daemons)
	}

	sig := token[strings.LastIndex(token, ".")+1:]
	if strings.Contains(text, token) || strings.Contains(text, sig) {
		t.Errorf("the job read its worker's token; where, from its output:\n%s", around(text, sig))
	}
	var tried []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "READ ") || strings.HasPrefix(line, "DENIED ") || strings.HasPrefix(line, "OPENED ") || strings.HasPrefix(line, "LISTED ") {
			tried = append(tried, line)
		}
	}
	t.Logf("what the job tried:\n%s", strings.Join(tried, "\n"))
	t.Logf("job output: %d bytes, %d READ lines, %d DENIED lines, %d daemons seen", len(text), strings.Count(text, "\nREAD "), strings.Count(text, "\nDENIED "), daemons)
}

// around shows the lines of text before the first place s occurs.
func around(text, s string) string {
	i := strings.Index(text, s)
	if i < 0 {
		i = strings.Index(text, s[:min(len(s), 20)])
	}
	if i < 0 {
		return "(not found verbatim)"
	}
	start := strings.LastIndex(text[:i], "\nREAD ")
	if start < 0 {
		start = max(0, i-500)
	}
	return text[start:min(len(text), i+100)]
}
