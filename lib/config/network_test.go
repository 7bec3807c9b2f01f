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
