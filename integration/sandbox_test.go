//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The kept sandbox (make demo KEEP=1) used as its printed instructions say:
// source its env, submit a job of one's own, watch a server appear in
// `openstack server list` and go away after the job, then make demo-down
// stops everything, leaving no process, mount or directory.
func TestDemoSandbox(t *testing.T) {
	t.Parallel()
	inst := RequireCondor(t)
	RequireOpenStackCLI(t)
	dir, err := os.MkdirTemp("", "ehos-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // the pool's user reaches the jobs directory inside
	t.Cleanup(func() { os.RemoveAll(dir) })
	sb := filepath.Join(dir, "sandbox")

	demo := filepath.Join(dir, "ehos-demo")
	build := exec.Command("go", "build", "-o", demo, "./integration/cmd/ehos-demo")
	build.Dir = inst.Repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ehos-demo: %v\n%s", err, out)
	}
	var out bytes.Buffer
	cmd := exec.Command(demo, "-keep", "-jobs", "0", "-sandbox", sb)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { // only when the test failed before make demo-down
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-exited
		}
	})
	dead := func() string {
		select {
		case <-exited:
			return "ehos-demo -keep exited: " + fmt.Sprint(waitErr) + "\n" + out.String()
		default:
			return ""
		}
	}
	envFile := filepath.Join(sb, "env")
	poll(t, 3*time.Minute, 200*time.Millisecond, "the sandbox's env file", func(context.Context) (bool, error) {
		_, err := os.Stat(envFile)
		return err == nil, err
	}, dead, out.String)
	env := map[string]string{}
	b, _ := os.ReadFile(envFile)
	for _, l := range strings.Split(string(b), "\n") {
		for _, f := range strings.Fields(strings.TrimPrefix(l, "export ")) {
			if k, v, ok := strings.Cut(f, "="); ok {
				env[k] = strings.Trim(v, `"`)
			}
		}
	}
	poolDir, stackDir := filepath.Dir(env["CONDOR_CONFIG"]), filepath.Dir(env["EHOS_CONFIG"])
	more := func() string {
		q, _ := exec.Command("bash", "-c", "source "+envFile+" && condor_q -allusers -nobatch && ehos status").CombinedOutput()
		return out.String() + "\n" + string(q) + "\nprovisioner log:\n" + tail(filepath.Join(stackDir, "EHOSProvisionerLog"), 10)
	}
	if !strings.HasPrefix(poolDir, os.TempDir()) || !strings.HasPrefix(stackDir, os.TempDir()) {
		t.Fatalf("env file %s does not name the pool and the stack:\n%s", envFile, b)
	}

	// What a user types, through the printed environment.
	sh := func(script string) string {
		t.Helper()
		c := exec.Command("bash", "-c", "source "+envFile+" && "+script)
		c.Dir = filepath.Join(sb, "jobs")
		o, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, o)
		}
		return strings.TrimSpace(string(o))
	}
	os.WriteFile(filepath.Join(sb, "jobs", "mine.sub"), []byte("executable = /bin/sleep\narguments = 5\n"+
		"transfer_executable = false\nrequest_cpus = 1\nrequest_memory = 256\nlog = mine.log\nqueue\n"), 0o644)
	t0 := time.Now()
	cluster := strings.Fields(sh("condor_submit -terse mine.sub"))[0] // "2.0 - 2.0"
	cluster, _, _ = strings.Cut(cluster, ".")
	var server string
	poll(t, 3*time.Minute, time.Second, "a server in openstack server list", func(context.Context) (bool, error) {
		server = sh("openstack server list -f value -c Name -c Status")
		return server != "", nil
	}, dead, more)
	t.Logf("after %s: openstack server list: %s", time.Since(t0).Round(time.Second), server)
	// A job no flavor holds is shown as unmet, with the reason.
	os.WriteFile(filepath.Join(sb, "jobs", "huge.sub"), []byte("executable = /bin/sleep\narguments = 5\n"+
		"transfer_executable = false\nrequest_cpus = 64\nrequest_memory = 256\nqueue\n"), 0o644)
	huge, _, _ := strings.Cut(strings.Fields(sh("condor_submit -terse huge.sub"))[0], ".")
	var status string
	poll(t, time.Minute, time.Second, "ehos status showing the 64-cpu job as unmet", func(context.Context) (bool, error) {
		status = sh("ehos status")
		return strings.Contains(status, "fits no flavor") && strings.Contains(status, "unmet  ") &&
			strings.Contains(status, "no configured flavor matches"), nil
	}, dead, func() string { return status })
	sh("condor_rm " + huge)
	poll(t, 4*time.Minute, time.Second, "the job done and no server left", func(context.Context) (bool, error) {
		return sh("condor_q "+cluster+" -af ClusterId") == "" && sh("openstack server list -f value -c ID") == "", nil
	}, dead, more)
	t.Logf("after %s: job done, server list empty", time.Since(t0).Round(time.Second))

	down := exec.Command("make", "--no-print-directory", "demo-down")
	down.Dir = inst.Repo
	down.Env = append(os.Environ(), "EHOS_SANDBOX="+sb)
	if o, err := down.CombinedOutput(); err != nil || !strings.Contains(string(o), "stopped") {
		t.Fatalf("make demo-down: %v\n%s", err, o)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("ehos-demo after make demo-down: %v\n%s", waitErr, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("ehos-demo still running after make demo-down")
	}
	for _, d := range []string{sb, poolDir, stackDir} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", d, err)
		}
	}
	if n := processesUnder(poolDir, stackDir); n > 0 {
		t.Errorf("%d processes with a CONDOR_CONFIG in the sandbox's directories left running", n)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	sc := bufio.NewScanner(bytes.NewReader(mounts))
	for sc.Scan() {
		if strings.Contains(sc.Text(), poolDir) || strings.Contains(sc.Text(), stackDir) {
			t.Errorf("mount left: %s", sc.Text())
		}
	}
}

// processesUnder counts processes whose CONDOR_CONFIG lies under one of dirs.
func processesUnder(dirs ...string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("CONDOR_CONFIG=")); ok {
				for _, d := range dirs {
					if strings.HasPrefix(string(v), d+"/") {
						n++
					}
				}
			}
		}
	}
	return n
}
