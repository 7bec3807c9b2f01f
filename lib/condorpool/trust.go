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

// isWorkerIdentity says whether identity is one a worker token of pool
// would carry (TokenIdentity with an ehos VM name of the pool in it).
func isWorkerIdentity(identity, pool, template string) bool {
	pre, post, ok := strings.Cut(template, "{name}")
	if !ok || len(identity) < len(pre)+len(post) || !strings.HasPrefix(identity, pre) || !strings.HasSuffix(identity, post) {
		return false
	}
	name := identity[len(pre) : len(identity)-len(post)]
	return strings.HasPrefix(name, "ehos-"+pool+"-")
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

// learnSelf reads the identity the collector stamped on this pool's
// EHOSProvisioner ads (generic ads: a worker token cannot write them), which
// is the identity the provisioner's own flavor ads carry.
func (p *Pool) learnSelf(ctx context.Context) {
	if len(p.selfIDs) > 0 {
		return
	}
	ads, err := p.Tools.Status(ctx, condor.StatusQuery{
		Kind:       "-any",
		Constraint: "MyType == " + classad.Quote(provision.AdType) + " && EHOSPool == " + classad.Quote(p.Name),
		Attrs:      []string{"Name", AttrIdentity},
	})
	if err != nil {
		return // tried again next cycle; meanwhile worker identities are refused
	}
	for _, a := range ads {
		if id := a.GetString(AttrIdentity); id != "" {
			if p.selfIDs == nil {
				p.selfIDs = map[string]bool{}
			}
			p.selfIDs[id] = true
		}
	}
}

var _ provision.Recaller = (*Pool)(nil)

// ProvisionerAds returns this pool's EHOSProvisioner ads (their Name,
// identity and unmatched marks).
func (p *Pool) ProvisionerAds(ctx context.Context) ([]classad.Ad, error) {
	return p.Tools.Status(ctx, condor.StatusQuery{
		Kind:       "-any",
		Constraint: "MyType == " + classad.Quote(provision.AdType) + " && EHOSPool == " + classad.Quote(p.Name),
		Attrs:      []string{"Name", AttrIdentity, provision.AttrUnmatched, "EHOSLastCycle", provision.AttrStandby},
	})
}

// filterFlavorAds keeps the flavor ads written by the provisioner's own
// identity (or, until that is known, by no worker identity), refuses the
// others, and has the flavor ads advertised again when one of ours was
// overwritten or is gone.
func (p *Pool) filterFlavorAds(ads []classad.Ad) []classad.Ad {
	var keep []classad.Ad
	have := map[string]bool{}
	resend := false
	for _, a := range ads {
		id := a.GetString(AttrIdentity)
		var why string
		switch {
		case id == "":
			why = "the collector stamped no identity on it: only the provisioner advertises flavor ads"
		case len(p.selfIDs) > 0 && !p.selfIDs[id]:
			why = "only the provisioner (" + strings.Join(sortedKeys(p.selfIDs), ", ") + ") advertises flavor ads"
		case len(p.selfIDs) == 0 && isWorkerIdentity(id, p.Name, p.WorkerIdentityTemplate):
			why = "a worker's identity: only the provisioner advertises flavor ads"
		}
		if why != "" {
			p.refuse(provision.Refusal{Ad: clip(a.GetString("Name")), Identity: id, Claimed: strings.TrimSpace("an offline flavor ad " + claims(a)), Why: why})
			resend = true
			continue
		}
		have[a.GetString("Name")] = true
		keep = append(keep, a)
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
