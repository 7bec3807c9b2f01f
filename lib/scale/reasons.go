package scale

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Kind names the rule behind a create, drain, delete, unmet or note. Code
// that must know why something happened compares kinds and reads figures;
// it never reads the sentence String renders.
type Kind string

// The kinds, and the figures of Reason each one sets.
const (
	// Creates: Demand, Jobs, Need, Count, Offer, PerVM and Choice.
	CreateForDemand Kind = "create-for-demand"
	// Min, Live, Planned, Count, Offer.
	CreateForMin Kind = "create-for-min"
	// Spare, Have, Count, Offer.
	CreateForSpare Kind = "create-for-spare"
	// Demand, Need (the widest job seen waiting), Knob (the window), Count,
	// Offer.
	CreateForHeadroom Kind = "create-for-headroom"

	// Deletes. Text: the cloud's fault.
	DeleteFailed Kind = "delete-failed"
	// Knob (boot timeout), State, For.
	DeleteNeverJoined Kind = "delete-never-joined"
	DeleteDrained     Kind = "delete-drained"
	// The startd ad vanished after a drain or retire request.
	DeleteVanishedRetired Kind = "delete-vanished-retired"
	// At: when the token expired.
	DeleteVanishedTokenExpired Kind = "delete-vanished-token-expired"
	// Knob: the max lifetime.
	DeleteVanishedMaxLifetime Kind = "delete-vanished-max-lifetime"
	// For, Attempt (the one sent now).
	DeleteRetry Kind = "delete-retry"
	// For, Knob (drain timeout).
	DeleteDrainTimeout Kind = "delete-drain-timeout"

	// Drains. Knob (max lifetime), For (age).
	DrainMaxLifetime Kind = "drain-max-lifetime"
	// At (token expiry), Knob (drain timeout).
	DrainTokenExpiry Kind = "drain-token-expiry"
	// Demand, Jobs, Need, For (waited), Offer (the node's), Blocks (the
	// full instance quota).
	DrainFreesInstance Kind = "drain-frees-instance"
	// Demand, Jobs, Need, For (waited), Offer (the node's), Holds, Best,
	// PerVM, Blocks (max, or the clouds' max_vms).
	DrainMakesRoom Kind = "drain-makes-room"
	// For (idle), Quiet, Knob (idle_before_retire), Min, Spare.
	DrainNothingArriving Kind = "drain-nothing-arriving"
	// For (idle), Knob (idle_before_retire), Min, Spare.
	DrainIdle Kind = "drain-idle"

	// Unmet.
	UnmetNoFlavor Kind = "unmet-no-flavor"
	// Beside: the offers the jobs sat unmatched beside.
	UnmetUnmatched Kind = "unmet-unmatched"
	// Offers: the matched offers, none offered this cycle.
	UnmetNotOffered Kind = "unmet-not-offered"
	// Need.
	UnmetTooLarge Kind = "unmet-too-large"
	// Blocks: the limits that leave no room.
	UnmetNoRoom Kind = "unmet-no-room"

	// Notes. Node, Running.
	NoteDrainedRunning Kind = "note-drained-running"
	// Node.
	NoteVanishedKept Kind = "note-vanished-kept"
	// Node, For, Knob (drain timeout), Running.
	NoteRetiringRunning Kind = "note-retiring-running"
	// Node, Vanished or State, ScheddJobs.
	NoteScheddJobs Kind = "note-schedd-jobs"
	// Node, Vanished or State, Text (why the schedds could not be asked).
	NoteScheddsUnknown Kind = "note-schedds-unknown"
	// Blocks: the region's back-off.
	NoteBackoff Kind = "note-backoff"
	// Blocks: the region whose quota is unknown.
	NoteQuotaUnknown Kind = "note-quota-unknown"
	// Demand, Beside: offers left out while others remain.
	NoteUnmatched Kind = "note-unmatched"
	// Min, Wanted, Blocks.
	NoteMinShort Kind = "note-min-short"
	// Spare, Wanted, Blocks.
	NoteSpareShort Kind = "note-spare-short"
	// Text: a note written by the code that carries out the decision.
	NoteText Kind = "note-text"
)

