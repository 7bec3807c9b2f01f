package provision

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

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
