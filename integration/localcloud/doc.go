// Package localcloud is a small OpenStack API on 127.0.0.1 for tests and the
// demo: Keystone v3 (password, application credential and token auth, a
// catalog with several regions, token expiry), Nova (servers with metadata
// and paging, flavors, key pairs, limits, console output, createImage),
// Glance v2 images and Neutron v2.0 networks and security groups.
// gophercloud talks to it unchanged.
//
// Each region can be told to misbehave (Faults): random or counted errors,
// 429 with Retry-After, latency, slow or stuck boots, boots that end in
// ERROR, quota limits. Its servers can be made to run for real through a
// VMRunner, called when a server goes ACTIVE and stopped when it is deleted.
//
// It keeps everything in memory and is not a model of OpenStack's
// semantics beyond what ehos relies on; docs/local-openstack.md says which.
package localcloud
