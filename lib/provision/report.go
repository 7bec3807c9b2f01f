package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/scale"
)

// AdType is the MyType of the provisioner's own ad.
const AdType = "EHOSProvisioner"

// Report is what one cycle saw, decided and did. It is published (as JSON
// inside the EHOSProvisioner ad) for `ehos status` and `ehos nodes`.
type Report struct {
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration"`
	Cycle    time.Duration `json:"cycle,omitempty"` // period between cycles; 0 for a single RunOnce
	Pool     string        `json:"pool"`
	Owner    string        `json:"owner"`
	// Instance is this provisioner process (host/pid), its lease holder name.
	Instance string `json:"instance,omitempty"`
	DryRun   bool   `json:"dry_run,omitempty"`
	// Standby says why this cycle touched nothing: another provisioner of
	// the pool holds its lease (docs/ha.md). Empty: it acted.
	Standby  string         `json:"standby,omitempty"`
	Demand   []scale.Demand `json:"demand,omitempty"`
	Nodes    []NodeReport   `json:"nodes,omitempty"`
	Regions  []RegionReport `json:"regions,omitempty"`
	Decision scale.Decision `json:"decision"`
	Actions  []string       `json:"actions,omitempty"`
	// Rescheduled says why this cycle asked the schedds for a negotiation;
	// empty when it did not.
	Rescheduled string   `json:"rescheduled,omitempty"`
	Errors      []string `json:"errors,omitempty"`
	// Refused are the ads this cycle did not believe (see Refusal).
	Refused []Refusal `json:"refused,omitempty"`
	// Unreachable are joined workers the central manager cannot connect
	// to (reach.go).
	Unreachable []Unreachable `json:"unreachable,omitempty"`
	// Dropped names what Ad left out to keep the ad small ("demand", then
	// "nodes"); the ad's EHOSIdleJobs and EHOSNodes* still count them.
	Dropped []string `json:"dropped,omitempty"`
}

// NodeReport is one VM as `ehos nodes` shows it.
type NodeReport struct {
	Name      string          `json:"name"`
	ID        string          `json:"id"`
	Location  cloud.Location  `json:"location"`
	Flavor    string          `json:"flavor"`
	State     scale.NodeState `json:"state"`
	Since     time.Time       `json:"since"`
	Created   time.Time       `json:"created"`
	Running   int             `json:"running"`
	IdleSince time.Time       `json:"idle_since,omitempty"`
	Fault     string          `json:"fault,omitempty"`
}

// RegionReport is one region's health.
type RegionReport struct {
	Location      cloud.Location `json:"location"`
	Listed        bool           `json:"listed"` // this cycle's list succeeded
	VMs           int            `json:"vms"`
	Foreign       int            `json:"foreign,omitempty"` // this pool's VMs owned by another provisioner
	Limits        *cloud.Limits  `json:"limits,omitempty"`
	BackoffUntil  time.Time      `json:"backoff_until,omitempty"`
	BackoffReason string         `json:"backoff_reason,omitempty"`
	Error         string         `json:"error,omitempty"`
}

// publish completes the cycle's report, keeps it as the last one and
// advertises it as the provisioner's ad (not in a dry run).
func (p *Provisioner) publish(ctx context.Context, now, start time.Time, in scale.Input, dec scale.Decision, snap snapshot, rep Report) {
	rep.Decision = dec
	rep.Nodes = p.nodesNow(in)
	rep.Demand = in.Demand
	rep.Regions = p.regionReports(now, snap)
	rep.Duration = time.Since(start)
	p.seq++
	if p.opt.DryRun {
		p.opt.Log.Info().Msg("dry run: provisioner ad not published (ehos status shows the live provisioner's)")
	} else if err := p.publishAd(ctx, rep); err != nil {
		rep.Errors = append(rep.Errors, "publish provisioner ad: "+err.Error())
		p.opt.Log.Warn().Err(err).Msg("publish provisioner ad")
	}
	p.last = rep
}

// publishAd hands the provisioner's ad for rep to the pool, built only
// when the pool uses it (LazyPublisher).
func (p *Provisioner) publishAd(ctx context.Context, rep Report) error {
	if lp, ok := p.pool.(LazyPublisher); ok {
		return lp.PublishLazy(ctx, func() classad.Ad { return p.ad(rep) })
	}
	return p.pool.Publish(ctx, p.ad(rep))
}

