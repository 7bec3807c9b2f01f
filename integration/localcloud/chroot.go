package localcloud

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NewChrootRunner returns a CondorRunner whose masters run inside the
// Debian root that holds HTCondor (scripts/install-condor.sh), as uid:uid.
// The VM roots live in vmsDir, which must be inside root, so paths differ
// only by root's prefix and no bind mount is needed.
//
// It is a stopgap with the same behaviour as the foundation harness's
// integration.StartMaster, which callers with a Pool should prefer.
func NewChrootRunner(vmsDir, root string, uid int) (*CondorRunner, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/condor_master")); err != nil {
		return nil, fmt.Errorf("no HTCondor in %s (run scripts/install-condor.sh): %w", root, err)
	}
	vmsDir, err = filepath.Abs(vmsDir)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(vmsDir, root+"/") {
		return nil, fmt.Errorf("VM directory %s must be inside %s", vmsDir, root)
	}
	if err := os.MkdirAll(vmsDir, 0o755); err != nil {
		return nil, err
	}
	return &CondorRunner{
		Dir: vmsDir, UID: uid, GID: uid,
		PathInMaster: func(p string) string { return strings.TrimPrefix(p, root) },
		StartMaster: func(ctx context.Context, cfg string) (Stopper, error) {
			// As scripts/condor-wrap does: a private mount namespace with
			// /proc mounted inside the root (the ProcD needs it), so
			// nothing stays mounted on the host.
			cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-ec",
				`mount -t proc proc "$1/proc"; exec chroot --userspec="$2" "$1" /usr/sbin/condor_master -f`,
				"sh", root, fmt.Sprintf("%d:%d", uid, uid))
			cmd.Env = append(os.Environ(), "CONDOR_CONFIG="+cfg)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				return nil, err
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			return &masterProc{cmd: cmd, done: done}, nil
		},
	}, nil
}

type masterProc struct {
	cmd  *exec.Cmd
	done chan error
}

// Stop sends SIGQUIT (fast shutdown) to the master's process group and
// waits; SIGKILL if it has not gone when ctx ends or after 20s.
func (p *masterProc) Stop(ctx context.Context) error {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGQUIT)
	t := time.NewTimer(20 * time.Second)
	defer t.Stop()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if err == nil || errors.As(err, &ee) {
			return nil
		}
		return err
	case <-ctx.Done():
	case <-t.C:
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("condor_master (pid %d) did not stop on SIGQUIT; killed", pgid)
}