// Reason is why one entry of a Decision is there: its Kind and the figures
// that kind sets (listed at the kinds); String renders the sentence a
// person reads.
type Reason struct {
	Kind Kind `json:"kind"`

	Node     string    `json:"node,omitempty"`
	Demand   string    `json:"demand,omitempty"`
	Jobs     int       `json:"jobs,omitempty"`
	Need     Resources `json:"need,omitzero"`
	Count    int       `json:"count,omitempty"`
	Offer    OfferKey  `json:"offer,omitzero"`
	PerVM    int       `json:"per_vm,omitempty"`
	State    NodeState `json:"state,omitempty"`
	Vanished bool      `json:"vanished,omitempty"`
	// For is how long: in its state, idle, retiring, waiting; a node's age.
	For time.Duration `json:"for,omitempty"`
	// Knob is the duration setting reached (a timeout, a lifetime).
	Knob    time.Duration `json:"knob,omitempty"`
	At      time.Time     `json:"at,omitzero"`
	Text    string        `json:"text,omitempty"`
	Running int           `json:"running,omitempty"`
	Attempt int           `json:"attempt,omitempty"`
	// ScheddJobs are the jobs a schedd says run on the node, sorted.
	ScheddJobs []string   `json:"schedd_jobs,omitempty"`
	Offers     []OfferKey `json:"offers,omitempty"`
	Beside     []Beside   `json:"beside,omitempty"`
	Blocks     []Block    `json:"blocks,omitempty"`
	Choice     *Choice    `json:"choice,omitempty"`
	// Min and Spare are the knobs; Live, Planned, Have and Wanted count
	// nodes for them.
	Min     int `json:"min,omitempty"`
	Spare   int `json:"spare,omitempty"`
	Live    int `json:"live,omitempty"`
	Planned int `json:"planned,omitempty"`
	Have    int `json:"have,omitempty"`
	Wanted  int `json:"wanted,omitempty"`
	// Quiet is how long since work last arrived.
	Quiet time.Duration `json:"quiet,omitempty"`
	// Holds is how many of the jobs the drained node holds; a VM of Best
	// holds PerVM.
	Holds int    `json:"holds,omitempty"`
	Best  string `json:"best,omitempty"`
	// Moved: lib/provision moved the create from a failing region.
	Moved bool `json:"moved,omitempty"`
}

// TextNote is a note in words only, for the code that carries out a
// decision.
func TextNote(text string) Reason { return Reason{Kind: NoteText, Text: text} }

// Beside says for how long a demand group's jobs sat unmatched beside idle
// real workers of an offer.
type Beside struct {
	Offer OfferKey      `json:"offer"`
	For   time.Duration `json:"for"`
}

// Pick is how an offer was chosen for demand.
type Pick string

const (
	PickCheapest         Pick = "cheapest"           // the cheapest fit had room
	PickCheapestWithRoom Pick = "cheapest-with-room" // Other, cheaper, had none (Block)
	PickServesMost       Pick = "serves-most"        // Other, cheaper, would serve only Serve under Block
)

// Choice is how the offer of a create for demand was chosen.
type Choice struct {
	Pick  Pick     `json:"pick"`
	Other OfferKey `json:"other,omitzero"`
	Serve int      `json:"serve,omitempty"`
	Block Block    `json:"block,omitzero"`
}

// Limit names what stops a create.
type Limit string

const (
	LimitNone         Limit = ""
	LimitNotOffered   Limit = "not-offered"   // Offer
	LimitBackoff      Limit = "backoff"       // Loc, Until, Why
	LimitQuotaUnknown Limit = "quota-unknown" // Loc
	LimitMax          Limit = "max"           // Of, Exists, Out, Planned
	LimitMaxBooting   Limit = "max-booting"   // Of, Booting, Planned
	LimitPerCycle     Limit = "per-cycle"     // Of
	LimitCloudMax     Limit = "cloud-max"     // Cloud, Of, Exists, Out, Planned
	LimitQuota        Limit = "quota"         // Loc, Resource, Used, Planned, Of; Flavor and Needs for cores and ram
)