// ad is the provisioner's ad for rep, with the unmatched marks.
func (p *Provisioner) ad(rep Report) classad.Ad {
	ad := rep.Ad(p.seq)
	ad[AttrUnmatched] = classad.String(p.marksJSON())
	ad[AttrIdleSince] = classad.String(p.idleSinceJSON())
	p.reachAd(ad, rep)
	return ad
}

func (p *Provisioner) nodesNow(in scale.Input) []NodeReport {
	out := make([]NodeReport, 0, len(p.tracks))
	for _, n := range in.Nodes {
		t := p.tracks[n.Name]
		if t == nil {
			continue
		}
		out = append(out, NodeReport{
			Name: t.name, ID: t.id, Location: t.offer.Loc, Flavor: t.offer.Flavor, State: t.state,
			Since: t.since, Created: t.created, Running: n.Running, IdleSince: n.IdleSince, Fault: t.fault,
		})
	}
	// VMs created this cycle: none when out has every track already (its
	// names are distinct).
	if len(out) < len(p.tracks) {
		have := make(map[string]bool, len(out))
		for _, n := range out {
			have[n.Name] = true
		}
		for _, t := range p.tracks {
			if !have[t.name] {
				out = append(out, NodeReport{Name: t.name, ID: t.id, Location: t.offer.Loc, Flavor: t.offer.Flavor, State: t.state, Since: t.since, Created: t.created})
			}
		}
	}
	slices.SortFunc(out, func(a, b NodeReport) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (p *Provisioner) regionReports(now time.Time, snap snapshot) []RegionReport {
	var out []RegionReport
	for i, r := range p.regions {
		s := snap.regions[i]
		rr := RegionReport{Location: r.loc, Listed: s.listOK, Limits: r.limits(s), Error: s.err()}
		for _, vm := range r.vms {
			if vm.Metadata[cloud.MetaOwner] == p.opt.Owner {
				rr.VMs++
			} else {
				rr.Foreign++
			}
		}
		if r.backoff.active(now) {
			rr.BackoffUntil, rr.BackoffReason = r.backoff.until, r.backoff.reason
		}
		out = append(out, rr)
	}
	return out
}

// Counts returns the number of nodes in each state.
func (r Report) Counts() map[scale.NodeState]int {
	c := map[scale.NodeState]int{}
	for _, n := range r.Nodes {
		c[n.State]++
	}
	return c
}

// IdleJobs is the number of idle jobs in the demand.
func (r Report) IdleJobs() int {
	n := 0
	for _, d := range r.Demand {
		n += d.Idle
	}
	return n
}

// maxReportJSON bounds the JSON carried in the ad; a larger report leaves
// out the demand groups (1,000 groups eligible for 20 offers each take
// 1.4 MB), then the nodes (about 300 bytes each), so the ad stays small.
const maxReportJSON = 256 << 10

// maxRefusals bounds the refused ads carried in the report (a forger can
// send many); EHOSRefusedAds still counts them all.
const maxRefusals = 50

// AttrStandby is the provisioner ad's reason for touching nothing, when it
// stands by.
const AttrStandby = "EHOSStandby"

// Name is the name of the provisioner's ad: one per provisioner process,
// so that two of one pool do not overwrite each other's.
func (r Report) Name() string {
	if r.Instance == "" {
		return r.Pool + "@" + r.Owner
	}
	return r.Pool + "@" + r.Instance
}

// Ad is the EHOSProvisioner ad for this report. seq is its update sequence.
func (r Report) Ad(seq int64) classad.Ad {
	// The ad is readable by every worker: whatever a tool quoted into an
	// error, nothing token-shaped leaves in it.
	r.Errors = slices.Clone(r.Errors)
	for i, e := range r.Errors {
		r.Errors[i] = condor.Redact(e)
	}
	ad := classad.Ad{
		"MyType":               classad.String(AdType),
		"Name":                 classad.String(r.Name()),
		"EHOSPool":             classad.String(r.Pool),
		"EHOSOwner":            classad.String(r.Owner),
		"EHOSLastCycle":        classad.Int(r.Time.Unix()),
		"EHOSCycleDuration":    classad.Float(r.Duration.Seconds()),
		"EHOSDryRun":           classad.Bool(r.DryRun),
		"EHOSIdleJobs":         classad.Int(int64(r.IdleJobs())),
		"EHOSNodes":            classad.Int(int64(len(r.Nodes))),
		"EHOSCreates":          classad.Int(int64(CountCreates(r.Decision))),
		"EHOSDrains":           classad.Int(int64(len(r.Decision.Drains))),
		"EHOSDeletes":          classad.Int(int64(len(r.Decision.Deletes))),
		"UpdateSequenceNumber": classad.Int(seq),
	}
	if r.Standby != "" {
		ad[AttrStandby] = classad.String(r.Standby)
	}
	if r.Cycle > 0 {
		ad["EHOSCycleSeconds"] = classad.Float(r.Cycle.Seconds())
	}
	counts := r.Counts()
	for _, s := range scale.NodeStates {
		ad[CountAttr(s)] = classad.Int(int64(counts[s]))
	}
	var backoffs []string
	for _, rr := range r.Regions {
		if !rr.BackoffUntil.IsZero() {
			backoffs = append(backoffs, fmt.Sprintf("%s until %s: %s", rr.Location, rr.BackoffUntil.UTC().Format(time.RFC3339), rr.BackoffReason))
		}
	}
	ad["EHOSBackoffs"] = classad.String(strings.Join(backoffs, "; "))
	if len(r.Errors) > 0 {
		ad["EHOSLastError"] = classad.String(r.Errors[len(r.Errors)-1])
	} else {
		ad["EHOSLastError"] = classad.String("")
	}
	ad["EHOSRefusedAds"] = classad.Int(int64(len(r.Refused)))
	if len(r.Refused) > 0 {
		ad["EHOSLastRefusal"] = classad.String(r.Refused[len(r.Refused)-1].String())
	} else {
		ad["EHOSLastRefusal"] = classad.String("")
	}
	if len(r.Refused) > maxRefusals {
		r.Refused = r.Refused[:maxRefusals:maxRefusals]
		r.Dropped = append(slices.Clip(r.Dropped), "refused")
	}
	b, err := json.Marshal(r)
	if err == nil && len(b) > maxReportJSON && len(r.Demand) > 0 {
		r.Demand, r.Dropped = nil, append(slices.Clip(r.Dropped), "demand")
		b, err = json.Marshal(r)
	}
	if err == nil && len(b) > maxReportJSON && len(r.Nodes) > 0 {
		r.Nodes, r.Dropped = nil, append(slices.Clip(r.Dropped), "nodes")
		b, err = json.Marshal(r)
	}
	if err == nil {
		ad["EHOSReport"] = classad.String(quoteSafeJSON(b))
	}
	return ad
}

// quoteSafeJSON rewrites each escaped double quote of JSON text as \u0022:
// HTCondor does not store a backslash before a quote as it was sent (see
// classad.Quote), so a report whose strings hold quotes (an error with a
// quoted name, a refused ad's claims) would come back as broken JSON.
func quoteSafeJSON(b []byte) string {
	var out strings.Builder
	out.Grow(len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			if b[i+1] == '"' {
				out.WriteString(`\u0022`)
			} else {
				out.WriteByte(b[i])
				out.WriteByte(b[i+1])
			}
			i++
			continue
		}
		out.WriteByte(b[i])
	}
	return out.String()
}

// CountAttr is the ad attribute counting the nodes in state s, e.g.
// EHOSNodesBusy.
func CountAttr(s scale.NodeState) string {
	return "EHOSNodes" + strings.ToUpper(string(s[:1])) + string(s[1:])
}

// CountCreates is the number of VMs decision d creates.
func CountCreates(d scale.Decision) int {
	n := 0
	for _, c := range d.Creates {
		n += c.Count
	}
	return n
}

// ReportFromAd reads the report back out of an EHOSProvisioner ad.
func ReportFromAd(ad classad.Ad) (Report, error) {
	var r Report
	s := ad.GetString("EHOSReport")
	if s == "" {
		return r, fmt.Errorf("%s ad %q has no EHOSReport", AdType, ad.GetString("Name"))
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, fmt.Errorf("%s ad %q: bad EHOSReport: %w", AdType, ad.GetString("Name"), err)
	}
	return r, nil
}
