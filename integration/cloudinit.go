package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// DefaultCloudInitRoot is where scripts/install-cloudinit.sh puts the root
// with Debian's cloud-init beside HTCondor.
const DefaultCloudInitRoot = "/var/lib/ehos/cloudinit"

// CloudInitRoot is the cloud-init root (EHOS_CLOUDINIT_ROOT or the default).
func CloudInitRoot() string {
	if r := os.Getenv("EHOS_CLOUDINIT_ROOT"); r != "" {
		return r
	}
	return DefaultCloudInitRoot
}

// RequireCloudInit returns the cloud-init root, or skips the test when it is
// missing (fails with EHOS_REQUIRE_CONDOR=1, as CI sets).
func RequireCloudInit(t testing.TB) string {
	t.Helper()
	root := CloudInitRoot()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root privileges (namespaces, overlay, chroot)")
	}
	for _, f := range []string{"/usr/bin/cloud-init", "/usr/sbin/condor_master", "/.ehos-cloudinit-ready"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			missing = append(missing, root+f)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("integration: no cloud-init root (missing %s); run scripts/install-cloudinit.sh as root", strings.Join(missing, ", "))
		if os.Getenv("EHOS_REQUIRE_CONDOR") == "1" {
			t.Fatal(msg + " (EHOS_REQUIRE_CONDOR=1)")
		}
		t.Skip(msg)
	}
	return root
}

// CloudInitSchema runs `cloud-init schema --config-file` of the cloud-init
// root on doc (named name in messages) and returns its output; err is set
// when cloud-init rejects the file.
func CloudInitSchema(ctx context.Context, root, name string, doc []byte) (string, error) {
	dir, err := os.MkdirTemp("", dirPrefix+"schema-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	base := filepath.Base(name)
	if err := os.WriteFile(filepath.Join(dir, base), doc, 0o644); err != nil {
		return "", err
	}
	// The file is bound into the root's /mnt in a private mount namespace:
	// nothing of the shared root changes.
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "--",
		"sh", "-ec", `mount --bind "$1" "$2/mnt"; exec chroot "$2" /usr/bin/cloud-init schema --config-file "/mnt/$3"`,
		"sh", dir, root, base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cloud-init schema %s: %w\n%s", name, err, out)
	}
	return string(out), nil
}

// StartCloudInitVM boots vmDir (its upper/ holds the NoCloud seed) through
// real cloud-init with scripts/cloudinit-vm, in its own mount, UTS, IPC and
// pid namespaces, binding each "host:guest" ("host:guest:ro": read-only) of binds. Output
// goes to vmDir/console.log and to console (when not nil). When this process
// dies the VM's namespace dies with it; Stop shuts it down (SIGQUIT to its
// init: `systemctl stop` of what it started).
func StartCloudInitVM(ctx context.Context, inst *Install, root, vmDir, hostname string, binds []string, console io.Writer) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := filepath.Join(vmDir, "console.log")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("boot %s: %w", vmDir, err)
	}
	var w io.Writer = f
	if console != nil {
		w = io.MultiWriter(f, console)
	}
	cmd := exec.Command(filepath.Join(inst.Repo, "scripts/cloudinit-vm"), vmDir)
	cmd.Env = append(os.Environ(), "EHOS_CLOUDINIT_ROOT="+root, "EHOS_VM_HOSTNAME="+hostname,
		"EHOS_VM_BINDS="+strings.Join(binds, " "))
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread() // see StartMaster
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("boot %s: %w", vmDir, err)
	}
	p := &Process{ConfigFile: vmDir, Output: out, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}
