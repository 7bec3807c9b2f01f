package scale

import (
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Resources is an amount of each resource HTCondor matches on. Memory and
// disk are in MB (HTCondor's RequestMemory is MB; RequestDisk is KB and is
// converted by the caller).
type Resources struct {
	Cpus     int `json:"cpus"`
	MemoryMB int `json:"memory_mb"`
	DiskMB   int `json:"disk_mb"`
	GPUs     int `json:"gpus"`
}

// OfferKey names one flavor in one cloud region.
type OfferKey struct {
	Loc    cloud.Location `json:"loc"`
	Flavor string         `json:"flavor"`
}

func (k OfferKey) String() string { return k.Loc.String() + "/" + k.Flavor }

// Offer is a flavor a region can boot, with what a worker of that flavor
// offers to jobs (after the OS's share) and its relative cost.
type Offer struct {
	OfferKey
	Size Resources `json:"size"`
	Cost float64   `json:"cost"`
	// VCPUs and RAMMB are the flavor's own size, what Nova counts against
	// the region's cores and ram quota (Size is what is left for jobs after
	// the OS's share). Zero: Size's figure is used.
	VCPUs int `json:"vcpus,omitempty"`
	RAMMB int `json:"ram_mb,omitempty"`
}

// Region is one cloud region as the provisioner last saw it.
type Region struct {
	Loc    cloud.Location `json:"loc"`
	Offers []Offer        `json:"offers"`
	// Limits is the region's quota; nil when it could not be read this cycle,
	// in which case nothing is created there.
	Limits        *cloud.Limits `json:"limits,omitempty"`
	BackoffUntil  time.Time     `json:"backoff_until,omitempty"`
	BackoffReason string        `json:"backoff_reason,omitempty"`
}

// Cloud is per-cloud policy shared by its regions.
type Cloud struct {
	Name   string `json:"name"`
	MaxVMs int    `json:"max_vms"` // 0: no per-cloud limit
	Weight int    `json:"weight"`  // higher is preferred at equal cost
}

// Demand is a group of idle jobs of one shape at one schedd (an autocluster).
type Demand struct {
	Key    string    `json:"key"`  // stable: "<schedd>#<autocluster>"
	Need   Resources `json:"need"` // per job
	Idle   int       `json:"idle"` // idle jobs in the group
	Oldest time.Time `json:"oldest"`
	// Reported is when the demand was counted (zero: now). lib/provision
	// holds demand counted before the latest job start it saw, since those
	// jobs may be the ones that started.
	Reported time.Time `json:"reported,omitempty"`
	// Eligible lists the offers HTCondor's negotiator matched these jobs to
	// (their Requirements hold against that flavor's offline ad). Empty means
	// no configured flavor can run them: they get no VM.
	Eligible []OfferKey `json:"eligible"`
	// Unmatched lists the eligible offers whose real workers these jobs
	// sat beside without being matched: joined, unclaimed, healthy workers
	// with room for one of them. lib/provision keeps an entry once it
	// reached UnmatchedAfter, even when those workers are gone since.
	Unmatched []Unmatched `json:"unmatched,omitempty"`
}

// Unmatched says since when a demand group's jobs stayed idle beside idle
// real workers of one offer.
type Unmatched struct {
	Offer OfferKey  `json:"offer"`
	Since time.Time `json:"since"`
}

// NodeState is where a VM is in its life, as lib/provision classifies it.
type NodeState string

const (
	Requested NodeState = "requested" // create sent, not yet in a list answer
	Booting   NodeState = "booting"   // in the cloud (BUILD or ACTIVE), no startd ad yet
	Idle      NodeState = "idle"      // startd joined, nothing claimed
	Busy      NodeState = "busy"      // at least one claimed slot
	Retiring  NodeState = "retiring"  // drain sent; waits for running jobs
	Drained   NodeState = "drained"   // retiring and its startd is gone or has nothing claimed
	Deleting  NodeState = "deleting"  // delete sent, still listed
	Failed    NodeState = "failed"    // cloud ERROR (or SHUTOFF); never recovers by itself
)

// NodeStates lists every NodeState in lifecycle order.
var NodeStates = []NodeState{Requested, Booting, Idle, Busy, Retiring, Drained, Deleting, Failed}

// StateCounts counts nodes by state.
type StateCounts struct {
	Requested int `json:"requested,omitempty"`
	Booting   int `json:"booting,omitempty"`
	Idle      int `json:"idle,omitempty"`
	Busy      int `json:"busy,omitempty"`
	Retiring  int `json:"retiring,omitempty"`
	Drained   int `json:"drained,omitempty"`
	Deleting  int `json:"deleting,omitempty"`
	Failed    int `json:"failed,omitempty"`
}

// of points at the count of state s.
func (c *StateCounts) of(s NodeState) *int {
	switch s {
	case Requested:
		return &c.Requested
	case Booting:
		return &c.Booting
	case Idle:
		return &c.Idle
	case Busy:
		return &c.Busy
	case Retiring:
		return &c.Retiring
	case Drained:
		return &c.Drained
	case Deleting:
		return &c.Deleting
	}
	return &c.Failed
}

// Of is the count of nodes in state s.
func (c StateCounts) Of(s NodeState) int { return *c.of(s) }

// Node is one VM ehos owns.
type Node struct {
	ID         string    `json:"id"`   // cloud server id; "" while Requested
	Name       string    `json:"name"` // ehos name (= startd name)
	Offer      OfferKey  `json:"offer"`
	State      NodeState `json:"state"`
	StateSince time.Time `json:"state_since"` // when it entered State
	Created    time.Time `json:"created"`
	IdleSince  time.Time `json:"idle_since,omitempty"` // Idle nodes: when it last became idle
	Free       Resources `json:"free"`                 // unclaimed resources of a joined node
	Running    int       `json:"running"`              // jobs running on it
	Fault      string    `json:"fault,omitempty"`      // cloud fault for Failed nodes
	Attempts   int       `json:"attempts,omitempty"`   // delete attempts so far (Deleting)
	// AdVanished: its startd joined once and has no ad in the collector
	// now (drained and exited, token expired, ad invalidated, or lost).
	// Only the schedds can then tell whether a job still runs there.
	AdVanished bool `json:"ad_vanished,omitempty"`
	// RetireAsked: the provisioner asked it to retire (a drain or retire
	// request was sent), so its ads are expected to go.
	RetireAsked bool `json:"retire_asked,omitempty"`
	// ScheddJobs are the jobs the schedds say run on it now (JobStatus
	// running, RemoteHost one of its slots), as "schedd S job C.P".
	ScheddJobs []string `json:"schedd_jobs,omitempty"`
	// TokenExpires is when its IDTOKEN expires (zero: unknown). It is
	// drained DrainTimeout before, whatever MaxLifetime says: a worker
	// whose token expired can no longer speak to the pool.
	TokenExpires time.Time `json:"token_expires,omitempty"`
}

// Knobs are the scaling settings (ehos.yaml `scaling:`, overridable by EHOS_*
// HTCondor knobs).
type Knobs struct {
	Min                int
	Max                int
	Spare              int
	MaxBooting         int
	MaxCreatesPerCycle int
	IdleBeforeRetire   time.Duration
	MinLifetime        time.Duration
	MaxLifetime        time.Duration // 0: unbounded
	BootTimeout        time.Duration
	DrainTimeout       time.Duration
	DeleteTimeout      time.Duration
	// UnmatchedAfter is how long jobs may sit idle beside idle real
	// workers of an offer before that offer is no longer demand for them:
	// zero is DefaultUnmatchedAfter, below zero never.
	UnmatchedAfter time.Duration
	// HeadroomWindow is how long the widest job seen waiting is kept room
	// for while jobs wait (Input.Widest); zero: never.
	HeadroomWindow time.Duration
}

// Input is everything Decide looks at.
type Input struct {
	Now     time.Time
	Knobs   Knobs
	Clouds  []Cloud
	Regions []Region
	Demand  []Demand
	Nodes   []Node
	// LastArrival is when work last arrived: idle jobs ehos could serve were
	// reported or a worker started a job. Zero: not known (after a
	// restart), and idle nodes wait out IdleBeforeRetire.
	LastArrival time.Time
	// ScheddJobsUnknown, when not empty, says why the schedds could not all
	// be asked this cycle which jobs run where (Node.ScheddJobs may then
	// miss some): no node whose ad vanished is deleted.
	ScheddJobsUnknown string
	// Widest is the widest demand group (most GPUs, then cpus, memory,
	// disk) seen waiting within Knobs.HeadroomWindow, as last seen; nil:
	// none. Its Idle is not read.
	Widest *Demand
}

// Create asks for Count new VMs of one offer.
type Create struct {
	Offer  OfferKey `json:"offer"`
	Count  int      `json:"count"`
	Reason Reason   `json:"reason"`
	Serves []string `json:"serves,omitempty"` // demand keys it is for
}

// Action is a drain or a delete of one node.
type Action struct {
	Node   string `json:"node"` // Node.Name
	ID     string `json:"id"`   // Node.ID
	Reason Reason `json:"reason"`
}

// Unmet is demand this decision leaves waiting, and why.
type Unmet struct {
	Demand string `json:"demand"`
	Jobs   int    `json:"jobs"`
	Reason Reason `json:"reason"`
}

// Decision is what to do this cycle.
type Decision struct {
	Creates []Create `json:"creates,omitempty"`
	Drains  []Action `json:"drains,omitempty"`
	Deletes []Action `json:"deletes,omitempty"`
	Unmet   []Unmet  `json:"unmet,omitempty"`
	// Notes are other reasons worth showing (a drain that overran
	// DrainTimeout, a region skipped for back-off).
	Notes []Reason `json:"notes,omitempty"`
}
