// Package realos holds the tests that prove ehos' OpenStack calls against a
// REAL OpenStack (Debian bookworm's Zed in a chroot, started by
// scripts/openstack-up.sh), behind the build tag "openstack", and the bodies of
// real Nova answers captured in testdata/ for the local OpenStack API to match.
// It has no code of its own; see docs/real-openstack.md.
package realos
