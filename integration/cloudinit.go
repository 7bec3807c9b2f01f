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

// CloudInitVM says how StartCloudInitVM boots a VM directory.
type CloudInitVM struct {
	Root     string   // the cloud-init root (RequireCloudInit)
	Dir      string   // the VM directory; Dir/upper holds the NoCloud seed
	Hostname string   // in the VM's UTS namespace
	Binds    []string // "host:guest" ("host:guest:ro": read-only) directories bound into the VM
	// PrivateNet gives the VM its own network namespace with only loopback.
	PrivateNet bool
	// NetNS is a test host's network namespace (integration/netns) the VM
	// runs in, as on a host of its own; not with PrivateNet.
	NetNS   string
	Console io.Writer // also gets the boot output (nil: only Dir/console.log)
}

// StartCloudInitVM boots vm.Dir through real cloud-init with
// scripts/cloudinit-vm, in its own mount, UTS, IPC and pid namespaces. When
// this process dies the VM's namespace dies with it; Stop shuts it down
// (SIGQUIT to its init: `systemctl stop` of what it started).
func StartCloudInitVM(ctx context.Context, inst *Install, vm CloudInitVM) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := filepath.Join(vm.Dir, "console.log")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("boot %s: %w", vm.Dir, err)
	}
	var w io.Writer = f
	if vm.Console != nil {
		w = io.MultiWriter(f, vm.Console)
	}
	cmd := exec.Command(filepath.Join(inst.Repo, "scripts/cloudinit-vm"), vm.Dir)
	cmd.Env = append(os.Environ(), "EHOS_CLOUDINIT_ROOT="+vm.Root, "EHOS_VM_HOSTNAME="+vm.Hostname,
		"EHOS_VM_BINDS="+strings.Join(vm.Binds, " "))
	if vm.PrivateNet {
		cmd.Env = append(cmd.Env, "EHOS_VM_NET=private")
	}
	if vm.NetNS != "" {
		cmd.Env = append(cmd.Env, "EHOS_VM_NETNS="+vm.NetNS)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread() // see StartMaster
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("boot %s: %w", vm.Dir, err)
	}
	p := &Process{ConfigFile: vm.Dir, Output: out, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// InVM runs a command inside a VM that StartCloudInitVM booted (its
// namespaces, chrooted into its root) and returns its combined output.
func (p *Process) InVM(ctx context.Context, args ...string) (string, error) {
	init := childPid(p.cmd.Process.Pid)
	if init <= 0 {
		return "", fmt.Errorf("VM %s is not running", p.ConfigFile)
	}
	a := append([]string{"-t", fmt.Sprint(init), "-m", "-u", "-i", "-n", "-p", "--", "chroot", filepath.Join(p.ConfigFile, "root")}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", a...).CombinedOutput()
	return string(out), err
}
