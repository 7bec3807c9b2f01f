package openstack_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/openstack"
)

// BenchmarkList2000 lists a region holding 2,000 servers of the pool (and
// 500 of others) in pages of Nova's default 1000.
func BenchmarkList2000(b *testing.B) {
	srv, err := localcloud.Start(localcloud.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.AddServers("RegionOne", "w", 2000, map[string]string{cloud.MetaPool: "p", cloud.MetaOwner: "o"})
	srv.AddServers("RegionOne", "x", 500, map[string]string{cloud.MetaPool: "q"})
	path := filepath.Join(b.TempDir(), "clouds.yaml")
	srv.WriteCloudsYAML(path)
	c, err := openstack.Open(context.Background(), cloud.Config{Name: "alpha"}, openstack.Options{CloudsFile: path})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vms, err := c.List(context.Background(), "RegionOne", "p", "o")
		if err != nil || len(vms) != 2000 {
			b.Fatalf("%d %v", len(vms), err)
		}
	}
}
