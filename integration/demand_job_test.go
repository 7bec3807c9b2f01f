//go:build integration

package integration_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
)

// TestDemandJobSurvivesScheddRestart runs the real ehos_demand binary from
// the shipped submit file (condor-config/ehos_demand.submit) as a
// scheduler-universe job: it reports, is started again when the schedd
// restarts (and stays in the queue), and withdraws the demand when the jobs
// go.
func TestDemandJobSurvivesScheddRestart(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{ExtraConfig: integration.ShippedOfferRank(t) + "EHOS_POOL_NAME = " + demandPool + "\n"})
	cl := pool.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := cl.Advertise(ctx, "UPDATE_STARTD_AD", demand.FlavorAds(demandOffers(), demandPool, time.Now().Unix())); err != nil {
		t.Fatal(err)
	}

	reporter, jobDir := submitShippedDemandJob(ctx, t, pool)
	work, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\nrequest_cpus = 1\nrequest_memory = 1000\nqueue 3\n")
	if err != nil {
		t.Fatal(err)
	}

	demandAds := func(ctx context.Context) (idle int64, reported int64, err error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: demand.DemandConstraint(demandPool)})
		for _, a := range ads {
			idle += a.GetInt(demand.AttrIdle, 0)
			reported = max(reported, a.GetInt(demand.AttrReported, 0))
		}
		return idle, reported, err
	}
	pool.WaitFor(t, 60*time.Second, "the demand job to advertise 3 idle jobs", func(ctx context.Context) (bool, error) {
		idle, _, err := demandAds(ctx)
		return idle == 3, err
	})
	jobState := func(ctx context.Context) (status, starts int64, err error) {
		ads, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", reporter), Attrs: []string{"JobStatus", "NumJobStarts"}, AllUsers: true})
		if err != nil || len(ads) != 1 {
			return 0, 0, err
		}
		return ads[0].GetInt("JobStatus", 0), ads[0].GetInt("NumJobStarts", 0), nil
	}
	_, before, err := jobState(ctx)
	if err != nil {
		t.Fatal(err)
	}

	restarted := time.Now()
	if _, err := cl.Run(ctx, "condor_restart", "-schedd"); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 90*time.Second, "the demand job running again after the schedd restart", func(ctx context.Context) (bool, error) {
		status, starts, err := jobState(ctx)
		if err != nil {
			return false, nil // the schedd is restarting
		}
		return status == 2 && starts > before, nil
	})
	pool.WaitFor(t, 60*time.Second, "fresh demand ads from the restarted job", func(ctx context.Context) (bool, error) {
		idle, reported, err := demandAds(ctx)
		return idle == 3 && reported > restarted.Unix(), err
	})
	t.Logf("demand job back and reporting %v after condor_restart -schedd", time.Since(restarted).Round(time.Millisecond))

	if _, err := cl.Run(ctx, "condor_rm", fmt.Sprint(work)); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 30*time.Second, "the demand job to withdraw its ads", func(ctx context.Context) (bool, error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: demand.DemandConstraint(demandPool)})
		return err == nil && len(ads) == 0, err
	})
	logText, _ := os.ReadFile(filepath.Join(jobDir, "EHOSDemandLog"))
	if !strings.Contains(string(logText), `"message":"demand reported"`) {
		t.Errorf("the job's log has no report:\n%s", logText)
	}
	if _, err := cl.Run(ctx, "condor_rm", fmt.Sprint(reporter)); err != nil {
		t.Fatal(err)
	}
}

// submitShippedDemandJob submits condor-config/ehos_demand.submit with this
// pool's paths and shorter intervals; everything else as shipped. It
// returns the cluster and the job's initialdir.
func submitShippedDemandJob(ctx context.Context, t *testing.T, pool *integration.Pool) (int, string) {
	t.Helper()
	bin := buildStatic(t, pool.Dir, "ehos_demand")
	jobDir := filepath.Join(pool.Dir, "demand-job")
	if err := os.MkdirAll(jobDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(jobDir, integration.PoolUID, integration.PoolUID)
	_, file, _, _ := runtime.Caller(0)
	shipped, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(file)), "condor-config", "ehos_demand.submit"))
	if err != nil {
		t.Fatal(err)
	}
	var sub []string
	for _, line := range strings.Split(string(shipped), "\n") {
		key, _, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(key) {
		case "executable":
			line = "executable = " + bin
		case "initialdir":
			line = "initialdir = " + jobDir
		case "arguments":
			// Shorter intervals only: the pool name comes from the pool's
			// HTCondor configuration (EHOS_POOL_NAME), as in an install.
			line = "arguments = --interval 2s --lifetime 12s"
		case "queue 1":
			line = fmt.Sprintf("environment = \"CONDOR_CONFIG=%s\"\nqueue 1", pool.ConfigFile)
		}
		sub = append(sub, line)
	}
	cluster, err := pool.Client().Submit(ctx, strings.Join(sub, "\n"))
	if err != nil {
		t.Fatalf("submit the demand job: %v", err)
	}
	return cluster, jobDir
}

// TestHeldDemandJobSaysWhy: the shipped demand job on a schedd host that
// knows no pool name exits with an error and is held, not restarted in a
// loop; its hold reason names the exit code and the log, and the job ad's
// Iwd and Err (what ehos doctor reads) lead to the error line.
func TestHeldDemandJobSaysWhy(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{})
	cl := pool.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, _ := submitShippedDemandJob(ctx, t, pool)
	job := condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), AllUsers: true,
		Attrs: []string{"JobStatus", "HoldReason", "Iwd", "Err"}}
	var reason, iwd, errFile string
	pool.WaitFor(t, 60*time.Second, "the demand job held", func(ctx context.Context) (bool, error) {
		ads, err := cl.Queue(ctx, job)
		if err != nil || len(ads) != 1 {
			return false, err
		}
		reason, iwd, errFile = ads[0].GetString("HoldReason"), ads[0].GetString("Iwd"), ads[0].GetString("Err")
		return ads[0].GetInt("JobStatus", 0) == 5, nil
	})
	t.Logf("hold reason: %s", reason)
	if !strings.Contains(reason, "ehos_demand exited with code 1") || !strings.Contains(reason, "EHOSDemandLog") {
		t.Errorf("hold reason %q: want the exit code and where its error is", reason)
	}
	if !filepath.IsAbs(errFile) {
		errFile = filepath.Join(iwd, errFile)
	}
	text, err := os.ReadFile(errFile)
	if err != nil {
		t.Fatalf("the job's Err %s (Iwd %s): %v", errFile, iwd, err)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "ehos_demand: ") || !strings.Contains(last, "EHOS_POOL_NAME") {
		t.Errorf("last line of %s: %q, want ehos_demand's error naming EHOS_POOL_NAME", errFile, last)
	}
	if _, err := cl.Run(ctx, "condor_rm", fmt.Sprint(cluster)); err != nil {
		t.Fatal(err)
	}
}
