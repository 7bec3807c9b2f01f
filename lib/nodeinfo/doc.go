// Package nodeinfo is the logic of the worker's startd cron hook
// (plugins/ehos_startd_cron): it reads the identity cloud-init wrote on the
// VM (and, if asked, the cloud's metadata service), checks the worker's
// health, and turns both into machine-ad attributes. It never fails: a
// missing file, a bad line or a full disk become EHOSHealthy = false with
// the reason, because a hook that crashes publishes nothing and the
// provisioner could then not tell the worker from a stranger.
package nodeinfo
