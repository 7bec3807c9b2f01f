package localcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ehos-project/ehos/integration/netns"
	"github.com/ehos-project/ehos/integration/vmrun"
)

// Stopper stops a started condor_master (integration.Process satisfies it).
type Stopper interface {
	Stop(ctx context.Context) error
}

// CondorRunner runs each ACTIVE server as a real condor_master with the
// HTCondor configuration its cloud-init carries, applying the user-data's
// write_files itself (vmrun), not through cloud-init: it is the quick default,
// needing only the HTCondor root. CloudInitRunner runs real cloud-init.
//
//   - the #cloud-config write_files are written under a per-VM root
//     Dir/<name>-<id8> (/etc/condor/config.d/x → ROOT/etc/condor/config.d/x);
//   - in the HTCondor config files written there, absolute paths into the
//     usual HTCondor directories (/etc/condor, /var/lib/condor,
//     /var/log/condor, /run/condor, /var/lock/condor) are moved under ROOT;
//   - ROOT/etc/condor/condor_config includes those files in order and then
//     sets what must differ per VM: LOCAL_DIR and its subdirectories,
//     loopback networking, no family session, MASTER_NAME/STARTD_NAME
//     (ehos_name, unless the VM's config sets them); with Hosts, the VM is
//     on a network host of its own instead and keeps HTCondor's own
//     network defaults (its address, the shared port 9618), as on a VM;
//   - what cloud-init would know (instance id, region, metadata) is written
//     to ROOT/run/cloud-init/instance-data.json and
//     ROOT/var/lib/cloud/data/instance-id, and EHOS_VM_ROOT names ROOT;
//   - StartMaster starts condor_master -f with that file.
type CondorRunner struct {
	// Dir holds the per-VM roots. It must be visible at the same path
	// where the masters run (for the trixie root: bind-mounted), unless
	// PathInMaster translates.
	Dir string
	// StartMaster starts `condor_master -f` with CONDOR_CONFIG=configFile
	// (a path as the master sees it). Wire integration.StartMaster here.
	StartMaster func(ctx context.Context, configFile string) (Stopper, error)
	// PathInMaster maps a host path to the path the master sees; nil:
	// the same path.
	PathInMaster func(hostPath string) string
	// UID and GID own the per-VM root when running as root (HTCondor
	// runs as the unprivileged user ehos, 4242); <0 leaves ownership alone.
	UID, GID int
	// ExtraConfig is appended after everything else (test knobs).
	ExtraConfig string
	// KeepRoots leaves a VM's root in place after it stops.
	KeepRoots bool
	// PathMap maps further guest directories, as the master sees them, in
	// the VM's HTCondor config (e.g. /usr/local/libexec/ehos → where the
	// ehos binaries are), applied before the per-VM root mapping.
	PathMap map[string]string
	// Hosts, when set, puts each VM on a test host of its own on that
	// network, behind a firewall letting in only Firewall (e.g.
	// netns.HTCondorGroup): the VM's HTCondor then keeps its own networking
	// (its address, the shared port 9618) as on a real VM, instead of
	// loopback; the host goes with the VM. StartMasterIn must be set too.
	Hosts    *netns.Network
	Firewall []netns.Rule
	// RegionHosts, when set, puts the VMs of the regions it lists on that
	// region's network behind that region's firewall instead (a tenant
	// network per region, as netns.Sites builds).
	RegionHosts map[string]Site
	// StartMasterIn is StartMaster inside a network namespace (a VM's
	// host); wire integration.StartMasterIn here.
	StartMasterIn func(ctx context.Context, configFile, netNS string) (Stopper, error)
}

var _ VMRunner = (*CondorRunner)(nil)

// Site is where a region's VMs get their hosts: a network, and the firewall
// each VM's host has on it (none: nothing new comes in).
type Site struct {
	Net      *netns.Network
	Firewall []netns.Rule
}

