package provision

import (
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/scale"
)

// KnobsFrom maps ehos.yaml's scaling knobs onto the decision's.
func KnobsFrom(c *config.Config) scale.Knobs {
	s := c.Scaling
	unmatched := s.UnmatchedAfter
	if unmatched == 0 {
		unmatched = -1 // ehos.yaml's 0 is "off"; the decision's is "default"
	}
	return scale.Knobs{
		UnmatchedAfter: unmatched, HeadroomWindow: s.HeadroomWindow,
		Min: s.Min, Max: s.Max, Spare: s.Spare, MaxBooting: s.MaxBooting, MaxCreatesPerCycle: s.MaxCreatesPerCycle,
		IdleBeforeRetire: s.IdleBeforeRetire, MinLifetime: s.MinLifetime, MaxLifetime: c.WorkerMaxLifetime(),
		BootTimeout: s.BootTimeout, DrainTimeout: s.DrainTimeout, DeleteTimeout: s.DeleteTimeout,
	}
}

// OptionsFrom fills the Options ehos.yaml decides; the caller adds Clouds,
// Log and anything else.
func OptionsFrom(c *config.Config) Options {
	return Options{
		Pool:           c.Pool.Name,
		Owner:          c.Pool.Owner,
		Knobs:          KnobsFrom(c),
		Cycle:          c.Scaling.Cycle,
		DryRun:         c.Scaling.DryRun,
		OrphanGrace:    c.Scaling.OrphanGrace,
		BackoffInitial: c.Scaling.BackoffInitial,
		BackoffMax:     c.Scaling.BackoffMax,
	}
}
