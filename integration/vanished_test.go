//go:build integration

package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/condorpool"
	"github.com/ehos-project/ehos/lib/scale"
)

// A busy worker whose startd ad vanishes (here invalidated with the pool's
// administrator token, as a token that expired or a forged invalidation
// would leave it) while the cloud still says ACTIVE keeps its VM, and its
// job, to the end: the provisioner asks the schedd, which says the job
// runs there, and says so in its report. After the job has finished the VM
// is still kept: an absent ad alone (which any worker's token can cause) is
// no reason to delete it.
func TestBusyWorkerWhoseAdVanishesKeepsItsJob(t *testing.T) {
	t.Parallel()
	scaling := strings.NewReplacer("orphan_grace: 30s", "orphan_grace: 6s").Replace(defaultStackScaling)
	// No periodic startd update: once invalidated, the ad stays away
	// while the job runs (the loop below keeps it away regardless).
	s := StartStack(t, StackOptions{Scaling: scaling, WorkerConfig: "UPDATE_INTERVAL = 3600\n"})
	cl := s.Pool.Client()
	ctx := context.Background()
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 50\nrequest_cpus = 1\nrequest_memory = 512\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	var vm string
	s.Pool.WaitFor(t, 3*time.Minute, "the job to run on an ehos worker", func(ctx context.Context) (bool, error) {
		ads, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d && JobStatus == 2", cluster), Attrs: []string{"RemoteHost"}})
		if err != nil || len(ads) != 1 {
			return false, err
		}
		vm = condorpool.VMOfRemoteHost(ads[0].GetString("RemoteHost"))
		return vm != "", nil
	})
	t.Logf("job %d.0 runs on %s", cluster, vm)
	// The case under test is a worker the provisioner knew as busy. A job
	// can start within one provisioner cycle of its worker's first ad; had
	// the ad vanished before the provisioner saw it, the VM would still be
	// booting to it (kept by boot_timeout, not by the schedds' answer).
	s.Pool.WaitFor(t, time.Minute, "the provisioner to see "+vm+" busy", func(ctx context.Context) (bool, error) {
		rep, err := s.Report(ctx)
		for _, n := range rep.Nodes {
			if n.Name == vm {
				return n.State == scale.Busy, err
			}
		}
		return false, err // poll retries, and names the last error if it times out
	})

	invalidate := classad.Ad{
		"MyType":       classad.String("Query"),
		"TargetType":   classad.String("Machine"),
		"Requirements": classad.Expr("EHOSName == " + classad.Quote(vm)),
	}
	var tokenID string
	serverExists := func() bool {
		for _, v := range s.Servers() {
			if v.Metadata["ehos_name"] == vm {
				tokenID = v.Metadata["ehos_token_id"]
				return true
			}
		}
		return false
	}
	if !serverExists() || tokenID == "" {
		t.Fatalf("the VM %s has no ehos_token_id in its metadata", vm)
	}
	running := func(ctx context.Context) bool {
		ads, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return err != nil || len(ads) == 1
	}
	vanishedAt := time.Now()
	noted := false
	for running(ctx) {
		if err := cl.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{invalidate}); err != nil {
			t.Fatal(err)
		}
		if !serverExists() && running(ctx) {
			t.Fatalf("the VM %s was deleted while its job still ran (%v after its ad vanished)", vm, time.Since(vanishedAt).Round(time.Second))
		}
		if rep, err := s.Report(ctx); err == nil {
			for _, n := range rep.Decision.Notes {
				if n.Kind == scale.NoteScheddJobs && n.Node == vm && n.Vanished && slices.ContainsFunc(n.ScheddJobs, func(j string) bool { return strings.HasSuffix(j, fmt.Sprintf(" job %d.0", cluster)) }) {
					if !noted {
						t.Logf("after %v: %s", time.Since(vanishedAt).Round(time.Second), n)
					}
					noted = true
				}
			}
		}
		time.Sleep(time.Second)
	}
	t.Logf("the job ended %v after its worker's ad vanished", time.Since(vanishedAt).Round(time.Second))
	if !noted {
		t.Error("the provisioner's report never said it kept the VM for its running job")
	}
	out, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "NumJobStarts", "ExitCode", "JobStatus")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) != 3 || f[0] != "1" || f[1] != "0" || f[2] != "4" {
		t.Errorf("job: NumJobStarts ExitCode JobStatus = %q, want 1 0 4 (started once, finished)", out)
	}
	// The job has ended, but its ads being gone (withdrawn still: the
	// startd advertises again when its job ends) is no reason to delete
	// it: never asked to retire, its token valid, it is kept, cycle after
	// cycle.
	s.Pool.WaitFor(t, time.Minute, "the provisioner to say it keeps "+vm, func(ctx context.Context) (bool, error) {
		if err := cl.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{invalidate}); err != nil {
			return false, err
		}
		rep, err := s.Report(ctx)
		for _, n := range rep.Decision.Notes {
			if n.Kind == scale.NoteVanishedKept && n.Node == vm {
				return true, nil
			}
		}
		return false, err
	})
	for i := 0; i < 12; i++ {
		if err := cl.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{invalidate}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if !serverExists() {
			t.Fatalf("the VM %s was deleted only because its ads vanished", vm)
		}
	}
}
