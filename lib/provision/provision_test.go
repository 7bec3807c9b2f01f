package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/scale"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type rig struct {
	t     *testing.T
	a, b  *fakeCloud
	pool  *fakePool
	boot  *fakeBoot
	p     *Provisioner
	now   time.Time
	names int
}

func knobs() scale.Knobs {
	return scale.Knobs{
		Max: 10, MaxBooting: 10, MaxCreatesPerCycle: 10,
		IdleBeforeRetire: 5 * time.Minute, BootTimeout: 10 * time.Minute,
		DrainTimeout: time.Hour, DeleteTimeout: 2 * time.Minute,
	}
}

// newRig makes a provisioner over two clouds, a (region r1) and b (region r2).
func newRig(t *testing.T, k scale.Knobs, mutate ...func(*Options)) *rig {
	t.Helper()
	r := &rig{t: t, a: newFakeCloud("a"), b: newFakeCloud("b"), pool: newFakePool(), boot: &fakeBoot{}, now: t0}
	r.a.clock, r.b.clock = &r.now, &r.now
	r.p = r.build(k, mutate...)
	return r
}

func (r *rig) build(k scale.Knobs, mutate ...func(*Options)) *Provisioner {
	r.t.Helper()
	opt := Options{
		Pool: "demo", Owner: "cm1", Knobs: k, BackoffInitial: time.Minute, BackoffMax: 10 * time.Minute,
		OrphanGrace: 3 * time.Minute,
		Clouds: []CloudSpec{
			{Config: cloud.Config{Name: "a", Regions: []string{"r1"}, Image: "img", Flavors: []string{"small", "large"}, Weight: 2}, Cloud: r.a},
			{Config: cloud.Config{Name: "b", Regions: []string{"r2"}, Image: "img", Flavors: []string{"small", "large"}, Weight: 1}, Cloud: r.b},
		},
		Log: zerolog.Nop(),
		NewName: func() string {
			r.names++
			return fmt.Sprintf("ehos-demo-%03d", r.names)
		},
	}
	for _, m := range mutate {
		m(&opt)
	}
	p, err := New(opt, r.pool, r.boot)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) cycle(d time.Duration) Report {
	r.t.Helper()
	r.now = r.now.Add(d)
	rep, err := r.p.RunOnce(context.Background(), r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

// joinedWorker creates one VM for one waiting 1-cpu job in cloud a and
// makes its startd join, idle; the job is still reported waiting.
func (r *rig) joinedWorker() cloud.VM {
	r.t.Helper()
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	vm := r.servers(r.a)[0]
	r.a.setStatus(vm.ID, cloud.StatusActive)
	r.pool.join(vm, 0, r.now)
	return vm
}

// threeSmallVMs has the first cycle create three VMs in cloud a for three
// waiting 1-cpu jobs (still reported waiting), and fails the test if it
// does not.
func (r *rig) threeSmallVMs() {
	r.t.Helper()
	r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
	r.cycle(0)
	if r.a.count() != 3 {
		r.t.Fatalf("created %d, want 3", r.a.count())
	}
}

func offerKey(c, reg, f string) scale.OfferKey {
	return scale.OfferKey{Loc: cloud.Location{Cloud: c, Region: reg}, Flavor: f}
}

func smallDemand(n int, eligible ...scale.OfferKey) []scale.Demand {
	return []scale.Demand{{Key: "schedd#1", Need: scale.Resources{Cpus: 1, MemoryMB: 512, DiskMB: 100}, Idle: n, Oldest: t0, Eligible: eligible}}
}

func (r *rig) servers(c *fakeCloud) []cloud.VM {
	vms, err := c.List(context.Background(), map[string]string{"a": "r1", "b": "r2"}[c.name], "demo", "")
	if err != nil {
		r.t.Fatal(err)
	}
	return vms
}

func TestLifecycleFromZeroAndBack(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"), offerKey("b", "r2", "small"))

	rep := r.cycle(0)
	if got := r.a.count() + r.b.count(); got != 2 {
		t.Fatalf("created %d VMs for 2 one-cpu jobs on a one-cpu flavor, want 2; decision %+v", got, rep.Decision)
	}
	if r.a.count() != 2 {
		t.Errorf("higher-weight cloud a not preferred: a=%d b=%d", r.a.count(), r.b.count())
	}
	for _, vm := range r.servers(r.a) {
		if vm.Metadata[cloud.MetaPool] != "demo" || vm.Metadata[cloud.MetaOwner] != "cm1" || vm.Metadata[cloud.MetaName] != vm.Name {
			t.Errorf("ownership metadata wrong: %v", vm.Metadata)
		}
	}

	// Booting VMs are capacity that is coming: no second create.
	rep = r.cycle(30 * time.Second)
	if r.a.count() != 2 || rep.Counts()[scale.Booting] != 2 {
		t.Fatalf("after a cycle of booting: %d VMs, counts %v", r.a.count(), rep.Counts())
	}

	// They join and take the jobs.
	r.pool.demand = nil
	for _, vm := range r.servers(r.a) {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 1, time.Time{})
	}
	rep = r.cycle(30 * time.Second)
	if rep.Counts()[scale.Busy] != 2 {
		t.Fatalf("counts %v, want 2 busy", rep.Counts())
	}

	// Jobs finish; the workers idle past idle_before_retire and are drained.
	for _, vm := range r.servers(r.a) {
		r.pool.setClaimed(vm.Name, 0, r.now)
	}
	r.cycle(time.Minute)
	if len(r.pool.drains) != 0 {
		t.Fatalf("drained too early: %v", r.pool.drains)
	}
	rep = r.cycle(6 * time.Minute)
	if len(r.pool.drains) != 2 {
		t.Fatalf("drains %v after idling 6m, want 2; decision %+v", r.pool.drains, rep.Decision)
	}
	// Drained (nothing claimed) → deleted.
	rep = r.cycle(30 * time.Second)
	if r.a.count() != 0 {
		t.Fatalf("%d VMs left after drain, decision %+v", r.a.count(), rep.Decision)
	}
	rep = r.cycle(30 * time.Second)
	if len(rep.Nodes) != 0 {
		t.Errorf("nodes still reported: %+v", rep.Nodes)
	}
}

// A busy worker whose startd ad vanished (token expired, ad invalidated)
// while the cloud still says ACTIVE is kept for as long as a schedd says its
// job runs there, or the schedds cannot all be asked. Then, never asked to
// retire, it is still kept (another worker's token may be withdrawing its
// ads) until its lifetime runs out; then it is deleted.
func TestVanishedBusyWorkerKeptWhileAScheddRunsItsJob(t *testing.T) {
	k := knobs()
	k.MaxLifetime = 2 * time.Hour
	r := newRig(t, k)
	vm := r.joinedWorker()
	r.pool.demand = nil
	r.pool.setClaimed(vm.Name, 1, time.Time{})
	if rep := r.cycle(30 * time.Second); rep.Counts()[scale.Busy] != 1 {
		t.Fatalf("counts %v, want 1 busy", rep.Counts())
	}
	asked := r.pool.asked
	if asked != 0 {
		t.Errorf("the schedds were asked %d times while every worker had its ad", asked)
	}

	r.pool.vanish(vm.Name)
	r.pool.running = map[string][]string{vm.Name: {"schedd s1 job 12.0"}}
	rep := r.cycle(4 * time.Minute) // past orphan_grace (3m)
	if n := r.a.callsLike("delete"); n != 0 {
		t.Fatalf("deleted a VM whose job still runs (%d deletes); decision %+v", n, rep.Decision)
	}
	want := scale.Reason{Kind: scale.NoteScheddJobs, Node: vm.Name, Vanished: true, ScheddJobs: []string{"schedd s1 job 12.0"}}
	if !slices.ContainsFunc(rep.Decision.Notes, func(n scale.Reason) bool { return cmp.Equal(n, want) }) {
		t.Errorf("notes %q, want %q", rep.Decision.Notes, want)
	}

	// A schedd that cannot be asked might hold the job: still kept.
	r.pool.running = nil
	r.pool.runningErr = errors.New("schedd s1: connection refused")
	rep = r.cycle(time.Minute)
	if n := r.a.callsLike("delete"); n != 0 {
		t.Fatalf("deleted a vanished VM while the schedds could not be asked; decision %+v", rep.Decision)
	}

	// The job is done, but an absent ad alone deletes nothing, cycle after
	// cycle.
	r.pool.runningErr = nil
	for i := 0; i < 5; i++ {
		rep = r.cycle(time.Minute)
		if n := r.a.callsLike("delete"); n != 0 {
			t.Fatalf("deleted a VM only because its ad vanished; decision %+v", rep.Decision)
		}
	}
	if want := (scale.Reason{Kind: scale.NoteVanishedKept, Node: vm.Name}); !slices.ContainsFunc(rep.Decision.Notes, func(n scale.Reason) bool { return cmp.Equal(n, want) }) {
		t.Errorf("notes %q, want %q", rep.Decision.Notes, want)
	}

	// Its lifetime is over: now it goes.
	rep = r.cycle(2 * time.Hour)
	if n := r.a.callsLike("delete"); n != 1 {
		t.Fatalf("%d deletes after its lifetime, want 1; decision %+v", n, rep.Decision)
	}
	if len(rep.Decision.Deletes) != 1 || !cmp.Equal(rep.Decision.Deletes[0].Reason, scale.Reason{Kind: scale.DeleteVanishedMaxLifetime, Knob: 2 * time.Hour}) {
		t.Errorf("deletes %+v", rep.Decision.Deletes)
	}
}

// A VM's token id goes into its metadata at create; when the VM is deleted,
// even by a provisioner restarted since, its token is revoked, once.
func TestDeletedVMsTokenIsRevoked(t *testing.T) {
	r := newRig(t, knobs())
	vm := r.joinedWorker()
	if got := vm.Metadata[cloud.MetaTokenID]; got != "jti-"+vm.Name {
		t.Fatalf("metadata %v: no token id", vm.Metadata)
	}
	r.pool.demand = nil
	r.p = r.build(knobs()) // restarted: only the cloud's metadata knows the token
	r.cycle(time.Minute)
	r.pool.revokeErr = errors.New("collector did not re-read")
	rep := r.cycle(6 * time.Minute) // idle past idle_before_retire: drained
	rep = r.cycle(30 * time.Second) // drained: deleted
	if r.a.count() != 0 {
		t.Fatalf("not deleted; decision %+v", rep.Decision)
	}
	if !slices.ContainsFunc(rep.Errors, func(e string) bool {
		return strings.Contains(e, "revoke tokens of deleted VMs: collector did not re-read")
	}) {
		t.Errorf("a failed revocation is not reported: %q", rep.Errors)
	}
	// Retried in the next cycles, though the VM is gone, until it goes through.
	r.cycle(30 * time.Second)
	r.pool.revokeErr = nil
	r.cycle(30 * time.Second)
	r.cycle(30 * time.Second)
	if len(r.pool.revoked) != 1 || r.pool.revoked[0].JTI != "jti-"+vm.Name {
		t.Errorf("after the collector recovered, revoked %+v, want the token once", r.pool.revoked)
	}

	// The same, with a collector that takes the revocation.
	r2 := newRig(t, knobs())
	vm = r2.joinedWorker()
	r2.pool.demand = nil
	r2.p = r2.build(knobs())
	r2.cycle(time.Minute)
	r2.cycle(6 * time.Minute)
	r2.cycle(30 * time.Second)
	r2.cycle(30 * time.Second)
	want := []RevokedToken{{VM: vm.Name, JTI: "jti-" + vm.Name, Expires: t0.Add(24 * time.Hour)}}
	if d := cmp.Diff(want, r2.pool.revoked); d != "" {
		t.Errorf("revoked (-want +got):\n%s", d)
	}
}

// The token is revoked before the delete goes out, so a provisioner that
// dies right after the cloud took the delete has lost nothing: the VM's
// metadata, the only record of its token id, goes with the VM.
func TestTokenIsRevokedBeforeTheDelete(t *testing.T) {
	r := newRig(t, knobs())
	vm := r.joinedWorker()
	r.pool.demand = nil
	revokedFirst := map[string]bool{}
	r.a.deleteErr = func(_, id string) error {
		r.pool.mu.Lock()
		defer r.pool.mu.Unlock()
		revokedFirst[id] = slices.ContainsFunc(r.pool.revoked, func(t RevokedToken) bool { return t.JTI == "jti-"+vm.Name })
		return nil
	}
	r.cycle(6 * time.Minute) // idle past idle_before_retire: drained
	rep := r.cycle(30 * time.Second)
	if r.a.count() != 0 {
		t.Fatalf("not deleted; decision %+v", rep.Decision)
	}
	if len(revokedFirst) != 1 {
		t.Fatalf("deletes seen: %v, want the VM's one", revokedFirst)
	}
	for id, ok := range revokedFirst {
		if !ok {
			t.Errorf("delete of %s went out before its token was revoked", id)
		}
	}
}

func TestRestartAdoptsWithoutDuplicates(t *testing.T) {
	r := newRig(t, knobs())
	r.threeSmallVMs()
	// kill -9: a new provisioner with no memory, same clouds and pool.
	r.p = r.build(knobs())
	rep := r.cycle(20 * time.Second)
	if r.a.count() != 3 || r.a.callsLike("create") != 3 {
		t.Fatalf("restart created more VMs: %d servers, %d creates; decision %+v", r.a.count(), r.a.callsLike("create"), rep.Decision)
	}
	if rep.Counts()[scale.Booting] != 3 {
		t.Errorf("adopted counts %v, want 3 booting", rep.Counts())
	}
}

func TestCollectorDownMeansNoDestructiveAction(t *testing.T) {
	r := newRig(t, knobs())
	r.joinedWorker()
	r.pool.demand = nil
	r.cycle(time.Minute)

	r.pool.fail = errors.New("connection refused")
	rep := r.cycle(time.Hour) // idle and past boot timeout: would be drained if we trusted "no workers"
	if r.a.callsLike("delete") != 0 || len(r.pool.drains) != 0 {
		t.Fatalf("acted while the collector was down: deletes=%d drains=%v", r.a.callsLike("delete"), r.pool.drains)
	}
	if len(rep.Errors) == 0 {
		t.Error("collector failure not reported")
	}
}

func TestFailedListKeepsRegionUntouched(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	vm := r.servers(r.a)[0]
	r.a.setStatus(vm.ID, cloud.StatusError)
	r.a.listErr = func(string) error { return &cloud.APIError{Class: cloud.ErrTransient, Op: "list servers", Status: 503} }
	rep := r.cycle(time.Minute)
	if r.a.callsLike("delete") != 0 {
		t.Fatalf("deleted in a region whose list failed")
	}
	if len(rep.Nodes) != 1 {
		t.Errorf("node forgotten when its region could not be listed: %+v", rep.Nodes)
	}
	r.a.listErr = nil
	r.cycle(5 * time.Minute) // the back-off has passed; ERROR is seen → delete
	for _, id := range r.a.ids() {
		if id == vm.ID {
			t.Errorf("ERROR server not deleted once the region answered again")
		}
	}
}

func TestQuotaMovesDemandToNextRegion(t *testing.T) {
	r := newRig(t, knobs())
	r.a.createErr = func(string) error {
		return &cloud.APIError{Class: cloud.ErrQuota, Op: "create server", Status: 403, Message: "Quota exceeded for instances"}
	}
	r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"), offerKey("b", "r2", "small"))
	rep := r.cycle(0)
	if r.b.count() != 2 {
		t.Fatalf("demand not moved to b in the same cycle: b has %d; actions %v errors %v", r.b.count(), rep.Actions, rep.Errors)
	}
	if r.a.callsLike("create") != 1 {
		t.Errorf("kept creating in a failing region: %d creates", r.a.callsLike("create"))
	}
	var backedOff bool
	for _, rr := range rep.Regions {
		if rr.Location.Cloud == "a" && strings.Contains(rr.BackoffReason, "quota") {
			backedOff = true
		}
	}
	if !backedOff {
		t.Errorf("region a not reported backing off for quota: %+v", rep.Regions)
	}
	// Exponential: a second failure backs off longer.
	first := r.p.regions[0].backoff.until.Sub(r.now)
	r.pool.demand = smallDemand(4, offerKey("a", "r1", "small"))
	r.cycle(2 * time.Minute)
	second := r.p.regions[0].backoff.until.Sub(r.now)
	if second <= first {
		t.Errorf("back-off did not grow: %s then %s", first, second)
	}
}

func TestNeverJoinedIsReaped(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	r.a.setStatus(r.servers(r.a)[0].ID, cloud.StatusActive)
	r.cycle(5 * time.Minute)
	if r.a.callsLike("delete") != 0 {
		t.Fatal("reaped before the boot timeout")
	}
	r.cycle(6 * time.Minute)
	if r.a.callsLike("delete") != 1 {
		t.Fatalf("never-joined VM not reaped after the boot timeout")
	}
}

func TestDeleteFailureRetriedWithBackoff(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	r.pool.demand = nil
	r.a.setStatus(r.servers(r.a)[0].ID, cloud.StatusError)
	r.a.deleteErr = func(string, string) error {
		return &cloud.APIError{Class: cloud.ErrTransient, Op: "delete server", Status: 500}
	}
	rep := r.cycle(time.Minute)
	if r.a.callsLike("delete") != 1 || len(rep.Errors) == 0 {
		t.Fatalf("delete not attempted or failure not reported: %d, %v", r.a.callsLike("delete"), rep.Errors)
	}
	r.cycle(30 * time.Second)
	if r.a.callsLike("delete") != 1 {
		t.Fatalf("delete retried without waiting")
	}
	r.a.deleteErr = nil
	r.cycle(10 * time.Minute)
	if r.a.count() != 0 {
		t.Fatalf("delete not retried: %d attempts", r.a.callsLike("delete"))
	}
}

func TestBusyWorkerNeverDrained(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	vm := r.servers(r.a)[0]
	r.a.setStatus(vm.ID, cloud.StatusActive)
	r.pool.join(vm, 1, time.Time{})
	r.pool.demand = nil
	for i := 0; i < 10; i++ {
		r.cycle(time.Hour)
	}
	if len(r.pool.drains) != 0 || r.a.callsLike("delete") != 0 {
		t.Fatalf("busy worker drained %v or deleted %d", r.pool.drains, r.a.callsLike("delete"))
	}
}

func TestDryRunActsOnNothing(t *testing.T) {
	r := newRig(t, knobs(), func(o *Options) { o.DryRun = true })
	r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
	rep := r.cycle(0)
	if r.a.callsLike("create") != 0 || r.boot.calls != 0 {
		t.Fatalf("dry run created VMs")
	}
	if len(rep.Decision.Creates) == 0 {
		t.Fatalf("dry run decided nothing")
	}
	// Beside a live provisioner, a trial run must not replace its ads.
	if len(r.pool.published) != 0 || r.pool.offers != nil {
		t.Errorf("dry run advertised: %d provisioner ads, flavor ads %v", len(r.pool.published), r.pool.offers)
	}
	if !rep.DryRun || !slices.ContainsFunc(rep.Decision.Notes, func(n scale.Reason) bool { return strings.Contains(n.String(), "dry run: nothing advertised") }) {
		t.Errorf("the report does not say it is a dry run that advertised nothing: %+v", rep.Decision.Notes)
	}
}

func TestForeignVMsUntouched(t *testing.T) {
	r := newRig(t, knobs())
	r.a.servers["x"] = &cloud.VM{ID: "x", Name: "other", Location: cloud.Location{Cloud: "a", Region: "r1"}, Flavor: "small",
		Status: cloud.StatusError, Metadata: map[string]string{cloud.MetaPool: "demo", cloud.MetaOwner: "cm2", cloud.MetaName: "other"}}
	rep := r.cycle(time.Hour)
	if r.a.callsLike("delete") != 0 || len(rep.Nodes) != 0 {
		t.Fatalf("another owner's VM was adopted or deleted")
	}
	if rep.Regions[0].Foreign != 1 {
		t.Errorf("foreign VM not reported: %+v", rep.Regions[0])
	}
}

func TestUserDataFailureCreatesNothing(t *testing.T) {
	r := newRig(t, knobs())
	r.boot.err = errors.New("worker.yaml:3:7: unknown tag <hots_ip>")
	r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
	rep := r.cycle(0)
	if r.a.callsLike("create")+r.b.callsLike("create") != 0 {
		t.Fatal("created a VM without user-data")
	}
	if len(rep.Errors) == 0 || !strings.Contains(strings.Join(rep.Errors, "\n"), "hots_ip") {
		t.Errorf("template error not reported: %v", rep.Errors)
	}
}

func TestPublishedAd(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"))
	r.cycle(0)
	ad := r.pool.published[len(r.pool.published)-1]
	if ad.GetString("MyType") != AdType || ad.GetInt("EHOSNodesRequested", -1) != 2 || ad.GetInt("EHOSIdleJobs", -1) != 2 {
		t.Errorf("ad: %v", ad)
	}
	back, err := ReportFromAd(ad)
	if err != nil || len(back.Nodes) != 2 {
		t.Fatalf("report from ad: %v %+v", err, back)
	}
	if len(r.pool.offers) != 4 {
		t.Errorf("flavor offers advertised: %d, want 4", len(r.pool.offers))
	}
}

func TestRegionBootingToErrorIsBackedOff(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"), offerKey("b", "r2", "small"))
	r.cycle(0)
	for _, vm := range r.servers(r.a) {
		r.a.setStatus(vm.ID, cloud.StatusError)
	}
	rep := r.cycle(10 * time.Second) // ERROR seen: deleted, region a backed off, demand goes to b
	if r.a.callsLike("create") != 1 {
		t.Fatalf("kept creating in a region whose VMs fail: %d creates", r.a.callsLike("create"))
	}
	if r.b.count() != 1 {
		t.Errorf("demand not moved to b: %d VMs there; decision %+v", r.b.count(), rep.Decision)
	}
	if !r.p.regions[0].backoff.active(r.now) {
		t.Error("region a not backed off")
	}
}

func TestDemandCountedBeforeAJobStartIsHeld(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(1, offerKey("a", "r1", "small"))
	r.cycle(0)
	vm := r.servers(r.a)[0]
	r.a.setStatus(vm.ID, cloud.StatusActive)
	r.pool.join(vm, 0, r.now)
	r.cycle(10 * time.Second)
	// The job starts; the reporter's last count (before the start) still
	// says one idle job.
	counted := r.now
	r.pool.setClaimed(vm.Name, 1, time.Time{})
	r.pool.demand[0].Reported = counted
	rep := r.cycle(10 * time.Second)
	if n := r.a.callsLike("create"); n != 1 {
		t.Fatalf("created a VM for a job that had started: %d creates; decision %+v", n, rep.Decision)
	}
	if !strings.Contains(fmt.Sprint(rep.Decision.Notes), "held") {
		t.Errorf("holding not explained: %v", rep.Decision.Notes)
	}
	// A fresh count that still says idle is demand again.
	r.pool.demand[0].Reported = r.now.Add(time.Second)
	r.cycle(10 * time.Second)
	if n := r.a.callsLike("create"); n != 2 {
		t.Errorf("fresh demand not served: %d creates", n)
	}
}

func TestAdCarriesCycle(t *testing.T) {
	ad := Report{Time: time.Unix(1000, 0), Cycle: 20 * time.Second, Pool: "p", Owner: "o"}.Ad(1)
	if got := ad.GetFloat("EHOSCycleSeconds", -1); got != 20 {
		t.Errorf("EHOSCycleSeconds = %v, want 20", got)
	}
	if _, ok := (Report{Time: time.Unix(1000, 0)}).Ad(1).Get("EHOSCycleSeconds"); ok {
		t.Error("EHOSCycleSeconds set for a report without a cycle")
	}
	back, err := ReportFromAd(ad)
	if err != nil || back.Cycle != 20*time.Second {
		t.Errorf("cycle back: %v %v", back.Cycle, err)
	}
}

// Workers that join while jobs wait get a negotiation at once (the schedd
// is asked, with the waiting demand), not at the negotiator's next interval;
// a cycle in which nobody joined, or nothing waits, asks for none.
func TestRescheduleWhenWorkersJoinWhileJobsWait(t *testing.T) {
	r := newRig(t, knobs())
	r.threeSmallVMs()
	r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 0 {
		t.Fatalf("rescheduled with nobody joined: %v", r.pool.rescheduled)
	}
	vms := r.servers(r.a)
	for _, vm := range vms[:2] {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, r.now)
	}
	rep := r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 1 || strings.Join(r.pool.rescheduled[0], ",") != "schedd#1" {
		t.Fatalf("rescheduled %v, want once for schedd#1", r.pool.rescheduled)
	}
	if !hasPrefix(rep.Actions, "reschedule: 2 worker(s) joined while 3 job(s) wait") || rep.Rescheduled != "2 worker(s) joined while 3 job(s) wait" {
		t.Errorf("actions %q, rescheduled %q: do not say why it rescheduled", rep.Actions, rep.Rescheduled)
	}
	if back, err := ReportFromAd(rep.Ad(1)); err != nil || back.Rescheduled != rep.Rescheduled {
		t.Errorf("the provisioner ad does not carry it to ehos status: %q, %v", back.Rescheduled, err)
	}
	// Seen before: no new request.
	r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 1 {
		t.Errorf("rescheduled again for workers already seen: %v", r.pool.rescheduled)
	}
	// The third joins after the jobs have gone: nothing to negotiate for.
	r.pool.demand = nil
	r.a.setStatus(vms[2].ID, cloud.StatusActive)
	r.pool.join(vms[2], 0, r.now)
	r.cycle(30 * time.Second)
	if len(r.pool.rescheduled) != 1 {
		t.Errorf("rescheduled with no job waiting: %v", r.pool.rescheduled)
	}
}

