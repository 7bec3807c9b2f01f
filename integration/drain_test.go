//go:build integration

package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/condor"
)

// A graceful drain lets the running job finish (MAXJOBRETIREMENTTIME), then a
// peaceful condor_off makes the startd leave the pool: the scale-down path,
// through lib/condor.
func TestGracefulDrainLetsTheJobFinishThenOffRemovesTheWorker(t *testing.T) {
	t.Parallel()
	pool := StartPool(t, PoolOptions{})
	w := pool.StartWorker(t, "drainme", "")
	c := pool.Client()
	ctx := context.Background()
	jobDir := filepath.Join(pool.Dir, "job")
	mkdirOwned(t, jobDir, 0o755)
	cluster, err := c.Submit(ctx, fmt.Sprintf("executable = /bin/sleep\narguments = 6\ntransfer_executable = false\ninitialdir = %s\nrequest_cpus = 1\nrequest_memory = 64\nqueue\n", jobDir))
	if err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 60*time.Second, "the job to run", func(ctx context.Context) (bool, error) {
		ads, err := c.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d && JobStatus == 2", cluster), Attrs: []string{"RemoteHost"}})
		return len(ads) == 1, err
	})
	// condor_drain 23.9 wants a slot name (slot1@drainme@host): with the
	// startd's name it answers "Can't find address for startd". condor_off
	// takes the startd's name (drainme@host).
	ads, err := c.Status(ctx, condor.StatusQuery{Constraint: "PartitionableSlot =?= True", Attrs: []string{"Name", "Machine"}})
	if err != nil {
		t.Fatal(err)
	}
	var slot, startd string
	for _, a := range ads {
		if w.OwnsSlot(a.GetString("Name")) {
			slot = a.GetString("Name")
			startd = w.Name + "@" + a.GetString("Machine")
		}
	}
	if err := c.Drain(ctx, slot, true); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 60*time.Second, "the job to finish while draining", func(ctx context.Context) (bool, error) {
		ads, err := c.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return len(ads) == 0, err
	})
	hist, err := c.Run(ctx, "condor_history", fmt.Sprintf("%d.0", cluster), "-limit", "1", "-af", "JobStatus", "NumJobStarts")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(hist)); len(f) != 2 || f[0] != "4" || f[1] != "1" {
		t.Errorf("condor_history JobStatus NumJobStarts = %q, want completed after one start (not evicted)", hist)
	}
	if err := c.Off(ctx, startd, true); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 60*time.Second, "the worker's slots to leave the collector", func(ctx context.Context) (bool, error) {
		ads, err := c.Status(ctx, condor.StatusQuery{Attrs: []string{"Name"}})
		for _, a := range ads {
			if w.OwnsSlot(a.GetString("Name")) {
				return false, err
			}
		}
		return err == nil, err
	})
}
