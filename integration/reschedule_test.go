//go:build integration

package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/condorpool"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/scale"
)

// What the provisioner does when workers join while jobs wait: send
// condor_reschedule to the schedd named in the demand key. With a
// negotiator interval of 5 minutes, a job queued before its worker joined
// starts within seconds of the request, not at the next periodic cycle.
func TestRescheduleStartsAJobOnANewWorker(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{ExtraConfig: "NEGOTIATOR_INTERVAL = 300\n"})
	cl := pool.Client()
	ctx := context.Background()

	var schedd string
	pool.WaitFor(t, time.Minute, "the schedd's ad", func(ctx context.Context) (bool, error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-schedd", Attrs: []string{"Name"}})
		if err != nil || len(ads) == 0 {
			return false, err
		}
		schedd = ads[0].GetString("Name")
		return schedd != "", nil
	})
	// Submitted with no worker: the negotiation the submit asks for finds
	// no slot, and the next periodic one is minutes away.
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\nrequest_cpus = 1\nrequest_memory = 64\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	// The job's status; one that has left the queue is read from the
	// history (a 1-second job can start and end between two polls).
	status := func(ctx context.Context) (int, error) {
		q, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		if err != nil || len(q) > 0 {
			if len(q) > 0 {
				return int(q[0].GetInt("JobStatus", 0)), nil
			}
			return 0, err
		}
		out, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "JobStatus")
		if err != nil {
			return 0, err
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return n, nil
	}
	time.Sleep(5 * time.Second) // let that negotiation pass
	pool.StartWorker(t, "w1", "")
	pool.WaitFor(t, time.Minute, "the worker's startd", func(ctx context.Context) (bool, error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: "PartitionableSlot =?= True", Attrs: []string{"Name"}})
		return len(ads) > 0, err
	})
	time.Sleep(10 * time.Second)
	if s, err := status(ctx); err != nil || s != 1 {
		t.Fatalf("job status %d (%v) before the reschedule, want 1 (idle): the test needs the periodic cycle far away", s, err)
	}

	p := condorpool.New(cl, demandPool, 300*time.Second)
	key := demand.Group{Schedd: schedd, Autocluster: 1}.Key()
	asked := time.Now()
	if err := p.Reschedule(ctx, []scale.Demand{{Key: key, Idle: 1}}); err != nil {
		t.Fatalf("reschedule via %s: %v", key, err)
	}
	pool.WaitFor(t, 45*time.Second, "the job to start after the reschedule", func(ctx context.Context) (bool, error) {
		s, err := status(ctx)
		return s == 2 || s == 4, err
	})
	t.Logf("job started %.1fs after condor_reschedule -name %s", time.Since(asked).Seconds(), schedd)
}