func TestRescheduleFailureIsReportedNotFatal(t *testing.T) {
	r := newRig(t, knobs())
	r.joinedWorker()
	r.pool.rescheduleErr = errors.New("permission denied")
	rep := r.cycle(30 * time.Second)
	if !hasPrefix(rep.Errors, "reschedule: permission denied") {
		t.Errorf("errors %q, want the reschedule failure", rep.Errors)
	}
	if rep.Counts()[scale.Idle] != 1 || r.a.count() != 1 {
		t.Errorf("a failed reschedule changed the pool: counts %v, %d VMs", rep.Counts(), r.a.count())
	}
}

// An idle worker drained in one cycle is deleted by the follow-up seconds
// later once its startd confirms the drain; unconfirmed, it waits for the
// next regular cycle, since a job may have been matched to it meanwhile.
func TestFollowUpDeletesConfirmedDrains(t *testing.T) {
	for _, confirmed := range []bool{true, false} {
		t.Run(fmt.Sprintf("confirmed=%v", confirmed), func(t *testing.T) {
			r := newRig(t, knobs())
			r.p.cycle = 30 * time.Second // as Run sets it
			vm := r.joinedWorker()
			r.pool.demand = nil
			r.cycle(30 * time.Second)
			if d := r.p.FollowUp(); d != 0 {
				t.Fatalf("follow-up %s wanted without a drain", d)
			}
			r.cycle(6 * time.Minute)
			if len(r.pool.drains) != 1 {
				t.Fatalf("drains %v, want the idle worker", r.pool.drains)
			}
			d := r.p.FollowUp()
			if d != 5*time.Second {
				t.Fatalf("follow-up %s after draining an idle worker, want 5s", d)
			}
			if !confirmed {
				r.pool.workers[vm.Name].Draining = false
			}
			r.cycle(d)
			if got, want := r.a.count(), map[bool]int{true: 0, false: 1}[confirmed]; got != want {
				t.Fatalf("%d VMs after the follow-up, want %d", got, want)
			}
			r.cycle(25 * time.Second)
			if r.a.count() != 0 {
				t.Errorf("still %d VMs a cycle after the drain", r.a.count())
			}
		})
	}
}

