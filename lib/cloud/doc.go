// Package cloud holds the types the rest of ehos uses to talk about virtual
// machines, flavors, images and quota, and the per-cloud configuration read
// from ehos.yaml. It knows nothing of any SDK: lib/openstack turns gophercloud
// answers into these types, and lib/provision and lib/scale consume them.
package cloud
