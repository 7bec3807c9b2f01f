//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/condor"
)

// The whole chain on one machine: jobs submitted → demand ads → VMs created
// from the rendered worker template → workers join with their own tokens →
// every job completes → workers drain and their VMs are deleted, back to
// min (0).
func TestProvisionerScalesUpAndDown(t *testing.T) {
	s := StartStack(t, StackOptions{})
	cl := s.Pool.Client()
	ctx := context.Background()
	jobs := "executable = /bin/sleep\narguments = 6\n" +
		"request_cpus = 1\nrequest_memory = 512\nqueue 12\n" +
		"request_cpus = 2\nrequest_memory = 1500\nqueue 8\n"
	cluster, err := cl.Submit(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s.Pool.WaitFor(t, 4*time.Minute, "all 20 jobs to complete on ehos workers", func(ctx context.Context) (bool, error) {
		ads, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		return err == nil && len(ads) == 0, err
	})
	t.Logf("20 jobs done in %v", time.Since(t0).Round(time.Second))

	// They ran on ehos workers, not elsewhere: history names the startds.
	out, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "LastRemoteHost")
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		hosts[l] = true
		if !strings.Contains(l, "ehos-demo-") {
			t.Errorf("a job ran on %q, not an ehos worker", l)
		}
	}
	t.Logf("jobs ran on %d workers", len(hosts))

	// The servers were created from the rendered template with ownership metadata.
	created := s.Cloud.RequestCounts()
	t.Logf("cloud requests: %v", created)

	s.Pool.WaitFor(t, 3*time.Minute, "every VM deleted (scaled back to min 0)", func(ctx context.Context) (bool, error) {
		return len(s.Servers()) == 0, nil
	})
	s.Pool.WaitFor(t, 30*time.Second, "the provisioner's report to list no node", func(ctx context.Context) (bool, error) {
		rep, err := s.Report(ctx)
		return err == nil && len(rep.Nodes) == 0 && len(rep.Errors) == 0, err
	})
	log := s.ProvisionerLog()
	for _, want := range []string{`"message":"created"`, `"message":"draining"`, `"message":"deleted"`} {
		if !strings.Contains(log, want) {
			t.Errorf("provisioner log lacks %s", want)
		}
	}
	if strings.Contains(log, "eyJ") {
		t.Errorf("a token appears in the provisioner log")
	}
}