func TestFollowUpOff(t *testing.T) {
	r := newRig(t, knobs(), func(o *Options) { o.DrainRecheck = -1 })
	r.joinedWorker()
	r.pool.demand = nil
	r.cycle(6 * time.Minute)
	r.cycle(6 * time.Minute)
	if len(r.pool.drains) != 1 || r.p.FollowUp() != 0 {
		t.Errorf("drains %v, follow-up %s: want one drain and no follow-up", r.pool.drains, r.p.FollowUp())
	}
}

func hasPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// Run itself gives a cycle that drained an idle worker its follow-up: the
// VM is gone well before the next regular cycle.
func TestRunFollowsUpADrain(t *testing.T) {
	for _, recheck := range []time.Duration{100 * time.Millisecond, -1} {
		t.Run(fmt.Sprint(recheck), func(t *testing.T) {
			r := newRig(t, knobs(), func(o *Options) { o.DrainRecheck = recheck })
			r.now = time.Now().Add(-10 * time.Minute)
			r.joinedWorker()
			r.pool.demand = nil

			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			if err := r.p.Run(ctx, 5*time.Second, func() context.Context { return context.Background() }); err != nil {
				t.Fatal(err)
			}
			if len(r.pool.drains) != 1 {
				t.Fatalf("drains %v, want the idle worker", r.pool.drains)
			}
			want := map[bool]int{true: 0, false: 1}[recheck > 0]
			if got := r.a.count(); got != want {
				t.Errorf("%d VMs 0.7 s into a 5 s cycle, want %d", got, want)
			}
		})
	}
}

