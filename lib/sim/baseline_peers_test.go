package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/scale"
)

// cloudscheduler boots min(5, quota room, ⌈shortfall / flavor⌉), the
// larger of the cores and memory quotients, and nothing in a region with
// 5 VMs starting.
func TestCloudSchedulerBoots(t *testing.T) {
	small := scale.Resources{Cpus: 1, MemoryMB: 1792}
	large := scale.Resources{Cpus: 4, MemoryMB: 7168}
	for _, tc := range []struct {
		name           string
		short, size    scale.Resources
		room, starting int
		want           int
	}{
		{"shortfall of 3 cores", scale.Resources{Cpus: 3, MemoryMB: 4500}, small, -1, 0, 3},
		{"memory binds", scale.Resources{Cpus: 1, MemoryMB: 5000}, small, -1, 0, 3},
		{"5 per cloud per cycle", scale.Resources{Cpus: 40, MemoryMB: 60000}, small, -1, 0, 5},
		{"rounded up to whole VMs", scale.Resources{Cpus: 5, MemoryMB: 7500}, large, -1, 0, 2},
		{"quota room", scale.Resources{Cpus: 40, MemoryMB: 60000}, small, 2, 0, 2},
		{"no quota room", scale.Resources{Cpus: 40, MemoryMB: 60000}, small, 0, 0, 0},
		{"new-VM throttle", scale.Resources{Cpus: 40, MemoryMB: 60000}, small, -1, 5, 0},
		{"under the throttle", scale.Resources{Cpus: 40, MemoryMB: 60000}, small, -1, 4, 5},
		{"no shortfall", scale.Resources{Cpus: -4, MemoryMB: -100}, small, -1, 0, 0},
	} {
		if got := DefaultCloudScheduler.boots(tc.short, tc.size, tc.room, tc.starting); got != tc.want {
			t.Errorf("%s: boots %d, want %d", tc.name, got, tc.want)
		}
	}
}

// COBalD's LinearController: utilisation below 0.5 lowers demand, else
// allocation above 0.9 raises it, by 1 core a second.
func TestCOBalDRegulate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		alloc, util float64
		want        float64
	}{
		{"allocated: grow", 0.95, 0.7, 130},
		{"no drone supplies (both 1): grow", 1, 1, 130},
		{"unused: shrink", 0.95, 0.4, 70},
		{"utilisation wins over allocation", 1, 0.1, 70},
		{"in between: hold", 0.8, 0.6, 100},
		{"at the bounds: hold", 0.9, 0.5, 100},
	} {
		if got := DefaultCOBalD.regulate(100, tc.alloc, tc.util, 30*time.Second); got != tc.want {
			t.Errorf("%s: demand %g, want %g", tc.name, got, tc.want)
		}
	}
}

// COBalD's FactoryPool: releases whole drones while the demand over the
// target covers them, creates drones until their demand covers it.
func TestCOBalDFactory(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		live, supplying, cores  int
		demand                  float64
		wantRelease, wantCreate int
	}{
		{"from nothing", 0, 0, 4, 1, 0, 1},
		{"grow to cover", 2, 2, 4, 17, 0, 3},
		{"booting drones count", 5, 1, 4, 17, 0, 0},
		{"shrink whole drones only", 5, 5, 4, 10, 2, 0},
		{"keep one for the floor", 1, 1, 4, 1, 0, 0},
		{"shrink all", 3, 3, 4, 0, 3, 0},
		{"supply equals demand", 3, 3, 4, 12, 0, 0},
	} {
		rel, cr := factory(tc.live, tc.supplying, tc.cores, tc.demand)
		if rel != tc.wantRelease || cr != tc.wantCreate {
			t.Errorf("%s: release %d create %d, want %d and %d", tc.name, rel, cr, tc.wantRelease, tc.wantCreate)
		}
	}
}

