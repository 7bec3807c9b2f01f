//go:build integration

package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With pool.ha_peer, a worker booted from the shipped template reports to
// both central managers' collectors and registers with both as its
// broker: the peer's collector, which shares the pool's signing key,
// believes its token (the identity it stamps is the worker's own), so the
// worker stays in the pool whichever central manager leads (docs/ha.md).
// The peer here is a second collector on loopback, on a port of its own.
func TestWorkerReportsToBothCentralManagersOfAPair(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	s := StartStack(t, StackOptions{BootDelay: 2 * time.Second, Pool: fmt.Sprintf("  ha_peer: 127.0.0.1:%d\n", port)})
	peer := fmt.Sprintf("127.0.0.1:%d", port)
	startPeerCollector(t, s, port)

	ctx := context.Background()
	cluster, err := s.Pool.Client().Submit(ctx, "executable = /bin/sleep\narguments = 20\nrequest_cpus = 1\nrequest_memory = 512\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	var name, addr string
	s.Pool.WaitFor(t, 2*time.Minute, "the worker's startd in the peer's collector, with its own identity", func(ctx context.Context) (bool, error) {
		out, err := s.Pool.Client().Run(ctx, "condor_status", "-pool", peer, "-startd", "-af", "EHOSName", "AuthenticatedIdentity", "MyAddress")
		if err != nil {
			return false, nil
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(l)
			if len(f) == 3 && strings.HasPrefix(f[0], "ehos-demo-") && strings.HasPrefix(f[1], f[0]+"@") {
				name, addr = f[0], f[2]
				return true, nil
			}
		}
		return false, nil
	})
	here, err := s.Pool.Client().Run(ctx, "condor_status", "-startd", "-af", "EHOSName", "MyAddress")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(here), name) {
		t.Errorf("worker %s is in the peer's collector but not the pool's:\n%s", name, here)
	}
	// Registered with both brokers: its address names a CCB id at each.
	if !strings.Contains(addr, peer) || !strings.Contains(addr, s.Pool.CollectorAddr) {
		t.Errorf("worker %s's address %s does not name both brokers (%s and %s)", name, addr, peer, s.Pool.CollectorAddr)
	}
	t.Logf("worker %s in both collectors; its address %s", name, addr)
	s.WaitJobsDone(t, cluster, 3*time.Minute)
	s.WaitNoVMs(t, 2*time.Minute)
}

// startPeerCollector runs a second collector for the stack's pool, as
// the other central manager of a pair would, on a port of its own.
func startPeerCollector(t *testing.T, s *Stack, port int) {
	t.Helper()
	startSideMaster(t, s, "peer", fmt.Sprintf("DAEMON_LIST = MASTER, COLLECTOR\nCOLLECTOR_HOST = 127.0.0.1:%d\nCOLLECTOR_NAME = ehos-test-peer\n", port))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("peer CollectorLog tail:\n%s", tail(filepath.Join(s.Dir, "peer", "log", "CollectorLog"), 30))
		}
	})
}
