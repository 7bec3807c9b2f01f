package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehos-project/ehos/lib/cmdline"
)

// Secret-looking values that must never reach rendered user-data.
var secrets = []string{
	"hunter2-cloud-password",
	"appcred-secret-0123456789abcdef",
	"hunter2-pool-signing-key",
	"os-env-password-42",
}

const testToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlaG9zLXdvcmtlckBjbSJ9.c2ln"

// setup writes clouds.yaml, ehos.yaml (mode 0600), a pool signing key and
// exports OS_* variables, all holding secrets; it returns the ehos.yaml path.
func setup(t *testing.T) (dir, cfgPath string) {
	dir = t.TempDir()
	clouds := `clouds:
  mycloud:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: ` + secrets[0] + `
      project_name: ehos
    region_name: RegionOne
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:5000/v3
      application_credential_id: abc
      application_credential_secret: ` + secrets[1] + `
`
	write(t, filepath.Join(dir, "clouds.yaml"), clouds, 0o600)
	write(t, filepath.Join(dir, "passwords.d", "POOL"), secrets[2], 0o600)
	cfgPath = filepath.Join(dir, "ehos.yaml")
	write(t, cfgPath, `pool:
  name: testpool
  central_manager: 127.0.0.1
  uid_domain: ehos.test
clouds:
  - name: mycloud
    image: ehos-base
    flavors: [m1.small]
template_vars:
  site: bergen
templates:
  etc_dir: `+filepath.Join(dir, "etc")+`
  share_dir: `+filepath.Join(dir, "share")+`
`, 0o600)
	t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(dir, "clouds.yaml"))
	t.Setenv("OS_PASSWORD", secrets[3])
	t.Setenv("OS_APPLICATION_CREDENTIAL_SECRET", secrets[1])
	return dir, cfgPath
}

func write(t *testing.T, p, s string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	app := newApp(&o, &e)
	cmdline.Prepare(app)
	// -v: the template in use is logged at info; no HTCondor tools, so no
	// knob of this machine leaks in.
	err = app.Run(cmdline.Args(app, append([]string{"ehos", "-v", "--condor-bin", t.TempDir()}, args...)))
	return o.String(), e.String(), err
}

var vmSets = []string{"--set", "instance_name=ehos-testpool-1", "--set", "cloud=mycloud", "--set", "region=RegionOne", "--set", "flavor=m1.small", "--set", "worker_token=" + testToken, "--set", "worker_cpus=1", "--set", "worker_memory=1792"}

func TestRenderShippedTemplatesLeakNoSecret(t *testing.T) {
	_, cfg := setup(t)
	for _, name := range []string{"worker.yaml", "master.yaml", "base.yaml"} {
		out, stderr, err := run(t, append(append([]string{"render", "--config", cfg}, vmSets...), name)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr)
		}
		if !strings.HasPrefix(out, "#cloud-config\n") {
			t.Errorf("%s: output does not start with #cloud-config", name)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) || strings.Contains(stderr, s) {
				t.Errorf("%s: secret %q leaked into the output", name, s)
			}
		}
		if !strings.Contains(stderr, filepath.Join("cloudinit", name)) {
			t.Errorf("%s: stderr does not say which file was used: %s", name, stderr)
		}
	}
}

func TestRenderEtcCopyWinsOverShare(t *testing.T) {
	dir, cfg := setup(t)
	write(t, filepath.Join(dir, "share", "x.yaml"), "#cloud-config\nfrom: share\n", 0o644)
	_, stderr, err := run(t, "render", "--config", cfg, "x")
	if err != nil || !strings.Contains(stderr, filepath.Join(dir, "share", "x.yaml")) {
		t.Fatalf("share copy not used: %v\n%s", err, stderr)
	}
	write(t, filepath.Join(dir, "etc", "x.yaml"), "#cloud-config\nfrom: etc <site>\n", 0o644)
	out, stderr, err := run(t, "render", "--config", cfg, "x.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if out != "#cloud-config\nfrom: etc bergen\n" || !strings.Contains(stderr, filepath.Join(dir, "etc", "x.yaml")) {
		t.Errorf("etc copy not used: out %q, stderr %s", out, stderr)
	}
}

func TestRenderLegacy(t *testing.T) {
	dir, cfg := setup(t)
	old := filepath.Join(dir, "old.yaml")
	write(t, old, "#cloud-config\nruncmd:\n  - echo {master_ip} {uid_domain}\n", 0o644)
	out, stderr, err := run(t, "render", "--config", cfg, "--legacy", old)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "echo 127.0.0.1 ehos.test") || !strings.Contains(stderr, old+":3:10: {master_ip} converted to <host_ip>") {
		t.Errorf("out %q\nstderr %s", out, stderr)
	}
	write(t, old, "#cloud-config\nruncmd:\n  - condor_store_cred -c -p {password} add\n", 0o644)
	_, _, err = run(t, "render", "--config", cfg, "--legacy", old)
	if err == nil || !strings.Contains(err.Error(), old+":3:29: {password} is not supported") {
		t.Errorf("err = %v", err)
	}
}

func TestRenderBadSet(t *testing.T) {
	_, _, err := run(t, "render", "--set", "Host=1", "--set", "novalue", "worker.yaml")
	if err == nil || !strings.Contains(err.Error(), `--set "Host=1"`) || !strings.Contains(err.Error(), `--set "novalue"`) {
		t.Errorf("err = %v", err)
	}
}

// The built command exits 1 and names line and column of an unknown tag.
func TestRenderUnknownTagExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ehos")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tpl := filepath.Join(dir, "bad.yaml")
	write(t, tpl, "#cloud-config\nruncmd:\n  - cat <file> | sort\n  - echo <pool_name>\n", 0o644)
	cmd := exec.Command(bin, "render", "--set", "pool_name=p", tpl)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, stderr.String())
	}
	want := tpl + ":3:9: unknown tag <file> (define it under template_vars: in ehos.yaml or with --set file=VALUE; write <<name>> for a literal <name>)"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout not empty: %q", stdout.String())
	}
}
