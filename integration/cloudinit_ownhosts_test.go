//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The product's whole path across a network: the central manager (with the
// provisioner and the cloud API) on a test host of its own, and every worker
// VM of a burst booted through Debian's real cloud-init on a host of its own,
// all behind firewalls letting only 9618 in. cloud-init's runcmd loads the
// worker's metadata guard into the VM's own host (real nft, no stand-in) and
// starts HTCondor, which joins at the CONDOR_HOST the rendered worker.yaml
// names; the jobs run there, each VM at its own address behind the shared
// port, and the pool scales back to zero with every VM shut down through its
// init and its host gone.
func TestBurstThroughCloudInitWorkersOnTheirOwnHosts(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{CloudInit: true, OwnHosts: true})
	cl := s.Pool.Client()
	ctx := context.Background()
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 4\n"+
		"request_cpus = 1\nrequest_memory = 512\nqueue 6\n")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(s.Dir, "vms", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("VM %s:\n%s", l, b)
			}
		}
	})

	// While the burst runs: a VM booted by cloud-init on its own host, whose
	// runcmd loaded the metadata guard into that host's nftables.
	s.Pool.WaitFor(t, 4*time.Minute, "a cloud-init worker on its own host with its metadata guard", func(ctx context.Context) (bool, error) {
		for _, h := range s.Network.Hosts() {
			if h == s.CMHost {
				continue
			}
			out, err := exec.CommandContext(ctx, "ip", "netns", "exec", h.NS, "nft", "list", "table", "inet", "ehos_metadata_guard").CombinedOutput()
			if err == nil && strings.Contains(string(out), "169.254.169.254") {
				t.Logf("host %s (%s): metadata guard loaded by the VM's cloud-init", h.Name, h.Addr)
				return true, nil
			}
		}
		return false, nil
	})
	consoles, _ := filepath.Glob(filepath.Join(s.Dir, "vms", "*", "console.log"))
	for _, c := range consoles {
		b, _ := os.ReadFile(c)
		if strings.Contains(string(b), "not applied (the VM shares") {
			t.Errorf("%s: the VM used the firewall stand-ins, not its own host's nft", c)
		}
	}

	s.WaitJobsDone(t, cluster, 5*time.Minute)
	t.Logf("6 jobs done in %v", time.Since(t0).Round(time.Second))
	s.JobHosts(t, cluster)

	// Each job ran at its worker's own address behind 9618, one address per
	// VM, none the central manager's.
	out, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "LastRemoteHost", "LastPublicClaimId")
	if err != nil {
		t.Fatal(err)
	}
	prefix := s.CMHost.Addr[:strings.LastIndex(s.CMHost.Addr, ".")+1]
	addrOf := map[string]string{} // VM (startd name) → address
	vmAt := map[string]string{}   // address → VM
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Errorf("condor_history line %q", l)
			continue
		}
		vm := f[0][strings.Index(f[0], "@")+1:]
		ip := strings.TrimPrefix(f[1], "<")
		ip = ip[:strings.IndexAny(ip+":", ":")]
		if !strings.HasPrefix(ip, prefix) || ip == s.CMHost.Addr || !strings.Contains(f[1], ":9618?") {
			t.Errorf("a job ran on %s at %s: not a worker's own host on %s behind 9618", vm, f[1], s.Network.Subnet())
		}
		if a, ok := addrOf[vm]; ok && a != ip {
			t.Errorf("VM %s at two addresses: %s and %s", vm, a, ip)
		}
		if v, ok := vmAt[ip]; ok && v != vm {
			t.Errorf("VMs %s and %s share the address %s", v, vm, ip)
		}
		addrOf[vm], vmAt[ip] = ip, vm
	}
	if len(addrOf) == 0 {
		t.Fatalf("no job in the history: %q", out)
	}
	t.Logf("jobs ran on %d cloud-init VMs, each at its own address: %v", len(addrOf), addrOf)

	s.WaitNoVMs(t, 3*time.Minute)
	var logs []string
	s.Pool.WaitFor(t, time.Minute, "every VM stopped, its log kept and its host removed", func(ctx context.Context) (bool, error) {
		all, _ := filepath.Glob(filepath.Join(s.Dir, "vms", "*"))
		logs, _ = filepath.Glob(filepath.Join(s.Dir, "vms", "*.log"))
		return len(logs) > 0 && len(all) == len(logs) && len(s.Network.Hosts()) == 1, nil
	})
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, want := range []string{"running 'modules:final'", "started condor.service", "cloudinit-vm: shutting down"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", l, want)
			}
		}
	}
	t.Logf("scaled up and back to zero in %v through %d cloud-init VMs", time.Since(t0).Round(time.Second), len(logs))
}
