package condorpool

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// The attack of issue 16: a worker's token advertises a slot ad naming a
// busy VM, with its instance id and EHOSRetire = True. Only the VM's own
// ads count; the forged ones are refused and say who sent them.
func TestWorkersBelieveOnlyTheVMsOwnIdentity(t *testing.T) {
	str := classad.String
	ads := []classad.Ad{
		// The busy VM's own ads.
		{"Name": str("slot1@ehos-p-busy@h"), "EHOSName": str("ehos-p-busy"), "EHOSInstanceID": str("id-busy"),
			"PartitionableSlot": classad.Bool(true), "State": str("Unclaimed"), "Cpus": classad.Int(0), AttrIdentity: str("ehos-p-busy@pool.test")},
		{"Name": str("slot1_1@ehos-p-busy@h"), "EHOSName": str("ehos-p-busy"), "State": str("Claimed"), "DynamicSlot": classad.Bool(true),
			AttrIdentity: str("ehos-p-busy@pool.test")},
		// Forged by another worker's token.
		{"Name": str("slot1@forged"), "EHOSName": str("ehos-p-busy"), "EHOSInstanceID": str("id-busy"), "EHOSRetire": classad.Bool(true),
			"State": str("Unclaimed"), AttrIdentity: str("ehos-p-other@pool.test")},
		// No identity at all (an unauthenticated update).
		{"Name": str("slot1@anon"), "EHOSName": str("ehos-p-idle"), "EHOSRetire": classad.Bool(true)},
		// An instance id and a retirement without a name.
		{"Name": str("slot1@nameless"), "EHOSInstanceID": str("id-busy"), "EHOSRetire": classad.Bool(true), AttrIdentity: str("ehos-p-other@pool.test")},
	}
	ws, refused := Workers(ads, testIdentity)
	if len(ws) != 1 || ws[0].Name != "ehos-p-busy" || ws[0].Draining || ws[0].Claimed != 1 || ws[0].InstanceID != "id-busy" {
		t.Errorf("workers %+v: want the busy VM alone, claimed, not draining", ws)
	}
	if len(refused) != 3 {
		t.Fatalf("refused %d ads, want 3: %v", len(refused), refused)
	}
	want := []struct{ ad, identity, claim, why string }{
		{"slot1@forged", "ehos-p-other@pool.test", "EHOSRetire=true", "only ehos-p-busy@pool.test may speak for VM ehos-p-busy"},
		{"slot1@anon", "", `EHOSName="ehos-p-idle"`, "stamped no identity"},
		{"slot1@nameless", "ehos-p-other@pool.test", `EHOSInstanceID="id-busy"`, "without naming the VM"},
	}
	for i, w := range want {
		r := refused[i]
		if r.Ad != w.ad || r.Identity != w.identity || !strings.Contains(r.Claimed, w.claim) || !strings.Contains(r.Why, w.why) {
			t.Errorf("refusal %d = %+v, want ad %q identity %q claiming %q because %q", i, r, w.ad, w.identity, w.claim, w.why)
		}
	}
	if s := refused[0].String(); !strings.Contains(s, "slot1@forged") || !strings.Contains(s, "ehos-p-other@pool.test") {
		t.Errorf("refusal text %q names neither ad nor identity", s)
	}
	// Without an identity to check against, nothing is believed.
	if ws, refused := Workers(ads[:2], nil); len(ws) != 0 || len(refused) != 2 {
		t.Errorf("no identity function: workers %v refused %v", ws, refused)
	}
}

// statusTools answers condor_status by the query's constraint.
type statusTools struct {
	fakeTools
	answers map[string][]classad.Ad // constraint substring -> ads
}

func (s *statusTools) Status(_ context.Context, q condor.StatusQuery) ([]classad.Ad, error) {
	s.queries = append(s.queries, q)
	for k, ads := range s.answers {
		if strings.Contains(q.Constraint, k) {
			return ads, nil
		}
	}
	return nil, nil
}

