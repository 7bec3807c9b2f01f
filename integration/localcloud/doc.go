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
//
// The package has two halves that meet only at VMRunner:
//
//   - the OpenStack model, which knows nothing of HTCondor: server.go (the
//     Server, its options and clouds.yaml), routes.go, keystone.go, nova.go
//     (servers), nova_project.go (flavors, key pairs, limits, quotas),
//     glance_neutron.go, region.go (per-region state, faults, the test's
//     view) and admin.go (the admin endpoint);
//   - the VM runners that make servers real HTCondor workers: runner.go
//     (VMRunner, and how the model starts and stops a runner's VM),
//     condor.go (CondorRunner: condor_master from the user-data's HTCondor
//     files, applied by integration/vmrun) and cloudinit.go
//     (CloudInitRunner: Debian's real cloud-init).
package localcloud
