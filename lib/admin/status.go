package admin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// StaleCycles is how many cycles an ad may miss before it is stale.
const StaleCycles = 3

// Status is the provisioner's state as its ad tells it.
type Status struct {
	Found  bool   `json:"found"`
	Name   string `json:"name,omitempty"`
	Others int    `json:"other_provisioners,omitempty"` // more ads than the one shown
	// Standby lists the other provisioners of the pool that are alive but
	// touch nothing, each with why (docs/ha.md).
	Standby   []string      `json:"standby,omitempty"`
	LastCycle time.Time     `json:"last_cycle"`
	Age       time.Duration `json:"age"`
	Cycle     time.Duration `json:"cycle"`
	Stale     bool          `json:"stale"`
	Problem   string        `json:"problem,omitempty"` // missing, stale or unreadable, with the fix
	// IdleJobs and Nodes (by state) come from the ad's own attributes:
	// they stay whole when a large report leaves out demand or nodes.
	IdleJobs int                     `json:"idle_jobs"`
	Nodes    map[scale.NodeState]int `json:"nodes"`
	Report   provision.Report        `json:"report"`

	// Identity is the provisioner's (the EHOS_PROVISIONER_IDENTITY knob):
	// only ads it wrote are read. Refused counts the others, whoever wrote
	// them (a worker's token can store an ad of any MyType).
	Identity  string   `json:"identity,omitempty"`
	Refused   int      `json:"refused_ads,omitempty"`
	RefusedBy []string `json:"refused_from,omitempty"` // their identities
}

// AdConstraint selects the provisioner's ad.
var AdConstraint = fmt.Sprintf("MyType == %s", classad.Quote(provision.AdType))

// ReadStatus asks the collector for the provisioner's ad: one the
// provisioner's identity id wrote. That identity is configuration, never
// an ad's word (config.Source.ProvisionerIdentity).
func ReadStatus(ctx context.Context, c *condor.Client, id string, now time.Time) (Status, error) {
	ads, err := c.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: AdConstraint})
	if err != nil {
		return Status{}, fmt.Errorf("read the %s ad: %w", provision.AdType, err)
	}
	var own []classad.Ad
	var others []string
	for _, a := range ads {
		if by := a.GetString("AuthenticatedIdentity"); by == id {
			own = append(own, a)
		} else {
			others = append(others, by)
		}
	}
	st := StatusFromAds(own, now)
	st.Identity, st.Refused, st.RefusedBy = id, len(others), others
	if st.Stale || !st.Found {
		// Why, if condor_master knows: a failed query leaves the
		// problem as it was.
		masters, _ := c.Status(ctx, condor.StatusQuery{Kind: "-master", Constraint: masterStartAttr + " isnt undefined", Attrs: []string{"Name", masterStartAttr}})
		if why := MasterSays(masters, st.LastCycle); why != "" {
			st.Problem += " — " + why
		}
	}
	return st, nil
}