func TestFlavorAdsOnlyFromTheProvisioner(t *testing.T) {
	str := classad.String
	offer := scale.Offer{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "c", Region: "r"}, Flavor: "m1.small"}, Size: scale.Resources{Cpus: 1, MemoryMB: 1000}}
	other := scale.Offer{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "c", Region: "r"}, Flavor: "m1.large"}, Size: scale.Resources{Cpus: 8, MemoryMB: 1000}}
	ours := demand.FlavorAdName("p", offer.OfferKey)
	theirs := demand.FlavorAdName("p", other.OfferKey)
	flavor := func(name, identity string) classad.Ad {
		return classad.Ad{"Name": str(name), "Offline": classad.Bool(true), demand.AttrFlavor: str("m1.small"), AttrIdentity: str(identity)}
	}
	ft := &statusTools{answers: map[string][]classad.Ad{}}
	p := New(nil, "p", 0)
	p.Tools, p.Collector.Condor = ft, ft
	p.WorkerIdentity, p.Self, p.DemandIdentity = func(n string) string { return n + "@pool.test" }, "condor@cm", "ehos@pool.test"
	ctx := context.Background()

	// Only the configured provisioner identity counts: a worker's is
	// refused, and so is any other, even one on an EHOSProvisioner ad in
	// the collector (the identity is never learnt from there).
	ft.answers[`MyType == "EHOSProvisioner"`] = []classad.Ad{{"Name": str("p@o"), "MyType": str("EHOSProvisioner"), AttrIdentity: str("ehos-p-1a2b@pool.test")}}
	if _, err := p.Workers(ctx); err != nil {
		t.Fatal(err)
	}
	kept := p.filterFlavorAds([]classad.Ad{flavor(ours, "condor@cm"), flavor(theirs, "ehos-p-1a2b@pool.test"), flavor(theirs, "ehos@pool.test")})
	if len(kept) != 1 || kept[0].GetString("Name") != ours || len(p.refused) != 2 || p.refused[0].Identity != "ehos-p-1a2b@pool.test" || p.refused[1].Identity != "ehos@pool.test" {
		t.Errorf("kept %v refused %v", kept, p.refused)
	}
	if ads, _ := p.ProvisionerAds(ctx); len(ads) != 0 {
		t.Errorf("a worker's EHOSProvisioner ad was believed: %v", ads)
	}
	delete(ft.answers, `MyType == "EHOSProvisioner"`) // the first Demand reads them too
	p.refused = nil
	if err := p.Offer(ctx, []scale.Offer{offer}); err != nil {
		t.Fatal(err)
	}
	sent := len(ft.adv)
	// Unchanged offers and our ad in place: nothing advertised again.
	ft.answers["Offline =?= True"] = []classad.Ad{flavor(ours, "condor@cm")}
	if _, err := p.Demand(ctx); err != nil {
		t.Fatal(err)
	}
	if len(p.Refused()) != 0 {
		t.Errorf("own flavor ad refused: %v", p.Refused())
	}
	p.Offer(ctx, []scale.Offer{offer})
	if len(ft.adv) != sent {
		t.Fatalf("unchanged offers advertised again")
	}

	// A worker overwrote our ad: refused, and ours advertised again.
	p.Workers(ctx)
	ft.answers["Offline =?= True"] = []classad.Ad{flavor(ours, "ehos@pool.test")}
	p.Demand(ctx)
	if r := p.Refused(); len(r) != 2 || r[0].Ad != ours || r[0].Identity != "ehos@pool.test" || !strings.Contains(r[0].Why, "condor@cm") || !strings.Contains(r[1].Why, "no longer in the collector") {
		t.Errorf("overwritten flavor ad: refused %v", r)
	}
	p.Offer(ctx, []scale.Offer{offer})
	if len(ft.adv) == sent {
		t.Errorf("an overwritten flavor ad was not advertised again")
	}

	// Our ad withdrawn by someone else: advertised again.
	sent = len(ft.adv)
	p.Workers(ctx)
	ft.answers["Offline =?= True"] = nil
	p.Demand(ctx)
	p.Offer(ctx, []scale.Offer{offer})
	if r := p.Refused(); len(r) != 1 || r[0].Ad != ours || len(ft.adv) == sent {
		t.Errorf("withdrawn flavor ad: refused %v, advertised again: %v", r, len(ft.adv) > sent)
	}
	var _ provision.Refuser = p
}

// EHOSDemand ads count only from the demand job's identity: a worker's
// token can store one through a startd update.
func TestDemandAdsOnlyFromTheDemandJob(t *testing.T) {
	str := classad.String
	ad := func(schedd, identity string) classad.Ad {
		return classad.Ad{"MyType": str(demand.DemandType), "Name": str(schedd + "#1"), demand.AttrSchedd: str(schedd), demand.AttrAutocluster: classad.Int(1),
			demand.AttrIdle: classad.Int(500), demand.AttrPool: str("p"), AttrIdentity: str(identity)}
	}
	ft := &statusTools{answers: map[string][]classad.Ad{
		`MyType == "EHOSDemand"`: {ad("real", "ehos@pool.test"), ad("forged", "ehos-p-1a2b@pool.test")},
	}}
	p := New(nil, "p", 0)
	p.Tools, p.Collector.Condor = ft, ft
	p.Self, p.DemandIdentity = "condor@cm", "ehos@pool.test"
	ds, err := p.Demand(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Key != "real#1" {
		t.Errorf("demand %+v, want real#1 alone", ds)
	}
	if r := p.Refused(); len(r) != 1 || r[0].Identity != "ehos-p-1a2b@pool.test" || !strings.Contains(r[0].Claimed, `MyType="EHOSDemand"`) || !strings.Contains(r[0].Why, "only ehos@pool.test writes demand ads") {
		t.Errorf("refused %v", r)
	}
}

// A lease ad written with a worker's token would hold every real
// provisioner in standby: only the provisioner's identity's leases count.
func TestLeasesOnlyFromTheProvisionersIdentity(t *testing.T) {
	str := classad.String
	ad := func(holder, identity string) classad.Ad {
		return classad.Ad{"MyType": str(LeaseAdType), "Name": str("p@" + holder), "EHOSPool": str("p"), AttrIdentity: str(identity),
			"EHOSLeaseHolder": str(holder), "EHOSLeaseGeneration": classad.Int(7), "EHOSLeaseExpires": classad.Int(time.Now().Add(time.Hour).Unix())}
	}
	ft := &statusTools{answers: map[string][]classad.Ad{
		`MyType == "EHOSLease"`: {ad("cm1/42", "condor@cm"), ad("attacker/1", "ehos-p-1a2b@pool.test")},
	}}
	p := New(nil, "p", 0)
	p.Tools, p.Collector.Condor = ft, ft
	p.Self = "condor@cm"
	ls, err := p.Leases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Holder != "cm1/42" || ls[0].Generation != 7 {
		t.Errorf("leases %+v, want cm1/42's alone", ls)
	}
	if r := p.Refused(); len(r) != 1 || r[0].Identity != "ehos-p-1a2b@pool.test" || !strings.Contains(r[0].Why, "the pool's lease") {
		t.Errorf("refused %v", r)
	}
}
