package main

import (
	"os"
	"strings"
	"testing"
)

// ehos render shows what a VM of a given cloud and region is told about the
// network: its cloud's (or region's) central manager address and its
// private network's name.
func TestRenderShowsEachCloudsCentralManager(t *testing.T) {
	_, cfg := setup(t)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	write(t, cfg, strings.Replace(string(b), "    flavors: [m1.small]\n", `    flavors: [m1.small]
    regions: [RegionOne, RegionTwo]
    central_manager: 198.51.100.20
    region_overrides:
      RegionTwo: {central_manager: cm.example.org, private_network: cm-net}
`, 1), 0o600)
	for region, want := range map[string][]string{
		"RegionOne": {"EHOS_CENTRAL_MANAGER = 198.51.100.20", "EHOS_PRIVATE_NETWORK = mycloud.RegionOne"},
		"RegionTwo": {"EHOS_CENTRAL_MANAGER = cm.example.org", "EHOS_PRIVATE_NETWORK = cm-net"},
	} {
		sets := append([]string{}, vmSets...)
		for i, s := range sets {
			if strings.HasPrefix(s, "region=") {
				sets[i] = "region=" + region
			}
		}
		out, stderr, err := run(t, append(append([]string{"render", "--config", cfg}, sets...), "worker.yaml")...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", region, err, stderr)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: rendered worker.yaml lacks %q", region, w)
			}
		}
	}
}
