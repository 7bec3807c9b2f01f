package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Knob is one EHOS_* HTCondor configuration knob that overrides a key of
// ehos.yaml. The central manager's config.d snippet lists them all with their
// defaults; condor_config_val reads them.
type Knob struct {
	Name string // e.g. EHOS_MAX_NODES
	Key  string // ehos.yaml key it overrides, e.g. scaling.max
	set  func(c *Config, v string) error
}

// Knobs lists every knob ehos reads, in a stable order. EHOS_CONFIG (the path
// of ehos.yaml) and EHOS_PROVISIONER_LOG are read by the provisioner itself.
var Knobs = []Knob{
	{"EHOS_POOL_NAME", "pool.name", str(func(c *Config) *string { return &c.Pool.Name })},
	{"EHOS_CENTRAL_MANAGER", "pool.central_manager", str(func(c *Config) *string { return &c.Pool.CentralManager })},
	{"EHOS_HA_PEER", "pool.ha_peer", str(func(c *Config) *string { return &c.Pool.HAPeer })},
	{ProvisionerIdentityKnob, "pool.provisioner_identity", str(func(c *Config) *string { return &c.Pool.ProvisionerIdentity })},
	{"EHOS_DEMAND_IDENTITY", "pool.demand_identity", str(func(c *Config) *string { return &c.Pool.DemandIdentity })},
	{"EHOS_MIN_NODES", "scaling.min", num(func(c *Config) *int { return &c.Scaling.Min })},
	{"EHOS_MAX_NODES", "scaling.max", num(func(c *Config) *int { return &c.Scaling.Max })},
	{"EHOS_SPARE_NODES", "scaling.spare", num(func(c *Config) *int { return &c.Scaling.Spare })},
	{"EHOS_MAX_BOOTING", "scaling.max_booting", num(func(c *Config) *int { return &c.Scaling.MaxBooting })},
	{"EHOS_MAX_CREATES_PER_CYCLE", "scaling.max_creates_per_cycle", num(func(c *Config) *int { return &c.Scaling.MaxCreatesPerCycle })},
	{"EHOS_CYCLE", "scaling.cycle", dur(func(c *Config) *time.Duration { return &c.Scaling.Cycle })},
	{"EHOS_IDLE_BEFORE_RETIRE", "scaling.idle_before_retire", dur(func(c *Config) *time.Duration { return &c.Scaling.IdleBeforeRetire })},
	{"EHOS_MIN_LIFETIME", "scaling.min_lifetime", dur(func(c *Config) *time.Duration { return &c.Scaling.MinLifetime })},
	{"EHOS_BOOT_TIMEOUT", "scaling.boot_timeout", dur(func(c *Config) *time.Duration { return &c.Scaling.BootTimeout })},
	{"EHOS_DRAIN_TIMEOUT", "scaling.drain_timeout", dur(func(c *Config) *time.Duration { return &c.Scaling.DrainTimeout })},
	{"EHOS_DELETE_TIMEOUT", "scaling.delete_timeout", dur(func(c *Config) *time.Duration { return &c.Scaling.DeleteTimeout })},
	{"EHOS_ORPHAN_GRACE", "scaling.orphan_grace", dur(func(c *Config) *time.Duration { return &c.Scaling.OrphanGrace })},
	{"EHOS_UNMATCHED_AFTER", "scaling.unmatched_after", dur(func(c *Config) *time.Duration { return &c.Scaling.UnmatchedAfter })},
	{"EHOS_HEADROOM_WINDOW", "scaling.headroom_window", dur(func(c *Config) *time.Duration { return &c.Scaling.HeadroomWindow })},
	{"EHOS_DRY_RUN", "scaling.dry_run", boolean(func(c *Config) *bool { return &c.Scaling.DryRun })},
	{"EHOS_MAX_LIFETIME", "worker.max_lifetime", dur(func(c *Config) *time.Duration { return &c.Worker.MaxLifetime })},
	{"EHOS_LOG_LEVEL", "log.level", str(func(c *Config) *string { return &c.Log.Level })},
	{"EHOS_LOG_FORMAT", "log.format", str(func(c *Config) *string { return &c.Log.Format })},
}

// ProvisionerIdentityKnob names the provisioner's identity on the central
// manager, where the negotiator's rank reads it too.
const ProvisionerIdentityKnob = "EHOS_PROVISIONER_IDENTITY"

// KnobNames returns the names of all knobs, for one condor_config_val call.
func KnobNames() []string {
	out := make([]string, len(Knobs))
	for i, k := range Knobs {
		out[i] = k.Name
	}
	return out
}

// ApplyKnobs overlays knob values (as condor_config_val prints them; absent
// or empty means unset) on c. Every bad value is reported, naming the knob,
// the key it overrides and the value. Call Validate afterwards.
func (c *Config) ApplyKnobs(values map[string]string) error {
	var errs []error
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	byName := map[string]Knob{}
	for _, k := range Knobs {
		byName[k.Name] = k
	}
	for _, n := range names {
		v := strings.TrimSpace(values[n])
		k, ok := byName[strings.ToUpper(n)]
		if !ok || v == "" {
			continue
		}
		if err := k.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("knob %s (overrides %s): %q: %w", k.Name, k.Key, v, err))
		}
	}
	return errors.Join(errs...)
}

func str(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func num(f func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not a whole number")
		}
		*f(c) = n
		return nil
	}
}

func boolean(f func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "true", "yes", "1", "on":
			*f(c) = true
		case "false", "no", "0", "off":
			*f(c) = false
		default:
			return errors.New("not a boolean (true or false)")
		}
		return nil
	}
}

// dur accepts HTCondor's habit (whole seconds) and Go durations ("5m").
func dur(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		if n, err := strconv.Atoi(v); err == nil {
			*f(c) = time.Duration(n) * time.Second
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (seconds, or like 90s, 5m, 2h)")
		}
		*f(c) = d
		return nil
	}
}
