package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/atomicfile"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func statusCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show demand, nodes, the last decision and the provisioner's health",
		UsageText: "ehos status\n" +
			"   ehos status --watch --interval 5s\n" +
			"   ehos status --json | jq .report.decision",
		Description: "Reads the provisioner's EHOSProvisioner ad from the collector. The ad is\n" +
			"flagged STALE when its last cycle is older than 3 cycles, MISSING when there\n" +
			"is none; then status exits 1 (not with --watch).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "redraw until Ctrl-C"},
			&cli.DurationFlag{Name: "interval", Value: 2 * time.Second, Usage: "redraw period with --watch"},
			&cli.BoolFlag{Name: "json", Usage: "print the status as JSON"},
		},
		Action: func(c *cli.Context) error {
			draw := func(w io.Writer) (admin.Status, error) {
				id, err := d.provisionerIdentity(c, log)
				if err != nil {
					return admin.Status{}, err
				}
				ctx, _, done := bounded(c, "the collector (condor_status)")
				st, err := admin.ReadStatus(ctx, d.condorClient(c), id, d.timeNow())
				done()
				if err != nil {
					return st, err
				}
				if c.Bool("json") {
					return st, writeJSON(w, st)
				}
				return st, admin.WriteStatus(w, st)
			}
			if !c.Bool("watch") {
				st, err := draw(c.App.Writer)
				if err != nil {
					return err
				}
				if !st.Healthy() {
					return cli.Exit("", 1)
				}
				return nil
			}
			if iv := c.Duration("interval"); iv <= 0 {
				return cmdline.Usagef(c, "ehos status: --interval %s: want a positive duration such as 2s or 1m", iv)
			}
			return watch(c, d, c.Duration("interval"), func(w io.Writer) error {
				_, err := draw(w)
				if err != nil {
					log.Debug().Err(err).Msg("status")
					fmt.Fprintf(w, "error: %v\n", err)
				}
				return nil
			})
		},
	}
}

// watch redraws every interval until the context ends: on a terminal it
// clears the screen first, otherwise it prints a separator with the time.
func watch(c *cli.Context, d *deps, every time.Duration, draw func(io.Writer) error) error {
	tty := d.tty != nil && d.tty()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var b bytes.Buffer
		if tty {
			b.WriteString("\x1b[H\x1b[2J")
		} else {
			fmt.Fprintf(&b, "---- %s ----\n", d.timeNow().UTC().Format(time.RFC3339))
		}
		if err := draw(&b); err != nil {
			return err
		}
		if _, err := c.App.Writer.Write(b.Bytes()); err != nil {
			return err
		}
		select {
		case <-c.Context.Done():
			return nil
		case <-t.C:
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

func nodesCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "nodes",
		Usage: "list the provisioner's VMs: cloud, flavor, VM and HTCondor state, jobs, age, idle time",
		UsageText: "ehos nodes\n" +
			"   ehos nodes --json",
		Description: "One row per VM from the provisioner's last report (its EHOSProvisioner ad).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the rows as JSON"},
		},
		Action: func(c *cli.Context) error {
			id, err := d.provisionerIdentity(c, log)
			if err != nil {
				return err
			}
			now := d.timeNow()
			ctx, _, done := bounded(c, "the collector (condor_status)")
			st, err := admin.ReadStatus(ctx, d.condorClient(c), id, now)
			done()
			if err != nil {
				return err
			}
			rows := admin.NodeRows(st.Report, now)
			if c.Bool("json") {
				return writeJSON(c.App.Writer, rows)
			}
			if !st.Healthy() {
				fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", st.Problem)
			}
			if slices.Contains(st.Report.Dropped, "nodes") {
				fmt.Fprintf(c.App.ErrWriter, "warning: the provisioner's ad leaves out its %d nodes to stay under 256 KB; `ehos status` counts them by state and region, and its log ($(LOG)/EHOSProvisionerLog) names each action\n", st.NodeTotal())
			}
			return admin.WriteNodes(c.App.Writer, rows)
		},
	}
}

func metricsCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "metrics",
		Usage: "the provisioner's state as Prometheus metrics: print, write a file, or serve /metrics",
		UsageText: "ehos metrics\n" +
			"   ehos metrics --output /var/lib/prometheus/node-exporter/ehos.prom   # node_exporter's textfile collector (cron)\n" +
			"   ehos metrics --listen 127.0.0.1:9717                                 # serve http://127.0.0.1:9717/metrics",
		Description: "Gauges read from the provisioner's EHOSProvisioner ad (as ehos status reads it):\n" +
			"ehos_up, VMs by state, idle and unmet jobs, the last decision, errors, and per\n" +
			"region the VMs listed, back-off and Nova quota. --output replaces the file\n" +
			"atomically. --listen reads the collector at every scrape; it serves no other\n" +
			"path and holds no secret, but bind it to an address only your Prometheus reaches.\n" +
			"When the collector cannot be read, ehos_up is 0 (and, without --listen, the\n" +
			"exit status 1).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the metrics to `FILE` (atomically) instead of standard output"},
			&cli.StringFlag{Name: "listen", Usage: "serve the metrics over HTTP at `ADDR` (host:port), path /metrics, until Ctrl-C"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "how long one read of the collector may take"},
		},
		Action: func(c *cli.Context) error {
			read := func(ctx context.Context) (admin.Status, error) {
				id, err := d.provisionerIdentity(c, log)
				if err != nil {
					return admin.Status{}, err
				}
				return admin.ReadStatus(ctx, d.condorClient(c), id, d.timeNow())
			}
			if addr := c.String("listen"); addr != "" {
				if c.String("output") != "" {
					return fmt.Errorf("ehos metrics: --listen and --output: choose one")
				}
				return serveMetrics(c, log, addr, read)
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			st, rerr := read(ctx)
			var b bytes.Buffer
			if err := admin.WriteMetrics(&b, st, rerr); err != nil {
				return err
			}
			if out := c.String("output"); out != "" {
				if err := atomicfile.Write(out, b.Bytes(), 0o644); err != nil {
					return fmt.Errorf("ehos metrics: %w", err)
				}
			} else if _, err := c.App.Writer.Write(b.Bytes()); err != nil {
				return err
			}
			return rerr
		},
	}
}

// serveMetrics serves /metrics at addr until the command's context ends.
func serveMetrics(c *cli.Context, log *zerolog.Logger, addr string, read func(context.Context) (admin.Status, error)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ehos metrics: --listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", admin.MetricsHandler(read, c.Duration("timeout")))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(c.App.ErrWriter, "serving http://%s/metrics\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("ehos metrics: %w", err)
	case <-c.Context.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Msg("metrics server shutdown")
	}
	return nil
}
