package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Install is an HTCondor usable from this host.
type Install struct {
	Root   string // the trixie root holding HTCondor
	Repo   string // the ehos repository (scripts/, bin/)
	Wrap   string // scripts/condor-wrap: runs a tool or daemon inside Root as the pool user
	BinDir string // host wrappers, one per tool (condor_q, condor_status, ...)
	UID    int    // the pool user (ehos) that runs every daemon and tool
}

// DefaultRoot is where scripts/install-condor.sh puts HTCondor.
const DefaultRoot = "/var/lib/ehos/trixie"

// PoolUID is the unprivileged user (ehos) that runs the pools.
const PoolUID = 4242

var (
	installOnce sync.Once
	installVal  *Install
	installErr  error
)

// RequireCondor returns the HTCondor install, or skips the test with one
// message naming everything that is missing (fails instead when
// EHOS_REQUIRE_CONDOR=1, as in CI).
func RequireCondor(t testing.TB) *Install {
	t.Helper()
	inst, err := FindCondor()
	if err != nil {
		if os.Getenv("EHOS_REQUIRE_CONDOR") == "1" {
			// CI sets this: a missing install must fail, not skip quietly.
			t.Fatalf("integration: no usable HTCondor (%v) and EHOS_REQUIRE_CONDOR=1", err)
		}
		t.Skipf("integration: no usable HTCondor (%v); run `make condor` (scripts/install-condor.sh) as root", err)
	}
	return inst
}

// FindCondor is RequireCondor for code that is not a test (the demo).
func FindCondor() (*Install, error) {
	installOnce.Do(func() { installVal, installErr = findCondor() })
	return installVal, installErr
}

func findCondor() (*Install, error) {
	root := os.Getenv("EHOS_CONDOR_ROOT")
	if root == "" {
		root = DefaultRoot
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root privileges (mount namespace, chroot)")
	}
	for _, f := range []string{"/usr/sbin/condor_master", "/usr/bin/condor_status", "/usr/bin/condor_token_create"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			missing = append(missing, root+f)
		}
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		missing = append(missing, "unshare (util-linux)")
	}
	if u, err := user.LookupId(fmt.Sprint(PoolUID)); err != nil || u.Username != "ehos" {
		missing = append(missing, fmt.Sprintf("host user ehos with uid %d", PoolUID))
	}
	repo, err := findRepo()
	if err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing: %s", strings.Join(missing, ", "))
	}
	inst := &Install{Root: root, Repo: repo, Wrap: filepath.Join(repo, "scripts", "condor-wrap"), UID: PoolUID}
	if inst.BinDir, err = makeBinDir(inst); err != nil {
		return nil, err
	}
	cleanLeftovers()
	return inst, nil
}

// findRepo finds the repository from the working directory (go test runs in
// the package's directory) or from this source file.
func findRepo() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, d := range starts {
		for {
			if _, err := os.Stat(filepath.Join(d, "scripts", "condor-wrap")); err == nil {
				if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
					return d, nil
				}
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", fmt.Errorf("the ehos repository (scripts/condor-wrap) above %v", starts)
}

// makeBinDir generates the host wrappers once per repository checkout, in a
// directory named after it, replaced atomically so concurrent test processes
// never see a half-made one.
func makeBinDir(inst *Install) (string, error) {
	sum := sha256.Sum256([]byte(inst.Repo + "\x00" + inst.Root))
	dir := filepath.Join(os.TempDir(), "ehos-condor-bin-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "condor_status")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(os.TempDir(), ".ehos-condor-bin-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(inst.Repo, "scripts", "condor-bin.sh"), tmp)
	cmd.Env = append(os.Environ(), "EHOS_CONDOR_ROOT="+inst.Root)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("scripts/condor-bin.sh: %v: %s", err, out)
	}
	os.Chmod(tmp, 0o755)
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp) // another process made it first
		if _, err2 := os.Stat(filepath.Join(dir, "condor_status")); err2 != nil {
			return "", fmt.Errorf("bin dir %s: %v", dir, err)
		}
	}
	return dir, nil
}
