package cloud

import "testing"

func TestInRegionAppliesOverrides(t *testing.T) {
	c := Config{Name: "c", Image: "img", Network: "net", KeyPair: "key", CentralManager: "cm.example.org",
		RegionOverrides: map[string]RegionConfig{
			"r2": {Image: "img-r2"},
			"r3": {CentralManager: "192.0.2.9", PrivateNetwork: "cm-net"},
		}}
	for region, want := range map[string]RegionConfig{
		"r1": {Image: "img", Network: "net", KeyPair: "key", CentralManager: "cm.example.org", PrivateNetwork: "c.r1.net"},
		"r2": {Image: "img-r2", Network: "net", KeyPair: "key", CentralManager: "cm.example.org", PrivateNetwork: "c.r2.net"},
		"r3": {Image: "img", Network: "net", KeyPair: "key", CentralManager: "192.0.2.9", PrivateNetwork: "cm-net"},
	} {
		if got := c.InRegion(region); got != want {
			t.Errorf("%s: %+v, want %+v", region, got, want)
		}
	}
}

func TestDefaultPrivateNetwork(t *testing.T) {
	for _, c := range [][4]string{
		{"alpha", "RegionOne", "", "alpha.RegionOne"},
		{"alpha", "RegionOne", "private", "alpha.RegionOne.private"},
		{"my cloud", "r/1", "net\"x", "my_cloud.r_1.net_x"},
	} {
		if got := DefaultPrivateNetwork(c[0], c[1], c[2]); got != c[3] {
			t.Errorf("DefaultPrivateNetwork(%q, %q, %q) = %q, want %q", c[0], c[1], c[2], got, c[3])
		}
	}
}
