package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
)

// DemoYAML is the configuration `ehos simulate` uses without --config: one
// cloud with two regions and three flavors.
const DemoYAML = `# ehos simulate's built-in configuration
pool:
  name: sim
  owner: sim
  central_manager: 127.0.0.1
scaling:
  min: 0
  max: 80
  spare: 0
  max_booting: 40
  max_creates_per_cycle: 20
  cycle: 30s
  idle_before_retire: 2m
  boot_timeout: 15m
  drain_timeout: 2h
  delete_timeout: 5m
clouds:
  - name: sim
    regions: [north, south]
    image: ehos-worker
    flavors: [m1.small, m1.medium, m1.large]
`

// DemoConfig returns DemoYAML parsed.
func DemoConfig() *config.Config {
	c, err := config.Parse("built-in demo config", []byte(DemoYAML))
	if err != nil {
		panic(err) // a bug in DemoYAML, caught by the tests
	}
	return c
}

// DefaultFlavors is the simulator's flavor table: OpenStack's classic m1
// sizes. ehos.yaml names flavors; the simulator needs their sizes.
func DefaultFlavors() map[string]cloud.Flavor {
	return map[string]cloud.Flavor{
		"m1.tiny":   {ID: "1", Name: "m1.tiny", VCPUs: 1, RAMMB: 512, DiskGB: 1},
		"m1.small":  {ID: "2", Name: "m1.small", VCPUs: 1, RAMMB: 2048, DiskGB: 20},
		"m1.medium": {ID: "3", Name: "m1.medium", VCPUs: 2, RAMMB: 4096, DiskGB: 40},
		"m1.large":  {ID: "4", Name: "m1.large", VCPUs: 4, RAMMB: 8192, DiskGB: 80},
		"m1.xlarge": {ID: "5", Name: "m1.xlarge", VCPUs: 8, RAMMB: 16384, DiskGB: 160},
	}
}

// DefaultQuota is each simulated region's quota.
var DefaultQuota = cloud.Limits{MaxInstances: 50, MaxCores: 200, MaxRAMMB: 400 * 1024}

// DefaultModel is the simulated cloud's default behaviour.
var DefaultModel = CloudModel{BootMean: 90 * time.Second, BootJitter: 30 * time.Second, Seed: 1}

// DefaultJoinDelay is ACTIVE → startd seen, by default.
const DefaultJoinDelay = 30 * time.Second

// ParseFlavor reads NAME=VCPUS:RAM_MB[:DISK_GB].
func ParseFlavor(s string) (cloud.Flavor, error) {
	name, spec, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return cloud.Flavor{}, fmt.Errorf("flavor %q: want NAME=VCPUS:RAM_MB[:DISK_GB]", s)
	}
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return cloud.Flavor{}, fmt.Errorf("flavor %q: want NAME=VCPUS:RAM_MB[:DISK_GB]", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || (i < 2 && v == 0) {
			return cloud.Flavor{}, fmt.Errorf("flavor %q: %q is not a positive whole number", s, p)
		}
		n[i] = v
	}
	return cloud.Flavor{ID: name, Name: name, VCPUs: n[0], RAMMB: n[1], DiskGB: n[2]}, nil
}
