//go:build integration

package integration

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/scale"
)

// tokenClient is a client of pool p that authenticates with token alone
// (IDTOKENS only, no FS), as a tool on a worker VM would.
func tokenClient(t testing.TB, p *Pool, label, token string) *condor.Client {
	t.Helper()
	dir := filepath.Join(p.Dir, "tokens-"+label)
	mkdirOwned(t, dir, 0o700)
	writeOwned(t, filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	cl := p.Client()
	cl.Env = append(cl.Env, "_CONDOR_SEC_TOKEN_DIRECTORY="+dir, "_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS=IDTOKENS")
	return cl
}

// forgedSlot is a startd slot ad as a forger would write it.
func forgedSlot(name, host string, attrs classad.Ad) classad.Ad {
	ad := classad.Ad{"MyType": classad.String("Machine"), "TargetType": classad.String("Job"), "Name": classad.String(name),
		"Machine": classad.String(host), "MyAddress": classad.String("<127.0.0.1:1>"), "StartdIpAddr": classad.String("<127.0.0.1:1>"),
		"State": classad.String("Unclaimed"), "Activity": classad.String("Idle"), "Requirements": classad.Bool(true),
		"Cpus": classad.Int(1), "Memory": classad.Int(100), "UpdateSequenceNumber": classad.Int(time.Now().Unix())}
	for k, v := range attrs {
		ad[k] = v
	}
	return ad
}

// The shipped collector rules (condor-config/50-ehos-central-manager.conf,
// COLLECTOR_REQUIREMENTS) on the real collector: one worker's token can
// advertise its own VM's ads, and nothing that names another VM or is an
// offline flavor ad. Invalidations are not covered by HTCondor 23.9's
// COLLECTOR_REQUIREMENTS: the test records what they do (the provisioner
// copes, see TestForgedAdsWithAWorkersTokenChangeNothing).
func TestCollectorRefusesAWorkersAdsForOtherVMs(t *testing.T) {
	t.Parallel()
	p := StartPool(t, PoolOptions{ExtraConfig: cmSecurity(t)})
	const a, b = "ehos-demo-aaaa", "ehos-demo-bbbb"
	ehosAttrs := "EHOSName = \"" + a + "\"\nEHOSPool = \"demo\"\nSTARTD_ATTRS = $(STARTD_ATTRS) EHOSName EHOSPool\n"
	p.StartWorkerWith(t, a, WorkerOptions{Token: p.MintToken(t, vmIdentity(a), WorkerAuthz, time.Hour), ExtraConfig: ehosAttrs})
	ctx := context.Background()
	query := func() map[string]string { // Name -> AuthenticatedIdentity of every startd and master ad
		ads, err := p.Client().Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: `MyType == "Machine" || MyType == "DaemonMaster" || MyType == "StartD"`,
			Attrs: []string{"Name", "AuthenticatedIdentity"}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, ad := range ads {
			m[ad.GetString("Name")] = ad.GetString("AuthenticatedIdentity")
		}
		return m
	}
	host := hostName(t)
	p.WaitFor(t, 30*time.Second, "worker "+a+"'s master ad (a worker's own master passes the rules)", func(context.Context) (bool, error) {
		return query()[a+"@"+host] == vmIdentity(a), nil
	})
	if got := query()["slot1@"+a+"@"+host]; got != vmIdentity(a) {
		t.Fatalf("worker %s's slot ad carries AuthenticatedIdentity %q, want %q", a, got, vmIdentity(a))
	}

	bcl := tokenClient(t, p, "b", p.MintToken(t, vmIdentity(b), WorkerAuthz, time.Hour))
	flavorName := demand.FlavorAdName("demo", scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: "RegionOne"}, Flavor: "m1.small"})
	cases := []struct {
		what string
		ad   classad.Ad
		in   bool
	}{
		{"its own VM's slot", forgedSlot("slot1@"+b+"@"+host, host, classad.Ad{"EHOSName": classad.String(b), "EHOSPool": classad.String("demo")}), true},
		{"another VM's EHOSName, instance id and EHOSRetire", forgedSlot("slot1@forged-"+b+"@"+host, host,
			classad.Ad{"EHOSName": classad.String(a), "EHOSInstanceID": classad.String("id-a"), "EHOSRetire": classad.Bool(true), "EHOSPool": classad.String("demo")}), false},
		{"another VM's slot name (overwrite)", forgedSlot("slot1@"+a+"@"+host, host, classad.Ad{"State": classad.String("Drained")}), false},
		{"an instance id without a name", forgedSlot("slot2@"+b+"@"+host, host, classad.Ad{"EHOSInstanceID": classad.String("id-a"), "EHOSRetire": classad.Bool(true)}), false},
		{"an offline flavor ad", forgedSlot(flavorName, flavorName, classad.Ad{"Offline": classad.Bool(true), "EHOSOffer": classad.Bool(true),
			"EHOSPool": classad.String("demo"), "Requirements": classad.Bool(false)}), false},
	}
	for _, c := range cases {
		if err := bcl.Advertise(ctx, "UPDATE_STARTD_AD", []classad.Ad{c.ad}); err != nil {
			t.Logf("%s: condor_advertise: %v", c.what, err)
		}
	}
	name := func(c int) string { return cases[c].ad.GetString("Name") }
	p.WaitFor(t, 20*time.Second, "the worker's own ad (control)", func(context.Context) (bool, error) {
		return query()[name(0)] == vmIdentity(b), nil
	})
	time.Sleep(2 * time.Second) // the refused ones were sent before the control
	got := query()
	for i, c := range cases[1:] {
		if id, ok := got[name(i+1)]; ok && id == vmIdentity(b) {
			t.Errorf("the collector took %s from %s's token: %s", c.what, b, name(i+1))
		}
	}
	if got["slot1@"+a+"@"+host] != vmIdentity(a) {
		t.Errorf("worker %s's slot ad was overwritten: identity %q", a, got["slot1@"+a+"@"+host])
	}
	// The provisioner's own flavor ads (its identity here: the tools' ehos@)
	// pass the rules.
	offers := []scale.Offer{{OfferKey: scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: "RegionOne"}, Flavor: "m1.small"}, Size: scale.Resources{Cpus: 1, MemoryMB: 1792, DiskMB: 1024}, Cost: 1}}
	if err := p.Client().Advertise(ctx, "UPDATE_STARTD_AD", demand.FlavorAds(offers, "demo", time.Now().Unix())); err != nil {
		t.Fatal(err)
	}
	p.WaitFor(t, 20*time.Second, "the provisioner's flavor ad", func(context.Context) (bool, error) {
		return query()[flavorName] == "ehos@"+Domain, nil
	})

	// An invalidation of another VM's ads, with the worker token.
	inv := classad.Ad{"MyType": classad.String("Query"), "TargetType": classad.String("Machine"),
		"Requirements": classad.Expr(`EHOSName == "` + a + `"`)}
	err := bcl.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{inv})
	time.Sleep(time.Second)
	_, stillThere := query()["slot1@"+a+"@"+host]
	t.Logf("invalidation of %s's ads by %s's token: err %v; ad still there: %v (HTCondor 23.9 applies no COLLECTOR_REQUIREMENTS to invalidations)", a, b, err, stillThere)
	p.WaitFor(t, 30*time.Second, "worker "+a+" to advertise its slot again (UPDATE_INTERVAL)", func(context.Context) (bool, error) {
		return query()["slot1@"+a+"@"+host] == vmIdentity(a), nil
	})
}

