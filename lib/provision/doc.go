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
// Two things keep new and retiring workers from being paid for while they
// do nothing. A cycle that sees a worker's startd for the first time while
// jobs some flavor holds are waiting asks the schedds holding them for a
// negotiation (Pool.Reschedule, condor_reschedule), so the worker gets its
// jobs in seconds rather than at the negotiator's next interval. And Run
// runs one follow-up cycle DrainRecheck (5 s) after a cycle that drained an
// idle worker, which deletes it once its startd confirms the drain; a drain
// not yet confirmed counts only after half a cycle, so a job matched in
// between is never killed.
//
// It declares the small interfaces it needs (Cloud, Pool, Bootstrap); lib/openstack,
// lib/condor and lib/tmpl satisfy them. It must not know HTTP or HTCondor's
// command line.
package provision