// Block is a limit that stops creates, with its figures.
type Block struct {
	Limit    Limit          `json:"limit"`
	Loc      cloud.Location `json:"loc,omitzero"`
	Flavor   string         `json:"flavor,omitempty"`
	Until    time.Time      `json:"until,omitzero"`
	Why      string         `json:"why,omitempty"`
	Cloud    string         `json:"cloud,omitempty"`
	Resource string         `json:"resource,omitempty"` // quota: instances, cores or ram
	Of       int            `json:"of,omitempty"`       // the knob or quota maximum
	Used     int            `json:"used,omitempty"`
	Exists   int            `json:"exists,omitempty"`
	Out      StateCounts    `json:"out,omitzero"` // existing servers not live, by state
	Booting  int            `json:"booting,omitempty"`
	Planned  int            `json:"planned,omitempty"`
	Needs    int            `json:"needs,omitempty"` // the flavor's cores or ram
}

func (b Block) String() string { return b.text(true) }

// text renders b; without reached, a knob reads as "max 2: ..." instead of
// "max 2 reached: ...".
func (b Block) text(reached bool) string {
	r := " reached"
	if !reached {
		r = ""
	}
	switch b.Limit {
	case LimitNotOffered:
		return fmt.Sprintf("%s not offered this cycle", OfferKey{Loc: b.Loc, Flavor: b.Flavor})
	case LimitBackoff:
		return fmt.Sprintf("%s backing off until %s (%s)", b.Loc, b.Until.UTC().Format(time.RFC3339), orNone(b.Why))
	case LimitQuotaUnknown:
		return fmt.Sprintf("%s quota unknown", b.Loc)
	case LimitMax:
		return fmt.Sprintf("max %d%s: %s, %d planned", b.Of, r, existing(b.Exists, b.Out), b.Planned)
	case LimitMaxBooting:
		return fmt.Sprintf("max_booting %d%s (%d booting, %d planned)", b.Of, r, b.Booting, b.Planned)
	case LimitPerCycle:
		return fmt.Sprintf("max_creates_per_cycle %d%s", b.Of, r)
	case LimitCloudMax:
		return fmt.Sprintf("cloud %s max_vms %d%s: %s, %d planned", b.Cloud, b.Of, r, existing(b.Exists, b.Out), b.Planned)
	case LimitQuota:
		switch b.Resource {
		case "instances":
			return fmt.Sprintf("%s quota: instances %d used + %d planned of %d", b.Loc, b.Used, b.Planned, b.Of)
		case "cores":
			return fmt.Sprintf("%s quota: cores %d used + %d planned of %d, %s needs %d", b.Loc, b.Used, b.Planned, b.Of, b.Flavor, b.Needs)
		default:
			return fmt.Sprintf("%s quota: ram %d MB used + %d MB planned of %d MB, %s needs %d MB", b.Loc, b.Used, b.Planned, b.Of, b.Flavor, b.Needs)
		}
	}
	return "no limit"
}

// cap names a knob that caps VMs: "max 3", "cloud a max_vms 2".
func (b Block) cap() string {
	if b.Limit == LimitCloudMax {
		return fmt.Sprintf("cloud %s max_vms %d", b.Cloud, b.Of)
	}
	return fmt.Sprintf("max %d", b.Of)
}

// blocks renders limits, one after another.
func blocks(bs []Block) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = b.String()
	}
	return strings.Join(s, "; ")
}

// String is the sentence a person reads.
func (r Reason) String() string {
	s := r.text()
	if r.Moved {
		s = "moved from a failing region: " + s
	}
	return s
}

func (r Reason) text() string {
	switch r.Kind {
	case CreateForDemand, CreateForMin, CreateForSpare, CreateForHeadroom:
		return r.create()
	case DeleteFailed, DeleteNeverJoined, DeleteDrained, DeleteVanishedRetired, DeleteVanishedTokenExpired,
		DeleteVanishedMaxLifetime, DeleteRetry, DeleteDrainTimeout:
		return r.delete()
	case DrainMaxLifetime, DrainTokenExpiry, DrainFreesInstance, DrainMakesRoom, DrainNothingArriving, DrainIdle:
		return r.drain()
	case UnmetNoFlavor, UnmetUnmatched, UnmetNotOffered, UnmetTooLarge, UnmetNoRoom:
		return r.unmet()
	}
	return r.note()
}