// condorDirs are guest directories whose paths are moved under the VM root.
var condorDirs = []string{"/etc/condor", "/var/lib/condor", "/var/log/condor", "/run/condor", "/var/run/condor", "/var/lock/condor", "/etc/ehos", "/var/lib/ehos"}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Start implements VMRunner.
func (c *CondorRunner) Start(ctx context.Context, vm VMInfo, userData []byte) (func(context.Context) error, error) {
	if c.StartMaster == nil && c.Hosts == nil {
		return nil, errors.New("CondorRunner: no StartMaster")
	}
	if c.Hosts != nil && c.StartMasterIn == nil {
		return nil, errors.New("CondorRunner: Hosts without StartMasterIn")
	}
	cc, err := vmrun.Parse(userData)
	if err != nil {
		return nil, err
	}
	name := vm.Metadata["ehos_name"]
	if name == "" {
		name = vm.Name
	}
	name = unsafeName.ReplaceAllString(name, "_")
	root := filepath.Join(c.Dir, name+"-"+vm.ID[:8])
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	var host *netns.Host
	hosts, fw := c.Hosts, c.Firewall
	if site, ok := c.RegionHosts[vm.Region]; ok {
		hosts, fw = site.Net, site.Firewall
	}
	if hosts != nil {
		if host, err = hosts.AddHost(name + "-" + vm.ID[:8]); err == nil {
			err = host.Firewall(fw...)
		}
		if err != nil {
			if host != nil {
				host.Remove()
			}
			os.RemoveAll(root)
			return nil, fmt.Errorf("server %s: its own host: %w", vm.ID, err)
		}
		fmt.Fprintf(vm.Console, "ehos-local: on host %s, address %s\n", host.NS, host.Addr)
	}
	cleanup := func() {
		if host != nil {
			host.Remove()
		}
		if !c.KeepRoots {
			os.RemoveAll(root)
		}
	}
	written, err := vmrun.Apply(cc, root)
	if err != nil {
		cleanup()
		return nil, err
	}
	fmt.Fprintf(vm.Console, "cloud-init: wrote %d files under %s\n", len(written), root)
	inMaster := func(p string) string {
		if c.PathInMaster != nil {
			return c.PathInMaster(p)
		}
		return p
	}
	mroot := inMaster(root)
	var includes []string
	for _, w := range written {
		if !strings.HasPrefix(w.GuestPath, "/etc/condor/") {
			continue
		}
		if err := rewritePaths(w.HostPath, mroot, c.PathMap); err != nil {
			cleanup()
			return nil, err
		}
		if strings.HasPrefix(w.GuestPath, "/etc/condor/config.d/") || w.GuestPath == "/etc/condor/condor_config.local" {
			includes = append(includes, w.HostPath)
		}
	}
	sort.Strings(includes)
	dirs := map[string]string{
		"LOG": "var/log/condor", "SPOOL": "var/lib/condor/spool", "EXECUTE": "var/lib/condor/execute",
		"LOCK": "var/lock/condor", "RUN": "run/condor", "CRED_STORE_DIR": "var/lib/condor/cred_dir",
	}
	for _, d := range append(sortedValues(dirs), "etc/condor/tokens.d", "etc/condor/passwords.d", "run/cloud-init", "var/lib/cloud/data") {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			cleanup()
			return nil, err
		}
	}
	os.Chmod(filepath.Join(root, "etc/condor/tokens.d"), 0o700)
	os.Chmod(filepath.Join(root, "etc/condor/passwords.d"), 0o700)
	if err := writeInstanceData(root, vm); err != nil {
		cleanup()
		return nil, err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Written by localcloud for server %s (%s) in %s/%s.\n", vm.Name, vm.ID, vm.Cloud, vm.Region)
	fmt.Fprintf(&b, "RELEASE_DIR = /usr\nBIN = $(RELEASE_DIR)/bin\nSBIN = $(RELEASE_DIR)/sbin\nLIB = $(RELEASE_DIR)/lib/condor\n")
	fmt.Fprintf(&b, "LIBEXEC = $(RELEASE_DIR)/libexec/condor\nSHARE = $(RELEASE_DIR)/share/condor\nINCLUDE = $(RELEASE_DIR)/include/condor\n")
	fmt.Fprintf(&b, "ETC = %s/etc/condor\nLOCAL_DIR = %s/var\nLOCAL_CONFIG_FILE =\nLOCAL_CONFIG_DIR =\n", mroot, mroot)
	fmt.Fprintf(&b, "DAEMON_LIST = MASTER, STARTD\nSEC_TOKEN_DIRECTORY = %s/etc/condor/tokens.d\nSEC_PASSWORD_DIRECTORY = %s/etc/condor/passwords.d\n", mroot, mroot)
	// Benchmarks cost CPU on a shared test machine and hold a fast
	// shutdown for ~15s; the VM's config may turn them back on.
	b.WriteString("RunBenchmarks = False\nBENCHMARKS_JOBLIST =\n")
	// The host's cores and memory are not the VM's: advertise the flavor,
	// unless the VM's own configuration (below) says otherwise, as ehos's
	// worker.yaml does.
	if vm.VCPUs > 0 {
		fmt.Fprintf(&b, "NUM_CPUS = %d\n", vm.VCPUs)
	}
	if vm.RAMMB > 0 {
		fmt.Fprintf(&b, "MEMORY = %d\n", vm.RAMMB)
	}
	if vm.DiskGB > 0 {
		fmt.Fprintf(&b, "DISK = %d\n", vm.DiskGB*1024*1024) // KiB
	}
	b.WriteString("\n# The VM's own configuration, from its cloud-init.\n")
	for _, inc := range includes {
		fmt.Fprintf(&b, "include : %s\n", inMaster(inc))
	}
	b.WriteString("\n# What must differ between VMs sharing one host.\n")
	for _, k := range sortedKeys(dirs) {
		fmt.Fprintf(&b, "%s = %s/%s\n", k, mroot, dirs[k])
	}
	fmt.Fprintf(&b, "LOCAL_DIR = %s/var\nEHOS_VM_ROOT = %s\n", mroot, mroot)
	if host == nil {
		b.WriteString("NETWORK_INTERFACE = 127.0.0.1\nBIND_ALL_INTERFACES = False\nUSE_SHARED_PORT = False\nSEC_USE_FAMILY_SESSION = False\n")
	} else {
		// Its own host: HTCondor's own defaults pick eth0's address and
		// the shared port 9618, as on a VM.
		fmt.Fprintf(&b, "# On host %s (%s): HTCondor's own network defaults.\n", host.NS, host.Addr)
	}
	fmt.Fprintf(&b, "if !defined MASTER_NAME\n  MASTER_NAME = %s\nendif\nif !defined STARTD_NAME\n  STARTD_NAME = %s\nendif\n", name, name)
	if c.ExtraConfig != "" {
		b.WriteString("\n" + c.ExtraConfig + "\n")
	}
	cfg := filepath.Join(root, "etc/condor/condor_config")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		cleanup()
		return nil, err
	}
	if os.Geteuid() == 0 && c.UID >= 0 {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil {
				os.Lchown(p, c.UID, c.GID)
			}
			return nil
		})
	}
	var proc Stopper
	if host != nil {
		proc, err = c.StartMasterIn(ctx, inMaster(cfg), host.NS)
	} else {
		proc, err = c.StartMaster(ctx, inMaster(cfg))
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("start condor_master: %w", err)
	}
	fmt.Fprintf(vm.Console, "ehos-local: condor_master started with %s\n", inMaster(cfg))
	return func(ctx context.Context) error {
		err := proc.Stop(ctx)
		cleanup()
		return err
	}, nil
}

