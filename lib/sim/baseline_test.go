package sim

import (
	"testing"
	"time"
)

// TestBaselineRule: one VM per cycle while jobs wait, whatever is booting;
// idle VMs deleted at once when nothing waits.
func TestBaselineRule(t *testing.T) {
	var jobs []Job
	for i := 0; i < 10; i++ {
		jobs = append(jobs, Job{Runtime: 10 * time.Minute, Cpus: 1, MemoryMB: 1000})
	}
	cfg := DemoConfig()
	w, err := NewWorld(cfg, DefaultFlavors(), DefaultQuota, CloudModel{BootMean: 2 * time.Minute}, 0, jobs)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBaseline(w, cfg, "m1.large")
	now := Epoch
	for i := 0; i < 4; i++ { // 4 cycles, 90 s: nothing has booted
		w.Advance(now)
		if err := b.Cycle(ctx, now); err != nil {
			t.Fatal(err)
		}
		now = now.Add(30 * time.Second)
	}
	if live, _ := w.Live(); live != 4 {
		t.Fatalf("%d VMs after 4 cycles with jobs waiting, want 4 (one per cycle)", live)
	}
	// boot, run the jobs (3 large VMs hold 12 cpus), finish
	w.Advance(Epoch.Add(3 * time.Minute))
	w.Pool.Negotiate(Epoch.Add(3 * time.Minute))
	if _, run, _, _ := w.Pool.Counts(); run != 10 {
		t.Fatalf("%d running, want 10", run)
	}
	now = Epoch.Add(20 * time.Minute)
	w.Advance(now)
	if err := b.Cycle(ctx, now); err != nil {
		t.Fatal(err)
	}
	if live, _ := w.Live(); live != 0 {
		t.Errorf("%d VMs left with nothing to do, want 0 (min 0, spare 0)", live)
	}
}
