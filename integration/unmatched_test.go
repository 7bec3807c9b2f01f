//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/scale"
)

// A job whose Requirements hold only against the offline flavor ads
// (TARGET.Offline =?= True) boots one round of VMs, then none: once the
// worker booted for it has stood idle beside it for unmatched_after, the
// job is "unmatched on real workers", the worker retires and no VM is
// created for it again. A normal job submitted afterwards still gets one.
func TestOfflineOnlyJobBootsOneRoundThenNone(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{Scaling: defaultStackScaling + "  unmatched_after: 20s\n"})
	w := watchServers(t, s)
	cl := s.Pool.Client()
	ctx := context.Background()
	gamer, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\nrequest_cpus = 1\nrequest_memory = 512\n"+
		"requirements = TARGET.Offline =?= True\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	s.Pool.WaitFor(t, 2*time.Minute, "a VM booted for the job", func(context.Context) (bool, error) {
		seen, _, _ := w.snapshot()
		return len(seen) > 0, nil
	})
	s.Pool.WaitFor(t, 3*time.Minute, "the job reported unmatched on real workers and its VM gone", func(ctx context.Context) (bool, error) {
		rep, err := s.Report(ctx)
		if err != nil {
			return false, err
		}
		unmatched := false
		for _, u := range rep.Decision.Unmet {
			unmatched = unmatched || u.Reason.Kind == scale.UnmetUnmatched
		}
		return unmatched && len(s.Servers()) == 0, nil
	})
	gone := time.Now()
	// Long past boot, unmatched_after and idle_before_retire together: no
	// second round.
	time.Sleep(60 * time.Second)
	seen, _, _ := w.snapshot()
	if len(seen) != 1 {
		t.Errorf("%d VMs were created for one job that matches only offline ads, want 1 round of 1: %v", len(seen), seen)
	}
	out, err := cl.Run(ctx, "condor_q", "-allusers", fmt.Sprint(gamer), "-af", "JobStatus")
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("the offline-only job should still be idle (JobStatus 1): %q %v", out, err)
	}
	rep, err := s.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rep.Decision.Unmet {
		t.Logf("unmet %s: %s", u.Demand, u.Reason)
	}
	t.Logf("no VM for %v after the first one went; %d servers seen", time.Since(gone).Round(time.Second), len(seen))

	normal, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\nrequest_cpus = 1\nrequest_memory = 512\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitJobsDone(t, normal, 3*time.Minute)
	if seen, _, _ := w.snapshot(); len(seen) != 2 {
		t.Errorf("%d VMs in all, want 2 (one round for the offline-only job, one for the normal job)", len(seen))
	}
}
