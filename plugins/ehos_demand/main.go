// Command ehos_demand is the demand reporter: a scheduler-universe job (one
// per schedd, condor-config/ehos_demand.submit) that advertises the schedd's
// idle jobs, grouped by autocluster, as EHOSDemand ads. The logic is in
// lib/demand.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/version"
)

func main() {
	app := &cli.App{
		Name:    "ehos_demand",
		Usage:   "advertise one schedd's idle-job demand as EHOSDemand ads",
		Version: version.Version,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 20 * time.Second, EnvVars: []string{"EHOS_DEMAND_INTERVAL"}, Usage: "time between reports"},
			&cli.DurationFlag{Name: "lifetime", EnvVars: []string{"EHOS_DEMAND_LIFETIME"}, Usage: "ClassAdLifetime of the ads (default: 4 intervals)"},
			&cli.StringFlag{Name: "schedd", EnvVars: []string{"EHOS_SCHEDD_NAME"}, Usage: "the schedd's Name (default: the only schedd in the collector)"},
			&cli.StringFlag{Name: "pool", EnvVars: []string{"EHOS_POOL_NAME"}, Usage: "ehos pool name, written as EHOSPool (default: the HTCondor knob EHOS_POOL_NAME, else pool.name of the ehos.yaml that EHOS_CONFIG names)"},
			&cli.StringFlag{Name: "collector", EnvVars: []string{"EHOS_COLLECTOR"}, Usage: "collector host:port (default: the HTCondor configuration's)"},
			&cli.StringFlag{Name: "condor-bin", EnvVars: []string{"EHOS_CONDOR_BIN"}, Usage: "directory of HTCondor's tools (default: $PATH)"},
			&cli.IntFlag{Name: "count", Usage: "report this many times, then exit (0: until stopped)"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"EHOS_LOG_LEVEL"}},
		},
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "ehos_demand:", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	cmdline.DefaultPath()
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := zerolog.New(os.Stderr).Level(level).With().Timestamp().Str("component", "ehos_demand").Logger()
	interval := c.Duration("interval")
	if interval <= 0 {
		return fmt.Errorf("--interval must be positive, got %s", interval)
	}
	lifetime := c.Duration("lifetime")
	if lifetime == 0 {
		lifetime = 4 * interval
	}
	if lifetime < interval {
		return fmt.Errorf("--lifetime %s is shorter than --interval %s: ads would vanish between reports", lifetime, interval)
	}
	cl := &condor.Client{BinDir: c.String("condor-bin")}
	if col := c.String("collector"); col != "" {
		cl.Env = append(cl.Env, "_CONDOR_COLLECTOR_HOST="+col)
	}
	pool, from, err := demand.ResolvePool(c.Context, cl, os.ReadFile, c.String("pool"))
	if err != nil {
		return err
	}
	r := &demand.Reporter{Condor: cl, Schedd: c.String("schedd"), Pool: pool, Lifetime: lifetime, Log: log}

	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer stop()
	if n := c.Int("count"); n > 0 {
		for i := 0; i < n && ctx.Err() == nil; i++ {
			if i > 0 {
				time.Sleep(interval)
			}
			st, err := r.Cycle(ctx, time.Now())
			if err != nil {
				return err
			}
			log.Info().Str("schedd", st.Schedd).Int("groups", st.Groups).Int("idle", st.Idle).Int("advertised", st.Advertised).Int("withdrawn", st.Withdrawn).Int("skipped", st.Skipped).
				Int64("bytes", st.BytesRead).Dur("took", st.Duration).Msg("demand reported")
		}
		return nil
	}
	log.Info().Dur("interval", interval).Dur("lifetime", lifetime).Str("schedd", r.Schedd).Str("pool", pool).Str("pool_from", from).Msg("starting")
	return r.Run(ctx, interval)
}
