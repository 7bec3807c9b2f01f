package condorpool

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// capturedSlots are the slot ads captured from a real 23.9 worker with one
// partitionable slot and one claimed dynamic slot, EHOSName and the
// collector's identity added as the worker's config publishes them.
func capturedSlots(t *testing.T) []classad.Ad {
	t.Helper()
	data, err := os.ReadFile("../condor/testdata/status-slots.json")
	if err != nil {
		t.Fatal(err)
	}
	ads, err := classad.ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ads {
		a["EHOSName"] = classad.String("worker1")
		a[AttrIdentity] = classad.String("worker1@pool.test")
	}
	return ads
}

// The captured slots fold into one worker.
func TestWorkersFromCapturedSlots(t *testing.T) {
	ads := capturedSlots(t)
	// A slot without EHOSName is not ours and is left out.
	ads = append(ads, classad.Ad{"Name": classad.String("slot1@other"), "State": classad.String("Claimed")})
	got, refused := Workers(ads, testIdentity)
	if len(refused) != 0 {
		t.Errorf("refused %v", refused)
	}
	want := []provision.Worker{{
		Name: "worker1", Machine: "vm", Address: "<127.0.0.1:38359?addrs=127.0.0.1-38359&alias=vm>", Slot: "slot1@worker1@vm", Claimed: 1, Healthy: true,
		Started: []time.Time{time.Unix(1795539708, 0)}, // the claimed slot's EnteredCurrentActivity, Busy
		Free:    scale.Resources{Cpus: 1, MemoryMB: 1920, DiskMB: 80448752 / 1024},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// The collector may hold a partitionable slot's ad that already lists a
// claimed child before it holds the child's own ad: the worker is busy,
// its job started when the child was claimed, not an idle worker without
// room (which booted a VM for that job). With the child's ad there it is
// counted once.
func TestAClaimOnlyThePartitionableSlotShowsIsAStart(t *testing.T) {
	ads := capturedSlots(t)
	var pslot classad.Ad
	for _, a := range ads {
		if a.GetBool("PartitionableSlot", false) {
			pslot = a
		}
	}
	for _, c := range []struct {
		name string
		ads  []classad.Ad
	}{{"with the dynamic slot's ad", ads}, {"before the dynamic slot's ad", []classad.Ad{pslot}}} {
		got, _ := Workers(c.ads, testIdentity)
		if len(got) != 1 || got[0].Claimed != 1 || !cmp.Equal(got[0].Started, []time.Time{time.Unix(1795539708, 0)}) {
			t.Errorf("%s: %+v, want 1 claimed slot started at 1795539708", c.name, got)
		}
	}
}

func TestWorkersDrainingAndUnhealthy(t *testing.T) {
	ads := []classad.Ad{
		{"Name": classad.String("slot1@w2"), "EHOSName": classad.String("w2"), "PartitionableSlot": classad.Bool(true),
			"State": classad.String("Drained"), "Activity": classad.String("Idle"), "Cpus": classad.Int(4),
			"EHOSHealthy": classad.Bool(false), "EHOSHealthReason": classad.String("scratch full"),
			AttrIdentity: classad.String("w2@pool.test")},
	}
	got, _ := Workers(ads, testIdentity)
	if len(got) != 1 || !got[0].Draining || got[0].Healthy || got[0].Reason != "scratch full" || got[0].Claimed != 0 {
		t.Errorf("got %+v", got)
	}
}

// Each claimed slot says when it took its job: Busy (running) and Idle
// (the claim waits for its shadow; the queue already says running). A
// retiring slot's time is when its drain began, not its job's start.
func TestWorkersSayWhenTheirJobsStarted(t *testing.T) {
	slot := func(name, state, activity string, entered int64) classad.Ad {
		return classad.Ad{"Name": classad.String(name), "EHOSName": classad.String("w1"), "DynamicSlot": classad.Bool(true),
			"State": classad.String(state), "Activity": classad.String(activity), "EnteredCurrentActivity": classad.Int(entered),
			AttrIdentity: classad.String("w1@pool.test")}
	}
	ads := []classad.Ad{slot("slot1_1@w1", "Claimed", "Busy", 100), slot("slot1_2@w1", "Claimed", "Idle", 200),
		slot("slot1_3@w1", "Claimed", "Retiring", 300), slot("slot1_4@w1", "Unclaimed", "Idle", 400)}
	got, _ := Workers(ads, testIdentity)
	if len(got) != 1 || got[0].Claimed != 3 || !cmp.Equal(got[0].Started, []time.Time{time.Unix(100, 0), time.Unix(200, 0)}) {
		t.Errorf("got %+v", got)
	}
}

func testIdentity(name string) string { return name + "@pool.test" }

type fakeTools struct {
	queries     []condor.StatusQuery
	adv         [][]classad.Ad
	drained     []string
	rescheduled []string
	negotiators int // RescheduleNegotiators calls
	negErr      error
	err         error
}

func (f *fakeTools) RescheduleNegotiators(context.Context) (int, error) {
	f.negotiators++
	if f.negErr != nil {
		return 0, f.negErr
	}
	return 1, nil
}

func (f *fakeTools) Reschedule(_ context.Context, schedd string) error {
	f.rescheduled = append(f.rescheduled, schedd)
	return f.err
}

func (f *fakeTools) Status(_ context.Context, q condor.StatusQuery) ([]classad.Ad, error) {
	f.queries = append(f.queries, q)
	return nil, f.err
}
func (f *fakeTools) Advertise(_ context.Context, cmd string, ads []classad.Ad) error {
	f.adv = append(f.adv, ads)
	return f.err
}
func (f *fakeTools) Drain(_ context.Context, m string, graceful bool) error {
	if !graceful {
		return errors.New("not graceful")
	}
	f.drained = append(f.drained, m)
	return f.err
}

func TestPoolQueriesAndDrain(t *testing.T) {
	ft := &fakeTools{}
	p := &Pool{Tools: ft, Name: `we"ird`}
	if _, err := p.Workers(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := ft.queries[0].Constraint
	if !strings.Contains(c, `EHOSPool == "we\"ird"`) || !strings.Contains(c, "Offline =!= True") {
		t.Errorf("constraint %q", c)
	}
	if err := p.Drain(context.Background(), provision.Worker{Name: "w", Slot: "slot1@w@h"}); err != nil || ft.drained[0] != "slot1@w@h" {
		t.Errorf("drain: %v %v", err, ft.drained)
	}
	if len(ft.adv) != 1 || ft.adv[0][0].GetString("MyType") != "EHOSRetireRequest" || ft.adv[0][0].GetString("EHOSName") != "w" {
		t.Errorf("no retire request advertised: %v", ft.adv)
	}
	// Without a slot name the pull path alone carries it.
	if err := p.Drain(context.Background(), provision.Worker{Name: "w"}); err != nil {
		t.Errorf("drain by retire request alone: %v", err)
	}
	ft.err = errors.New("collector down")
	if _, err := p.Workers(context.Background()); err == nil {
		t.Error("failed query became no workers")
	}
	if err := p.Drain(context.Background(), provision.Worker{Name: "w", Slot: "slot1@w@h"}); err == nil {
		t.Error("drain reported done when both ways failed")
	}
}

type fakeMinter struct{ req condor.TokenRequest }

func (m *fakeMinter) TokenCreate(_ context.Context, r condor.TokenRequest) (string, error) {
	m.req = r
	return "eyJhbGciOiJIUzI1NiJ9.minted.sig", nil
}

func TestBootstrapRendersWorkerWithItsToken(t *testing.T) {
	src, err := os.ReadFile("../../cloudinit/worker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("ehos.yaml", []byte("pool: {name: p1, central_manager: 10.0.0.5}\nclouds: [{name: c, image: i, flavors: [m1.small]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMinter{}
	b, err := NewBootstrap(m, cfg, "worker.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	vm := provision.NewVM{Name: "ehos-p1-0001", Offer: scale.OfferKey{Loc: cloud.Location{Cloud: "c", Region: "r"}, Flavor: "m1.small"},
		Flavor: cloud.Flavor{Name: "m1.small", VCPUs: 2, RAMMB: 4096}}
	out, err := b.UserData(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"eyJhbGciOiJIUzI1NiJ9.minted.sig", "NUM_CPUS = 2", "MEMORY = 3584", "EHOS_INSTANCE_NAME = ehos-p1-0001", "EHOS_CENTRAL_MANAGER = 10.0.0.5"} {
		if !strings.Contains(s, want) {
			t.Errorf("user-data lacks %q", want)
		}
	}
	if m.req.Identity != "ehos-p1-0001@10.0.0.5" || strings.Join(m.req.Authz, ",") != "ADVERTISE_STARTD,ADVERTISE_MASTER,READ" || m.req.Lifetime != cfg.Worker.TokenLifetime {
		t.Errorf("token request %+v", m.req)
	}
	if _, err := NewBootstrap(m, cfg, "bad.yaml", []byte("#cloud-config\nx: <hots_ip>\n")); err == nil || !strings.Contains(err.Error(), "bad.yaml:2:4") {
		t.Errorf("broken template not caught at start: %v", err)
	}
}

func TestRescheduleOncePerScheddWithIdleJobs(t *testing.T) {
	ft := &fakeTools{}
	p := &Pool{Tools: ft, Name: "demo"}
	ds := []scale.Demand{
		{Key: "alice@sub1#3", Idle: 2}, {Key: "alice@sub1#7", Idle: 1},
		{Key: "sub2#1", Idle: 0}, {Key: "sub3#12", Idle: 4},
	}
	if err := p.Reschedule(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"alice@sub1", "sub3"}, ft.rescheduled); d != "" {
		t.Errorf("rescheduled (-want +got):\n%s", d)
	}
	// The negotiators are asked too, once (a 25 schedd does not pass it on).
	if ft.negotiators != 1 {
		t.Errorf("negotiators asked %d times, want 1", ft.negotiators)
	}
	// Schedds refusing while a negotiator answers is still a cycle.
	ft.err = errors.New("PERMISSION DENIED")
	if err := p.Reschedule(context.Background(), ds); err != nil {
		t.Errorf("schedds refuse, negotiator answers: %v", err)
	}
	ft.negErr = errors.New("condor_status -negotiator: no negotiator ad")
	err := p.Reschedule(context.Background(), ds)
	if err == nil || !strings.Contains(err.Error(), "schedd alice@sub1: PERMISSION DENIED") || !strings.Contains(err.Error(), "schedd sub3") || !strings.Contains(err.Error(), "no negotiator ad") {
		t.Errorf("every schedd and the negotiator refusing: error %v, want all named", err)
	}
	// No idle demand: nobody is bothered.
	ft.negotiators = 0
	if err := p.Reschedule(context.Background(), []scale.Demand{{Key: "sub2#1"}}); err != nil || ft.negotiators != 0 {
		t.Errorf("no idle jobs: err %v, negotiators asked %d times", err, ft.negotiators)
	}
}
