package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The tests in this file drive the built binaries, ehos and
// ehos_provisioner, as an admin types them: offline, with HTCondor absent
// (or faked by a condor_config_val script) and Keystone on a closed port
// of 127.0.0.1.

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// bins builds ehos and ehos_provisioner once per test run.
// $EHOS_TEST_BINARIES names a directory of binaries to test instead (such
// as an older build, to see these tests fail on it).
func bins(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("EHOS_TEST_BINARIES"); d != "" {
		return d
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "ehos-bin-"); binErr != nil {
			return
		}
		for _, p := range []string{".", "../ehos_provisioner"} {
			out, err := exec.Command("go", "build", "-o", binDir, p).CombinedOutput()
			if err != nil {
				binErr = errors.New(string(out))
				return
			}
		}
	})
	if binErr != nil {
		t.Fatalf("build: %v", binErr)
	}
	return binDir
}

// result is one run of a binary.
type result struct {
	out, err string
	code     int
}

// invocation runs a built binary in dir with env (added to a clean one:
// no $EHOS_CONFIG, no OpenStack variables, PATH without HTCondor unless
// path adds it).
type invocation struct {
	dir  string
	env  []string
	path string // prepended to PATH
}

func (iv invocation) run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(bins(t), bin), args...)
	cmd.Dir = iv.dir
	path := "/usr/bin:/bin"
	if iv.path != "" {
		path = iv.path + ":" + path
	}
	cmd.Env = append([]string{"PATH=" + path, "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, iv.env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := result{out: o.String(), err: e.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if strings.Contains(r.err, "goroutine ") || strings.Contains(r.err, "panic:") {
		t.Errorf("%s %s: crashed:\n%s", bin, strings.Join(args, " "), r.err)
	}
	return r
}

// closedPort is a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// offlineSite is a directory holding ehos.yaml with clouds site-a and
// site-b and a clouds.yaml (0600) whose Keystone is a closed port.
func offlineSite(t *testing.T) (dir, cfg, clouds string) {
	t.Helper()
	dir = t.TempDir()
	cfg = filepath.Join(dir, "ehos.yaml")
	clouds = filepath.Join(dir, "clouds.yaml")
	write(t, cfg, `pool:
  name: demo
  central_manager: 127.0.0.1
clouds:
  - name: site-a
    image: ehos-worker
    flavors: [m1.small]
    network: private
  - name: site-b
    image: ehos-worker
    flavors: [m1.small]
    network: private
`, 0o600)
	addr := closedPort(t)
	var b strings.Builder
	b.WriteString("clouds:\n")
	for _, n := range []string{"site-a", "site-b"} {
		b.WriteString("  " + n + ":\n    region_name: RegionOne\n    auth:\n      auth_url: http://" + addr + "/v3\n      username: u\n      password: p\n      project_name: p\n      user_domain_name: Default\n      project_domain_name: Default\n")
	}
	write(t, clouds, b.String(), 0o600)
	return dir, cfg, clouds
}

// fakeKnobs is a directory with a condor_config_val that knows knobs.
func fakeKnobs(t *testing.T, knobs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("#!/bin/sh\ncase \"$1\" in\n")
	for k, v := range knobs {
		b.WriteString(k + ") echo '" + v + "' ;;\n")
	}
	b.WriteString("*) echo \"Not defined: $1\" >&2; exit 1 ;;\nesac\n")
	write(t, filepath.Join(dir, "condor_config_val"), b.String(), 0o755)
	return dir
}

func wantCode(t *testing.T, what string, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.out, r.err)
	}
}
