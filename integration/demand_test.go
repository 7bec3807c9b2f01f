//go:build integration

package integration_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/scale"
)

const demandPool = "itest"

func demandOffers() []scale.Offer {
	loc := cloud.Location{Cloud: "c1", Region: "r1"}
	mk := func(f string, cpus, mem int, cost float64) scale.Offer {
		return scale.Offer{OfferKey: scale.OfferKey{Loc: loc, Flavor: f}, Size: scale.Resources{Cpus: cpus, MemoryMB: mem, DiskMB: 20000}, Cost: cost}
	}
	return []scale.Offer{mk("small", 2, 4000, 1), mk("medium", 4, 8000, 2), mk("large", 8, 32000, 4)}
}

type demandShape struct {
	name, submit string
	jobs         int
	want         []string // eligible flavors, cheapest first; nil: none
}

var demandShapes = []demandShape{
	{"one-core", "request_cpus = 1\nrequest_memory = 1000\n", 3, []string{"small", "medium", "large"}},
	{"four-core", "request_cpus = 4\nrequest_memory = 6000\n", 2, []string{"medium", "large"}},
	{"eight-core", "request_cpus = 8\nrequest_memory = 16000\n", 1, []string{"large"}},
	{"pinned", "request_cpus = 1\nrequest_memory = 1000\n+EHOSFlavor = \"large\"\n", 1, []string{"large"}},
	{"gpu", "request_cpus = 1\nrequest_memory = 1000\nrequirements = HasGPU\n", 1, nil},
	{"4TB", "request_cpus = 1\nrequest_memory = 4194304\n", 1, nil},
}

