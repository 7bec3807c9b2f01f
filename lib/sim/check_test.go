package sim

import (
	"strings"
	"testing"
	"time"
)

func smallTrace(jobs ...Job) *Trace { return &Trace{Name: "t.csv", Jobs: jobs} }

// Options that cannot run a trace are refused before anything runs, each
// problem named.
func TestCheckRefuses(t *testing.T) {
	one := smallTrace(Job{Runtime: time.Minute, Cpus: 1, MemoryMB: 100})
	for _, tc := range []struct {
		name  string
		trace *Trace
		edit  func(*Options)
		want  string
	}{
		{"no instances", one, func(o *Options) { o.Quota.MaxInstances = 0 }, "quota per region (instances 0, cores 200, RAM 409600 MB) holds no configured flavor: m1.small (1 vcpus, 2048 MB)"},
		{"too few cores", one, func(o *Options) { o.Quota.MaxCores = 0 }, "holds no configured flavor"},
		{"too little RAM", one, func(o *Options) { o.Quota.MaxRAMMB = 1000 }, "holds no configured flavor"},
		{"unknown baseline flavor", one, func(o *Options) { o.BaselineFlavor = "m1.nope" }, `--baseline-flavor "m1.nope" is not a configured flavor within the quota (configured: m1.large, m1.medium, m1.small)`},
		{"baseline flavor over the quota", one, func(o *Options) { o.BaselineFlavor, o.Quota.MaxCores = "m1.large", 2 }, `--baseline-flavor "m1.large" is not a configured flavor`},
		{"no size", one, func(o *Options) { o.Config.Clouds[0].Flavors = []string{"weird"} }, `clouds[0].flavors: "weird" has no size`},
		{"nothing fits", smallTrace(Job{Runtime: time.Minute, Cpus: 16}, Job{Runtime: time.Minute, Cpus: 16}), func(*Options) {}, "no configured flavor within the quota holds any job of the trace (2× 16 cpus 0 MB; flavors: configured: m1.large, m1.medium, m1.small)"},
		{"cycle", one, func(o *Options) { o.Config.Scaling.Cycle = 0 }, "scaling.cycle 0s must be positive"},
		{"no config", one, func(o *Options) { o.Config = nil }, "no configuration"},
	} {
		opt := demoOptions()
		tc.edit(&opt)
		err := Check(tc.trace, opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		if _, err := Run(ctx, tc.trace, opt); err == nil {
			t.Errorf("%s: Run ran what Check refuses", tc.name)
		}
	}
	// A flavor over the quota is left out, not refused, while another fits.
	opt := demoOptions()
	opt.Quota.MaxCores = 2
	if err := Check(one, opt); err != nil {
		t.Errorf("m1.small and m1.medium fit 2 cores: %v", err)
	}
	offers, _ := usableOffers(opt.Config, opt.Flavors, opt.Quota)
	if len(offers) != 2 || hasOffer(offers, "m1.large") {
		t.Errorf("offers within 2 cores: %+v", offers)
	}
}

// The baseline's one flavor: the smallest that holds every job, the one
// asked for, or the reason it cannot run.
func TestBaselineFlavor(t *testing.T) {
	wide := smallTrace(Job{Runtime: time.Minute, Cpus: 1}, Job{Runtime: time.Minute, Cpus: 3})
	opt := demoOptions()
	if fl, err := BaselineFlavor(wide, opt); fl != "m1.large" || err != nil {
		t.Errorf("default: %q %v, want m1.large", fl, err)
	}
	opt.BaselineFlavor = "m1.medium"
	if _, err := BaselineFlavor(wide, opt); err == nil || !strings.Contains(err.Error(), "its one flavor m1.medium holds not every job: 1 do not fit (1× 3 cpus 0 MB)") {
		t.Errorf("m1.medium: %v", err)
	}
	opt.BaselineFlavor = ""
	opt.Config.Clouds[0].Flavors = []string{"m1.small", "m1.medium"}
	if _, err := BaselineFlavor(wide, opt); err == nil || !strings.Contains(err.Error(), "no configured flavor holds every job") {
		t.Errorf("none holds all: %v", err)
	}
}

// The bound charges the shortest boot the cloud can draw.
func TestMinBoot(t *testing.T) {
	for _, tc := range []struct {
		m    CloudModel
		join time.Duration
		want time.Duration
	}{
		{CloudModel{BootMean: 90 * time.Second, BootJitter: 30 * time.Second}, 30 * time.Second, 90 * time.Second},
		{CloudModel{BootMean: 10 * time.Second, BootJitter: 30 * time.Second}, 0, time.Second},
		{CloudModel{BootMean: time.Minute}, 5 * time.Second, 65 * time.Second},
	} {
		if got := minBoot(tc.m, tc.join); got != tc.want {
			t.Errorf("%+v join %s: %s, want %s", tc.m, tc.join, got, tc.want)
		}
	}
}