// The attack of issue 16 against a whole ehos (provisioner, local cloud, real
// workers with their own tokens), with the central manager's rules left
// out so that the provisioner's own checks are what stands: with one
// worker's token, a slot ad naming the busy VM (its instance id,
// EHOSRetire = True), one naming an idle VM, an overwritten flavor ad and an
// invalidation of the busy VM's ads change nothing ehos does to the other
// VMs, and `ehos doctor` names the attempt.
func TestForgedAdsWithAWorkersTokenChangeNothing(t *testing.T) {
	t.Parallel()
	s := StartStack(t, StackOptions{
		Clouds:           "  - name: alpha\n    regions: [RegionOne]\n    image: ehos-worker\n    flavors: [m1.small]\n    network: private\n",
		Scaling:          strings.Replace(strings.Replace(defaultStackScaling, "min: 0", "min: 3", 1), "max: 6", "max: 4", 1),
		NoCollectorRules: true,
	})
	cl := s.Pool.Client()
	ctx := context.Background()
	jobDir := s.Pool.JobDir(t, "busy")
	cluster, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 75\ntransfer_executable = false\ninitialdir = "+jobDir+"\nrequest_cpus = 1\nrequest_memory = 256\nqueue 1\n")
	if err != nil {
		t.Fatal(err)
	}

	// Three VMs (min), one of them running the job.
	var busy string
	s.Pool.WaitFor(t, 3*time.Minute, "three workers joined and the job running", func(ctx context.Context) (bool, error) {
		q, err := cl.Queue(ctx, condor.QueueQuery{Constraint: fmt.Sprintf("ClusterId == %d && JobStatus == 2", cluster), Attrs: []string{"RemoteHost"}})
		if err != nil || len(q) == 0 {
			return false, err
		}
		ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: `EHOSPool == "demo" && PartitionableSlot =?= True`, Attrs: []string{"EHOSName"}})
		if err != nil || len(ads) < 3 {
			return false, err
		}
		for _, ad := range ads {
			if n := ad.GetString("EHOSName"); strings.Contains(q[0].GetString("RemoteHost"), "@"+n+"@") {
				busy = n
			}
		}
		return busy != "", nil
	})
	before := map[string]string{} // ehos name -> server id
	for _, v := range s.Servers() {
		before[v.Metadata[cloud.MetaName]] = v.ID
	}
	var idle, attacker string
	for n := range before {
		switch {
		case n == busy:
		case attacker == "":
			attacker = n
		default:
			idle = n
		}
	}
	if len(before) != 3 || idle == "" {
		t.Fatalf("servers %v: want three", before)
	}
	t.Logf("busy %s (%s), idle %s (%s), attacker %s", busy, before[busy], idle, before[idle], attacker)

	// The attacker's own token, as its VM holds it.
	token := vmToken(t, s, attacker)
	acl := tokenClient(t, s.Pool, "attacker", token)
	host := hostName(t)
	forged := []classad.Ad{
		forgedSlot("slot1@forged-busy@"+host, host, classad.Ad{"EHOSName": classad.String(busy), "EHOSInstanceID": classad.String(before[busy]),
			"EHOSRetire": classad.Bool(true), "EHOSPool": classad.String("demo"), "PartitionableSlot": classad.Bool(true), "Cpus": classad.Int(1)}),
		forgedSlot("slot1@forged-idle@"+host, host, classad.Ad{"EHOSName": classad.String(idle), "EHOSRetire": classad.Bool(true),
			"EHOSPool": classad.String("demo"), "State": classad.String("Drained"), "Activity": classad.String("Retiring")}),
	}
	flavor := demand.FlavorAdName("demo", scale.OfferKey{Loc: cloud.Location{Cloud: "alpha", Region: "RegionOne"}, Flavor: "m1.small"})
	fakeOffer := forgedSlot(flavor, flavor, classad.Ad{"Offline": classad.Bool(true), "EHOSOffer": classad.Bool(true), "EHOSPool": classad.String("demo"),
		"Requirements": classad.Bool(false)})
	// The busy VM's real ads (by name: the forged ones stay).
	invalidate := classad.Ad{"MyType": classad.String("Query"), "TargetType": classad.String("Machine"), "Requirements": classad.Expr(`regexp("@` + busy + `@", Name)`)}
	attack := func() {
		if err := acl.Advertise(ctx, "UPDATE_STARTD_AD", append(forged, fakeOffer)); err != nil {
			t.Logf("advertise forged ads: %v", err)
		}
		if err := acl.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{invalidate}); err != nil {
			t.Logf("invalidate: %v", err)
		}
	}
	attack()
	ads, _ := cl.Status(ctx, condor.StatusQuery{Constraint: `EHOSRetire =?= True || Name == "` + flavor + `"`, Attrs: []string{"Name", "AuthenticatedIdentity"}})
	if len(ads) < 2 {
		t.Fatalf("the forged ads did not reach the collector (%v): the test proves nothing", ads)
	}

	// Twelve cycles, the attack repeated now and then.
	for i := 0; i < 12; i++ {
		time.Sleep(3 * time.Second)
		if i%4 == 3 {
			attack()
		}
		for _, n := range []string{busy, idle} {
			found := false
			for _, v := range s.Servers() {
				found = found || (v.ID == before[n] && v.Status != "DELETED")
			}
			if !found {
				t.Fatalf("VM %s (%s) was deleted on forged ads", n, before[n])
			}
		}
	}
	for _, l := range strings.Split(s.ProvisionerLog(), "\n") {
		for _, n := range []string{busy, idle} {
			if strings.Contains(l, `"node":"`+n+`"`) && (strings.Contains(l, `"message":"draining"`) || strings.Contains(l, `"message":"deleted"`)) {
				t.Errorf("the provisioner acted on %s: %s", n, l)
			}
		}
	}
	rep, err := s.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rep.Nodes {
		if (n.Name == busy || n.Name == idle) && n.State != scale.Busy && n.State != scale.Idle {
			t.Errorf("node %s is %s", n.Name, n.State)
		}
	}
	// The real flavor ad is back, from the provisioner's identity.
	s.Pool.WaitFor(t, 20*time.Second, "the provisioner's own flavor ad back in the collector", func(ctx context.Context) (bool, error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: `Name == "` + flavor + `"`, Attrs: []string{"AuthenticatedIdentity", "Requirements"}})
		return err == nil && len(ads) == 1 && ads[0].GetString("AuthenticatedIdentity") != vmIdentityOf(attacker), err
	})

	// ehos doctor names the attempt: the ads, the attacker's identity, the claims.
	fs := admin.Doctor{ConfigPath: s.ConfigFile, Condor: cl, Clouds: openstack.Options{CloudsFile: s.CloudsFile}, FS: os.DirFS("/"), Now: time.Now()}.Run(ctx)
	var out strings.Builder
	fs.Write(&out)
	t.Logf("ehos doctor:\n%s", out.String())
	for _, want := range []string{"slot1@forged-busy@", vmIdentityOf(attacker), `EHOSInstanceID="` + before[busy] + `"`, "EHOSRetire=true", "only " + vmIdentityOf(busy)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ehos doctor lacks %q", want)
		}
	}

	s.WaitJobsDone(t, cluster, 2*time.Minute)
	hist, err := cl.Run(ctx, "condor_history", fmt.Sprint(cluster), "-af", "NumJobStarts", "JobStatus")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(hist)); len(f) != 2 || f[0] != "1" || f[1] != "4" {
		t.Errorf("the busy VM's job: NumJobStarts JobStatus = %q, want 1 4 (started once, finished)", hist)
	}
}

func vmIdentityOf(name string) string { return strings.Replace(VMIdentity, "{name}", name, 1) }

// vmToken reads the token the provisioner minted into VM name's user-data,
// from the VM's root in the local cloud.
func vmToken(t *testing.T, s *Stack, name string) string {
	t.Helper()
	var token string
	filepath.WalkDir(filepath.Join(s.Dir, "vms"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "/etc/ehos/identity") {
			return nil
		}
		id, _ := os.ReadFile(path)
		if !strings.Contains(string(id), "name="+name+"\n") {
			return nil
		}
		root := strings.TrimSuffix(path, "/etc/ehos/identity")
		b, err := os.ReadFile(filepath.Join(root, "etc/condor/tokens.d/ehos-worker"))
		if err == nil {
			token = strings.TrimSpace(string(b))
		}
		return nil
	})
	if token == "" {
		t.Fatalf("no token found for VM %s under %s", name, filepath.Join(s.Dir, "vms"))
	}
	return token
}