// TestDemandWithRealNegotiator proves the whole mechanism on a real pool:
// offline flavor ads, the reporter's EHOSDemand ads, the negotiator's
// verdict joined in, then a worker runs the jobs and the demand goes away.
func TestDemandWithRealNegotiator(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{ExtraConfig: integration.ShippedOfferRank(t)})
	cl := pool.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if err := cl.Advertise(ctx, "UPDATE_STARTD_AD", demand.FlavorAds(demandOffers(), demandPool, time.Now().Unix())); err != nil {
		t.Fatalf("advertise flavor ads: %v", err)
	}
	clusters := map[int]demandShape{}
	for _, s := range demandShapes {
		c, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\n"+s.submit+fmt.Sprintf("queue %d\n", s.jobs))
		if err != nil {
			t.Fatalf("submit %s: %v", s.name, err)
		}
		clusters[c] = s
	}

	r := &demand.Reporter{Condor: cl, Pool: demandPool, Lifetime: time.Minute, Log: zerolog.New(zerolog.NewTestWriter(t))}
	// Autocluster id -> shape, from the jobs themselves (each shape is its
	// own cluster).
	shapeOf := func(ctx context.Context) (map[int]string, error) {
		out, err := cl.Run(ctx, "condor_q", "-allusers", "-af", "ClusterId", "AutoClusterId")
		if err != nil {
			return nil, err
		}
		m := map[int]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var c, ac int
			if _, err := fmt.Sscan(line, &c, &ac); err == nil {
				m[ac] = clusters[c].name
			}
		}
		return m, nil
	}

	// Until the negotiator has seen every shape (and made the pin
	// significant, which splits one autocluster in two), the verdict moves.
	var got map[string]scale.Demand
	var groups []demand.Group
	start := time.Now()
	pool.WaitFor(t, 90*time.Second, "EHOSDemand ads with the negotiator's verdict for every shape", func(ctx context.Context) (bool, error) {
		if _, err := r.Cycle(ctx, time.Now()); err != nil {
			return false, err
		}
		ds, err := readDemand(ctx, cl)
		if err != nil {
			return false, err
		}
		dads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: demand.DemandConstraint(demandPool)})
		if err != nil {
			return false, err
		}
		if groups, err = demand.ParseDemandAds(dads); err != nil {
			return false, err
		}
		acs, err := shapeOf(ctx)
		if err != nil {
			return false, err
		}
		got = map[string]scale.Demand{}
		for _, d := range ds {
			_, ac, _ := demand.SplitKey(d.Key)
			got[acs[ac]] = d
		}
		for _, s := range demandShapes {
			d, ok := got[s.name]
			if !ok || d.Idle != s.jobs || !sameFlavors(d.Eligible, s.want) {
				return false, nil
			}
		}
		// The pin travels in the pinned group's EHOSDemand ad.
		for _, g := range groups {
			if name := acs[g.Autocluster]; (name == "pinned") != (g.Pin.Flavor == "large") {
				return false, nil
			}
		}
		return len(got) == len(demandShapes), nil
	})
	t.Logf("demand and verdict for %d shapes after %v", len(got), time.Since(start).Round(time.Millisecond))
	for _, s := range demandShapes {
		d := got[s.name]
		t.Logf("  %-10s key %-22s idle %d need %+v eligible %v", s.name, d.Key, d.Idle, d.Need, d.Eligible)
	}
	if n := got["eight-core"].Need; n.Cpus != 8 || n.MemoryMB != 16000 {
		t.Errorf("eight-core need = %+v", n)
	}

	// A worker big enough for every possible shape, with the hook.
	hook := buildHook(t, pool.Dir)
	w := pool.StartWorker(t, "w1", hook.config+`
NUM_CPUS = 8
MEMORY = 40000
NUM_SLOTS = 1
NUM_SLOTS_TYPE_1 = 1
SLOT_TYPE_1 = 100%
SLOT_TYPE_1_PARTITIONABLE = True
`)
	ran := time.Now()
	pool.WaitFor(t, 3*time.Minute, "every possible job to run and leave the queue", func(ctx context.Context) (bool, error) {
		out, err := cl.Run(ctx, "condor_q", "-allusers", "-af", "ClusterId")
		if err != nil {
			return false, err
		}
		return len(strings.Fields(string(out))) == 2, nil // the GPU and the 4 TB job
	})
	pool.WaitFor(t, 60*time.Second, "demand of only the two impossible jobs", func(ctx context.Context) (bool, error) {
		if _, err := r.Cycle(ctx, time.Now()); err != nil {
			return false, err
		}
		ds, err := readDemand(ctx, cl)
		if err != nil {
			return false, err
		}
		for _, d := range ds {
			if len(d.Eligible) != 0 || d.Idle != 1 {
				return false, nil
			}
		}
		return len(ds) == 2, nil
	})
	t.Logf("possible jobs ran and their demand was withdrawn %v after the worker started; the GPU and 4 TB jobs are still reported, with no eligible offer", time.Since(ran).Round(time.Millisecond))
	if _, err := cl.Run(ctx, "condor_rm", "-all"); err != nil {
		t.Fatal(err)
	}
	pool.WaitFor(t, 60*time.Second, "every EHOSDemand ad withdrawn", func(ctx context.Context) (bool, error) {
		st, err := r.Cycle(ctx, time.Now())
		if err != nil {
			return false, err
		}
		ads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: demand.DemandConstraint(demandPool)})
		return err == nil && st.Groups == 0 && len(ads) == 0, err
	})

	// The hook's attributes are in the worker's machine ad.
	checkHookAttrs(t, ctx, pool, cl, w.Name, hook)
}

func readDemand(ctx context.Context, cl *condor.Client) ([]scale.Demand, error) {
	dads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: demand.DemandConstraint(demandPool)})
	if err != nil {
		return nil, err
	}
	fads, err := cl.Status(ctx, condor.StatusQuery{Constraint: demand.FlavorConstraint(demandPool), Attrs: demand.FlavorAttrs})
	if err != nil {
		return nil, err
	}
	// Two negotiation intervals of the test pool (NEGOTIATOR_INTERVAL = 5).
	return demand.Demands(dads, fads, time.Now(), 10*time.Second)
}

func sameFlavors(got []scale.OfferKey, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Flavor != want[i] {
			return false
		}
	}
	return true
}

// buildStatic builds plugins/NAME as a static binary (so it runs inside the
// HTCondor root) into a world-readable directory under poolDir.
func buildStatic(t testing.TB, poolDir, name string) string {
	t.Helper()
	dir := filepath.Join(poolDir, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, name)
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", path, "./plugins/"+name)
	build.Dir = filepath.Dir(filepath.Dir(file))
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	os.Chmod(path, 0o755)
	return path
}

type hookSetup struct {
	config  string
	region  string // hostile on purpose
	name    string
	instID  string
	binPath string
}

