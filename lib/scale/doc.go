// Package scale is the scaling decision of ehos as a pure function: from
// demand, offers (flavors per cloud region), the nodes ehos owns, quota
// headroom, back-offs, the knobs and the time now, Decide returns which VMs to
// create, drain and delete, each with a reason a person can read.
//
// It must not do I/O, read a clock, log, or import an SDK: lib/provision
// gathers the inputs and carries out the decision, lib/sim drives it on a
// simulated clock.
package scale