func (r Reason) create() string {
	o := r.Offer
	switch r.Kind {
	case CreateForMin:
		return fmt.Sprintf("min %d: %d live, %d planned; %d × %s in %s (cheapest offer)", r.Min, r.Live, r.Planned, r.Count, o.Flavor, o.Loc)
	case CreateForSpare:
		return fmt.Sprintf("spare %d: %d unused now; %d × %s in %s (largest offer: takes any job a flavor can)", r.Spare, r.Have, r.Count, o.Flavor, o.Loc)
	case CreateForHeadroom:
		return fmt.Sprintf("jobs wait and no node has room for a job of %s, the widest from %s seen waiting in the last %s; %d × %s in %s (cheapest offer that holds one)",
			fmtRes(r.Need), r.Demand, r.Knob, r.Count, o.Flavor, o.Loc)
	}
	how := "cheapest fit"
	if c := r.Choice; c != nil {
		switch c.Pick {
		case PickServesMost:
			how = fmt.Sprintf("serves the most of them; %s in %s would serve %d under %s", c.Other.Flavor, c.Other.Loc, c.Serve, c.Block.text(false))
		case PickCheapestWithRoom:
			how = fmt.Sprintf("cheapest fit with room; %s in %s: %s", c.Other.Flavor, c.Other.Loc, c.Block)
		}
	}
	return fmt.Sprintf("%s of %s from %s need %d × %s in %s (%s, %s per VM)",
		plural(r.Jobs, "idle job"), fmtRes(r.Need), r.Demand, r.Count, o.Flavor, o.Loc, how, plural(r.PerVM, "job"))
}

func (r Reason) delete() string {
	switch r.Kind {
	case DeleteFailed:
		return "failed in the cloud: " + orDefault(r.Text, "no fault message")
	case DeleteNeverJoined:
		return fmt.Sprintf("never joined within boot timeout %s (%s for %s)", r.Knob, r.State, r.For)
	case DeleteDrained:
		return "drained, no job running"
	case DeleteVanishedRetired:
		return "startd ad vanished and no schedd runs a job there"
	case DeleteVanishedTokenExpired:
		return "startd ad vanished, its token expired at " + r.At.UTC().Format(time.RFC3339) + ", and no schedd runs a job there"
	case DeleteVanishedMaxLifetime:
		return fmt.Sprintf("startd ad vanished, max lifetime %s reached, and no schedd runs a job there", r.Knob)
	case DeleteRetry:
		return fmt.Sprintf("delete still pending after %s: retry, attempt %d", r.For, r.Attempt)
	}
	return fmt.Sprintf("retiring for %s, past drain timeout %s, no job running", r.For, r.Knob)
}

func (r Reason) drain() string {
	switch r.Kind {
	case DrainMaxLifetime:
		return fmt.Sprintf("max lifetime %s reached (age %s): running jobs finish first", r.Knob, r.For)
	case DrainTokenExpiry:
		return fmt.Sprintf("its token expires at %s, within drain timeout %s: drained so running jobs finish first", r.At.UTC().Format(time.RFC3339), r.Knob)
	case DrainFreesInstance:
		var q Block
		if len(r.Blocks) > 0 {
			q = r.Blocks[0]
		}
		return fmt.Sprintf("frees an instance for %s of %s from %s, waiting %s: %s instance quota full (%d of %d) and this %s cannot run them; running jobs finish first",
			plural(r.Jobs, "job"), fmtRes(r.Need), r.Demand, r.For, q.Loc, q.Used, q.Of, r.Offer.Flavor)
	case DrainMakesRoom:
		caps := make([]string, len(r.Blocks))
		for i, b := range r.Blocks {
			caps[i] = b.cap()
		}
		return fmt.Sprintf("makes room under %s for %s of %s from %s, waiting %s: this %s holds %d of them, a %s %d; running jobs finish first",
			strings.Join(caps, ", "), plural(r.Jobs, "job"), fmtRes(r.Need), r.Demand, r.For, r.Offer.Flavor, r.Holds, r.Best, r.PerVM)
	case DrainNothingArriving:
		return fmt.Sprintf("idle for %s, and no job queued or started for %s (idle_before_retire %s): nothing is arriving; keeps min %d, spare %d",
			r.For, r.Quiet, r.Knob, r.Min, r.Spare)
	}
	return fmt.Sprintf("idle for %s (idle_before_retire %s) and no waiting job fits it; keeps min %d, spare %d", r.For, r.Knob, r.Min, r.Spare)
}

