package tmpl

import (
	"strings"
	"testing"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/version"
	"github.com/google/go-cmp/cmp"
)

func TestValues(t *testing.T) {
	cfg := &config.Config{
		Pool:         config.Pool{Name: "p1", CentralManager: "10.1.2.3", UIDDomain: "example.org"},
		TemplateVars: map[string]string{"site": "bergen"},
	}
	got, err := Values(cfg, VMValues{InstanceName: "ehos-p1-abc", Cloud: "uh", Region: "bgo", Flavor: "m1.small", WorkerToken: "eyJ.a-b_c.d", Cpus: 2, MemoryMB: 3584})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"host_ip": "10.1.2.3", "collector_port": "9618", "collector_host": "10.1.2.3:9618", "uid_domain": "example.org", "trust_domain": "10.1.2.3",
		"pool_name": "p1", "provisioner_id": "condor@example.org", "instance_name": "ehos-p1-abc", "cloud": "uh", "region": "bgo", "flavor": "m1.small",
		"worker_token": "eyJ.a-b_c.d", "token_file": DefaultTokenFile, "ehos_version": version.Version, "site": "bergen",
		"worker_cpus": "2", "worker_memory": "3584", "private_network": "uh.bgo",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Values (-want +got):\n%s", d)
	}
	// Every built-in is filled from a full config and VM.
	for _, n := range BuiltinNames() {
		if _, ok := got[n]; !ok {
			t.Errorf("built-in <%s> not filled", n)
		}
	}
	// Unset per-VM values stay absent, so rendering says "has no value".
	got, err = Values(cfg, VMValues{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["worker_token"]; ok {
		t.Error("worker_token set without a token")
	}
}

// A cloud's, then a region's, central_manager and private_network win over
// the pool's address and the default network name.
func TestValuesPerCloudAndRegion(t *testing.T) {
	cfg := &config.Config{
		Pool: config.Pool{Name: "p1", CentralManager: "10.0.0.10"},
		Clouds: []cloud.Config{
			{Name: "home", Network: "tenant net"},
			{Name: "far", CentralManager: "203.0.113.7", Regions: []string{"r1", "r2"},
				RegionOverrides: map[string]cloud.RegionConfig{"r2": {CentralManager: "cm.r2.example.org", PrivateNetwork: "shared"}}},
		},
	}
	for _, c := range []struct{ cloud, region, cm, net string }{
		{"home", "RegionOne", "10.0.0.10", "home.RegionOne.tenant_net"},
		{"far", "r1", "203.0.113.7", "far.r1"},
		{"far", "r2", "cm.r2.example.org", "shared"},
		{"unknown", "x", "10.0.0.10", "unknown.x"},
	} {
		got, err := Values(cfg, VMValues{Cloud: c.cloud, Region: c.region})
		if err != nil {
			t.Fatal(err)
		}
		if got["host_ip"] != c.cm || got["private_network"] != c.net {
			t.Errorf("%s/%s: host_ip %q private_network %q, want %q %q", c.cloud, c.region, got["host_ip"], got["private_network"], c.cm, c.net)
		}
	}
}

func TestValuesRefuses(t *testing.T) {
	cfg := &config.Config{
		Pool:         config.Pool{Name: `p"1`, CentralManager: "cm"},
		TemplateVars: map[string]string{"host_ip": "x", "Bad-Name": "y", "ok": "z", "db_password": "hunter2"},
	}
	_, err := Values(cfg, VMValues{Flavor: "m1$(x)", WorkerToken: "a b"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`value of <pool_name> (the pool's name: pool.name in ehos.yaml) holds "\""`,
		`value of <flavor>`, `holds "$"`,
		"<worker_token> holds white space",
		"template_vars.host_ip: shadows the built-in tag <host_ip>",
		"template_vars.Bad-Name: not a tag name",
		"template_vars.db_password: looks like a secret",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
