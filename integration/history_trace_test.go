//go:build integration

package integration_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/sim"
)

// ehos simulate replays a pool's own history: the table that
// sim.HistoryCommand prints on HTCondor 23.9.6 is read as a trace (jobs
// that completed, with their request and last run time; the scheduler
// universe and a removed job left out) and replayed to the end.
func TestHistoryTraceReplays(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{})
	cl := pool.Client()
	ctx := context.Background()
	pool.StartWorker(t, "w1", "")

	for _, sub := range []string{
		"executable = /bin/sleep\narguments = 3\nrequest_cpus = 1\nrequest_memory = 100\nqueue 3\n",
		"executable = /bin/sleep\narguments = 5\nrequest_cpus = 2\nrequest_memory = 300\nqueue 2\n",
		"executable = /bin/sleep\narguments = 1\nqueue 1\n", // RequestMemory is HTCondor's default expression
		"universe = scheduler\nexecutable = /bin/true\nqueue 1\n",
	} {
		if _, err := cl.Submit(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	pool.WaitFor(t, 3*time.Minute, "every job to complete", func(ctx context.Context) (bool, error) {
		q, err := cl.Queue(ctx, condor.QueueQuery{Attrs: []string{"ClusterId"}})
		return err == nil && len(q) == 0, err
	})
	// A job removed while it runs: it has no completion to replay.
	if _, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 600\nrequest_cpus = 1\nrequest_memory = 100\nqueue 1\n"); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 2*time.Minute, "the long job to run", func(ctx context.Context) (bool, error) {
		q, err := cl.Queue(ctx, condor.QueueQuery{Attrs: []string{"JobStatus"}})
		return err == nil && len(q) == 1 && q[0].GetInt("JobStatus", 0) == 2, err
	})
	if _, err := cl.Run(ctx, "condor_rm", "-all"); err != nil {
		t.Fatal(err)
	}
	var out []byte
	pool.WaitFor(t, time.Minute, "all 8 jobs in the history", func(ctx context.Context) (bool, error) {
		q, err := cl.Queue(ctx, condor.QueueQuery{Attrs: []string{"ClusterId"}})
		if err != nil || len(q) > 0 {
			return false, err
		}
		args := append([]string{"-af:h"}, sim.HistoryAttrs[:]...)
		args = append(args, "ClusterId", "ProcId") // extra columns are ignored
		out, err = cl.Run(ctx, "condor_history", args...)
		return err == nil && bytes.Count(out, []byte("\n")) >= 9, err // header + 8 jobs
	})
	t.Logf("%s:\n%s", sim.HistoryCommand, out)
	path := filepath.Join(t.TempDir(), "week.txt")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}

	tr, err := sim.ReadTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Jobs) != 6 || tr.Skipped != 2 {
		t.Fatalf("read %d jobs, skipped %d; want the 6 that completed on the worker, and the scheduler-universe and the removed job skipped", len(tr.Jobs), tr.Skipped)
	}
	lines := strings.Split(string(out), "\n")
	shapes := map[[2]int]int{}
	for _, j := range tr.Jobs {
		mem := j.MemoryMB
		if j.Cpus == 1 && mem != 100 {
			mem = -1 // the default expression: whatever it evaluated to
			if j.MemoryMB < 0 || j.MemoryMB > 2048 {
				t.Errorf("default request_memory read as %d MB", j.MemoryMB)
			}
		}
		shapes[[2]int{j.Cpus, mem}]++
		// The run time is the history's own (CompletionDate −
		// JobCurrentStartDate on the job's line), and no shorter than the
		// job's sleep; how much longer a loaded machine made it is not
		// the reader's business (once 117 s for a 5 s sleep beside the
		// whole suite).
		f := strings.Fields(lines[j.Line-1])
		start, _ := strconv.ParseInt(f[1], 10, 64)
		end, _ := strconv.ParseInt(f[2], 10, 64)
		atLeast := map[int]time.Duration{1: 0, 2: 4 * time.Second}[j.Cpus]
		if j.Runtime != time.Duration(end-start)*time.Second || j.Runtime < atLeast || j.Submit < 0 || j.Submit > time.Minute {
			t.Errorf("job at line %d: %d cpus, submit +%v, run time %v; want %ds (its line: %s), at least %v", j.Line, j.Cpus, j.Submit, j.Runtime, end-start, lines[j.Line-1], atLeast)
		}
	}
	if shapes[[2]int{1, 100}] != 3 || shapes[[2]int{2, 300}] != 2 || shapes[[2]int{1, -1}] != 1 {
		t.Errorf("shapes (cpus, MB) read: %v; want 3 × (1, 100), 2 × (2, 300), 1 × the default memory", shapes)
	}

	res, err := sim.Run(ctx, tr, sim.Options{Config: sim.DemoConfig(), Flavors: sim.DefaultFlavors(), Quota: sim.DefaultQuota,
		Cloud: sim.DefaultModel, JoinDelay: sim.DefaultJoinDelay})
	if err != nil {
		t.Fatal(err)
	}
	if res.Finished != 6 || res.Killed != 0 || res.Creates == 0 {
		t.Fatalf("replay: %d of 6 jobs finished, %d killed, %d VMs created", res.Finished, res.Killed, res.Creates)
	}
}
