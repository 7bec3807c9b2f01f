package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func drainCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:      "drain",
		Usage:     "drain a worker gracefully: its jobs finish, it takes no new ones",
		ArgsUsage: "NODE",
		UsageText: "ehos drain ehos-demo-3f2a9c1b\n" +
			"   ehos drain worker7.example.org   # Machine or a slot Name works too",
		Description: "NODE is the worker's EHOSName (ehos nodes lists them), its Machine or a slot\n" +
			"Name. Nodes that are not ehos workers of this pool are refused. The\n" +
			"provisioner deletes a drained worker's VM once it is empty; `ehos retire`\n" +
			"does it at once.",
		Flags: []cli.Flag{dryRunFlag},
		Action: func(c *cli.Context) error {
			w, err := findWorker(c, d, log)
			if err != nil {
				return err
			}
			if c.Bool("dry-run") {
				fmt.Fprintf(c.App.Writer, "would drain %s (%s) (--dry-run)\n", w.Name, w.DrainName())
				return nil
			}
			ctx, _, done := bounded(c, "the startd (condor_drain)")
			defer done()
			if err := d.condorClient(c).Drain(ctx, w.DrainName(), true); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "draining %s (%s): running jobs finish, no new ones start\n", w.Name, w.DrainName())
			return nil
		},
	}
}

var dryRunFlag = &cli.BoolFlag{Name: "dry-run", Usage: "find the node and say what would be done, do nothing"}

func findWorker(c *cli.Context, d *deps, log *zerolog.Logger) (admin.Worker, error) {
	if c.NArg() != 1 {
		return admin.Worker{}, cmdline.Usagef(c, "ehos %s: want one NODE, got %d arguments", c.Command.Name, c.NArg())
	}
	cfg, _, err := d.loadConfig(c, log)
	if err != nil {
		return admin.Worker{}, err
	}
	ctx, _, done := bounded(c, "the collector (condor_status)")
	defer done()
	return admin.FindWorker(ctx, d.condorClient(c), c.Args().First(), cfg.Pool.Name, cfg.Worker.IdentityOf)
}

func retireCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:      "retire",
		Usage:     "drain a worker, wait until it is empty, then delete its VM",
		ArgsUsage: "NODE",
		UsageText: "ehos retire ehos-demo-3f2a9c1b\n" +
			"   ehos retire --timeout 2h ehos-demo-3f2a9c1b",
		Description: "As `ehos drain`, then waits (up to --timeout) until no slot is claimed and\n" +
			"deletes the VM, found by its ehos_name metadata in the clouds of ehos.yaml.\n" +
			"A VM owned by another provisioner (ehos_owner) is refused.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Hour, Usage: "how long to wait for running jobs"},
			&cli.DurationFlag{Name: "poll", Value: 5 * time.Second, Usage: "how often to look", Hidden: true},
			dryRunFlag,
		},
		Action: func(c *cli.Context) error {
			w, err := findWorker(c, d, log)
			if err != nil {
				return err
			}
			cfg, path, err := d.loadConfig(c, log)
			if err != nil {
				return err
			}
			clouds, oerr := openstack.OpenAll(c.Context, cfg.Clouds, d.cloudOpts(c, log, path))
			if len(clouds) == 0 {
				return fmt.Errorf("no cloud opened: %w", oerr)
			}
			vm, err := admin.FindVM(c.Context, clouds, cfg.Pool.Name, cfg.Pool.Owner, w.Name)
			if err != nil {
				return err
			}
			if c.Bool("dry-run") {
				fmt.Fprintf(c.App.Writer, "would drain %s, wait up to %s for its jobs, then delete VM %s in %s (--dry-run)\n", w.Name, c.Duration("timeout"), vm.VM.ID, vm.VM.Location)
				return nil
			}
			cc := d.condorClient(c)
			if err := cc.Drain(c.Context, w.DrainName(), true); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "draining %s; waiting up to %s for its jobs\n", w.Name, c.Duration("timeout"))
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			if err := admin.WaitEmpty(ctx, cc, w, c.Duration("poll")); err != nil {
				return fmt.Errorf("%w; the drain stays in force, the VM is kept", err)
			}
			if err := vm.Cloud.Delete(c.Context, vm.VM.Location.Region, vm.VM.ID); err != nil {
				return err
			}
			log.Info().Str("vm", vm.VM.ID).Msg("deleted")
			fmt.Fprintf(c.App.Writer, "%s is empty; deleted VM %s in %s\n", w.Name, vm.VM.ID, vm.VM.Location)
			return nil
		},
	}
}
