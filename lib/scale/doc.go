// Package scale is the scaling decision of ehos as a pure function: from
// demand, offers (flavors per cloud region), the nodes ehos owns, quota
// headroom, back-offs, the knobs and the time now, Decide returns which VMs to
// create, drain and delete, each with a reason: a kind and its figures, which
// render as a sentence a person can read.
//
// It must not do I/O, read a clock, log, or import an SDK: lib/provision
// gathers the inputs and carries out the decision, lib/sim drives it on a
// simulated clock.
//
// # The steps, in the order Decide applies them
//
// Decide (decide.go) is a pipeline: each step is a function of the values
// the steps before it returned, in its own file with its own tests. The
// offers (offers.go) come first: every region's offers in key order, and
// for nodes whose offer no region lists this cycle a phantom offer, so
// nothing depends on the order of the Input's lists. A step changes nothing
// another step reads, except the limits ledger, which packing, min, spare
// and headroom book their creates in.
//
// # Lifecycle (lifecycle.go)
//
// Failed nodes are deleted (the reason carries the cloud's fault).
// Requested and booting nodes that have been in that state for
// BootTimeout or longer are deleted ("never joined"). Drained nodes are
// deleted, unless they still report running jobs (then a note). Deleting
// nodes are deleted again when the next attempt is due: counted from
// StateSince (when the node entered Deleting), attempt k+1 is due after
// DeleteTimeout × (1 + 2 + 4 + 8 + 8 + …) summed over the k attempts made,
// so gaps double up to 8 × DeleteTimeout (DeleteRetryGap; lib/provision
// paces the retries of a delete the cloud failed by the same gaps). Retiring nodes past DrainTimeout
// are deleted only when no job runs on them; while jobs run they get a note
// and are left alone: a running job is never killed. Idle or busy nodes whose
// age (Now − Created) reached MaxLifetime (when > 0) are drained
// peacefully ("max lifetime"): their jobs finish first; so are those whose
// TokenExpires, when known, is at most DrainTimeout away, whatever their
// age (a token minted under an older, longer max lifetime). Apart from that,
// only Rebalance (below) drains a busy node, and just as peacefully.
//
// A schedd's word beats a missing ad. No drained, retiring or never-joined
// node is deleted while a schedd says a job runs on it (ScheddJobs, which
// lib/provision gathers with condor_q when such a delete may come): a
// note names the jobs instead ("startd ad vanished but schedd S job C.P
// runs there; keeping"). A node whose startd ad vanished (AdVanished) is
// also kept, with a note, while ScheddJobsUnknown says some schedd could
// not be asked; once the schedds answer and none runs a job there it is
// deleted ("startd ad vanished and no schedd runs a job there") when the
// provisioner had asked it to retire (RetireAsked), or when its token
// expired or it reached MaxLifetime; otherwise it is kept with a note,
// since any worker's token can withdraw another VM's ads.
//
// Counting. Live nodes are all nodes except deleting, failed and drained
// ones, and except those deleted by this decision; retiring nodes are live
// (they still cost and use quota). Existing nodes are every node in the
// input, whatever its state, including those deleted now: a server costs and
// holds quota until the cloud stops listing it, and a delete the cloud
// refuses must not let new VMs pile up beside it. Max and MaxVMs count
// existing nodes; Min and Spare count live ones. Booting nodes are requested
// plus booting ones not deleted now. A timed-out booting node deleted now
// therefore frees its place under MaxBooting for its replacement in the same
// cycle, and its place under Max once the cloud no longer lists it.
//
// # Capacity (capacity.go)
//
// Requested and booting nodes offer their offer's full Size,
// idle and busy nodes their Free resources, retiring, drained, deleting and
// failed nodes and nodes drained now nothing. A demand group only uses
// capacity of offers in its Eligible list. Nodes of a flavor no region
// offers this cycle (removed from the config, region not listed) still
// serve demand that lists their offer, and are kept from retiring while it
// could use them; nothing new is created from such an offer.
//
// Unmatched on real workers. An eligible offer that a demand group lists in
// Unmatched with Since at least UnmatchedAfter ago (DefaultUnmatchedAfter,
// 3 minutes, when zero; never when below zero) is taken out of the group's
// eligible offers: its jobs stayed idle while idle real workers of that
// flavor stood beside them, so HTCondor matches them only to the offline
// flavor ads (a Requirements of TARGET.Offline =?= True, or anything else
// the real workers do not offer) and more workers of it would idle too. No
// VM is created for them there, and they no longer keep idle nodes of it
// from retiring. A group with no eligible offer left gets an Unmet "unmatched
// on real workers"; one with others left gets a note. lib/provision
// computes Unmatched and keeps an entry that reached UnmatchedAfter for as
// long as the group exists, so such jobs boot one round of VMs, then none.
//
// # Limits (limits.go)
//
// A create must fit every limit, counting what this decision already
// planned: Max (existing + created), MaxBooting (booting + created),
// MaxCreatesPerCycle, the cloud's MaxVMs (its existing nodes + created there),
// and the region's quota headroom (instances, cores and ram; cores and ram
// are the flavor's own VCPUs and RAMMB when given, else Size's). A region
// with nil Limits ("quota unknown") or with BackoffUntil after Now gets no
// VM, with a note. A knob of zero means no limit (lib/config applies the
// defaults and should refuse values that make no sense); negative knobs count
// as zero. Demand a limit stops is reported in Unmet, naming the limit and its
// figures.
//
// # Packing (packing.go)
//
// A job asks at least one cpu (as HTCondor does). Demand groups are
// placed largest first (GPUs, then cpus, memory, disk; then oldest; then
// key), first-fit: on existing capacity (busy nodes first, so idle ones stay
// free to retire or count as spare, then idle, then requested/booting, each
// by name), then on VMs planned earlier this cycle, then on new VMs. Work is
// per group, never per job: a class of identical planned VMs is filled with
// arithmetic. Demand with no Eligible offer, whose eligible offers are not
// offered this cycle, or whose eligible offers are all too small for one job
// gets no VM and an Unmet with that reason.
//
// # Choosing an offer (choose.go)
//
// Each round takes, among the group's eligible offers
// that hold at least one job and have room, the one whose next VM serves
// jobs at the lowest cost per job: Cost / jobs per VM, where jobs per VM is
// the minimum over cpus, memory, disk and GPUs of Size/Need, and a VM that
// would be partly empty counts only the jobs left for it. At equal cost per
// job the offer holding fewer jobs per VM wins (a VM is paid for until its
// last job ends, so smaller VMs leave fewer free cores behind), then the
// higher cloud Weight, the lower Cost per VM, the offer's name. Full VMs of
// it are created for as many jobs as fill them; the remainder goes to the
// next round. When the best offer has no room, the next one is taken and
// the reason says why the better one was skipped; so back-off, quota or a
// per-cloud max moves demand to another region or cloud. When a region's
// instance quota leaves the best offer, and the same offer at the same cost
// elsewhere, room for fewer jobs than are waiting, the offer holding more
// jobs per VM that serves the most of them is taken ("serves the most of
// them"). Max does the same once the group's oldest job has waited at least
// BootTimeout (15 minutes when that is off): Max caps VMs, and a pool held
// at Max should serve as many jobs as its VMs can hold; before that, a
// burst that reaches Max gets the cheapest fit. A cloud's MaxVMs does the
// same after that wait, unless other clouds have room for the rest at the
// same cost per job.
//
// # Rebalancing at a cap (rebalance.go)
//
// Demand that got no VM because a region's instance quota is
// full, and whose oldest job has waited at least BootTimeout (15 minutes when
// that is off), gets instances freed for it there: idle or busy nodes of that
// region whose flavor cannot run its jobs (not eligible, or too small), old
// enough for MinLifetime, are drained, idle ones first, then those running
// the fewest jobs, as many as the VMs the jobs need minus the nodes of that
// region already retiring, drained or deleting, never leaving fewer than Min
// serving nodes. Without it, small VMs that 1-cpu jobs keep busy can hold a
// full instance quota for as long as such jobs come, and larger jobs starve.
// Demand that got no VM because Max is reached, after the same wait, gets
// room the same way anywhere, from nodes that cannot run its jobs or hold
// fewer of them per VM than its densest eligible offer (fewest held first,
// then fewest running), as many as the VMs of that offer the jobs need, plus
// any existing nodes over Max, minus the nodes already on their way out. Without
// it a pool held at Max by a long queue kept the small VMs cheapest fit had
// chosen while the queue was short, for as long as the queue lasted: half
// the jobs per VM that larger flavors give, and the largest jobs never ran.
// Demand that got no VM anywhere, after the same wait, while clouds that
// could run it had reached their MaxVMs, gets room the same way in those
// clouds only, counting their densest offers, their existing nodes over MaxVMs
// and their nodes on the way out.
//
// # Min and spare (minspare.go)
//
// After demand, while live + created < Min, the cheapest
// offer overall (lowest Cost, then higher Weight, then name) that has room
// is created ("min"). Spare nodes are idle joined nodes and requested or
// booting nodes that the packing left unused, plus VMs created for min;
// while there are fewer than Spare, the largest offer with room is created
// ("spare": most cpus, then memory; offers with GPUs last; ties as for min),
// since a spare node is there to take the next job at once, whatever its
// size. When a limit stops min or spare, a note says so.
//
// # Headroom (headroom.go)
//
// Then, while jobs wait (some demand group has idle jobs an offer it may
// use holds) and some node runs jobs (busy), room is kept for one job of
// Input.Widest, the widest demand group lib/provision saw waiting within
// HeadroomWindow (zero: the rule is off). When no node left standing
// (busy, idle or booting, with the free resources this cycle's packing
// left, less nodes drained now) nor VM planned this cycle (for demand, min
// or spare) of an offer eligible for that group has room for one of its
// jobs, one VM of the cheapest such offer that holds one is created
// ("headroom"), if the limits leave room; when they do not, nothing is
// created and no note is added. An idle node whose room it counts on is
// kept from retiring. ehos sizes each VM to the jobs it plans for, so a VM
// a job left has that job's width free: without this rule the next, wider
// job waits for a boot. With no job idle, or none running yet (a pool's
// first jobs), it creates nothing.
//
// # Retiring idle nodes (retire.go)
//
// An idle node is drained when it has been idle (IdleSince, or
// StateSince when unset) at least IdleBeforeRetire, or at least QuietGrace
// (30 s, or IdleBeforeRetire if shorter) when nothing is arriving (no
// demand now, and LastArrival, when known, at least IdleBeforeRetire ago:
// the timer keeps nodes for jobs that may come, and none came for that long;
// the grace is for a workflow's next step, submitted seconds after the job
// before it ended), its age is at least MinLifetime, and no waiting demand group could use it (one eligible for
// its offer with a job that fits its Free resources; that may keep a node
// whose jobs HTCondor does not match for reasons we cannot see, which is
// the safe side). Drains keep at least Min nodes that are not retiring
// (requested, booting, idle, busy) and at least Spare spare nodes, and
// never the idle node the headroom step counts on; the
// longest idle go first, at equal idle time the dearer one (so cheaper
// nodes are kept).
//
// # Reasons (reasons.go)
//
// Every create, drain, delete, unmet and note carries a Reason: a Kind
// (an enum, one per rule above) and the figures that rule used (counts,
// durations, the offer, and a Block for each limit that stopped a create,
// with its own figures). String renders the sentence a person reads from
// them; code and tests compare kinds and figures, never words. In JSON a
// reason is its kind and figures, so a report read back renders the same
// sentences. Notes that lib/provision adds carry NoteText and words only.
//
// # Output (decide.go)
//
// Creates come in the order they were planned (demand, largest group
// first; then min; then spare; then headroom), each naming the demand keys it serves,
// sorted. Drains and deletes are sorted by node name, Unmet by demand key,
// notes alphabetically. The decision does not depend on the order of any
// list in the Input.
//
// Timeouts of zero (BootTimeout, DrainTimeout, DeleteTimeout) switch the
// rule off; "reached" means Now − since ≥ the duration.
package scale
