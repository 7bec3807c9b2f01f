package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

var (
	poolNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	tagNameRE  = regexp.MustCompile(`^[a-z0-9_]+$`)
	hostRE     = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$`)
	privNetRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// Validate returns every problem at once (joined with errors.Join), each
// naming the key path and the bad value. Call it after defaults are applied.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, val any, why string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %v: %s", key, fmtVal(val), fmt.Sprintf(why, args...)))
	}

	p := c.Pool
	if !poolNameRE.MatchString(p.Name) {
		bad("pool.name", p.Name, "must be 1-40 lower-case letters, digits or '-', starting with a letter or digit (it goes into VM names and metadata)")
	}
	if p.CentralManager == "" {
		bad("pool.central_manager", p.CentralManager, "is required: the address workers use to reach the collector")
	} else if strings.ContainsAny(p.CentralManager, " \t\n\"'<>") {
		bad("pool.central_manager", p.CentralManager, "is not a host name or address")
	}
	if p.HAPeer != "" {
		if _, _, err := SplitPeer(p.HAPeer); err != nil {
			bad("pool.ha_peer", p.HAPeer, "%v", err)
		} else if sameCollector(p.CentralManager, p.HAPeer, p.CollectorPort) {
			bad("pool.ha_peer", p.HAPeer, "is pool.central_manager's collector: name the other central manager of the pair")
		}
	}
	if p.CollectorPort < 1 || p.CollectorPort > 65535 {
		bad("pool.collector_port", p.CollectorPort, "must be 1-65535")
	}
	if p.Owner == "" {
		bad("pool.owner", p.Owner, "is required (default: pool.name)")
	}

	s := c.Scaling
	for _, f := range []struct {
		key string
		v   int
	}{{"scaling.min", s.Min}, {"scaling.spare", s.Spare}} {
		if f.v < 0 {
			bad(f.key, f.v, "must be 0 or more")
		}
	}
	if s.Max < 1 {
		bad("scaling.max", s.Max, "must be 1 or more (set clouds[].enabled: false to stop creating VMs)")
	}
	if s.Min > s.Max {
		bad("scaling.min", s.Min, "is above scaling.max (%d)", s.Max)
	}
	if s.Spare > s.Max {
		bad("scaling.spare", s.Spare, "is above scaling.max (%d)", s.Max)
	}
	if s.MaxBooting < 1 {
		bad("scaling.max_booting", s.MaxBooting, "must be 1 or more")
	}
	if s.MaxCreatesPerCycle < 1 {
		bad("scaling.max_creates_per_cycle", s.MaxCreatesPerCycle, "must be 1 or more")
	}
	for _, f := range []struct {
		key string
		v   time.Duration
		min time.Duration
	}{
		{"scaling.cycle", s.Cycle, time.Second},
		{"scaling.idle_before_retire", s.IdleBeforeRetire, 0},
		{"scaling.min_lifetime", s.MinLifetime, 0},
		{"scaling.boot_timeout", s.BootTimeout, 10 * time.Second},
		{"scaling.drain_timeout", s.DrainTimeout, time.Second},
		{"scaling.delete_timeout", s.DeleteTimeout, time.Second},
		{"scaling.orphan_grace", s.OrphanGrace, 0},
		{"scaling.unmatched_after", s.UnmatchedAfter, 0},
		{"scaling.headroom_window", s.HeadroomWindow, 0},
		{"scaling.backoff_initial", s.BackoffInitial, time.Second},
		{"scaling.backoff_max", s.BackoffMax, time.Second},
		{"worker.max_lifetime", c.Worker.MaxLifetime, 0},
	} {
		if f.v < f.min {
			bad(f.key, f.v, "must be at least %s", f.min)
		}
	}
	if s.BackoffMax < s.BackoffInitial {
		bad("scaling.backoff_max", s.BackoffMax, "is below scaling.backoff_initial (%s)", s.BackoffInitial)
	}

	if len(c.Clouds) == 0 {
		bad("clouds", "[]", "at least one cloud is required")
	}
	seen := map[string]bool{}
	for i, cl := range c.Clouds {
		k := fmt.Sprintf("clouds[%d]", i)
		if cl.Name == "" {
			bad(k+".name", cl.Name, "is required: the name of an entry in clouds.yaml, or \"envvars\" for OS_* variables")
		} else if seen[cl.Name] {
			bad(k+".name", cl.Name, "is listed twice")
		}
		seen[cl.Name] = true
		if cl.Image == "" {
			bad(k+".image", cl.Image, "is required (name or id)")
		}
		if len(cl.Flavors) == 0 {
			bad(k+".flavors", "[]", "at least one flavor is required")
		}
		for j, f := range cl.Flavors {
			if strings.TrimSpace(f) == "" {
				bad(fmt.Sprintf("%s.flavors[%d]", k, j), f, "is empty")
			}
		}
		for name := range cl.FlavorOverrides {
			if !contains(cl.Flavors, name) {
				bad(k+".flavor_overrides."+name, name, "is not in %s.flavors", k)
			}
		}
		for j, r := range cl.Regions {
			if strings.TrimSpace(r) == "" {
				bad(fmt.Sprintf("%s.regions[%d]", k, j), r, "is empty")
			}
		}
		for name := range cl.RegionOverrides {
			if len(cl.Regions) > 0 && !contains(cl.Regions, name) {
				bad(k+".region_overrides."+name, name, "is not in %s.regions", k)
			}
		}
		// The network as this cloud's workers see it (docs/network.md).
		netKeys := map[string]cloud.RegionConfig{k: {CentralManager: cl.CentralManager, HAPeer: cl.HAPeer, PrivateNetwork: cl.PrivateNetwork}}
		for name, o := range cl.RegionOverrides {
			netKeys[k+".region_overrides."+name] = o
		}
		for key, o := range netKeys {
			if o.CentralManager != "" && !hostRE.MatchString(o.CentralManager) {
				bad(key+".central_manager", o.CentralManager, "is not a host name or IPv4/IPv6 address (no port, no scheme: the port is pool.collector_port)")
			}
			if o.HAPeer != "" {
				if _, _, err := SplitPeer(o.HAPeer); err != nil {
					bad(key+".ha_peer", o.HAPeer, "%v", err)
				} else if p.HAPeer == "" {
					bad(key+".ha_peer", o.HAPeer, "is set but pool.ha_peer is not: a cloud's address of the other central manager only means something in a pool of two")
				}
			}
			if o.PrivateNetwork != "" && !privNetRE.MatchString(o.PrivateNetwork) {
				bad(key+".private_network", o.PrivateNetwork, "must be letters, digits, '.', '_' or '-' (HTCondor's PRIVATE_NETWORK_NAME)")
			}
		}
		// Workers told another address of the central manager (a floating
		// IP from a remote cloud) cannot be assumed to reach the peer at
		// the pool's address for it either.
		if p.HAPeer != "" {
			sites := map[string]cloud.RegionConfig{k: cl.InRegion("")}
			for name := range cl.RegionOverrides {
				sites[k+".region_overrides."+name] = cl.InRegion(name)
			}
			for key, site := range sites {
				if site.CentralManager != "" && site.HAPeer == "" {
					bad(key+".ha_peer", "", "is required: its workers are told central_manager %s, so give the address they reach the other central manager at (pool.ha_peer %s is the pool's own)", site.CentralManager, p.HAPeer)
				}
				if own := netKeys[key].HAPeer; own != "" {
					if cm, peer := p.CentralManagersAt(site); sameCollector(cm, peer, p.CollectorPort) {
						bad(key+".ha_peer", own, "is the collector its workers are told as central_manager (%s): name the other central manager of the pair", cm)
					}
				}
			}
		}
		if cl.MaxVMs < 0 {
			bad(k+".max_vms", cl.MaxVMs, "must be 0 (no limit) or more")
		}
		if cl.Weight < 0 {
			bad(k+".weight", cl.Weight, "must be 0 or more")
		}
	}

	for name := range c.TemplateVars {
		if !tagNameRE.MatchString(name) {
			bad("template_vars."+name, name, "tag names are lower-case letters, digits and '_'")
		}
	}

	margin := c.TokenMargin()
	if c.Worker.TokenLifetime < time.Hour {
		bad("worker.token_lifetime", c.Worker.TokenLifetime, "must be at least 1h")
	} else if c.Worker.TokenLifetime <= margin {
		bad("worker.token_lifetime", c.Worker.TokenLifetime, "leaves workers no lifetime: it must be longer than scaling.drain_timeout (%s) + scaling.cycle (%s), the time a worker is drained before its token expires",
			c.Scaling.DrainTimeout, c.Scaling.Cycle)
	}
	if ml := c.Worker.MaxLifetime; ml > 0 && ml > c.Worker.TokenLifetime-margin {
		bad("worker.max_lifetime", ml, "is above worker.token_lifetime (%s) minus scaling.drain_timeout (%s) and scaling.cycle (%s): a worker drained at that age could lose its token before its jobs end; lower worker.max_lifetime to %s or less, or raise worker.token_lifetime",
			c.Worker.TokenLifetime, c.Scaling.DrainTimeout, c.Scaling.Cycle, max(c.Worker.TokenLifetime-margin, 0))
	}
	if ml := c.WorkerMaxLifetime(); ml > 0 && s.MinLifetime > ml {
		bad("scaling.min_lifetime", s.MinLifetime, "is above the workers' maximum lifetime (%s: worker.max_lifetime, or worker.token_lifetime minus scaling.drain_timeout and scaling.cycle)", ml)
	}
	if id := c.Worker.TokenIdentity; strings.Count(id, IdentityName) != 1 || !strings.Contains(id, "@") || strings.ContainsAny(id, " \t\n\"',*/\\") {
		bad("worker.token_identity", id, "must hold %s once (each worker's own identity, e.g. %s@<trust_domain>) and one @, and no space, quote, comma, '*' or '/': one identity shared by all workers would let any of them speak for the others", IdentityName, IdentityName)
	}
	for _, k := range []struct{ key, id string }{{"pool.provisioner_identity", c.Pool.ProvisionerIdentity}, {"pool.demand_identity", c.Pool.DemandIdentity}} {
		if strings.Count(k.id, "@") != 1 || strings.ContainsAny(k.id, " \t\n\"',*/\\{}") {
			bad(k.key, k.id, "must be one identity user@domain (what the collector stamps as AuthenticatedIdentity on its ads), with no space, quote, comma, '*', '/' or brace")
		} else if c.Worker.IsIdentity(k.id) {
			bad(k.key, k.id, "has the form of a worker's identity (worker.token_identity %s): a worker's token could then write what only it may", c.Worker.TokenIdentity)
		}
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", c.Log.Format, "must be json or console")
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, "must be one of trace, debug, info, warn, error")
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fmtVal(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	default:
		return fmt.Sprint(t)
	}
}

// sameCollector says peer (host[:port]) names the collector at cm on the
// pool's port: workers told both report to one central manager twice.
func sameCollector(cm, peer string, port int) bool {
	h, p, err := SplitPeer(peer)
	return err == nil && h == cm && (p == 0 || p == port)
}
