// Package provision is the reconcile loop of ehos. Each cycle it observes
// (the VMs it owns in every cloud region, the workers' startd ads, the demand
// ads), decides (lib/scale, a pure function), acts (create, drain, delete)
// and publishes its state as an EHOSProvisioner ad.
//
// It keeps no database: everything it needs is rebuilt from the clouds'
// server metadata and the collector's ads, so a restarted provisioner adopts
// what it owns in one cycle. What it remembers in memory (a drain or delete it
// sent, back-offs) only makes it faster and quieter, never correct.
//
// A poll that fails means "unknown", never "none": a region whose list call
// failed keeps its last known nodes and gets no action this cycle, and a
// failed collector query stops every destructive action.
//
// It declares the small interfaces it needs (Cloud, Pool, Bootstrap); lib/openstack,
// lib/condor and lib/tmpl satisfy them. It must not know HTTP or HTCondor's
// command line.
package provision