// StatusFromAds picks the freshest EHOSProvisioner ad and judges its age:
// stale when its last cycle is more than StaleCycles cycles old (the cycle
// from EHOSCycleSeconds, else ehos.yaml's default).
func StatusFromAds(ads []classad.Ad, now time.Time) Status {
	var st Status
	if len(ads) == 0 {
		st.Problem = "no " + provision.AdType + " ad in the collector: the provisioner is not running or cannot advertise (check DAEMON_LIST has EHOS_PROVISIONER and its log, $(LOG)/EHOSProvisionerLog; one in dry-run mode advertises nothing, its log shows what it would do)"
		return st
	}
	sort.Slice(ads, func(i, j int) bool { return ads[i].GetInt("EHOSLastCycle", 0) > ads[j].GetInt("EHOSLastCycle", 0) })
	// The one shown is the freshest that acts; a standby's only when none
	// acts.
	shown := 0
	for i, a := range ads {
		if a.GetString(provision.AttrStandby) == "" && !staleAd(a, now) {
			shown = i
			break
		}
	}
	ad := ads[shown]
	for i, a := range ads {
		if why := a.GetString(provision.AttrStandby); i != shown && why != "" && !staleAd(a, now) {
			st.Standby = append(st.Standby, a.GetString("Name")+": "+why)
		}
	}
	st.Found, st.Name, st.Others = true, ad.GetString("Name"), len(ads)-1
	st.LastCycle = time.Unix(ad.GetInt("EHOSLastCycle", 0), 0)
	st.Age = now.Sub(st.LastCycle).Truncate(time.Second)
	st.Cycle = adCycle(ad)
	rep, err := provision.ReportFromAd(ad)
	if err != nil {
		st.Problem = err.Error()
	}
	st.Report = rep
	st.IdleJobs = int(ad.GetInt("EHOSIdleJobs", int64(rep.IdleJobs())))
	counts := rep.Counts()
	st.Nodes = map[scale.NodeState]int{}
	for _, s := range scale.NodeStates {
		if n := ad.GetInt(provision.CountAttr(s), int64(counts[s])); n > 0 {
			st.Nodes[s] = int(n)
		}
	}
	if st.Age > StaleCycles*st.Cycle {
		st.Stale = true
		st.Problem = fmt.Sprintf("STALE: the provisioner's last cycle was %s ago (cycle %s): it is stuck or stopped — read $(LOG)/EHOSProvisionerLog and the MasterLog (condor_master restarts it when it exits; condor_restart restarts every daemon)", st.Age, st.Cycle)
	} else if why := ad.GetString(provision.AttrStandby); why != "" {
		st.Problem = "STANDBY, no provisioner of the pool acts: " + why
	}
	return st
}

// masterStartAttr is the master ad's start time of the provisioner it
// runs (DAEMON_LIST's EHOS_PROVISIONER): 0 while it is not running.
const masterStartAttr = "EHOS_PROVISIONER_StartTime"

// MasterSays is what the condor_master ads that run a provisioner tell of
// it, for a provisioner whose last cycle was lastCycle (zero: none seen).
func MasterSays(masters []classad.Ad, lastCycle time.Time) string {
	var says []string
	for _, m := range masters {
		start := m.GetInt(masterStartAttr, -1)
		switch {
		case start < 0:
			continue
		case start == 0:
			says = append(says, fmt.Sprintf("condor_master %s says the provisioner is NOT RUNNING: it exited and waits out its restart back-off (the MasterLog says when and why), or was turned off (condor_on -daemon EHOS_PROVISIONER)", m.GetString("Name")))
		case time.Unix(start, 0).After(lastCycle):
			says = append(says, fmt.Sprintf("condor_master %s says the provisioner was (re)started at %s, after its last cycle: it crashes or hangs before finishing a cycle (its log says where)", m.GetString("Name"), time.Unix(start, 0).UTC().Format(time.RFC3339)))
		default:
			says = append(says, fmt.Sprintf("condor_master %s says the provisioner runs since %s: it hangs in a cycle (its log says where)", m.GetString("Name"), time.Unix(start, 0).UTC().Format(time.RFC3339)))
		}
	}
	return strings.Join(says, "; ")
}

// adCycle is the cycle a provisioner ad states, else ehos.yaml's default.
func adCycle(ad classad.Ad) time.Duration {
	if c := time.Duration(ad.GetFloat("EHOSCycleSeconds", 0) * float64(time.Second)); c > 0 {
		return c
	}
	return config.Default().Scaling.Cycle
}

// staleAd says a provisioner ad's last cycle is more than StaleCycles
// cycles old.
func staleAd(ad classad.Ad, now time.Time) bool {
	return now.Sub(time.Unix(ad.GetInt("EHOSLastCycle", 0), 0)) > StaleCycles*adCycle(ad)
}

// NodeTotal is the number of nodes in every state.
func (s Status) NodeTotal() int {
	n := 0
	for _, c := range s.Nodes {
		n += c
	}
	return n
}

// Healthy reports whether the ad is there, fresh and readable.
func (s Status) Healthy() bool { return s.Found && !s.Stale && s.Problem == "" }

