// Package provision is the reconcile loop of ehos. A cycle (RunOnce) is
// six steps, each in its own file:
//
//   - observe (observe.go) reads the VMs it owns in every cloud region, the
//     workers' startd ads and the demand ads, and returns a snapshot; it
//     does I/O only.
//   - remember (remember.go) folds the snapshot into the one type carried
//     from cycle to cycle (memory): each VM's state, back-offs, job
//     starts, the unmatched marks (unmatched.go), the widest demand seen
//     waiting within scaling.headroom_window (lib/scale's Input.Widest).
//   - prepare (prepare.go) turns snapshot and memory into lib/scale's
//     input and changes nothing; the schedds are asked which jobs run
//     where only when the prepared nodes need it. A demand count loses
//     the jobs that may have started since it was taken (discountStarted):
//     every claimed slot whose EnteredCurrentActivity is after it, so no
//     VM is booted for a job already on a worker, and a restarted
//     provisioner knows the starts it did not see.
//   - decide (decide.go) is lib/scale's pure decision with the cycle's
//     guards (what was not read is never "none").
//   - act (act.go) only carries the decision out: flavor ads, deletes,
//     drains, creates. Backing off the regions of VMs that failed to boot,
//     and retrying failed creates in other regions, are named steps beside
//     it (blame, createElsewhere), each deciding again through decide.
//   - publish (report.go) writes the report as the EHOSProvisioner ad.
//
// Options.Cycle is the time between cycles: Run's period, and what a
// single RunOnce judges by as well.
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
// Nothing irreversible rests on an absent ad alone. Any worker's token can
// withdraw any startd or master ad (HTCondor 23.9 and 25 apply no rule to
// invalidations), and can do so back to back, so a VM whose ads vanished is
// deleted only when, besides the ads being gone for scaling.orphan_grace and
// every schedd saying no job runs there (and answering at all), one of
// these holds, none of which another worker can bring about: this
// provisioner asked it to retire (it sent the drain or retire request, so
// the ads were expected to go), its token expired (server metadata
// ehos_token_expires: it can no longer speak to the pool), or it reached
// worker.max_lifetime. Otherwise it is kept, with a note in the report. The
// cost: a VM that really died stays until its lifetime ends (default: its
// token's lifetime less drain_timeout and a cycle), and so does a retiring
// one whose ads vanished across a provisioner restart (the drain it sent
// is remembered in memory only).
//
// Every ad it reads is chosen by who wrote it (AuthenticatedIdentity, which
// the collector stamps and the sender cannot choose): a worker's slot ads
// by that VM's identity, flavor ads and its own EHOSProvisioner ad by
// pool.provisioner_identity, demand ads by pool.demand_identity; the
// others are refused and reported (lib/condorpool).
//
// It declares the small interfaces it needs (Cloud, Pool, Bootstrap); lib/openstack,
// lib/condor and lib/tmpl satisfy them. It must not know HTTP or HTCondor's
// command line.
package provision