// TestCapsHoldWhileDeletesFail: a cloud that refuses every delete (409)
// keeps its servers listed, in ERROR or never joined. max and max_vms count
// them until the cloud drops them, so no VM piles up beside them however
// many cycles the job waits (before, 5 servers existed under max 1).
func TestCapsHoldWhileDeletesFail(t *testing.T) {
	conflict := func(string, string) error {
		return &cloud.APIError{Class: cloud.ErrFatal, Op: "delete server", Status: 409, Message: "Cannot 'delete' instance while it is in task_state deleting"}
	}
	for _, tc := range []struct {
		name    string
		knobs   func(*scale.Knobs)
		opts    func(*Options)
		elig    []scale.OfferKey
		cap     int
		counted func(r *rig) int
		block   scale.Block // the limit unmet demand must name
	}{
		{
			name:    "max 1",
			knobs:   func(k *scale.Knobs) { k.Max = 1 },
			elig:    []scale.OfferKey{offerKey("a", "r1", "small"), offerKey("b", "r2", "small")},
			cap:     1,
			counted: func(r *rig) int { return r.a.count() + r.b.count() },
			block:   scale.Block{Limit: scale.LimitMax, Of: 1, Exists: 1, Out: scale.StateCounts{Deleting: 1}},
		},
		{
			name:    "cloud a max_vms 1",
			opts:    func(o *Options) { o.Clouds[0].Config.MaxVMs = 1 },
			elig:    []scale.OfferKey{offerKey("a", "r1", "small")},
			cap:     1,
			counted: func(r *rig) int { return r.a.count() },
			block:   scale.Block{Limit: scale.LimitCloudMax, Cloud: "a", Of: 1, Exists: 1, Out: scale.StateCounts{Deleting: 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := knobs()
			if tc.knobs != nil {
				tc.knobs(&k)
			}
			var opts []func(*Options)
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			r := newRig(t, k, opts...)
			r.a.deleteErr, r.b.deleteErr = conflict, conflict
			r.pool.demand = smallDemand(1, tc.elig...)
			peak, sawReason := 0, false
			for i := 0; i < 120; i++ {
				rep := r.cycle(time.Minute)
				// Every other server fails in the cloud; the rest boot and
				// never join, so the boot timeout reaps them.
				for _, c := range []*fakeCloud{r.a, r.b} {
					for _, vm := range r.servers(c) {
						if vm.Status == cloud.StatusBuild {
							st := cloud.StatusActive
							if i%2 == 0 {
								st = cloud.StatusError
							}
							c.setStatus(vm.ID, st)
						}
					}
				}
				n := tc.counted(r)
				peak = max(peak, n)
				if n > tc.cap {
					t.Fatalf("cycle %d: %d servers exist, cap %d; decision %+v", i, n, tc.cap, rep.Decision)
				}
				for _, u := range rep.Decision.Unmet {
					sawReason = sawReason || slices.ContainsFunc(u.Reason.Blocks, func(b scale.Block) bool { b.Planned = 0; return cmp.Equal(b, tc.block) })
				}
			}
			if peak != tc.cap {
				t.Errorf("peak %d servers, want %d (the first VM is created)", peak, tc.cap)
			}
			if r.a.callsLike("delete")+r.b.callsLike("delete") < 2 {
				t.Errorf("deletes were not retried: %d", r.a.callsLike("delete")+r.b.callsLike("delete"))
			}
			if !sawReason {
				t.Errorf("no unmet reason names %s", tc.block)
			}
		})
	}
}

// TestOfflineOnlyJobBootsOneRoundThenNone: jobs whose Requirements match
// only the offline flavor ads (TARGET.Offline =?= True) get one round of
// VMs; once those stood idle beside them past UnmatchedAfter the jobs are
// "unmatched on real workers": the workers retire and none is booted again,
// however long the jobs wait.
func TestOfflineOnlyJobBootsOneRoundThenNone(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
	r.cycle(0)
	if n := r.a.callsLike("create"); n != 3 {
		t.Fatalf("first round: %d creates, want 3", n)
	}
	for _, vm := range r.servers(r.a) {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, r.now)
	}
	sawUnmet := false
	for i := 0; i < 60; i++ { // 30 minutes
		rep := r.cycle(30 * time.Second)
		for _, u := range rep.Decision.Unmet {
			sawUnmet = sawUnmet || u.Reason.Kind == scale.UnmetUnmatched
		}
	}
	if n := r.a.callsLike("create") + r.b.callsLike("create"); n != 3 {
		t.Errorf("%d creates in all, want the first round's 3 only", n)
	}
	if n := r.a.count(); n != 0 {
		t.Errorf("%d workers still up beside jobs they cannot run, want 0 (drains %v)", n, r.pool.drains)
	}
	if !sawUnmet {
		t.Error("no unmet reason says the jobs are unmatched on real workers")
	}
}

