package config

import (
	"time"
)

// Default locations, as the original tool documented them: an admin's edited
// copy in the etc directory wins over the shipped one in the share directory.
const (
	DefaultEtcDir   = "/usr/local/etc/ehos"
	DefaultShareDir = "/usr/local/share/ehos"
)

// Default returns a Config with every scalar default set. Parse decodes the
// file over it, so a value the file sets (even 0 or false) wins, and one it
// leaves out keeps its default. This is the one place defaults live.
func Default() Config {
	return Config{
		Pool: Pool{CollectorPort: DefaultCollectorPort},
		Scaling: Scaling{
			Max:                10,
			MaxBooting:         10,
			MaxCreatesPerCycle: 5,
			Cycle:              30 * time.Second,
			IdleBeforeRetire:   2 * time.Minute,
			BootTimeout:        15 * time.Minute,
			DrainTimeout:       2 * time.Hour,
			DeleteTimeout:      5 * time.Minute,
			OrphanGrace:        10 * time.Minute,
			UnmatchedAfter:     3 * time.Minute, // scale.DefaultUnmatchedAfter
			HeadroomWindow:     5 * time.Minute,
			BackoffInitial:     30 * time.Second,
			BackoffMax:         15 * time.Minute,
		},
		Templates: Templates{
			Worker:   "worker.yaml",
			Master:   "master.yaml",
			Base:     "base.yaml",
			EtcDir:   DefaultEtcDir,
			ShareDir: DefaultShareDir,
		},
		Worker: Worker{TokenKey: "POOL"},
		Log:    Log{Format: "json", Level: "info"},
	}
}

// applyDerived fills the defaults that depend on other values.
func (c *Config) applyDerived() {
	if c.Pool.Owner == "" {
		c.Pool.Owner = c.Pool.Name
	}
	if c.Pool.TrustDomain == "" {
		c.Pool.TrustDomain = c.Pool.CentralManager
	}
	if c.Pool.UIDDomain == "" {
		c.Pool.UIDDomain = c.Pool.CentralManager
	}
	c.Pool.ProvisionerIdentity = c.Pool.Provisioner()
	if c.Pool.DemandIdentity == "" {
		c.Pool.DemandIdentity = DefaultUser + "@" + c.Pool.UIDDomain
	}
	if c.Worker.TokenIdentity == "" {
		c.Worker.TokenIdentity = IdentityName + "@" + c.Pool.TrustDomain
	}
	for i := range c.Clouds {
		if c.Clouds[i].Weight == 0 {
			c.Clouds[i].Weight = 1
		}
	}
	if c.Worker.TokenLifetime == 0 {
		c.Worker.TokenLifetime = DefaultTokenLifetime
		if need := c.Worker.MaxLifetime + c.TokenMargin(); c.Worker.MaxLifetime > 0 && need > c.Worker.TokenLifetime {
			c.Worker.TokenLifetime = need
		}
	}
}

// DefaultTokenLifetime is worker.token_lifetime when ehos.yaml leaves it
// out (and worker.max_lifetime does not ask for longer).
const DefaultTokenLifetime = 7 * 24 * time.Hour

// TokenMargin is how long before its token expires a worker is drained:
// the drain is sent within a cycle of max_lifetime, and its running jobs
// then have drain_timeout to finish while the worker can still speak to
// the pool.
func (c *Config) TokenMargin() time.Duration {
	return c.Scaling.DrainTimeout + c.Scaling.Cycle
}

// WorkerMaxLifetime is the age at which workers are drained peacefully:
// worker.max_lifetime, or when that is 0, worker.token_lifetime minus
// TokenMargin, so that no worker outlives its token. It is computed when
// asked, so HTCondor knobs (EHOS_MAX_LIFETIME, EHOS_DRAIN_TIMEOUT, ...)
// applied after the file count.
func (c *Config) WorkerMaxLifetime() time.Duration {
	if c.Worker.MaxLifetime > 0 {
		return c.Worker.MaxLifetime
	}
	return max(c.Worker.TokenLifetime-c.TokenMargin(), 0)
}
