package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/wire"
)

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdline.Usagef(c, "unexpected argument %q: ehos_provisioner takes options only", c.Args().First())
	}
	stop, hard := signals()
	s := wire.Settings{Config: c.String("config"), Clouds: c.String("clouds"), DryRun: c.Bool("dry-run"),
		LogFile: c.String("log-file"), LogFormat: c.String("log-format"), Verbosity: verbosity}
	if c.Bool("once") {
		// By hand: an unreachable Keystone or collector must not hold the
		// one cycle for the tools' own, longer limits.
		var cancel context.CancelFunc
		s.Timeout = c.Duration("timeout")
		hard, cancel = context.WithTimeout(hard, s.Timeout)
		defer cancel()
	}
	r, err := wire.Provisioner(hard, s)
	if err != nil {
		return err
	}
	defer r.Close()
	if c.Bool("once") {
		return once(hard, r, s.Timeout)
	}
	err = r.P.Run(stop, func() context.Context { return hard })
	if errors.Is(hard.Err(), context.Canceled) {
		r.Log.Info().Msg("SIGQUIT: stopped at once")
	} else {
		r.Log.Info().Msg("stopped after the cycle")
	}
	return err
}

// once runs one cycle; its errors are the command's.
func once(ctx context.Context, r wire.Running, timeout time.Duration) error {
	rep, err := r.P.RunOnce(ctx, time.Now())
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("gave up after --timeout %s: %w", timeout, errors.Join(err, ctx.Err()))
	}
	if err != nil {
		return err
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("cycle had errors:\n  %s", strings.Join(rep.Errors, "\n  "))
	}
	return nil
}