// buildHook builds ehos_startd_cron (static, so it runs inside the HTCondor
// root) and writes an identity file, both under the pool's directory where
// the worker's daemons can read them.
func buildHook(t *testing.T, poolDir string) hookSetup {
	t.Helper()
	dir := filepath.Join(poolDir, "hook")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	h := hookSetup{region: "r\"1\" \\ ok", name: "w1-vm", instID: "8a2f-instance"}
	h.binPath = buildStatic(t, poolDir, "ehos_startd_cron")
	idf := filepath.Join(dir, "identity")
	// The identity as the worker template writes it, plus a hostile region
	// in the quoted form the file allows.
	text := fmt.Sprintf("name=%s\ncloud=c1\nregion=%q\nflavor=large\npool=%s\nretire_identity=ehos@%s\nehos_version=test\n", h.name, h.region, demandPool, integration.Domain)
	if err := os.WriteFile(idf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "instance-id"), []byte(h.instID+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.config = fmt.Sprintf(`
STARTD_CRON_JOBLIST = EHOS
STARTD_CRON_EHOS_EXECUTABLE = %s
STARTD_CRON_EHOS_ARGS = --min-scratch-mb 1 --instance-id-file %s
STARTD_CRON_EHOS_ENV = "EHOS_IDENTITY_FILE=%s"
STARTD_CRON_EHOS_PERIOD = 5s
STARTD_CRON_EHOS_MODE = Periodic
STARTD_CRON_EHOS_RECONFIG_RERUN = True
`, h.binPath, filepath.Join(dir, "instance-id"), idf)
	return h
}

func checkHookAttrs(t *testing.T, ctx context.Context, pool *integration.Pool, cl *condor.Client, worker string, h hookSetup) {
	t.Helper()
	attrs := []string{"Name", "EHOSInstanceID", "EHOSName", "EHOSCloud", "EHOSRegion", "EHOSFlavor", "EHOSPool", "EHOSBootTime", "EHOSHealthy", "EHOSHealthReason"}
	var ad classad.Ad
	pool.WaitFor(t, 60*time.Second, "the hook's attributes in the worker's machine ad", func(ctx context.Context) (bool, error) {
		ads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-startd", Constraint: "EHOSHealthy =!= undefined && Offline =!= True", Attrs: attrs})
		if err != nil || len(ads) == 0 {
			return false, err
		}
		ad = ads[0]
		return true, nil
	})
	var lines []string
	for _, a := range attrs {
		v, _ := ad.Get(a)
		lines = append(lines, a+" = "+v.Text())
	}
	sort.Strings(lines)
	t.Logf("worker %s machine ad:\n  %s", worker, strings.Join(lines, "\n  "))
	if !ad.GetBool("EHOSHealthy", false) || ad.GetString("EHOSHealthReason") != "ok" {
		t.Errorf("worker unhealthy: %s", ad.GetString("EHOSHealthReason"))
	}
	for attr, want := range map[string]string{"EHOSName": h.name, "EHOSRegion": h.region, "EHOSInstanceID": h.instID, "EHOSPool": demandPool, "EHOSFlavor": "large"} {
		if got := ad.GetString(attr); got != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	if bt := ad.GetInt("EHOSBootTime", 0); bt <= 0 || bt > time.Now().Unix() {
		t.Errorf("EHOSBootTime = %d", bt)
	}
}

// TestFlavorAdsOfferAndWithdraw: the provisioner's side (demand.Collector)
// advertises one offline ad per offer and, when an offer goes, the
// collector drops its ad.
func TestFlavorAdsOfferAndWithdraw(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{ExtraConfig: integration.ShippedOfferRank(t)})
	cl := pool.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &demand.Collector{Condor: cl, Pool: demandPool, MaxAge: 10 * time.Second}
	names := func() []string {
		ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: demand.FlavorConstraint(demandPool), Attrs: []string{"Name"}})
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, a := range ads {
			n = append(n, a.GetString("Name"))
		}
		sort.Strings(n)
		return n
	}
	offers := demandOffers()
	if err := c.Offer(ctx, offers); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 3 {
		t.Fatalf("flavor ads after Offer: %v", got)
	}
	if err := c.Offer(ctx, offers[1:]); err != nil {
		t.Fatal(err)
	}
	got := names()
	want := []string{demand.FlavorAdName(demandPool, offers[2].OfferKey), demand.FlavorAdName(demandPool, offers[1].OfferKey)}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after dropping %s: %v, want %v", offers[0].OfferKey, got, want)
	}
	if ds, err := c.Demand(ctx); err != nil || len(ds) != 0 {
		t.Errorf("empty queue: demand %v, %v", ds, err)
	}
}
