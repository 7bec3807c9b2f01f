package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

var ctx = context.Background()

func testCloud(clock *Clock, model CloudModel, quota cloud.Limits) *Cloud {
	fl := DefaultFlavors()
	return NewCloud("c", clock, model, []string{"r1", "r2"}, []cloud.Flavor{fl["m1.small"], fl["m1.large"]}, quota)
}

func create(t *testing.T, c *Cloud, region, flavor, name string) cloud.VM {
	t.Helper()
	vm, err := c.Create(ctx, region, cloud.CreateRequest{Name: name, Flavor: flavor, Metadata: map[string]string{cloud.MetaPool: "p", cloud.MetaOwner: "o", cloud.MetaName: name}})
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func status(t *testing.T, c *Cloud, region string) map[string]cloud.Status {
	t.Helper()
	vms, err := c.List(ctx, region, "p", "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cloud.Status{}
	for _, vm := range vms {
		out[vm.Name] = vm.Status
	}
	return out
}

func TestCloudBootsAfterItsDelay(t *testing.T) {
	clock := &Clock{t: Epoch}
	c := testCloud(clock, CloudModel{BootMean: 100 * time.Second}, cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1})
	create(t, c, "r1", "m1.small", "a")
	clock.Set(Epoch.Add(99 * time.Second))
	if s := status(t, c, "r1")["a"]; s != cloud.StatusBuild {
		t.Errorf("at 99s: %s, want BUILD", s)
	}
	clock.Set(Epoch.Add(100 * time.Second))
	if s := status(t, c, "r1")["a"]; s != cloud.StatusActive {
		t.Errorf("at 100s: %s, want ACTIVE", s)
	}
	if len(status(t, c, "r2")) != 0 {
		t.Error("r2 lists r1's server")
	}
}

func TestCloudJitterAndFailures(t *testing.T) {
	clock := &Clock{t: Epoch}
	c := testCloud(clock, CloudModel{BootMean: 100 * time.Second, BootJitter: 20 * time.Second, FailRate: 0.3, Seed: 3}, cloud.Limits{MaxInstances: -1, MaxCores: -1, MaxRAMMB: -1})
	for i := 0; i < 200; i++ {
		create(t, c, "r1", "m1.small", string(rune('a'+i%26))+time.Duration(i).String())
	}
	fails := 0
	for _, s := range c.Servers() {
		boot := s.ActiveAt.Sub(s.VM.Created)
		if boot < 80*time.Second || boot > 120*time.Second {
			t.Errorf("boot %s outside 100s ± 20s", boot)
		}
		if s.Fails {
			fails++
		}
	}
	if fails < 40 || fails > 80 {
		t.Errorf("%d of 200 failed, want about 60", fails)
	}
	clock.Set(Epoch.Add(time.Hour))
	errs := 0
	for _, s := range status(t, c, "r1") {
		if s == cloud.StatusError {
			errs++
		}
	}
	if errs != fails {
		t.Errorf("%d listed in ERROR, %d failing", errs, fails)
	}
}

func TestCloudQuota(t *testing.T) {
	clock := &Clock{t: Epoch}
	c := testCloud(clock, CloudModel{BootMean: time.Second}, cloud.Limits{MaxInstances: 10, MaxCores: 6, MaxRAMMB: -1})
	create(t, c, "r1", "m1.large", "a") // 4 cores
	create(t, c, "r1", "m1.small", "b") // 1 core
	_, err := c.Create(ctx, "r1", cloud.CreateRequest{Name: "c", Flavor: "m1.large"})
	if !errors.Is(err, cloud.ErrQuota) {
		t.Fatalf("third create: %v, want a quota error", err)
	}
	l, _ := c.Limits(ctx, "r1")
	if l.UsedCores != 5 || l.UsedInstances != 2 {
		t.Errorf("limits %+v, want 5 cores and 2 instances used", l)
	}
	if _, err := c.Create(ctx, "r2", cloud.CreateRequest{Name: "c", Flavor: "m1.large"}); err != nil {
		t.Errorf("r2 has its own quota: %v", err)
	}
	if _, err := c.Create(ctx, "r1", cloud.CreateRequest{Name: "d", Flavor: "nope"}); !errors.Is(err, cloud.ErrFatal) {
		t.Errorf("unknown flavor: %v", err)
	}
}

// TestPoolRunsJobForItsRuntime: a worker joins JoinDelay after its VM is
// ACTIVE, the matchmaker starts a job at a negotiation, and it ends after its
// run time, leaving the worker idle since that instant.
func TestPoolRunsJobForItsRuntime(t *testing.T) {
	jobs := []Job{{Submit: 10 * time.Second, Runtime: 5 * time.Minute, Cpus: 1, MemoryMB: 1000}}
	cfg := DemoConfig()
	w, err := NewWorld(cfg, DefaultFlavors(), DefaultQuota, CloudModel{BootMean: time.Minute}, 30*time.Second, jobs)
	if err != nil {
		t.Fatal(err)
	}
	c := w.Clouds[0]
	create(t, c, "north", "m1.small", "w1")
	// ACTIVE at 60s, joined at 90s
	w.Advance(Epoch.Add(89 * time.Second))
	if n := w.Pool.NumWorkers(); n != 0 {
		t.Fatalf("%d workers at 89s, want 0", n)
	}
	w.Advance(Epoch.Add(90 * time.Second))
	ws, _ := w.Pool.Workers(ctx)
	if len(ws) != 1 || ws[0].Name != "w1" || ws[0].Free != (scale.Resources{Cpus: 1, MemoryMB: 1792}) {
		t.Fatalf("workers at 90s: %+v", ws)
	}
	if n := w.Pool.Negotiate(Epoch.Add(120 * time.Second)); n != 1 {
		t.Fatalf("matched %d, want 1", n)
	}
	ws, _ = w.Pool.Workers(ctx)
	if ws[0].Claimed != 1 || !ws[0].IdleSince.IsZero() || ws[0].Free.Cpus != 0 {
		t.Errorf("busy worker: %+v", ws[0])
	}
	w.Advance(Epoch.Add(120*time.Second + 5*time.Minute - time.Second))
	if _, run, _, _ := w.Pool.Counts(); run != 1 {
		t.Error("job ended early")
	}
	w.Advance(Epoch.Add(time.Hour))
	idle, run, fin, _ := w.Pool.Counts()
	if idle != 0 || run != 0 || fin != 1 {
		t.Errorf("idle %d running %d finished %d", idle, run, fin)
	}
	ws, _ = w.Pool.Workers(ctx)
	if want := Epoch.Add(120*time.Second + 5*time.Minute); !w.Pool.workers["w1"].idleSince.Equal(want) {
		t.Errorf("idle since %s, want the job's end %s", w.Pool.workers["w1"].idleSince, want)
	}
	if !ws[0].IdleSince.IsZero() {
		t.Errorf("Workers gives IdleSince %s; the collector's ads (lib/condorpool) do not say it", ws[0].IdleSince)
	}
	j := w.Pool.jobs[0]
	if wait := j.start.Sub(j.submit); wait != 110*time.Second {
		t.Errorf("wait %s, want 110s", wait)
	}
}

func TestPoolDemandDrainAndKill(t *testing.T) {
	jobs := []Job{
		{Runtime: time.Hour, Cpus: 1, MemoryMB: 1000},
		{Runtime: time.Hour, Cpus: 1, MemoryMB: 1000},
		{Runtime: time.Hour, Cpus: 4, MemoryMB: 6000},
		{Runtime: time.Hour, Cpus: 16, MemoryMB: 1000},
	}
	w, _ := NewWorld(DemoConfig(), DefaultFlavors(), DefaultQuota, CloudModel{BootMean: time.Second}, 0, jobs)
	w.Advance(Epoch)
	small := scale.OfferKey{Loc: cloud.Location{Cloud: "sim", Region: "north"}, Flavor: "m1.small"}
	large := scale.OfferKey{Loc: cloud.Location{Cloud: "sim", Region: "north"}, Flavor: "m1.large"}
	w.Pool.Offer(ctx, []scale.Offer{{OfferKey: large, Size: scale.Resources{Cpus: 4, MemoryMB: 7168}}, {OfferKey: small, Size: scale.Resources{Cpus: 1, MemoryMB: 1792}}})
	d, _ := w.Pool.Demand(ctx)
	if len(d) != 3 {
		t.Fatalf("demand %+v, want 3 shapes", d)
	}
	byKey := map[string]scale.Demand{}
	for _, g := range d {
		byKey[g.Key] = g
	}
	if g := byKey["sim#1cpu-1000mb"]; g.Idle != 2 || len(g.Eligible) != 2 {
		t.Errorf("1-cpu group %+v: want 2 idle, both offers eligible", g)
	}
	if g := byKey["sim#4cpu-6000mb"]; g.Idle != 1 || len(g.Eligible) != 1 || g.Eligible[0] != large {
		t.Errorf("4-cpu group %+v: want only the large offer", g)
	}
	if g := byKey["sim#16cpu-1000mb"]; len(g.Eligible) != 0 {
		t.Errorf("16-cpu group %+v: no offer holds it", g)
	}
	create(t, w.Clouds[0], "north", "m1.large", "big")
	w.Advance(Epoch.Add(time.Second))
	w.Pool.Negotiate(Epoch.Add(time.Second)) // all submitted at 0: oldest first is by trace order
	ws, _ := w.Pool.Workers(ctx)
	if ws[0].Claimed != 2 || ws[0].Free.Cpus != 2 {
		t.Errorf("first fit by age: %+v, want the two 1-cpu jobs on it (the 4-cpu one no longer fits)", ws[0])
	}
	// Drain: no new job, gone when empty; deleting a VM with jobs kills them.
	w.Pool.Drain(ctx, ws[0])
	if n := w.Pool.Negotiate(Epoch.Add(2 * time.Second)); n != 0 {
		t.Errorf("matched %d onto a draining worker", n)
	}
	vms, _ := w.Clouds[0].List(ctx, "north", "p", "")
	w.Clouds[0].Delete(ctx, "north", vms[0].ID)
	idle, run, _, killed := w.Pool.Counts()
	if killed != 2 || run != 0 || idle != 4 {
		t.Errorf("after delete: idle %d running %d killed %d", idle, run, killed)
	}
	if w.Pool.NumWorkers() != 0 {
		t.Error("startd outlived its VM")
	}
}

// A job queued behind a busy slot starts on that slot's claim the moment
// the job before it ends, if it fits in the slot and the claim is younger
// than CLAIM_WORKLIFE; otherwise it waits for a negotiation.
func TestPoolReusesClaims(t *testing.T) {
	jobs := []Job{
		{Submit: 0, Runtime: 10 * time.Minute, Cpus: 1, MemoryMB: 1000},          // A
		{Submit: 2 * time.Minute, Runtime: time.Minute, Cpus: 1, MemoryMB: 900},  // B fits A's slot
		{Submit: 3 * time.Minute, Runtime: time.Minute, Cpus: 1, MemoryMB: 1500}, // C does not
	}
	for _, tc := range []struct {
		name     string
		worklife time.Duration
		drain    bool
		reuse    bool
	}{
		{"claim reused", 20 * time.Minute, false, true},
		{"claim past its worklife", 5 * time.Minute, false, false},
		{"no claim reuse", 0, false, false},
		{"draining worker", 20 * time.Minute, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWorld(DemoConfig(), DefaultFlavors(), DefaultQuota, CloudModel{BootMean: time.Minute}, 0, jobs)
			if err != nil {
				t.Fatal(err)
			}
			w.Pool.ClaimWorklife = tc.worklife
			create(t, w.Clouds[0], "north", "m1.small", "w1") // 1 cpu, joins at 60s
			w.Advance(Epoch.Add(time.Minute))
			if n := w.Pool.Negotiate(Epoch.Add(time.Minute)); n != 1 {
				t.Fatalf("matched %d at 60s, want A", n)
			}
			w.Pool.workers["w1"].draining = tc.drain
			a, b, c := w.Pool.jobs[0], w.Pool.jobs[1], w.Pool.jobs[2]
			end := Epoch.Add(11 * time.Minute) // A's end
			w.Advance(end)
			if a.state != done || c.state != queued {
				t.Fatalf("at A's end: A %v, C %v; want A done, C queued (its 1500 MB do not fit A's 1000 MB slot)", a.state, c.state)
			}
			if !tc.reuse {
				if b.state != queued {
					t.Fatalf("B %v at A's end, want queued for a negotiation", b.state)
				}
				return
			}
			if b.state != running || !b.start.Equal(end) || b.worker.name != "w1" {
				t.Fatalf("B %v, started %s; want running on w1 from A's end %s", b.state, b.start.Sub(Epoch), end.Sub(Epoch))
			}
			if free := w.Pool.workers["w1"].free; free.Cpus != 0 {
				t.Errorf("w1 free %+v while B runs on A's slot", free)
			}
			// B's end: C still does not fit the slot, which goes back to w1.
			w.Advance(end.Add(time.Minute))
			if c.state != queued || w.Pool.workers["w1"].free.Cpus != 1 {
				t.Errorf("after B: C %v, w1 free %+v; want C queued and w1's cpu free", c.state, w.Pool.workers["w1"].free)
			}
			if w.Pool.reused != 1 {
				t.Errorf("%d reused claims, want 1", w.Pool.reused)
			}
		})
	}
}

