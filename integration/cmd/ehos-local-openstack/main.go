// Command ehos-local-openstack serves the local OpenStack API of
// integration/localcloud on 127.0.0.1 for the demo and for tests run from
// other processes. See docs/local-openstack.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/integration/localcloud"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ehos-local-openstack:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr       = flag.String("addr", "127.0.0.1:0", "listen address (loopback only); port 0 picks a free port")
		cloudsYAML = flag.String("clouds-yaml", "", "write a clouds.yaml for this server here (mode 0600)")
		bootDelay  = flag.Duration("boot-delay", 2*time.Second, "BUILD → ACTIVE delay")
		tokenTTL   = flag.Duration("token-ttl", time.Hour, "Keystone token lifetime")
		pageSize   = flag.Int("page-size", 1000, "Nova's maximum page size (osapi_max_limit)")
		faultsFile = flag.String("faults", "", `JSON file {"RegionOne": {faults...}, ...} applied at start`)
		quota      = flag.String("quota", "", "quota of every region: instances=N,cores=N,ram_mb=N (-1 unlimited)")
		vmsDir     = flag.String("vms", "", "run ACTIVE servers as real condor_masters with their roots under this directory (under /tmp or /work; HTCondor from $EHOS_CONDOR_ROOT, default /var/lib/ehos/trixie)")
		verbose    = flag.Bool("v", false, "log runner events")
		pathMap    = mapFlag{}
	)
	flag.Var(pathMap, "map", "GUEST=PATH: in the VMs' HTCondor config, replace the guest directory GUEST by PATH (under /tmp, /work or the repository, which condor-wrap binds into the HTCondor root); repeatable, e.g. -map /usr/local/libexec/ehos=/opt/ehos/libexec")
	flag.Parse()
	opts := localcloud.Options{Addr: *addr, BootDelay: *bootDelay, TokenTTL: *tokenTTL, PageSize: *pageSize}
	if *verbose {
		opts.Logf = log.Printf
	}
	if *quota != "" {
		q, err := parseQuota(*quota)
		if err != nil {
			return err
		}
		opts.Quota = q
	}
	if *vmsDir != "" {
		r, err := condorRunner(*vmsDir)
		if err != nil {
			return err
		}
		r.PathMap = pathMap
		opts.Runner = r
	}
	t0 := time.Now()
	srv, err := localcloud.Start(opts)
	if err != nil {
		return err
	}
	if *faultsFile != "" {
		b, err := os.ReadFile(*faultsFile)
		if err != nil {
			srv.Close()
			return err
		}
		var m map[string]localcloud.Faults
		if err := json.Unmarshal(b, &m); err != nil {
			srv.Close()
			return fmt.Errorf("%s: %w", *faultsFile, err)
		}
		for r, f := range m {
			if err := srv.SetFaults(r, f); err != nil {
				srv.Close()
				return fmt.Errorf("%s: %w", *faultsFile, err)
			}
		}
	}
	if *cloudsYAML != "" {
		if err := srv.WriteCloudsYAML(*cloudsYAML); err != nil {
			srv.Close()
			return err
		}
	}
	fmt.Printf("ehos-local-openstack: serving %s (auth_url %s), regions %s, ready in %v\n",
		srv.URL(), srv.AuthURL(), strings.Join(srv.Regions(), ", "), time.Since(t0).Round(time.Microsecond))
	if *cloudsYAML != "" {
		fmt.Printf("ehos-local-openstack: clouds.yaml written to %s\n", *cloudsYAML)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}

func parseQuota(s string) (localcloud.Quota, error) {
	q := localcloud.DefaultQuota
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		var n int
		if _, err := fmt.Sscan(v, &n); !ok || err != nil {
			return q, fmt.Errorf("-quota %q: want key=number", kv)
		}
		switch strings.TrimSpace(k) {
		case "instances":
			q.Instances = n
		case "cores":
			q.Cores = n
		case "ram_mb", "ram":
			q.RAMMB = n
		default:
			return q, fmt.Errorf("-quota: unknown key %q (instances, cores, ram_mb)", k)
		}
	}
	return q, nil
}

// condorRunner runs VMs through the foundation harness: condor_master in
// the trixie root via scripts/condor-wrap, which binds /tmp and /work at the
// same paths, so the VM roots can live there.
func condorRunner(vmsDir string) (*localcloud.CondorRunner, error) {
	inst, err := integration.FindCondor()
	if err != nil {
		return nil, fmt.Errorf("-vms needs HTCondor: %w (run make condor as root)", err)
	}
	if err := os.MkdirAll(vmsDir, 0o755); err != nil {
		return nil, err
	}
	return &localcloud.CondorRunner{
		Dir: vmsDir, UID: inst.UID, GID: inst.UID,
		StartMaster: func(ctx context.Context, cfg string) (localcloud.Stopper, error) {
			return integration.StartMaster(ctx, inst, cfg)
		},
	}, nil
}

type mapFlag map[string]string

func (m mapFlag) String() string { return fmt.Sprint(map[string]string(m)) }

func (m mapFlag) Set(v string) error {
	k, p, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(k, "/") || !strings.HasPrefix(p, "/") {
		return fmt.Errorf("want /GUEST/DIR=/PATH, got %q", v)
	}
	m[k] = p
	return nil
}