// rewritePaths moves absolute paths into the usual HTCondor directories
// under root, in the value part of config lines.
func rewritePaths(file, root string, extra map[string]string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	changed := false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		nv := v
		for guest, to := range extra {
			nv = replaceDir(nv, guest, to)
		}
		for _, d := range condorDirs {
			nv = replaceDir(nv, d, root+d)
		}
		if nv != v {
			lines[i], changed = k+"="+nv, true
		}
	}
	if !changed {
		return nil
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")), st.Mode().Perm())
}

// replaceDir replaces occurrences of dir that start a path (after start of
// value, space, comma, quote, colon or '=') and end at a path boundary.
func replaceDir(v, dir, to string) string {
	var out strings.Builder
	for {
		i := strings.Index(v, dir)
		if i < 0 {
			out.WriteString(v)
			return out.String()
		}
		before := byte(' ')
		if i > 0 {
			before = v[i-1]
		}
		end := i + len(dir)
		after := byte('/')
		if end < len(v) {
			after = v[end]
		}
		startOK := strings.IndexByte(" \t,\"':=(", before) >= 0
		endOK := after == '/' || strings.IndexByte(" \t,\"')\r", after) >= 0 || end == len(v)
		out.WriteString(v[:i])
		if startOK && endOK {
			out.WriteString(to)
		} else {
			out.WriteString(dir)
		}
		v = v[end:]
	}
}

func writeInstanceData(root string, vm VMInfo) error {
	data := map[string]any{
		"v1": map[string]any{
			"cloud_name": "openstack", "platform": "openstack", "instance_id": vm.ID,
			"local_hostname": vm.Name, "region": vm.Region, "availability_zone": "nova",
		},
		"ds": map[string]any{"meta_data": map[string]any{
			"uuid": vm.ID, "name": vm.Name, "hostname": vm.Name, "availability_zone": "nova",
			"meta": vm.Metadata, "project_id": "", "ehos_cloud": vm.Cloud, "ehos_flavor": vm.Flavor,
		}},
	}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "run/cloud-init/instance-data.json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "var/lib/cloud/data/instance-id"), []byte(vm.ID+"\n"), 0o644)
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}