// A submit asks for a negotiation a few seconds later (SUBMIT_SEND_RESCHEDULE),
// no sooner than NEGOTIATOR_MIN_INTERVAL after the last one, instead of
// waiting for the 60 s interval.
func TestSubmitAsksForANegotiation(t *testing.T) {
	jobs := []Job{
		{Submit: 10 * time.Minute, Runtime: time.Minute, Cpus: 1, MemoryMB: 1000},
		{Submit: 10*time.Minute + time.Second, Runtime: time.Minute, Cpus: 1, MemoryMB: 1000},
	}
	cfg := DemoConfig()
	cfg.Scaling.Min = 2 // two workers waiting before the jobs come
	for _, tc := range []struct {
		name  string
		delay time.Duration
		want  []time.Duration // waits
	}{
		// The first job's submit asks for a cycle at 10m03s; the second,
		// submitted at 10m01s, is matched in it too.
		{"reschedule", 3 * time.Second, []time.Duration{3 * time.Second, 2 * time.Second}},
		{"periodic only", -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &Trace{Name: "two", Jobs: jobs}
			opt := demoOptions()
			opt.Config, opt.RescheduleDelay = cfg, tc.delay
			res, err := Run(context.Background(), tr, opt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Finished != 2 {
				t.Fatalf("%d finished", res.Finished)
			}
			if tc.want == nil {
				t.Logf("mean wait %.1fs with the periodic cycle only", res.MeanWait)
				if res.MeanWait < 50 {
					t.Errorf("mean wait %.1fs without reschedule, want the next periodic cycle (~59 s)", res.MeanWait)
				}
				return
			}
			if want := (tc.want[0] + tc.want[1]).Seconds() / 2; res.MeanWait != want {
				t.Errorf("mean wait %.1fs, want %.1fs", res.MeanWait, want)
			}
		})
	}
}