// TestRestartKeepsUnmatchedMarks: a provisioner restarted after it found
// demand unmatched on real workers takes the marks from its previous ad and
// boots nothing more for it; with no previous ad (the collector restarted
// too) it boots one more round, as a first start does.
func TestRestartKeepsUnmatchedMarks(t *testing.T) {
	for _, forget := range []bool{false, true} {
		r := newRig(t, knobs())
		r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
		r.cycle(0)
		for _, vm := range r.servers(r.a) {
			r.a.setStatus(vm.ID, cloud.StatusActive)
			r.pool.join(vm, 0, r.now)
		}
		for i := 0; i < 30; i++ { // 15 minutes: marked, workers retired
			r.cycle(30 * time.Second)
		}
		if n := r.a.count(); n != 0 {
			t.Fatalf("%d workers still up before the restart", n)
		}
		r.pool.forget = forget
		r.p = r.build(knobs())
		for i := 0; i < 10; i++ {
			r.cycle(30 * time.Second)
		}
		want := 3
		if forget {
			want = 6
		}
		if n := r.a.callsLike("create"); n != want {
			t.Errorf("previous ad forgotten %v: %d creates in all, want %d", forget, n, want)
		}
	}
}

// TestUnmatchedLiftedWhenTheJobsStart: jobs held back by something that
// passes (a concurrency limit) start on the worker once it does; then they
// are demand for that flavor again.
func TestUnmatchedLiftedWhenTheJobsStart(t *testing.T) {
	r := newRig(t, knobs())
	r.threeSmallVMs()
	vms := r.servers(r.a)
	for _, vm := range vms {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, r.now)
	}
	var rep Report
	for i := 0; i < 8; i++ { // 4 minutes beside the idle workers
		rep = r.cycle(30 * time.Second)
	}
	if len(rep.Demand) != 1 || len(rep.Demand[0].Unmatched) != 1 {
		t.Fatalf("demand not marked unmatched after 4 minutes beside idle workers: %+v", rep.Demand)
	}
	r.pool.setClaimed(vms[0].Name, 1, time.Time{})
	r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"))
	rep = r.cycle(30 * time.Second)
	if len(rep.Demand) != 1 || len(rep.Demand[0].Unmatched) != 0 {
		t.Fatalf("a job of the group started on a worker, yet still unmatched: %+v", rep.Demand)
	}
	if len(rep.Decision.Drains) != 0 {
		t.Errorf("workers the waiting jobs fit drained after the lift: %+v", rep.Decision.Drains)
	}
}

