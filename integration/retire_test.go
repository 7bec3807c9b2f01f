//go:build integration

package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/condorpool"
	"github.com/ehos-project/ehos/lib/nodeinfo"
)

// The pull path of a drain, which needs no administrator access to the
// worker (a real VM cannot check the central manager's token): a retire
// request in the collector is read by the worker's hook, the worker
// publishes EHOSRetire = True, its START (as cloudinit/worker.yaml sets it)
// refuses new jobs, and the provisioner sees it draining.
func TestRetireRequestIsPulledByTheWorker(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{})
	cl := pool.Client()
	ctx := context.Background()
	h := buildHook(t, pool.Dir)
	pool.StartWorker(t, "w1", h.config+"START = ($(START)) && (MY.EHOSRetire =!= True)\n")

	retire := func(want bool) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: "EHOSName == " + classad.Quote(h.name), Attrs: []string{"EHOSRetire"}})
			return err == nil && len(ads) > 0 && ads[0].GetBool("EHOSRetire", !want) == want, err
		}
	}
	pool.WaitFor(t, time.Minute, "the hook to publish EHOSRetire = false", retire(false))

	if err := cl.Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{nodeinfo.RetireRequest(demandPool, h.name, time.Hour)}); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, time.Minute, "the hook to publish EHOSRetire = true", retire(true))

	ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: "EHOSName == " + classad.Quote(h.name)})
	if err != nil {
		t.Fatal(err)
	}
	// The worker's token carries the shared test identity, not a per-VM one.
	sameIdentity := func(string) string { return integration.WorkerIdentity }
	if ws, refused := condorpool.Workers(ads, sameIdentity); len(ws) != 1 || !ws[0].Draining || len(refused) != 0 {
		t.Errorf("the provisioner does not see the worker draining: %+v (refused %v)", ws, refused)
	}

	// A job that would fit stays idle: the worker takes nothing new.
	cluster, err := cl.Submit(ctx, "executable = /bin/true\nrequest_cpus = 1\nrequest_memory = 64\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second) // four negotiation cycles
	for time.Now().Before(deadline) {
		q, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		if err == nil && (len(q) == 0 || q[0].GetInt("JobStatus", 1) != 1) {
			t.Fatalf("a retiring worker took a new job (queue: %v)", q)
		}
		time.Sleep(2 * time.Second)
	}
}