// A worker that joins while its job waits gets it at the negotiation ehos
// asks for, not the next periodic one; a worker drained idle is deleted by
// the follow-up cycle seconds later, not a whole cycle later.
func TestRescheduleAndFollowUp(t *testing.T) {
	jobs := []Job{{Submit: 0, Runtime: time.Minute, Cpus: 1, MemoryMB: 1000}}
	cfg := DemoConfig()
	// Created at 30 s (the first cycle advertises the flavor ads the
	// demand is matched to), ACTIVE at 100 s, joined at 130 s; cycles at
	// 120 and 150 s, periodic negotiations at 0, 60, 120, 180 s.
	model := CloudModel{BootMean: 70 * time.Second, Seed: 1}
	for _, tc := range []struct {
		name     string
		off      bool
		wait     float64
		maxTailS float64 // drained → deleted, in core-seconds
	}{
		{"on", false, 153, 5},
		{"off", true, 180, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := demoOptions()
			opt.Config, opt.Cloud, opt.JoinDelay, opt.NoReschedule = cfg, model, 30*time.Second, tc.off
			if tc.off {
				opt.DrainRecheck = -1
			}
			res, err := Run(context.Background(), &Trace{Name: "one", Jobs: jobs}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Finished != 1 || res.Creates != 1 {
				t.Fatalf("%d finished, %d created", res.Finished, res.Creates)
			}
			if res.MeanWait != tc.wait {
				t.Errorf("wait %.1fs, want %.1fs", res.MeanWait, tc.wait)
			}
			if tail := res.Spent.Tail * 3600; tail > tc.maxTailS || tail < tc.maxTailS-5 {
				t.Errorf("drained → deleted %.1f core-seconds, want about %.0f", tail, tc.maxTailS)
			}
			if (res.FollowUps > 0) == tc.off {
				t.Errorf("%d follow-up cycles", res.FollowUps)
			}
		})
	}
}
