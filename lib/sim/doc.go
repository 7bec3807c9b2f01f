// Package sim replays a job trace against the real ehos decision and
// reconcile loop (lib/provision driving lib/scale) on a simulated clock.
//
// Only the outside world is simulated: a cloud (servers that boot after a
// random delay, may fail to ERROR, count against quota) implementing
// provision.Cloud, and an HTCondor pool (a schedd's queue, startds with one
// partitionable slot, a first-fit matchmaker, demand grouped by shape)
// implementing provision.Pool. Everything the provisioner decides comes from
// the same code that runs in production; this package holds no scaling logic
// of its own, except Baseline, a deliberately simple re-creation of the
// original Python EHOS used as a yardstick.
//
// Time is virtual: Run moves the clock from one interesting instant (a
// provisioner cycle, a negotiation) to the next, so hours of simulated time
// take seconds. Randomness (boot times, failures) comes from a seeded source:
// the same trace, configuration and seed give the same Result.
//
// It must not do network or HTCondor I/O, and must not be imported by the
// production path.
package sim
