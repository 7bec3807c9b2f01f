package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

func TestReachObserveWaitingWorkers(t *testing.T) {
	small, large := offerKey("a", "r1", "small"), offerKey("a", "r1", "large")
	need := scale.Resources{Cpus: 1, MemoryMB: 512}
	free := scale.Resources{Cpus: 1, MemoryMB: 1792}
	nodes := []scale.Node{
		{Name: "idle", Offer: small, State: scale.Idle},
		{Name: "busy", Offer: small, State: scale.Busy},
		{Name: "draining", Offer: small, State: scale.Idle},
		{Name: "full", Offer: small, State: scale.Idle},
		{Name: "other-flavor", Offer: large, State: scale.Idle},
		{Name: "booting", Offer: small, State: scale.Booting},
		{Name: "no-ad", Offer: small, State: scale.Idle},
	}
	workers := []Worker{
		{Name: "idle", Address: "<10.0.1.5:9618>", Healthy: true, Free: free},
		{Name: "busy", Address: "<10.0.1.6:9618>", Healthy: true, Claimed: 1},
		{Name: "draining", Address: "<10.0.1.7:9618>", Healthy: true, Draining: true, Free: free},
		{Name: "full", Address: "<10.0.1.8:9618>", Healthy: true, Free: scale.Resources{Cpus: 1, MemoryMB: 256}},
		{Name: "other-flavor", Address: "<10.0.1.9:9618>", Healthy: true, Free: free},
		{Name: "booting", Address: "<10.0.1.10:9618>", Healthy: true, Free: free},
	}
	demand := []scale.Demand{{Key: "s#1", Need: need, Idle: 2, Eligible: []scale.OfferKey{small}}}
	got := map[string]reachObs{}
	for _, o := range reachObserve(nodes, workers, demand) {
		got[o.name] = o
	}
	want := map[string]reachObs{
		"idle":     {name: "idle", loc: small.Loc, addr: "<10.0.1.5:9618>", waiting: true},
		"busy":     {name: "busy", loc: small.Loc, addr: "<10.0.1.6:9618>", claimed: true},
		"draining": {name: "draining", loc: small.Loc, addr: "<10.0.1.7:9618>"},
		"full":     {name: "full", loc: small.Loc, addr: "<10.0.1.8:9618>"},
		// The job was matched to small, yet fits: once a real slot is
		// there the negotiator matches it to that, not to a flavor.
		"other-flavor": {name: "other-flavor", loc: large.Loc, addr: "<10.0.1.9:9618>", waiting: true},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(reachObs{})); d != "" {
		t.Errorf("observations (-want +got):\n%s", d)
	}
}

// One waiting brokered worker through a plan-probe-fold cycle every 5 s:
// probed after probeAfter, called unreachable only once its probes failed
// for reachConfirm, cleared by one probe that connects.
func TestReachPlanAndFoldTimeline(t *testing.T) {
	loc := cloud.Location{Cloud: "a", Region: "r1"}
	obs := []reachObs{{name: "w", loc: loc, addr: "<10.0.1.5:9618?CCBID=10.0.0.1:9618%3fnoUDP#1&noUDP>", waiting: true}}
	var recs map[string]reachRec
	type step struct {
		at     time.Duration
		result error // the probe's, if one is due
		probe  bool  // want a probe
		newly  bool  // want it found unreachable now
	}
	noConn := fmt.Errorf("%w: failed to make connection", ErrUnreachable)
	steps := []step{
		{at: 0},
		{at: 10 * time.Second},
		{at: 15 * time.Second, result: noConn, probe: true},
		{at: 20 * time.Second, result: errors.New("tool crashed"), probe: true}, // cannot tell: not counted
		{at: 25 * time.Second, result: noConn, probe: true},
		{at: 100 * time.Second, result: noConn, probe: true},
		{at: 105 * time.Second, result: noConn, probe: true, newly: true}, // 90 s after the first failure
		{at: 110 * time.Second},                                           // marked: probed again only after reprobeAfter
		{at: 105*time.Second + reprobeAfter, result: nil, probe: true},    // connects: cleared
		{at: 110*time.Second + reprobeAfter},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		var probe []string
		recs, probe, _ = reachPlan(now, obs, recs)
		if got := len(probe) == 1; got != s.probe {
			t.Fatalf("at %v: probe %v, want %v", s.at, probe, s.probe)
		}
		var newly []string
		if s.probe {
			newly = reachFold(now, recs, map[string]error{"w": s.result})
		}
		if got := len(newly) == 1; got != s.newly {
			t.Fatalf("at %v: newly unreachable %v, want %v (record %+v)", s.at, newly, s.newly, recs["w"])
		}
	}
	if r := recs["w"]; r.marked || !r.failed.IsZero() {
		t.Errorf("after a probe that connected: %+v, want cleared", r)
	}

	// A worker with no broker is unreachable at its second failed probe
	// in a row: nothing about it changes by waiting.
	direct := []reachObs{{name: "d", loc: loc, addr: "<10.0.1.6:9618?noUDP>", waiting: true}}
	recs = nil
	for i, at := range []time.Duration{0, 15 * time.Second, 20 * time.Second} {
		var probe []string
		recs, probe, _ = reachPlan(t0.Add(at), direct, recs)
		if len(probe) == 0 {
			continue
		}
		newly := reachFold(t0.Add(at), recs, map[string]error{"d": noConn})
		if got, want := len(newly) == 1, i == 2; got != want {
			t.Errorf("direct worker at %v: newly unreachable %v, want %v", at, newly, want)
		}
	}

	// A new address (the worker registered again) is judged afresh; a
	// worker that no longer waits is forgotten, and one running a job
	// says its region is reached.
	recs = map[string]reachRec{"w": {loc: loc, addr: "<old>", suspect: t0, failed: t0, fails: 5, marked: true}}
	recs, probe, _ := reachPlan(t0.Add(time.Hour), obs, recs)
	if r := recs["w"]; r.marked || r.fails != 0 || len(probe) != 1 {
		t.Errorf("new address: %+v, probe %v; want a fresh record probed now", r, probe)
	}
	recs, probe, reached := reachPlan(t0.Add(time.Hour), []reachObs{{name: "w", loc: loc, addr: "<10.0.1.5:9618>", claimed: true}}, recs)
	if len(recs) != 0 || len(probe) != 0 || !reached[loc] {
		t.Errorf("claimed: records %v, probe %v, reached %v; want none, none, %s", recs, probe, reached, loc)
	}
}

