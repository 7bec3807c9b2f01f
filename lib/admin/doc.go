// Package admin holds the logic behind the ehos admin CLI's checks and
// views: findings (one line each, with the fix), the provisioner's status as
// read from its ad, cloud checks and setup, and the config check. It does the
// I/O through lib/condor and lib/openstack; it knows nothing of flags or
// terminals (the CLI in plugins/ehos owns those).
package admin
