// Command ehos-demo is `make demo`: a whole ehos on this machine. It brings
// up a loopback HTCondor pool whose condor_master runs ehos_provisioner, the
// demand job in its schedd, and the local OpenStack API whose servers are
// real HTCondor workers; submits a burst of jobs; and shows `ehos status`
// while the pool scales up, runs the jobs and scales back down. Then it
// stops everything it started (also on Ctrl-C).
//
// With -keep (make demo KEEP=1) it stays up after the burst as a sandbox:
// it writes DIR/env (-sandbox, default /tmp/ehos-sandbox) to source for
// openstack, the HTCondor tools and ehos, and runs until Ctrl-C or SIGTERM
// (make demo-down, which reads DIR/pid).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/condor"
)

func main() {
	jobs := flag.Int("jobs", 16, "jobs in the burst")
	runtime := flag.Duration("runtime", 20*time.Second, "how long each job runs")
	timeout := flag.Duration("timeout", 8*time.Minute, "give up after this long")
	keep := flag.Bool("keep", false, "stay up after the burst as a sandbox for your own jobs, until Ctrl-C or make demo-down")
	sandbox := flag.String("sandbox", defaultSandbox(), "with -keep: the directory of the sandbox's env and pid files ($EHOS_SANDBOX)")
	flag.Parse()

	t := newRunner()
	code := 0
	func() {
		defer t.recover(&code)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if *keep {
			if err := claimSandbox(*sandbox); err != nil {
				fmt.Fprintln(os.Stderr, "ehos demo:", err)
				code = 1
				return
			}
			t.Cleanup(func() { os.RemoveAll(*sandbox) })
		}
		code = demo(ctx, t, *jobs, *runtime, *timeout, *keep, *sandbox)
	}()
	t.cleanup()
	os.Exit(code)
}

const scaling = `  min: 0
  max: 8
  max_booting: 8
  max_creates_per_cycle: 8
  cycle: 4s
  idle_before_retire: 20s
  boot_timeout: 2m
  drain_timeout: 10m
  delete_timeout: 30s
  backoff_initial: 10s
  backoff_max: 1m
`

const sandboxClouds = `  - name: alpha
    regions: [RegionOne]
    image: ehos-worker
    flavors: [m1.small, m1.medium, m1.large]
    network: private
    key_pair: ehos-key
    security_groups: [ehos]
`

func demo(ctx context.Context, t *runner, jobs int, runtime, timeout time.Duration, keep bool, sandbox string) int {
	fmt.Println("ehos demo: starting a loopback HTCondor pool, the local OpenStack API and the provisioner ...")
	o := integration.StackOptions{Scaling: scaling, BootDelay: 3 * time.Second}
	if keep {
		// One cloud region, so that `openstack server list` (which shows
		// one region) shows every VM of the sandbox.
		o.Clouds = sandboxClouds
	}
	var stackDir string
	t.Cleanup(func() { // last, once everything in it has stopped
		if stackDir != "" {
			os.RemoveAll(stackDir)
		}
	})
	s := integration.StartStack(t, o)
	stackDir = s.Dir
	fmt.Printf("  pool:        %s (config %s)\n  cloud:       %s (clouds.yaml %s)\n  ehos.yaml:   %s\n  provisioner: %s/EHOSProvisionerLog\n\n",
		s.Pool.CollectorAddr, s.Pool.ConfigFile, s.Cloud.AuthURL(), s.CloudsFile, s.ConfigFile, s.Dir)
	if keep {
		if err := writeSandbox(s, sandbox); err != nil {
			t.Fatalf("sandbox: %v", err)
		}
	}
	if code := burst(ctx, s, jobs, runtime, timeout); code != 0 || !keep {
		return code
	}
	fmt.Printf(`
ehos sandbox: the pool, the local cloud and the provisioner stay up. In another terminal:

  source %[1]s/env                       # openstack, condor_submit/condor_q/condor_status, ehos
  cd %[1]s/jobs && condor_submit example.sub    # or any job of yours
  ehos status --watch                  # and beside it: watch openstack server list

Stop it with Ctrl-C here, or: make demo-down
`, sandbox)
	<-ctx.Done()
	fmt.Println("\nehos sandbox: stopping everything")
	return 0
}

// burst submits the demo's jobs (none if jobs is 0) and shows ehos status
// until they ran and the pool is back to zero VMs.
func burst(ctx context.Context, s *integration.Stack, jobs int, runtime, timeout time.Duration) int {
	if jobs == 0 {
		return 0
	}

	cl := s.Pool.Client()
	big := jobs / 4
	small := jobs - big
	secs := int(runtime.Seconds())
	sub := integration.OneQueue("executable = /bin/sleep\n", []string{"arguments", "request_cpus", "request_memory"},
		integration.QueueRow{Count: small, Values: []string{fmt.Sprint(secs), "1", "512"}},
		integration.QueueRow{Count: big, Values: []string{fmt.Sprint(secs + 10), "2", "1500"}})
	cluster, err := cl.Submit(ctx, sub)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ehos demo: submit the burst: %v\n", err)
		return 1
	}
	fmt.Printf("submitted %d jobs (%d × 1 cpu, %d × 2 cpu) as cluster %d; watching `ehos status` ...\n", jobs, small, big, cluster)

	status := exec.Command(filepath.Join(s.Bin, "ehos"), "--config", s.ConfigFile, "--condor-bin", s.Pool.Install.BinDir, "status")
	status.Env = append(os.Environ(), "CONDOR_CONFIG="+s.Pool.ConfigFile)
	deadline := time.Now().Add(timeout)
	start := time.Now()
	var peak, ranJobs int
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\ninterrupted: stopping everything")
			return 130
		case <-time.After(3 * time.Second):
		}
		cmd := *status
		out, _ := cmd.CombinedOutput()
		left, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d", cluster), Attrs: []string{"JobStatus"}})
		if err != nil {
			continue
		}
		running := 0
		for _, a := range left {
			if a.GetInt("JobStatus", 0) == 2 {
				running++
			}
		}
		servers := len(s.Servers())
		peak = max(peak, servers)
		ranJobs = jobs - len(left)
		fmt.Printf("\n--- %s  jobs: %d waiting, %d running, %d done  VMs: %d\n%s", time.Since(start).Round(time.Second),
			len(left)-running, running, ranJobs, servers, indent(string(out)))
		if len(left) == 0 && servers == 0 {
			fmt.Printf("\nehos demo: all %d jobs ran on ehos workers (up to %d VMs at once) and the pool scaled back to zero in %s.\n",
				jobs, peak, time.Since(start).Round(time.Second))
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Printf("\nehos demo: not done after %s; the provisioner log is %s/EHOSProvisionerLog\n", timeout, s.Dir)
			return 1
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}