func TestKnobsFromUnmatchedAfter(t *testing.T) {
	c := config.Default()
	if got := scale.UnmatchedAfter(KnobsFrom(&c)); got != scale.DefaultUnmatchedAfter {
		t.Errorf("default ehos.yaml: unmatched_after %s, want %s", got, scale.DefaultUnmatchedAfter)
	}
	c.Scaling.UnmatchedAfter = 0
	if got := scale.UnmatchedAfter(KnobsFrom(&c)); got != 0 {
		t.Errorf("unmatched_after: 0 gives %s, want the rule off", got)
	}
	c.Scaling.UnmatchedAfter = 20 * time.Second
	if got := scale.UnmatchedAfter(KnobsFrom(&c)); got != 20*time.Second {
		t.Errorf("unmatched_after: 20s gives %s", got)
	}
}

// TestUnmatchedCountsOnlyWorkersThatCouldTakeTheJobs: an unhealthy worker
// (its START is off), one too small for the jobs, or jobs that leave the
// queue, never make demand unmatched.
func TestUnmatchedCountsOnlyWorkersThatCouldTakeTheJobs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(r *rig, name string)
		demand []scale.Demand
		want   bool
	}{
		{name: "healthy idle worker that fits", want: true},
		{name: "unhealthy worker", mutate: func(r *rig, n string) { r.pool.workers[n].Healthy = false }},
		{name: "worker too small", demand: []scale.Demand{{Key: "schedd#1", Need: scale.Resources{Cpus: 1, MemoryMB: 4096}, Idle: 1, Oldest: t0,
			Eligible: []scale.OfferKey{offerKey("a", "r1", "small")}}}},
		{name: "claimed worker", mutate: func(r *rig, n string) { r.pool.setClaimed(n, 1, time.Time{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, knobs())
			vm := r.joinedWorker()
			if tc.mutate != nil {
				tc.mutate(r, vm.Name)
			}
			if tc.demand != nil {
				r.pool.demand = tc.demand
			}
			var rep Report
			for i := 0; i < 8; i++ {
				rep = r.cycle(30 * time.Second)
			}
			got := len(rep.Demand) == 1 && len(rep.Demand[0].Unmatched) == 1
			if got != tc.want {
				t.Errorf("unmatched after 4 minutes = %v, want %v: %+v", got, tc.want, rep.Demand)
			}
		})
	}

	// The group leaves the queue and comes back: its clock starts again.
	r := newRig(t, knobs())
	r.joinedWorker()
	for i := 0; i < 4; i++ {
		r.cycle(30 * time.Second)
	}
	saved := r.pool.demand
	r.pool.demand = nil
	r.cycle(30 * time.Second)
	r.pool.demand = saved
	rep := r.cycle(30 * time.Second)
	if len(rep.Demand) != 1 || len(rep.Demand[0].Unmatched) != 1 || !rep.Demand[0].Unmatched[0].Since.Equal(r.now) {
		t.Errorf("a group back in the queue kept its old clock: %+v (now %s)", rep.Demand, r.now)
	}
}