func peerWorld(t *testing.T, jobs []Job) *World {
	t.Helper()
	w, err := NewWorld(DemoConfig(), DefaultFlavors(), DefaultQuota, CloudModel{BootMean: 2 * time.Minute}, 0, jobs)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// peerOffers is the demo config's usable offers on the default flavors.
func peerOffers(t *testing.T) []boundOffer {
	t.Helper()
	o, err := usableOffers(DemoConfig(), DefaultFlavors(), DefaultQuota)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func cycleAt(t *testing.T, w *World, p Policy, at time.Duration) {
	t.Helper()
	w.Advance(Epoch.Add(at))
	if err := p.Cycle(context.Background(), Epoch.Add(at)); err != nil {
		t.Fatal(err)
	}
}

// On the simulated cloud: 12 one-core jobs boot 5 of the smallest flavor
// in the first region, 5 more in the next while the first 5 start, no more
// while 10 VMs are idle, the last 2 once jobs run on the first 10; an idle
// VM goes after 120 s, not before.
func TestCloudSchedulerRule(t *testing.T) {
	var jobs []Job
	for i := 0; i < 12; i++ {
		jobs = append(jobs, Job{Runtime: 10 * time.Minute, Cpus: 1, MemoryMB: 1000})
	}
	w := peerWorld(t, jobs)
	cs := newCloudScheduler(w, DemoConfig(), peerOffers(t))
	cycleAt(t, w, cs, 0)
	live, _ := w.Live()
	if live != 5 || len(w.Clouds[0].Servers()) != 5 || w.Clouds[0].Servers()[0].VM.Flavor != "m1.small" {
		t.Fatalf("first cycle: %d VMs, want 5 m1.small", live)
	}
	cycleAt(t, w, cs, 30*time.Second)
	cycleAt(t, w, cs, time.Minute)
	cycleAt(t, w, cs, 90*time.Second)
	if live, _ := w.Live(); live != 10 {
		t.Fatalf("after 4 cycles: %d VMs, want 10 (5 a region, then each region has 5 starting)", live)
	}
	cycleAt(t, w, cs, 150*time.Second)
	if live, _ := w.Live(); live != 10 {
		t.Fatalf("10 idle VMs: %d VMs, want 10 (10 idle VMs stop boots)", live)
	}
	w.Pool.Negotiate(Epoch.Add(3 * time.Minute))
	cycleAt(t, w, cs, 3*time.Minute)
	if live, _ := w.Live(); live != 12 {
		t.Fatalf("10 jobs running: %d VMs, want 12 (the shortfall of 2 cores)", live)
	}
	cycleAt(t, w, cs, 5*time.Minute)
	w.Pool.Negotiate(Epoch.Add(5 * time.Minute))
	if _, run, _, _ := w.Pool.Counts(); run != 12 {
		t.Fatalf("%d running, want 12", run)
	}
	cycleAt(t, w, cs, 10*time.Minute) // all 12 seen running
	cycleAt(t, w, cs, 16*time.Minute) // every job ended by 15 min: first seen idle
	cycleAt(t, w, cs, 18*time.Minute) // idle 120 s: kept
	if live, _ := w.Live(); live != 12 {
		t.Fatalf("idle for 120 s: %d VMs, want 12 (keep-alive is 120 s)", live)
	}
	cycleAt(t, w, cs, 18*time.Minute+time.Second)
	if live, _ := w.Live(); live != 0 {
		t.Errorf("idle past keep-alive: %d VMs, want 0", live)
	}
}

// On the simulated cloud: from nothing the factory makes one drone (the
// floor), then demand grows 30 cores a cycle while no drone supplies
// (allocation 1); once drones idle (utilisation 0) demand falls 30 a cycle
// and whole drones are released, down to the floor's one.
func TestCOBalDRule(t *testing.T) {
	w := peerWorld(t, []Job{{Submit: 10 * time.Hour, Runtime: time.Minute, Cpus: 1, MemoryMB: 1000}})
	o := peerOffers(t)
	var large boundOffer
	for _, x := range o {
		if x.Name == "m1.large" {
			large = x
		}
	}
	c := newCOBalD(w, DemoConfig(), large, DefaultCOBalD)
	cycleAt(t, w, c, 0)
	if live, _ := w.Live(); live != 1 {
		t.Fatalf("first cycle: %d drones, want 1 (demand at the floor, 1 core)", live)
	}
	cycleAt(t, w, c, 30*time.Second)
	if live, _ := w.Live(); live != 8 || c.demand != 31 {
		t.Fatalf("second cycle: %d drones, demand %g; want 8 (⌈31/4⌉), 31", live, c.demand)
	}
	cycleAt(t, w, c, 60*time.Second)
	cycleAt(t, w, c, 90*time.Second)
	if live, _ := w.Live(); live != 23 || c.demand != 91 {
		t.Fatalf("fourth cycle: %d drones, demand %g; want 23 (⌈91/4⌉), 91", live, c.demand)
	}
	cycleAt(t, w, c, 150*time.Second) // 8 joined, idle: utilisation 0
	if c.demand != 31 {
		t.Fatalf("demand %g, want 31 (91 − 60 s × 1 core/s)", c.demand)
	}
	released := 0
	for _, d := range c.drones {
		if d.released {
			released++
		}
	}
	if released != 15 {
		t.Errorf("%d drones released, want 15 (23 × 4 − 31 covers 15 whole drones)", released)
	}
	for i := 0; i < 4; i++ {
		cycleAt(t, w, c, 180*time.Second+time.Duration(i)*30*time.Second)
	}
	if live, _ := w.Live(); live != 1 || c.demand != 1 {
		t.Errorf("%d drones, demand %g; want 1 and the floor, 1", live, c.demand)
	}
}