func TestReachHintFollowsTheAddress(t *testing.T) {
	if h := reachHint("<10.213.49.4:9618?addrs=10.213.49.4-9618&noUDP&sock=startd_8_10d8>"); !strings.Contains(h, "CCB_ADDRESS = $(COLLECTOR_HOST)") {
		t.Errorf("no broker: %s", h)
	}
	if h := reachHint("<10.213.49.3:9618?CCBID=10.213.48.3:9618%3fnoUDP#1&PrivNet=region-one&noUDP>"); !strings.Contains(h, "private_network") {
		t.Errorf("brokered: %s", h)
	}
}

// reachPool is the fake pool with a Reacher.
type reachPool struct {
	*fakePool
	mu     sync.Mutex
	err    error // every probe's answer
	probes int
}

func (p *reachPool) Reach(_ context.Context, w Worker) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probes++
	if w.Address == "" {
		return errors.New("no address")
	}
	return p.err
}

// unreachableRig: one worker of cloud a joined at a private address, idle
// beside the job it was booted for; probes answer err.
func unreachableRig(t *testing.T, err error) (*rig, *reachPool) {
	r := newRig(t, knobs())
	rp := &reachPool{fakePool: r.pool, err: err}
	r.p.pool = rp
	vm := r.joinedWorker()
	r.pool.workers[vm.Metadata[cloud.MetaName]].Address = "<10.0.1.5:9618?noUDP&sock=startd_1>"
	return r, rp
}

