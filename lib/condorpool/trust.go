package condorpool

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/provision"
)

// AttrIdentity is the attribute the collector puts on every ad it takes:
// the identity that authenticated the update (for a worker, the identity in
// its token). The collector replaces whatever the sender put there, so it
// is the one attribute of an ad its sender cannot choose.
const AttrIdentity = "AuthenticatedIdentity"

// claimAttrs are the attributes by which an ad speaks for an ehos VM.
var claimAttrs = []string{"EHOSName", "EHOSInstanceID", "EHOSRetire", "EHOSHealthy"}

// claims says what an ad claims, for a refusal.
func claims(a classad.Ad) string {
	var parts []string
	for _, k := range claimAttrs {
		if v, ok := a.Get(k); ok {
			parts = append(parts, k+"="+clip(v.Text()))
		}
	}
	if a.GetBool("Offline", false) {
		parts = append(parts, "Offline=true")
	}
	if f := a.GetString(demand.AttrFlavor); f != "" {
		parts = append(parts, demand.AttrFlavor+"="+clip(classad.Quote(f)))
	}
	return strings.Join(parts, " ")
}

// clip bounds a claimed value in a refusal: a forger chooses it.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// identityRefusal checks the ad of the VM named name against the identity
// the collector stamped on it; nil when it is that VM's own.
func identityRefusal(a classad.Ad, name string, identityOf func(string) string) *provision.Refusal {
	got := a.GetString(AttrIdentity)
	if name == "" {
		return &provision.Refusal{Ad: clip(a.GetString("Name")), Identity: got, Claimed: claims(a),
			Why: "claims an ehos VM's instance id or retirement without naming the VM (EHOSName)"}
	}
	if identityOf == nil {
		return &provision.Refusal{Ad: clip(a.GetString("Name")), Identity: got, Claimed: claims(a),
			Why: "no worker identity is configured to check it against"}
	}
	want := identityOf(name)
	if got == want {
		return nil
	}
	why := fmt.Sprintf("only %s may speak for VM %s", want, name)
	if got == "" {
		why = fmt.Sprintf("the collector stamped no identity on it; only %s may speak for VM %s", want, name)
	}
	return &provision.Refusal{Ad: clip(a.GetString("Name")), Identity: got, Claimed: claims(a), Why: why}
}

// Refused returns the ads the last Workers and Demand calls did not believe.
func (p *Pool) Refused() []provision.Refusal { return p.refused }

var _ provision.Refuser = (*Pool)(nil)

func (p *Pool) refuse(rs ...provision.Refusal) {
	for _, r := range rs {
		dup := false
		for _, o := range p.refused {
			dup = dup || (o.Ad == r.Ad && o.Identity == r.Identity && o.Claimed == r.Claimed)
		}
		if !dup {
			p.refused = append(p.refused, r)
		}
	}
}

// fromIdentity keeps the ads the collector stamped with identity want and
// refuses the others, saying who alone writes what.
func (p *Pool) fromIdentity(ads []classad.Ad, want, what string) []classad.Ad {
	var keep []classad.Ad
	for _, a := range ads {
		id := a.GetString(AttrIdentity)
		if id != "" && id == want {
			keep = append(keep, a)
			continue
		}
		why := "only " + want + " writes " + what
		if id == "" {
			why = "the collector stamped no identity on it; " + why
		}
		claimed := claims(a)
		if t := a.GetString("MyType"); t != "" {
			claimed = strings.TrimSpace("MyType=" + classad.Quote(clip(t)) + " " + claimed)
		}
		p.refuse(provision.Refusal{Ad: clip(a.GetString("Name")), Identity: id, Claimed: claimed, Why: why})
	}
	return keep
}

var _ provision.Recaller = (*Pool)(nil)

// ProvisionerAds returns this pool's EHOSProvisioner ads (their Name,
// identity, unmatched marks, idle times and remembered verdicts) that the
// provisioner's own identity wrote.
func (p *Pool) ProvisionerAds(ctx context.Context) ([]classad.Ad, error) {
	ads, err := p.Tools.Status(ctx, condor.StatusQuery{
		Kind:       "-any",
		Constraint: "MyType == " + classad.Quote(provision.AdType) + " && EHOSPool == " + classad.Quote(p.Name),
		Attrs:      []string{"Name", "MyType", AttrIdentity, provision.AttrUnmatched, provision.AttrIdleSince, demand.AttrEligibleSeen, "EHOSLastCycle", provision.AttrStandby},
	})
	return p.fromIdentity(ads, p.Self, "the provisioner's ad"), err
}

// filterDemandAds keeps the EHOSDemand ads the demand job's identity wrote.
func (p *Pool) filterDemandAds(ads []classad.Ad) []classad.Ad {
	return p.fromIdentity(ads, p.DemandIdentity, "demand ads")
}

// filterFlavorAds keeps the flavor ads written by the provisioner's own
// identity, refuses the others, and has the flavor ads advertised again
// when one of ours was overwritten or is gone.
func (p *Pool) filterFlavorAds(ads []classad.Ad) []classad.Ad {
	keep := p.fromIdentity(ads, p.Self, "offline flavor ads (the provisioner)")
	have := map[string]bool{}
	resend := len(keep) < len(ads)
	for _, a := range keep {
		have[a.GetString("Name")] = true
	}
	for _, n := range sortedKeys(p.offered) {
		if !have[n] {
			p.refuse(provision.Refusal{Ad: n, Claimed: "(gone)", Why: "the provisioner's flavor ad is no longer in the collector (withdrawn by someone else, or the collector lost it): advertised again"})
			resend = true
		}
	}
	if resend {
		p.Collector.Resend()
	}
	return keep
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