// WriteStatus prints the status for people.
func WriteStatus(w io.Writer, s Status) error {
	b := &strings.Builder{}
	if !s.Found {
		fmt.Fprintf(b, "provisioner: MISSING — %s\n", s.Problem)
		if s.Refused > 0 {
			fmt.Fprintf(b, "  (%d %s ads from other identities ignored: %s; only %s writes the provisioner's)\n", s.Refused, provision.AdType, strings.Join(s.RefusedBy, ", "), s.Identity)
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	r := s.Report
	health := "OK"
	if !s.Healthy() {
		health = s.Problem
	}
	fmt.Fprintf(b, "provisioner %s: last cycle %s ago (every %s, took %s): %s\n", s.Name, s.Age, s.Cycle, r.Duration.Round(time.Millisecond), health)
	for _, w := range s.Standby {
		fmt.Fprintf(b, "  STANDBY %s\n", w)
	}
	if n := s.Others - len(s.Standby); n > 0 {
		fmt.Fprintf(b, "  (%d more %s ads in the collector: earlier runs, or several provisioners for this pool?)\n", n, provision.AdType)
	}
	if s.Refused > 0 {
		fmt.Fprintf(b, "  (%d %s ads from other identities ignored: %s)\n", s.Refused, provision.AdType, strings.Join(s.RefusedBy, ", "))
	}
	if r.DryRun {
		b.WriteString("  dry run: decisions are logged, not carried out\n")
	}

	fmt.Fprintf(b, "\ndemand: %d idle jobs\n", s.IdleJobs)
	if slices.Contains(r.Dropped, "demand") {
		b.WriteString("  (groups left out of the ad to keep it small)\n")
	}
	for _, d := range r.Demand {
		var el []string
		for _, e := range d.Eligible {
			el = append(el, e.Loc.String()+" "+e.Flavor)
		}
		fmt.Fprintf(b, "  %-24s %3d idle  %d cpu %d MB", d.Key, d.Idle, d.Need.Cpus, d.Need.MemoryMB)
		if d.Need.GPUs > 0 {
			fmt.Fprintf(b, " %d gpu", d.Need.GPUs)
		}
		if len(el) == 0 {
			b.WriteString("  fits no flavor\n")
		} else {
			fmt.Fprintf(b, "  → %s\n", strings.Join(el, ", "))
		}
	}

	fmt.Fprintf(b, "\nnodes: %d\n", s.NodeTotal())
	if slices.Contains(r.Dropped, "nodes") {
		var parts []string
		for _, st := range scale.NodeStates {
			if c := s.Nodes[st]; c > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c, st))
			}
		}
		fmt.Fprintf(b, "  %s (by region below: VMs listed there; each node's state left out of the ad to keep it small)\n", strings.Join(parts, ", "))
	}
	byLoc := map[string]map[scale.NodeState]int{}
	for _, n := range r.Nodes {
		k := n.Location.String()
		if byLoc[k] == nil {
			byLoc[k] = map[scale.NodeState]int{}
		}
		byLoc[k][n.State]++
	}
	for _, rr := range r.Regions {
		k := rr.Location.String()
		var parts []string
		for _, st := range scale.NodeStates {
			if c := byLoc[k][st]; c > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c, st))
			}
		}
		switch {
		case len(parts) > 0:
		case slices.Contains(r.Dropped, "nodes"):
			parts = []string{fmt.Sprintf("%d VMs", rr.VMs)}
		default:
			parts = []string{"none"}
		}
		line := fmt.Sprintf("  %-24s %s", k, strings.Join(parts, ", "))
		if rr.Limits != nil && rr.Limits.MaxInstances >= 0 {
			line += fmt.Sprintf("  (quota %d/%d instances)", rr.Limits.UsedInstances, rr.Limits.MaxInstances)
		}
		if rr.Foreign > 0 {
			line += fmt.Sprintf("  +%d of another provisioner", rr.Foreign)
		}
		if !rr.BackoffUntil.IsZero() {
			line += fmt.Sprintf("\n    backing off until %s: %s", rr.BackoffUntil.UTC().Format(time.TimeOnly), rr.BackoffReason)
		}
		if rr.Error != "" {
			line += "\n    error: " + rr.Error
		}
		b.WriteString(line + "\n")
		delete(byLoc, k)
	}
	for k, m := range byLoc { // nodes in a region the report did not list
		fmt.Fprintf(b, "  %-24s %v\n", k, m)
	}

	d := r.Decision
	b.WriteString("\nlast decision:")
	if len(d.Creates)+len(d.Drains)+len(d.Deletes)+len(d.Unmet)+len(d.Notes) == 0 && r.Rescheduled == "" {
		b.WriteString(" nothing to do\n")
	} else {
		b.WriteString("\n")
	}
	for _, c := range d.Creates {
		fmt.Fprintf(b, "  create %d × %s %s: %s\n", c.Count, c.Offer.Loc, c.Offer.Flavor, c.Reason)
	}
	for _, a := range d.Drains {
		fmt.Fprintf(b, "  drain  %s: %s\n", a.Node, a.Reason)
	}
	for _, a := range d.Deletes {
		fmt.Fprintf(b, "  delete %s: %s\n", a.Node, a.Reason)
	}
	if r.Rescheduled != "" {
		fmt.Fprintf(b, "  negotiate now: %s\n", r.Rescheduled)
	}
	for _, u := range d.Unmet {
		fmt.Fprintf(b, "  unmet  %s (%d jobs): %s\n", u.Demand, u.Jobs, u.Reason)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(b, "  note   %s\n", n)
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nerrors:\n")
		for _, e := range r.Errors {
			fmt.Fprintf(b, "  %s\n", e)
		}
	}
	writeUnreachable(b, r)
	if len(r.Refused) > 0 {
		b.WriteString("\nrefused ads (not acted on; docs/security.md):\n")
		for _, x := range r.Refused {
			fmt.Fprintf(b, "  %s\n", x)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// NodeRow is one VM as `ehos nodes` shows it.
type NodeRow struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	Location    string `json:"location"`
	Flavor      string `json:"flavor"`
	VMState     string `json:"vm_state"`
	CondorState string `json:"condor_state"`
	Running     int    `json:"running"`
	Age         string `json:"age"`
	Idle        string `json:"idle,omitempty"`
	Fault       string `json:"fault,omitempty"`
}

// NodeRows turns the report's nodes into rows at time now.
func NodeRows(r provision.Report, now time.Time) []NodeRow {
	out := make([]NodeRow, 0, len(r.Nodes))
	for _, n := range r.Nodes {
		vm, cs := splitState(n.State)
		row := NodeRow{Name: n.Name, ID: n.ID, Location: n.Location.String(), Flavor: n.Flavor,
			VMState: vm, CondorState: cs, Running: n.Running, Fault: n.Fault}
		if !n.Created.IsZero() {
			row.Age = short(now.Sub(n.Created))
		} else {
			row.Age = "-"
		}
		if n.State == scale.Idle && !n.IdleSince.IsZero() {
			row.Idle = short(now.Sub(n.IdleSince))
		}
		out = append(out, row)
	}
	return out
}

// splitState says what the cloud and HTCondor each think of a node state.
func splitState(s scale.NodeState) (vm, condorState string) {
	switch s {
	case scale.Requested:
		return "requested", "-"
	case scale.Booting:
		return "booting", "not joined"
	case scale.Idle:
		return "active", "idle"
	case scale.Busy:
		return "active", "busy"
	case scale.Retiring:
		return "active", "draining"
	case scale.Drained:
		return "active", "drained"
	case scale.Deleting:
		return "deleting", "-"
	case scale.Failed:
		return "error", "-"
	}
	return string(s), "?"
}

func short(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// WriteNodes prints an aligned table.
func WriteNodes(w io.Writer, rows []NodeRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCLOUD/REGION\tFLAVOR\tVM\tHTCONDOR\tJOBS\tAGE\tIDLE")
	for _, r := range rows {
		idle := r.Idle
		if idle == "" {
			idle = "-"
		}
		vm := r.VMState
		if r.Fault != "" {
			vm += " (" + r.Fault + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Name, r.Location, r.Flavor, vm, r.CondorState, r.Running, r.Age, idle)
	}
	return tw.Flush()
}