func (r Reason) unmet() string {
	switch r.Kind {
	case UnmetNoFlavor:
		return "no configured flavor matches these jobs (HTCondor's negotiator matched none)"
	case UnmetUnmatched:
		return unmatchedText(r.Beside) + "; no VM is booted for them"
	case UnmetNotOffered:
		return fmt.Sprintf("none of the flavors matched (%s) is offered this cycle", keys(r.Offers))
	case UnmetTooLarge:
		return "no eligible flavor is large enough for " + fmtRes(r.Need)
	}
	return "no room: " + blocks(r.Blocks)
}

func (r Reason) note() string {
	switch r.Kind {
	case NoteDrainedRunning:
		return fmt.Sprintf("%s is drained but reports %d running jobs: not deleted", r.Node, r.Running)
	case NoteVanishedKept:
		return r.Node + ": startd ad vanished but it was not asked to retire and its token and lifetime have not run out: kept (any worker's token can withdraw another VM's ads)"
	case NoteRetiringRunning:
		return fmt.Sprintf("%s has been retiring for %s, past drain timeout %s, and still runs %d jobs: waiting, a running job is never killed", r.Node, r.For, r.Knob, r.Running)
	case NoteScheddJobs:
		jobs, more := r.ScheddJobs, ""
		if len(jobs) > 3 {
			more = fmt.Sprintf(" and %d more", len(jobs)-3)
			jobs = jobs[:3]
		}
		return fmt.Sprintf("%s: %s but %s%s runs there; keeping", r.Node, r.what(), strings.Join(jobs, ", "), more)
	case NoteScheddsUnknown:
		return fmt.Sprintf("%s: %s and the schedds could not all be asked whether a job runs there (%s); keeping", r.Node, r.what(), r.Text)
	case NoteBackoff, NoteQuotaUnknown:
		var b Block
		if len(r.Blocks) > 0 {
			b = r.Blocks[0]
		}
		if r.Kind == NoteQuotaUnknown {
			return fmt.Sprintf("%s quota unknown (limits not read this cycle): no VM created there", b.Loc)
		}
		return b.String() + ": no VM created there"
	case NoteUnmatched:
		return r.Demand + ": " + unmatchedText(r.Beside) + "; no VM is booted for them there"
	case NoteMinShort:
		return fmt.Sprintf("min %d workers: %d more wanted, blocked: %s", r.Min, r.Wanted, r.blocked())
	case NoteSpareShort:
		return fmt.Sprintf("spare %d workers: %d more wanted, blocked: %s", r.Spare, r.Wanted, r.blocked())
	}
	return r.Text
}

// what says what makes a kept node due to go.
func (r Reason) what() string {
	if r.Vanished {
		return "startd ad vanished"
	}
	return fmt.Sprintf("%s and due for deletion", r.State)
}

func (r Reason) blocked() string {
	if len(r.Blocks) == 0 {
		return "no offer configured"
	}
	return blocks(r.Blocks)
}

// unmatchedText says which offers a group's jobs sat unmatched beside.
func unmatchedText(beside []Beside) string {
	on := make([]string, len(beside))
	for i, u := range beside {
		on[i] = fmt.Sprintf("%s in %s for %s", u.Offer.Flavor, u.Offer.Loc, u.For)
	}
	return "unmatched on real workers: these jobs stayed idle beside idle workers of " + strings.Join(on, ", ") +
		" (HTCondor matched them only to the offline flavor ads)"
}

func orNone(s string) string { return orDefault(s, "no reason given") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// existing says how many servers exist and, of those, how many are not
// live, by state: "3 servers exist (1 drained, 2 deleting)".
func existing(n int, out StateCounts) string {
	s := plural(n, "server") + " exist"
	if n == 1 {
		s += "s"
	}
	var parts []string
	for _, st := range NodeStates {
		if k := out.Of(st); k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k, st))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func keys(ks []OfferKey) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.String()
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ", ")
}

// fmtRes writes resources as "4 cpu/8192 MB", with disk and GPUs when asked.
func fmtRes(r Resources) string {
	s := fmt.Sprintf("%d cpu/%d MB", r.Cpus, r.MemoryMB)
	if r.DiskMB > 0 {
		s += fmt.Sprintf("/%d MB disk", r.DiskMB)
	}
	if r.GPUs > 0 {
		s += fmt.Sprintf("/%d gpu", r.GPUs)
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// dur rounds a duration to the second for reasons.
func dur(d time.Duration) time.Duration { return d.Round(time.Second) }
