//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A run killed so hard that something of it survived (here a stand-in
// process) is cleaned up by the next run: its processes killed, its
// directory removed. A live run's directory is left alone.
func TestLeftoversOfAKilledRunAreCleanedUp(t *testing.T) {
	// Runs alone (no t.Parallel): kills a whole test run with -9 and times what the next one cleans.
	RequireCondor(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", dirPrefix+"leftover-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "owner"), []byte(fmt.Sprintf("%d 1\n", dead.Process.Pid)), 0o644)
	os.WriteFile(filepath.Join(dir, "owner-pidns"), []byte(pidNS()+"\n"), 0o644)
	survivor := exec.Command("sleep", "300")
	survivor.Env = append(os.Environ(), "CONDOR_CONFIG="+filepath.Join(dir, "condor_config"))
	if err := survivor.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- survivor.Wait() }()

	live := makeDir(t, "live")
	defer os.RemoveAll(live)

	cleanLeftovers()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		survivor.Process.Kill()
		t.Fatal("the leftover process was not killed")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("leftover dir %s still there: %v", dir, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live run's dir was removed: %v", err)
	}
}
