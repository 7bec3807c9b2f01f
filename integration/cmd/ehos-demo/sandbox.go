package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ehos-project/ehos/integration"
)

func defaultSandbox() string {
	if d := os.Getenv("EHOS_SANDBOX"); d != "" {
		return d
	}
	return "/tmp/ehos-sandbox"
}

// claimSandbox makes dir and writes this process's pid into it, unless a
// live sandbox holds it already.
func claimSandbox(dir string) error {
	if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("a sandbox is already running in %s (pid %d): make demo-down stops it", dir, pid)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "pid"), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644)
}

// writeSandbox writes dir/env, which points openstack (clouds.yaml,
// OS_CLOUD), the HTCondor tools (wrappers that run them in the HTCondor
// root, the pool's config) and ehos at the running stack, and dir/jobs, a
// directory the pool's user can write, with an example submit file.
func writeSandbox(s *integration.Stack, dir string) error {
	inst := s.Pool.Install
	env := fmt.Sprintf(`# ehos sandbox (make demo KEEP=1): source this file.
export OS_CLIENT_CONFIG_FILE=%q OS_CLOUD=alpha
export CONDOR_CONFIG=%q EHOS_CONDOR_ROOT=%q
export EHOS_CONFIG=%q EHOS_CONDOR_BIN=%q
export PATH=%q:%q:"$PATH"
`, s.CloudsFile, s.Pool.ConfigFile, inst.Root, s.ConfigFile, inst.BinDir, s.Bin, inst.BinDir)
	jobs := filepath.Join(dir, "jobs")
	if err := os.MkdirAll(jobs, 0o755); err != nil {
		return err
	}
	if err := os.Chown(jobs, integration.PoolUID, integration.PoolUID); err != nil {
		return err
	}
	sub := "# Two jobs of 1 CPU for a minute: a VM boots for them, runs them and goes away.\n" +
		"executable = /bin/sleep\narguments = 60\ntransfer_executable = false\n" +
		"request_cpus = 1\nrequest_memory = 512\nlog = example.log\nqueue 2\n"
	if err := os.WriteFile(filepath.Join(jobs, "example.sub"), []byte(sub), 0o644); err != nil {
		return err
	}
	// env last: its presence says the sandbox is up.
	tmp := filepath.Join(dir, ".env")
	if err := os.WriteFile(tmp, []byte(env), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "env"))
}
