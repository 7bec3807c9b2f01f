package cloud

import "testing"

func TestInRegionAppliesOverrides(t *testing.T) {
	c := Config{Image: "img", Network: "net", KeyPair: "key",
		RegionOverrides: map[string]RegionConfig{"r2": {Image: "img-r2"}}}
	if got := c.InRegion("r1"); got != (RegionConfig{Image: "img", Network: "net", KeyPair: "key"}) {
		t.Errorf("r1: %+v", got)
	}
	if got := c.InRegion("r2"); got != (RegionConfig{Image: "img-r2", Network: "net", KeyPair: "key"}) {
		t.Errorf("r2: %+v", got)
	}
}
