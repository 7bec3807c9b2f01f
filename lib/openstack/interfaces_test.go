package openstack_test

import (
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/provision"
)

// The provisioner's view of a cloud is satisfied by this package.
var _ provision.Cloud = (*openstack.Cloud)(nil)
