//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A condor_master that a shell script starts in the background (`condor-wrap
// condor_master -f &`, as scripts and CI do) still shuts down fast on SIGQUIT
// to its namespace's init. A non-interactive shell starts background jobs
// with SIGINT and SIGQUIT ignored, and bash cannot trap a signal ignored at
// entry: without `env --default-signal` in scripts/condor-wrap the init
// ignored SIGQUIT, the master never heard of the stop, and (unshare's
// --kill-child sends that same SIGQUIT) a killed caller left it running.
func TestMasterStartedInTheBackgroundShutsDownFast(t *testing.T) {
	// Runs alone (no t.Parallel): it measures how fast a master shuts down.
	inst := RequireCondor(t)
	dir := makeDir(t, "bgmaster")
	for _, sub := range []string{"log", "spool", "execute", "lock", "run", "cred_dir", "passwords.d", "tokens.d"} {
		mkdirOwned(t, filepath.Join(dir, sub), 0o700)
	}
	cfg := filepath.Join(dir, "condor_config")
	baseConfig(dir, fmt.Sprintf("127.0.0.1:%d", freePort(t))).add("DAEMON_LIST = MASTER\n").write(t, cfg)

	// The shell prints the background job's pid (condor-wrap, then unshare:
	// exec keeps it) and waits for it.
	sh := exec.Command("bash", "-c", `"$1" condor_master -f >"$2" 2>&1 & echo $!; wait`, "bg", inst.Wrap, filepath.Join(dir, "master.out"))
	sh.Env = append(os.Environ(), "CONDOR_CONFIG="+cfg)
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("no pid from the shell")
	}
	unshare, _ := strconv.Atoi(strings.TrimSpace(sc.Text()))
	done := make(chan error, 1)
	go func() { done <- sh.Wait() }()
	var init int
	t.Cleanup(func() {
		// The last resort: the namespace dies with its init.
		if init > 0 {
			syscall.Kill(init, syscall.SIGKILL)
		}
		syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})

	masterLog := filepath.Join(dir, "log", "MasterLog")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(masterLog)
		if strings.Contains(string(b), "STARTING UP") {
			// unshare has exec'd by now (before, the wrapper's own
			// subshells are this pid's children): its child is the init.
			init = childPid(unshare)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("condor_master did not start in 30 s; MasterLog:\n%s\n%s", b, tail(filepath.Join(dir, "master.out"), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // past the master's start-up, its handlers in place
	if init <= 0 {
		t.Fatalf("no init under unshare %d", unshare)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", init))
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "SigIgn:") || strings.HasPrefix(l, "SigCgt:") {
			t.Logf("namespace init %d %s", init, l)
		}
	}

	start := time.Now()
	if err := syscall.Kill(init, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("15 s after SIGQUIT to the namespace's init the master still runs; MasterLog:\n%s", tail(masterLog, 10))
	}
	log, _ := os.ReadFile(masterLog)
	if !strings.Contains(string(log), "fast shutdown") || !strings.Contains(string(log), "EXITING WITH STATUS 0") {
		t.Errorf("the master did not shut down fast; MasterLog:\n%s", tail(masterLog, 10))
	}
	init = 0
	t.Logf("master shut down fast %v after SIGQUIT to its init", time.Since(start).Round(10*time.Millisecond))
}
