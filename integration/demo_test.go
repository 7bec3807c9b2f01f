//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDemoPool is what `make demo` shows for now (EHOS_DEMO=1): a loopback
// pool with one worker, a small burst of jobs, condor_status and condor_q as
// they run. It grows into the full demo (local cloud + provisioner) later.
func TestDemoPool(t *testing.T) {
	t.Parallel()
	if os.Getenv("EHOS_DEMO") != "1" {
		t.Skip("set EHOS_DEMO=1 (make demo) to run the demo")
	}
	pool := StartPool(t, PoolOptions{})
	pool.StartWorker(t, "worker1", "")
	c := pool.Client()
	ctx := context.Background()
	show := func(title, tool string, args ...string) {
		out, err := c.Run(ctx, tool, args...)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("\n== %s\n%s", title, out)
	}
	show("condor_status: the pool on "+pool.CollectorAddr, "condor_status", "-any")
	jobDir := filepath.Join(pool.Dir, "demo")
	mkdirOwned(t, jobDir, 0o755)
	cluster, err := c.Submit(ctx, fmt.Sprintf("executable = /bin/sleep\narguments = 3\ntransfer_executable = false\ninitialdir = %s\nrequest_cpus = 1\nrequest_memory = 64\nqueue 4\n", jobDir))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\n== submitted 4 jobs (cluster %d) to a worker with 2 cpus\n", cluster)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		show("condor_status (slots)", "condor_status")
		show("condor_q", "condor_q", "-allusers", "-nobatch")
		ads, err := c.Run(ctx, "condor_q", "-allusers", "-af", "ClusterId")
		if err != nil {
			t.Fatal(err)
		}
		if len(ads) == 0 {
			fmt.Println("\n== all jobs done")
			return
		}
		time.Sleep(3 * time.Second)
	}
	t.Fatal("demo jobs did not finish in 2 minutes")
}
