// Package openstack is ehos's OpenStack client, on gophercloud v2 and
// gophercloud/utils' clientconfig. A Cloud is one clouds.yaml entry (or the
// OS_* environment, named "envvars") with service clients per region; its
// methods take a region and return lib/cloud types and classified errors
// (every error is a *cloud.APIError matching one of cloud.ErrQuota,
// ErrNotFound, ErrTransient, ErrAuth, ErrFatal).
//
// It knows nothing of HTCondor: ownership is the ehos_pool/ehos_owner
// metadata, and user-data is opaque bytes.
package openstack
