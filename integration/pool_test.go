//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/condor"
)

// A vanilla job submitted to the loopback pool runs to completion on a
// worker's startd, all observed through lib/condor.
func TestVanillaJobCompletesOnWorker(t *testing.T) {
	t.Parallel()
	pool := StartPool(t, PoolOptions{})
	w := pool.StartWorker(t, "worker1", "")
	c := pool.Client()
	ctx := context.Background()

	slots, err := c.Status(ctx, condor.StatusQuery{Attrs: []string{"Name", "Machine", "PartitionableSlot", "Cpus", "Memory"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 1 || !slots[0].GetBool("PartitionableSlot", false) || slots[0].GetInt("Cpus", 0) != 2 {
		t.Fatalf("want one partitionable slot with 2 cpus, got %v", slots)
	}

	jobDir := filepath.Join(pool.Dir, "job")
	mkdirOwned(t, jobDir, 0o755)
	cluster, err := c.Submit(ctx, fmt.Sprintf(`universe = vanilla
executable = /bin/sh
transfer_executable = false
arguments = "-c 'echo ran on $$(Name) ; sleep 1'"
initialdir = %s
output = out.txt
error = err.txt
log = job.log
request_cpus = 1
request_memory = 64
request_disk = 1024
should_transfer_files = YES
queue
`, jobDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted cluster %d", cluster)

	start := time.Now()
	var lastStatus int64 = -1
	pool.WaitFor(t, 120*time.Second, "the job to complete", func(ctx context.Context) (bool, error) {
		// A completed job leaves the queue; until then watch its status.
		ads, err := c.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus", "RemoteHost"}})
		if err != nil {
			return false, err
		}
		if len(ads) == 0 {
			return true, nil
		}
		if s := ads[0].GetInt("JobStatus", -1); s != lastStatus {
			t.Logf("job status %d %s", s, ads[0].GetString("RemoteHost"))
			lastStatus = s
			if s == 5 {
				return false, fmt.Errorf("job held")
			}
		}
		return false, nil
	})
	out, _ := os.ReadFile(filepath.Join(jobDir, "out.txt"))
	if !strings.Contains(string(out), "@worker1@") {
		errText, _ := os.ReadFile(filepath.Join(jobDir, "err.txt"))
		t.Fatalf("job output %q (stderr %q), want it to name a slot of worker1", out, errText)
	}
	hist, err := c.Run(ctx, "condor_history", fmt.Sprintf("%d.0", cluster), "-limit", "1", "-af", "JobStatus", "LastRemoteHost")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(hist), "4 ") || !strings.Contains(string(hist), "@worker1") {
		t.Errorf("condor_history: %q, want completed (4) on worker1", hist)
	}
	t.Logf("job completed on %s in %v", w.Name, time.Since(start).Round(time.Millisecond))
}