// A worker the central manager cannot connect to is reported, with its
// address and a hint, and backs its region off while it stands: more jobs
// for that region boot nothing there, and demand that may run elsewhere
// moves on. The same worker reached boots more, as before.
func TestUnreachableWorkerBacksItsRegionOff(t *testing.T) {
	noConn := fmt.Errorf("%w: condor_ping -address: failed to make connection", ErrUnreachable)
	r, rp := unreachableRig(t, noConn)
	var rep Report
	for i := 0; i < 14; i++ { // 140 s: probed from 20 s, unreachable at 110 s
		rep = r.cycle(10 * time.Second)
	}
	if len(rep.Unreachable) != 1 {
		t.Fatalf("unreachable %+v after %d probes, want the one worker", rep.Unreachable, rp.probes)
	}
	u := rep.Unreachable[0]
	if u.Address != "<10.0.1.5:9618?noUDP&sock=startd_1>" || u.Location != (cloud.Location{Cloud: "a", Region: "r1"}) || !strings.Contains(u.Hint, "CCB_ADDRESS") || !strings.Contains(u.Error, "failed to make connection") {
		t.Errorf("reported %+v", u)
	}
	ad := r.pool.published[len(r.pool.published)-1]
	if ad.GetInt(AttrUnreachable, 0) != 1 || !strings.Contains(ad.GetString(AttrLastUnreachable), "10.0.1.5") {
		t.Errorf("ad: %s=%v %s=%q", AttrUnreachable, ad.GetInt(AttrUnreachable, -1), AttrLastUnreachable, ad.GetString(AttrLastUnreachable))
	}
	if rr := rep.Regions[0]; !strings.Contains(rr.BackoffReason, "unreachable") {
		t.Errorf("region a/r1: %+v, want it backed off for the unreachable worker", rr)
	}

	// Three more jobs for a/r1 only: nothing is booted into the same
	// failure, cycle after cycle, while the worker stands.
	before := r.a.callsLike("create")
	r.pool.demand = smallDemand(4, offerKey("a", "r1", "small"))
	for i := 0; i < 20; i++ {
		r.cycle(10 * time.Second)
	}
	if n := r.a.callsLike("create") - before; n != 0 {
		t.Errorf("%d VMs created in a/r1 with its worker unreachable, want none", n)
	}
	// Jobs that may run in b go there.
	r.pool.demand = smallDemand(4, offerKey("a", "r1", "small"), offerKey("b", "r2", "small"))
	r.cycle(10 * time.Second)
	if n := r.b.callsLike("create"); n < 3 {
		t.Errorf("%d VMs created in b/r2, want at least the 3 jobs the unreachable worker would not take", n)
	}
}

func TestReachedWorkerIsNeverReported(t *testing.T) {
	r, rp := unreachableRig(t, nil)
	for i := 0; i < 14; i++ {
		if rep := r.cycle(10 * time.Second); len(rep.Unreachable) != 0 {
			t.Fatalf("reported %+v", rep.Unreachable)
		}
	}
	if rp.probes != 1 {
		t.Errorf("%d probes of a worker that answered, want 1 (again only after %v)", rp.probes, reprobeAfter)
	}
	before := r.a.callsLike("create")
	r.pool.demand = smallDemand(4, offerKey("a", "r1", "small"))
	r.cycle(10 * time.Second)
	if n := r.a.callsLike("create") - before; n != 3 {
		t.Errorf("%d VMs created in a/r1, want 3 (its worker is reached)", n)
	}
}

// A cloud whose every worker is unreachable: the report names
// maxUnreachable of them, the ad counts them all.
func TestUnreachableReportIsBounded(t *testing.T) {
	k := knobs()
	k.Max, k.MaxBooting, k.MaxCreatesPerCycle = 30, 30, 30
	r := newRig(t, k)
	rp := &reachPool{fakePool: r.pool, err: fmt.Errorf("%w: failed to make connection", ErrUnreachable)}
	r.p.pool = rp
	const n = maxUnreachable + 5
	r.pool.demand = smallDemand(n, offerKey("a", "r1", "small"))
	r.cycle(0)
	for i, vm := range r.servers(r.a) {
		r.a.setStatus(vm.ID, cloud.StatusActive)
		r.pool.join(vm, 0, r.now)
		r.pool.workers[vm.Metadata[cloud.MetaName]].Address = fmt.Sprintf("<10.0.1.%d:9618>", i+1)
	}
	var rep Report
	for i := 0; i < 10; i++ { // probeMax a cycle, two probes each
		rep = r.cycle(10 * time.Second)
	}
	ad := r.pool.published[len(r.pool.published)-1]
	if len(rep.Unreachable) != maxUnreachable || ad.GetInt(AttrUnreachable, 0) != n {
		t.Errorf("report names %d, ad counts %d; want %d and %d", len(rep.Unreachable), ad.GetInt(AttrUnreachable, 0), maxUnreachable, n)
	}
}

// A cycle probes at most probeMax workers, the longest waiting first.
func TestReachPlanProbesAFewAtATime(t *testing.T) {
	loc := cloud.Location{Cloud: "a", Region: "r1"}
	var obs []reachObs
	recs := map[string]reachRec{}
	for i := 0; i < probeMax+3; i++ {
		name := fmt.Sprintf("w%02d", i)
		obs = append(obs, reachObs{name: name, loc: loc, addr: "<10.0.1.1:9618>", waiting: true})
		recs[name] = reachRec{loc: loc, addr: "<10.0.1.1:9618>", suspect: t0.Add(time.Duration(probeMax+3-i) * time.Second)}
	}
	_, probe, _ := reachPlan(t0.Add(time.Minute), obs, recs)
	if len(probe) != probeMax || probe[0] != fmt.Sprintf("w%02d", probeMax+2) || probe[probeMax-1] != "w03" {
		t.Errorf("probed %v, want the %d longest waiting, longest first", probe, probeMax)
	}
}
