//go:build integration

package localcloud_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/openstack"
)

// workerUserData is a worker's cloud-init in the shape of the shipped
// cloudinit/worker.yaml: its HTCondor config and its own IDTOKEN, written
// to /etc/condor as on a real VM.
func workerUserData(collector, name, token string) []byte {
	conf := fmt.Sprintf(`CONDOR_HOST = 127.0.0.1
COLLECTOR_HOST = %s
UID_DOMAIN = %s
TRUST_DOMAIN = %[2]s
FILESYSTEM_DOMAIN = %[2]s
DAEMON_LIST = MASTER, STARTD
MASTER_NAME = %[3]s
STARTD_NAME = %[3]s
NUM_SLOTS = 1
NUM_SLOTS_TYPE_1 = 1
SLOT_TYPE_1 = 100%%
SLOT_TYPE_1_PARTITIONABLE = True
EHOSName = "%[3]s"
STARTD_ATTRS = $(STARTD_ATTRS) EHOSName
SEC_DEFAULT_AUTHENTICATION = REQUIRED
SEC_DEFAULT_ENCRYPTION = REQUIRED
SEC_DEFAULT_INTEGRITY = REQUIRED
SEC_DEFAULT_AUTHENTICATION_METHODS = FS, IDTOKENS
SEC_CLIENT_AUTHENTICATION_METHODS = IDTOKENS
SEC_TOKEN_DIRECTORY = /etc/condor/tokens.d
SEC_TOKEN_SYSTEM_DIRECTORY = /etc/condor/tokens.d
UPDATE_INTERVAL = 5
MAXJOBRETIREMENTTIME = 600
`, collector, integration.Domain, name)
	return []byte("#cloud-config\nwrite_files:\n" +
		"  - path: /etc/condor/config.d/50-ehos-worker.conf\n    permissions: '0644'\n    encoding: b64\n    content: " + base64.StdEncoding.EncodeToString([]byte(conf)) + "\n" +
		"  - path: /etc/condor/tokens.d/ehos-worker\n    permissions: '0600'\n    content: |\n      " + strings.TrimSpace(token) + "\n" +
		"runcmd:\n  - [systemctl, restart, condor]\n")
}

// A server created through lib/openstack on the local cloud boots a real
// worker that joins a real pool with the size of its flavor; deleting the
// server takes the worker out of the pool.
func TestServerJoinsPool(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{})
	vms, err := os.MkdirTemp("", "ehos-localcloud-vms-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(vms, 0o755)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept the VM roots in %s", vms)
			return
		}
		os.RemoveAll(vms)
	})
	runner := &localcloud.CondorRunner{
		Dir: vms, UID: integration.PoolUID, GID: integration.PoolUID,
		KeepRoots: true, // for their logs if the test fails; removed with vms otherwise
		StartMaster: func(ctx context.Context, cfg string) (localcloud.Stopper, error) {
			return integration.StartMaster(ctx, pool.Install, cfg)
		},
	}
	srv, err := localcloud.Start(localcloud.Options{BootDelay: 100 * time.Millisecond, Runner: runner, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	clouds := filepath.Join(vms, "clouds.yaml")
	srv.WriteCloudsYAML(clouds)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := openstack.Open(ctx, cloud.Config{Name: "beta"}, openstack.Options{CloudsFile: clouds})
	if err != nil {
		t.Fatal(err)
	}
	tok := pool.MintToken(t, integration.WorkerIdentity, integration.WorkerAuthz, time.Hour)
	t0 := time.Now()
	vm, err := c.Create(ctx, "RegionThree", cloud.CreateRequest{
		Name: "ehos-w1", Flavor: "m1.medium", Image: "ehos-worker", Network: "private",
		SecurityGroups: []string{"ehos"}, KeyPair: "ehos-key",
		UserData: workerUserData(pool.CollectorAddr, "w1", tok),
		Metadata: map[string]string{cloud.MetaPool: "p", cloud.MetaOwner: "test", cloud.MetaName: "w1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	slotOf := func(ctx context.Context) ([]string, error) {
		ads, err := pool.Client().Status(ctx, condor.StatusQuery{Attrs: []string{"Name", "Cpus", "Memory", "EHOSName"}})
		var found []string
		for _, a := range ads {
			if strings.Contains(a.GetString("Name"), "@w1@") {
				found = append(found, fmt.Sprintf("%s cpus=%d memory=%d ehos=%s", a.GetString("Name"), a.GetInt("Cpus", 0), a.GetInt("Memory", 0), a.GetString("EHOSName")))
			}
		}
		return found, err
	}
	var slots []string
	pool.WaitFor(t, 90*time.Second, "the server's startd in the pool", func(ctx context.Context) (bool, error) {
		s, err := slotOf(ctx)
		slots = s
		return len(s) > 0, err
	})
	t.Logf("created → joined in %v: %v", time.Since(t0).Round(time.Millisecond), slots)
	if want := "slot1@w1@"; !strings.HasPrefix(slots[0], want) || !strings.Contains(slots[0], "cpus=2 memory=4096 ehos=w1") {
		t.Errorf("slot %q: want %s… with the flavor's 2 cpus and 4096 MB", slots[0], want)
	}

	// HTCondor reads the VM's generated config as intended.
	roots, _ := filepath.Glob(filepath.Join(vms, "w1-*", "etc/condor/condor_config"))
	if len(roots) != 1 {
		t.Fatalf("VM configs %v", roots)
	}
	root := strings.TrimSuffix(roots[0], "/etc/condor/condor_config")
	tools := &condor.Client{Env: []string{"CONDOR_CONFIG=" + roots[0], "EHOS_CONDOR_ROOT=" + pool.Install.Root}, BinDir: pool.Install.BinDir}
	out, err := tools.Run(ctx, "condor_config_val", "STARTD_NAME", "NUM_CPUS", "MEMORY", "LOG", "SEC_TOKEN_DIRECTORY", "NETWORK_INTERFACE")
	want := "w1\n2\n4096\n" + root + "/var/log/condor\n" + root + "/etc/condor/tokens.d\n127.0.0.1\n"
	if err != nil || string(out) != want {
		t.Errorf("condor_config_val: %v\n%s\nwant\n%s", err, out, want)
	}

	t1 := time.Now()
	if err := c.Delete(ctx, "RegionThree", vm.ID); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 60*time.Second, "the deleted server's startd to leave", func(ctx context.Context) (bool, error) {
		s, err := slotOf(ctx)
		return err == nil && len(s) == 0, err
	})
	t.Logf("deleted → left in %v", time.Since(t1).Round(time.Millisecond))
}
