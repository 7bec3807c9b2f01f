package localcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ehos-project/ehos/integration/netns"
)

// CloudInitRunner runs each ACTIVE server through Debian's real cloud-init,
// as a VM would boot: Boot (wire integration.StartCloudInitVM) starts
// scripts/cloudinit-vm on a per-VM directory Dir/<name>-<id8>, whose upper/
// is the VM disk's writable layer over the cloud-init root
// (scripts/install-cloudinit.sh). Before boot, upper/ gets what the "image"
// and the "cloud" hold:
//
//   - the NoCloud seed: /var/lib/cloud/seed/nocloud/user-data (the server's
//     user-data, unchanged) and meta-data (instance-id, local-hostname);
//   - /etc/cloud/cloud.cfg.d/90-ehos-localcloud.cfg: the image's cloud-init
//     settings for a VM that shares the host's network and has an overlay
//     disk and no sshd (ImageCloudCfg);
//   - /etc/condor/config.d/99-ehos-localcloud.conf: the image's HTCondor
//     settings for many VMs on one host (loopback, no shared port, no family
//     session), then ExtraConfig. It sorts after what the user-data writes,
//     so it wins, as on CondorRunner.
//
// cloud-init then runs its own stages and modules on the user-data:
// write_files writes the HTCondor config and token, runcmd runs `systemctl
// restart condor`, which starts condor_master (no systemd in the root: see
// scripts/systemctl-shim). Nothing of the user-data is interpreted here.
//
// CondorRunner (the project's own write_files applier) stays the default:
// it needs only the HTCondor root, runs unprivileged daemons, and is what the
// quick tests use; a test opts into real cloud-init with
// integration.StackOptions.CloudInit.
//
// With Hosts, each VM boots on a test host of its own (a network namespace
// of integration/netns behind Firewall), as on a cloud: HTCondor keeps its
// own network defaults there (eth0's address, the shared port 9618,
// ImageCondorConfigOwnHost), the worker's own firewall rules (nft) apply to
// its host, and it reaches the central manager across the network.
type CloudInitRunner struct {
	Dir string
	// Boot starts the VM directory's boot (scripts/cloudinit-vm) with the
	// VM's hostname, in network namespace netNS ("": the machine's own),
	// its output going to vmDir/console.log and to console (nil: the file
	// only); its Stop shuts the VM down.
	Boot func(ctx context.Context, vmDir, hostname, netNS string, console io.Writer) (Stopper, error)
	// Hosts, when set, puts each VM on a host of its own on that network,
	// behind a firewall letting in only Firewall (e.g. netns.HTCondorGroup);
	// the host goes with the VM.
	Hosts    *netns.Network
	Firewall []netns.Rule
	// ExtraConfig is appended to the image's HTCondor settings (test knobs).
	ExtraConfig string
	// KeepRoots leaves a VM's directory in place after it stops.
	KeepRoots bool
}

var _ VMRunner = (*CloudInitRunner)(nil)

// ImageCloudCfg is the test image's cloud-init configuration: network
// config disabled (the VM shares the host's network namespace: cloud-init
// must not write or apply any), no root resize (the disk is an overlay), no
// SSH host keys (the image has no openssh), and /etc/hosts naming the VM's
// hostname, as Debian's cloud images do (manage_etc_hosts), so HTCondor can
// resolve its own name.
const ImageCloudCfg = `# ehos localcloud test image (integration/localcloud/cloudinit.go)
datasource_list: [ NoCloud, None ]
network: {config: disabled}
resize_rootfs: false
ssh_genkeytypes: []
manage_etc_hosts: true
`

// ImageCondorConfig is what HTCondor needs when many VMs share one host.
const ImageCondorConfig = `# ehos localcloud test image: many VMs on one host (integration/localcloud/cloudinit.go)
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
USE_SHARED_PORT = False
SEC_USE_FAMILY_SESSION = False
RunBenchmarks = False
BENCHMARKS_JOBLIST =
`

// ImageCondorConfigOwnHost is what HTCondor needs on a VM with a host of its
// own: nothing about the network (its address and the shared port are
// HTCondor's defaults, as on a cloud's VM), only what keeps a test machine
// quick.
const ImageCondorConfigOwnHost = `# ehos localcloud test image: a VM on a test host of its own (integration/localcloud/cloudinit.go)
RunBenchmarks = False
BENCHMARKS_JOBLIST =
`

// Start implements VMRunner.
func (c *CloudInitRunner) Start(ctx context.Context, vm VMInfo, userData []byte) (func(context.Context) error, error) {
	if c.Boot == nil {
		return nil, errors.New("CloudInitRunner: no Boot")
	}
	if len(userData) == 0 {
		return nil, errors.New("CloudInitRunner: server has no user-data")
	}
	name := vm.Metadata["ehos_name"]
	if name == "" {
		name = vm.Name
	}
	name = unsafeName.ReplaceAllString(name, "_")
	dir := filepath.Join(c.Dir, name+"-"+vm.ID[:8])
	var host *netns.Host
	if c.Hosts != nil {
		var err error
		if host, err = c.Hosts.AddHost(name + "-" + vm.ID[:8]); err == nil {
			err = host.Firewall(c.Firewall...)
		}
		if err != nil {
			if host != nil {
				host.Remove()
			}
			return nil, fmt.Errorf("server %s: its own host: %w", vm.ID, err)
		}
		if vm.Console != nil {
			fmt.Fprintf(vm.Console, "ehos-local: on host %s, address %s\n", host.NS, host.Addr)
		}
	}
	cleanup := func() {
		if host != nil {
			host.Remove()
		}
		if !c.KeepRoots {
			os.RemoveAll(dir)
		}
	}
	imageCondor, netNS := ImageCondorConfig, ""
	if host != nil {
		imageCondor, netNS = ImageCondorConfigOwnHost, host.NS
	}
	upper := filepath.Join(dir, "upper")
	hostname := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	files := []struct {
		path string
		data string
		mode os.FileMode
	}{
		{"var/lib/cloud/seed/nocloud/user-data", string(userData), 0o600},
		{"var/lib/cloud/seed/nocloud/meta-data", fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", vm.ID, hostname), 0o644},
		{"etc/cloud/cloud.cfg.d/90-ehos-localcloud.cfg", ImageCloudCfg, 0o644},
		{"etc/condor/config.d/99-ehos-localcloud.conf", imageCondor + c.ExtraConfig + "\n", 0o644},
	}
	for _, f := range files {
		p := filepath.Join(upper, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			cleanup()
			return nil, err
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			cleanup()
			return nil, err
		}
	}
	proc, err := c.Boot(ctx, dir, hostname, netNS, vm.Console)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("boot %s through cloud-init: %w", name, err)
	}
	if vm.Console != nil {
		fmt.Fprintf(vm.Console, "ehos-local: booting through cloud-init in %s (console: %s/console.log)\n", dir, dir)
	}
	return func(ctx context.Context) error {
		err := proc.Stop(ctx)
		keepLogs(dir)
		cleanup()
		return err
	}, nil
}

// keepLogs saves a stopped VM's console and HTCondor logs beside its
// directory (DIR.log), for a test to read after the VM is gone.
func keepLogs(dir string) {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(dir, "upper", "var", "log", "condor", "*Log"))
	for _, f := range append([]string{filepath.Join(dir, "console.log")}, logs...) {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(data) > 16<<10 {
			data = data[len(data)-16<<10:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", strings.TrimPrefix(f, dir+"/"), data)
	}
	os.WriteFile(dir+".log", []byte(b.String()), 0o644)
}
