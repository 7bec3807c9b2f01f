//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/nodeinfo"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// The attack suite of issue 28: one worker's real token (root on its VM,
// HTCondor's own tools) against a whole ehos with the shipped central
// manager rules in force (every stack runs them). Every ad type ehos or its
// hook reads (EHOSDemand, EHOSProvisioner, EHOSRetireRequest, offline
// flavor ads, slot ads) is sent through every update command a worker's
// token is allowed (UPDATE_STARTD_AD, UPDATE_MASTER_AD, MERGE_STARTD_AD),
// with literal values and with values that change after arrival
// (time-dependent expressions); another VM's startd and master ads are
// invalidated back to back (INVALIDATE_STARTD_ADS, INVALIDATE_MASTER_ADS)
// for longer than orphan_grace. Nothing ehos decides changes: no VM is
// created or deleted, the provisioner's demand and nodes are the real
// ones, `ehos status` shows the real provisioner, the victim's hook never
// sets EHOSRetire, and a user's job starts on a real worker at once.
func TestWorkerTokenAttacksChangeNothing(t *testing.T) {
	t.Parallel()
	scaling := strings.NewReplacer("min: 0", "min: 3", "max: 6", "max: 5", "orphan_grace: 30s", "orphan_grace: 6s", "idle_before_retire: 15s", "idle_before_retire: 10m").Replace(defaultStackScaling)
	s := StartStack(t, StackOptions{
		Clouds:  "  - name: alpha\n    regions: [RegionOne]\n    image: ehos-worker\n    flavors: [m1.small]\n    network: private\n",
		Scaling: scaling,
	})
	cl := s.Pool.Client()
	ctx := context.Background()
	host := hostName(t)

	var names []string
	s.Pool.WaitFor(t, 3*time.Minute, "three workers joined and idle, their hooks run", func(ctx context.Context) (bool, error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: `EHOSPool == "demo" && PartitionableSlot =?= True && EHOSHookTime =!= undefined`, Attrs: []string{"EHOSName"}})
		names = names[:0]
		for _, a := range ads {
			names = append(names, a.GetString("EHOSName"))
		}
		return len(names) == 3, err
	})
	before := map[string]string{} // ehos name -> server id
	for _, v := range s.Servers() {
		before[v.Metadata[cloud.MetaName]] = v.ID
	}
	if len(before) != 3 {
		t.Fatalf("servers %v: want three", before)
	}
	// The attacker; R, whom it asks to retire; V, whose ads it withdraws.
	attacker, r, v := names[0], names[1], names[2]
	t.Logf("attacker %s, retire target %s, invalidation target %s", attacker, r, v)
	acl := tokenClient(t, s.Pool, "attacker", vmToken(t, s, attacker))

	// The provisioner's identity, as ehos status reads it from the knobs.
	knobs, err := cl.ConfigVal(ctx, config.ProvisionerIdentityKnob, "UID_DOMAIN")
	if err != nil {
		t.Fatal(err)
	}
	provID := config.ProvisionerOf(knobs)
	real, err := admin.ReadStatus(ctx, cl, provID, time.Now())
	if err != nil || !real.Found || real.NodeTotal() != 3 {
		t.Fatalf("the real provisioner's status: %v %+v", err, real)
	}
	schedd, err := cl.Status(ctx, condor.StatusQuery{Kind: "-schedd", Attrs: []string{"Name", "MyAddress"}})
	if err != nil || len(schedd) == 0 {
		t.Fatalf("schedd ad: %v", err)
	}

	// later is an expression that is harmless on arrival, when the
	// collector checks it, and takes value v a few seconds later.
	t0 := time.Now().Unix()
	later := func(now, then string) classad.Value {
		return classad.Expr(fmt.Sprintf("ifThenElse(time() > %d, %s, %s)", t0+4, then, now))
	}
	own := func(slot string) string { return slot + "@" + attacker + "@" + host }
	typed := func(myType, name string, attrs classad.Ad) classad.Ad {
		ad := forgedSlot(name, host, attrs)
		ad["MyType"] = classad.String(myType)
		return ad
	}
	const forgedKey = "forged-schedd#77"
	demandAttrs := classad.Ad{demand.AttrPool: classad.String("demo"), demand.AttrKey: classad.String(forgedKey), demand.AttrSchedd: classad.String("forged-schedd"),
		demand.AttrScheddAddr: classad.String(schedd[0].GetString("MyAddress")), demand.AttrAutocluster: classad.Int(77),
		demand.AttrIdle: classad.Int(500), "RequestCpus": classad.Int(1), "RequestMemory": classad.Int(100), demand.AttrReported: classad.Int(t0)}
	provAttrs := classad.Ad{"EHOSPool": classad.String("demo"), "EHOSLastCycle": classad.Int(t0 + 3600), "EHOSCycleSeconds": classad.Int(3),
		provision.CountAttr(scale.Idle): classad.Int(1)}
	retireAttrs := nodeinfo.RetireRequest("demo", r, time.Hour)
	// A flavor ad as the provisioner writes it (every job fits), but the
	// cheapest ever, under the attacker's own slot name.
	offline := func(name string, expr bool) classad.Ad {
		a := demand.FlavorAds([]scale.Offer{{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: "RegionOne"}, Flavor: "m1.small"},
			Size: scale.Resources{Cpus: 64, MemoryMB: 1 << 20, DiskMB: 1 << 20}, Cost: -1e7}}, "demo", t0)[0]
		a["Name"], a["Machine"] = classad.String(name), classad.String(host)
		if expr { // offline only against a job: the collector checks it with none
			inMatch := func(then string) classad.Value {
				return classad.Expr("ifThenElse(TARGET.JobUniverse =?= 5, " + then + ", undefined)")
			}
			a["Offline"], a[demand.AttrCost], a["EHOSOffer"] = inMatch("true"), inMatch("-1.0e7"), inMatch("true")
		}
		return a
	}
	var forged []classad.Ad
	for i, expr := range []bool{false, true} {
		n := func(what string) string { return own(fmt.Sprintf("fake%s%d", what, i)) }
		dem := typed(demand.DemandType, n("demand"), demandAttrs)
		prov := typed(provision.AdType, n("prov"), provAttrs)
		ret := typed(nodeinfo.RetireAdType, n("retire"), retireAttrs)
		ret["Name"] = classad.String(n("retire")) // its own VM's name, as the rules want
		if expr {
			dem[demand.AttrIdle] = later("0", "500")
			ret["EHOSName"] = later("undefined", classad.Quote(r))
		}
		forged = append(forged, dem, prov, ret, offline(n("slot"), expr))
	}
	// A slot ad of its own VM that turns into one naming R, retiring.
	forged = append(forged, forgedSlot(own("fakeslotR"), host, classad.Ad{"EHOSPool": classad.String("demo"),
		"EHOSName": later(classad.Quote(attacker), classad.Quote(r)), "EHOSRetire": later("undefined", "true")}))
	merge := classad.Ad{"MyType": classad.String("Machine"), "Name": classad.String("slot1@" + r + "@" + host), "EHOSRetire": classad.Bool(true), "State": classad.String("Drained")}
	withdraw := func(target string) classad.Ad {
		return classad.Ad{"MyType": classad.String("Query"), "TargetType": classad.String(target), "Requirements": classad.Expr(`regexp("(^|@)` + v + `@", Name)`)}
	}

	// One ad per condor_advertise: the collector drops the connection at
	// the first ad it refuses, and the ones after it with it.
	refused := map[string]bool{}
	attack := func() {
		for _, cmd := range []string{"UPDATE_STARTD_AD", "UPDATE_MASTER_AD"} {
			for _, ad := range forged {
				if err := acl.Advertise(ctx, cmd, []classad.Ad{ad}); err != nil && !refused[cmd+ad.GetString("Name")] {
					refused[cmd+ad.GetString("Name")] = true
					t.Logf("%s %s: refused (%v)", cmd, ad.GetString("Name"), err)
				}
			}
		}
		if err := acl.Advertise(ctx, "MERGE_STARTD_AD", []classad.Ad{merge}); err != nil && !refused["merge"] {
			refused["merge"] = true
			t.Logf("MERGE_STARTD_AD: refused (%v)", err)
		}
	}
	invalidate := func() {
		acl.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{withdraw("Machine")})
		acl.Advertise(ctx, "INVALIDATE_MASTER_ADS", []classad.Ad{withdraw("DaemonMaster")})
	}
	attack()

	// The user's job, once the forged offline ads are offline.
	var cluster int
	obeyed := false
	deadline := time.Now().Add(45 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		invalidate()
		if i%20 == 0 {
			attack()
		}
		if cluster == 0 && time.Now().Unix() > t0+6 {
			jobDir := s.Pool.JobDir(t, "user")
			if cluster, err = cl.Submit(ctx, "executable = /bin/sleep\narguments = 2\ntransfer_executable = false\ninitialdir = "+jobDir+"\nrequest_cpus = 1\nrequest_memory = 128\n"+
				// not on V: an idle V is what the invalidations could get deleted
				"requirements = TARGET.EHOSName =!= \""+v+"\"\nqueue 1\n"); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 0 {
			ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: `EHOSName == "` + r + `"`, Attrs: []string{"Name", "EHOSRetire", "AuthenticatedIdentity"}})
			for _, a := range ads {
				if err == nil && a.GetBool("EHOSRetire", false) && !obeyed {
					obeyed = true
					t.Errorf("slot %s of %s (identity %s) says EHOSRetire = True: its hook obeyed a forged retire request", a.GetString("Name"), r, a.GetString("AuthenticatedIdentity"))
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}

	// What the collector holds from the attacker.
	stored, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: `AuthenticatedIdentity == "` + vmIdentityOf(attacker) + `"`, Attrs: []string{"Name", "MyType"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range stored {
		if mt := a.GetString("MyType"); mt != "Machine" && mt != "StartD" && mt != "DaemonMaster" {
			t.Errorf("the collector stored an ad of type %s from the worker's token: %s", mt, a.GetString("Name"))
		}
	}

	// The provisioner's view and decisions.
	for _, sv := range s.Servers() {
		if id, ok := before[sv.Metadata[cloud.MetaName]]; !ok || id != sv.ID {
			t.Errorf("server %s (%s) was created during the attack", sv.Metadata[cloud.MetaName], sv.ID)
		}
	}
	for n, id := range before {
		found := false
		for _, sv := range s.Servers() {
			found = found || (sv.ID == id && sv.Status != "DELETED")
		}
		if !found {
			t.Errorf("VM %s (%s) was deleted during the attack", n, id)
		}
	}
	rep, err := s.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Demand {
		if d.Key == forgedKey {
			t.Errorf("the provisioner counted the forged demand %s (%d idle)", d.Key, d.Idle)
		}
	}
	for _, l := range strings.Split(s.ProvisionerLog(), "\n") {
		for _, n := range []string{r, v} {
			if strings.Contains(l, `"node":"`+n+`"`) && (strings.Contains(l, `"message":"draining"`) || strings.Contains(l, `"message":"deleted"`)) {
				t.Errorf("the provisioner acted on %s: %s", n, l)
			}
		}
	}

	// ehos status and doctor: the real provisioner.
	st, err := admin.ReadStatus(ctx, cl, provID, time.Now())
	if err != nil || !st.Found || st.NodeTotal() != 3 || st.Name != real.Name {
		t.Errorf("ehos status after the attack: %v, provisioner %q with %d nodes, want %q with 3", err, st.Name, st.NodeTotal(), real.Name)
	}
	fs := admin.Doctor{ConfigPath: s.ConfigFile, Condor: cl, Clouds: openstack.Options{CloudsFile: s.CloudsFile}, FS: os.DirFS("/"), Now: time.Now()}.Run(ctx)
	var out strings.Builder
	fs.Write(&out)
	if !strings.Contains(out.String(), "ad "+real.Name+" fresh") {
		t.Errorf("ehos doctor does not vouch for the real provisioner %s:\n%s", real.Name, out.String())
	}

	// The job started on a real worker, at once.
	if cluster == 0 {
		t.Fatal("the user's job was never submitted")
	}
	s.WaitJobsDone(t, cluster, time.Minute)
	h, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "QDate", "JobCurrentStartDate", "LastRemoteHost")
	if err != nil {
		t.Fatal(err)
	}
	var qdate, start int64
	var where string
	if n, _ := fmt.Sscan(string(h), &qdate, &start, &where); n != 3 {
		t.Fatalf("condor_history: %q", h)
	}
	t.Logf("the user's job waited %ds and ran on %s", start-qdate, where)
	if start-qdate > 20 {
		t.Errorf("the user's job waited %ds beside idle real workers: a forged offline ad held it", start-qdate)
	}
}

// The negotiator half of the suite, on its own so that the forged ad is
// in the collector whatever the collector's rule says (it is switched off
// here): an offline ad from a worker's token with the cheapest cost ever,
// as a literal, must not hold a user's job off an idle real worker. The
// shipped NEGOTIATOR_SLOT_CONSTRAINT and NEGOTIATOR_PRE_JOB_RANK trust
// offline ads from EHOS_PROVISIONER_IDENTITY only.
func TestForgedOfflineAdCannotHoldJobs(t *testing.T) {
	t.Parallel()
	p := StartPool(t, PoolOptions{ExtraConfig: cmSecurity(t) + "COLLECTOR_REQUIREMENTS = True\n"})
	const a, b = "ehos-demo-aaaa", "ehos-demo-bbbb"
	p.StartWorkerWith(t, a, WorkerOptions{Token: p.MintToken(t, vmIdentity(a), WorkerAuthz, time.Hour)})
	ctx := context.Background()
	host := hostName(t)
	bcl := tokenClient(t, p, "b", p.MintToken(t, vmIdentity(b), WorkerAuthz, time.Hour))
	fake := demand.FlavorAds([]scale.Offer{{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: "RegionOne"}, Flavor: "m1.small"},
		Size: scale.Resources{Cpus: 64, MemoryMB: 1 << 20, DiskMB: 1 << 20}, Cost: -1e7}}, "demo", time.Now().Unix())[0]
	fake["Name"], fake["Machine"] = classad.String("slot1@"+b+"@"+host), classad.String(host)
	if err := bcl.Advertise(ctx, "UPDATE_STARTD_AD", []classad.Ad{fake}); err != nil {
		t.Fatal(err)
	}
	p.WaitFor(t, 20*time.Second, "the forged offline ad in the collector", func(ctx context.Context) (bool, error) {
		ads, err := p.Client().Status(ctx, condor.StatusQuery{Constraint: `Offline =?= True && AuthenticatedIdentity == "` + vmIdentity(b) + `"`, Attrs: []string{"Name"}})
		return len(ads) == 1, err
	})
	jobDir := p.JobDir(t, "user")
	cluster, err := p.Client().Submit(ctx, "executable = /bin/sleep\narguments = 1\ntransfer_executable = false\ninitialdir = "+jobDir+"\nrequest_cpus = 1\nrequest_memory = 128\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.WaitFor(t, 40*time.Second, "the user's job to start on the real worker", func(ctx context.Context) (bool, error) {
		q, err := p.Client().Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d && JobStatus != 1", cluster), Attrs: []string{"JobStatus"}})
		if err == nil && len(q) == 0 {
			h, _ := p.Client().Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "JobStatus")
			return strings.TrimSpace(string(h)) == "4", nil
		}
		return len(q) > 0, err
	})
	if wait := time.Since(start); wait > 15*time.Second {
		t.Errorf("the job waited %s beside an idle real worker: the forged offline ad held it", wait.Round(time.Second))
	}
}
