package config

import (
	"strings"
	"testing"
)

// A cloud's and a region's central manager address and private network
// name are checked like pool.central_manager, each problem naming its key.
func TestValidatePerCloudNetwork(t *testing.T) {
	good := `
pool:
  name: demo
  central_manager: 10.0.0.10
clouds:
  - name: far
    image: img
    flavors: [m1.small]
    regions: [r1, r2]
    central_manager: 203.0.113.7
    region_overrides:
      r2: {central_manager: cm.r2.example.org, private_network: far-r2}
  - name: v6
    image: img
    flavors: [m1.small]
    central_manager: "2001:db8::7"
`
	cfg, err := Parse("ehos.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Site("far", "r2"); s.CentralManager != "cm.r2.example.org" || s.PrivateNetwork != "far-r2" {
		t.Errorf("far/r2: %+v", s)
	}
	bad := strings.NewReplacer("203.0.113.7", "http://203.0.113.7:9618", "private_network: far-r2", "private_network: far r2").Replace(good)
	_, err = Parse("ehos.yaml", []byte(bad))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`clouds[0].central_manager: "http://203.0.113.7:9618": is not a host name`,
		`clouds[0].region_overrides.r2.private_network: "far r2": must be letters`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// With an HA pair, workers report to both central managers: each cloud
// region's COLLECTOR_HOST names the address its workers are told for each,
// with its port; a cloud told another address of the central manager must
// say where it reaches the peer too.
func TestHAPeerCollectorHosts(t *testing.T) {
	good := `
pool:
  name: demo
  central_manager: 10.0.0.10
  collector_port: 9620
  ha_peer: 10.0.0.11
clouds:
  - name: near
    image: img
    flavors: [m1.small]
  - name: far
    image: img
    flavors: [m1.small]
    regions: [r1, r2]
    central_manager: 203.0.113.7
    ha_peer: 203.0.113.8:9700
    region_overrides:
      r2: {central_manager: "2001:db8::7", ha_peer: "2001:db8::8"}
`
	cfg, err := Parse("ehos.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cloud, region, want string }{
		{"near", "r1", "10.0.0.10:9620, 10.0.0.11:9620"},
		{"far", "r1", "203.0.113.7:9620, 203.0.113.8:9700"},
		{"far", "r2", "[2001:db8::7]:9620, [2001:db8::8]:9620"},
	} {
		if got := cfg.CollectorHost(c.cloud, c.region); got != c.want {
			t.Errorf("%s/%s: %q, want %q", c.cloud, c.region, got, c.want)
		}
	}
	single, err := Parse("ehos.yaml", []byte(strings.Replace(good, "  ha_peer: 10.0.0.11\n", "", 1)))
	if err == nil {
		t.Fatalf("a cloud's ha_peer without pool.ha_peer accepted: %q", single.CollectorHost("near", "r1"))
	}
	for _, c := range []struct{ from, to, want string }{
		{"ha_peer: 10.0.0.11\n", "ha_peer: 10.0.0.10\n", `pool.ha_peer: "10.0.0.10": is pool.central_manager's collector`},
		{"ha_peer: 10.0.0.11\n", "ha_peer: 10.0.0.11:0\n", `pool.ha_peer: "10.0.0.11:0": port "0" must be 1-65535`},
		{"ha_peer: 203.0.113.8:9700\n", "\n", `clouds[1].ha_peer: "": is required: its workers are told central_manager 203.0.113.7`},
		{`ha_peer: "2001:db8::8"`, `ha_peer: "http://x:9618"`, `clouds[1].region_overrides.r2.ha_peer: "http://x:9618": is not a host name`},
		// A cloud's or region's peer that is its own central manager's
		// collector, as pool.ha_peer's.
		{"ha_peer: 203.0.113.8:9700\n", "ha_peer: 203.0.113.7:9620\n", `clouds[1].ha_peer: "203.0.113.7:9620": is the collector its workers are told as central_manager (203.0.113.7)`},
		{`ha_peer: "2001:db8::8"`, `ha_peer: "2001:db8::7"`, `clouds[1].region_overrides.r2.ha_peer: "2001:db8::7": is the collector its workers are told as central_manager (2001:db8::7)`},
		{"    image: img\n    flavors: [m1.small]\n  - name: far", "    image: img\n    flavors: [m1.small]\n    ha_peer: 10.0.0.10\n  - name: far", `clouds[0].ha_peer: "10.0.0.10": is the collector its workers are told as central_manager (10.0.0.10)`},
	} {
		_, err := Parse("ehos.yaml", []byte(strings.Replace(good, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: error %v, want %q", c.from, c.to, err, c.want)
		}
	}
}
