package config

import (
	"os"
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
	host, _ := os.Hostname()
	return Config{
		Pool: Pool{CollectorPort: 9618, Owner: host},
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
	if c.Pool.TrustDomain == "" {
		c.Pool.TrustDomain = c.Pool.CentralManager
	}
	if c.Pool.UIDDomain == "" {
		c.Pool.UIDDomain = c.Pool.CentralManager
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
		c.Worker.TokenLifetime = 7 * 24 * time.Hour
		if c.Worker.MaxLifetime >= c.Worker.TokenLifetime {
			c.Worker.TokenLifetime = c.Worker.MaxLifetime + time.Hour
		}
	}
}
