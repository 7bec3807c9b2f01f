package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ehos-project/ehos/lib/atomicfile"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/sim"
	"github.com/rs/zerolog"
)

// simulateCommand is `ehos simulate`: replay a job trace against ehos's own
// provisioner (and, with --baseline, the original EHOS's rule) on a
// simulated cloud and pool, and report cost and queue wait.
func simulateCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "replay a job trace against the real scaling decision on a simulated cloud and pool",
		Description: "The --trace FILE is CSV (header " + sim.CSVHeader + "), the Standard Workload Format (.swf),\n" +
			"or your own pool's finished jobs as `" + sim.HistoryCommand + "` prints them.\n" +
			"The provisioner is ehos's own (lib/provision and lib/scale, unchanged); only the cloud and\n" +
			"HTCondor are simulated. Flavors named in the config's clouds[].flavors get their sizes from\n" +
			"the built-in table (m1.tiny, m1.small, m1.medium, m1.large, m1.xlarge) or --flavor.\n" +
			"Without --config (or $EHOS_CONFIG) the built-in demo config is used: one cloud, regions north and south,\n" +
			"flavors m1.small, m1.medium, m1.large (see docs/simulate.md).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trace", Aliases: []string{"t"}, Required: true, Usage: "job trace `FILE` (.csv, .swf, or condor_history -af:h output)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON (no progress on stderr)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr (it comes only for runs longer than a few seconds)"},
			&cli.StringFlag{Name: "svg", Usage: "draw idle jobs, running jobs and VMs over time into `FILE`"},
			&cli.BoolFlag{Name: "baseline", Usage: "also run the original EHOS's rule on the same trace and compare"},
			&cli.StringFlag{Name: "baseline-flavor", Usage: "the baseline's one flavor (default: the smallest that holds every job)"},
			&cli.StringSliceFlag{Name: "flavor", Usage: "flavor size `SPEC` NAME=VCPUS:RAM_MB[:DISK_GB] (repeatable; adds to or overrides the table)"},
			&cli.DurationFlag{Name: "boot", Value: sim.DefaultModel.BootMean, Usage: "mean time from create to ACTIVE"},
			&cli.DurationFlag{Name: "boot-jitter", Value: sim.DefaultModel.BootJitter, Usage: "boot time is uniform in boot ± jitter"},
			&cli.DurationFlag{Name: "join-delay", Value: sim.DefaultJoinDelay, Usage: "time from ACTIVE to the worker's startd in the collector"},
			&cli.Float64Flag{Name: "fail-rate", Usage: "fraction of servers that end in ERROR instead of ACTIVE"},
			&cli.DurationFlag{Name: "negotiation-interval", Value: 60 * time.Second, Usage: "HTCondor's NEGOTIATOR_INTERVAL"},
			&cli.DurationFlag{Name: "negotiation-min-interval", Value: sim.DefaultNegotiationMinInterval, Usage: "HTCondor's NEGOTIATOR_MIN_INTERVAL"},
			&cli.DurationFlag{Name: "reschedule-delay", Value: sim.DefaultRescheduleDelay, Usage: "submit → the negotiation condor_submit asks for (0: none, wait for the interval)"},
			&cli.DurationFlag{Name: "claim-worklife", Value: sim.DefaultClaimWorklife, Usage: "HTCondor's CLAIM_WORKLIFE: a job ending hands its slot to the next fitting job (0: no reuse)"},
			&cli.DurationFlag{Name: "drain-recheck", Value: provision.DefaultDrainRecheck, Usage: "ehos looks again this soon after draining idle workers, to delete them (0: at the next cycle)"},
			&cli.BoolFlag{Name: "no-reschedule", Usage: "ehos does not ask for a negotiation when workers join while jobs wait"},
			&cli.BoolFlag{Name: "first-fit", Usage: "match each job to the first worker with room, not HTCondor's default best fit"},
			&cli.IntFlag{Name: "quota-instances", Value: sim.DefaultQuota.MaxInstances, Usage: "instances quota per region (-1: unlimited)"},
			&cli.IntFlag{Name: "quota-cores", Value: sim.DefaultQuota.MaxCores, Usage: "cores quota per region (-1: unlimited)"},
			&cli.IntFlag{Name: "quota-ram-mb", Value: sim.DefaultQuota.MaxRAMMB, Usage: "RAM quota per region in MB (-1: unlimited)"},
			&cli.Uint64Flag{Name: "seed", Value: sim.DefaultModel.Seed, Usage: "random seed of boot times and failures"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdline.Usagef(c, "ehos simulate: unexpected argument %q (the trace is given with --trace)", c.Args().First())
			}
			if r := c.Float64("fail-rate"); r < 0 || r >= 1 {
				return fmt.Errorf("ehos simulate: --fail-rate %g must be in [0, 1)", r)
			}
			for _, f := range []string{"boot", "boot-jitter", "join-delay", "negotiation-interval", "negotiation-min-interval", "reschedule-delay", "claim-worklife", "drain-recheck"} {
				if d := c.Duration(f); d < 0 {
					return fmt.Errorf("ehos simulate: --%s %s must not be negative", f, d)
				}
			}
			cfg, err := d.optionalConfig(c, log)
			if err != nil {
				return err
			}
			if cfg == nil {
				cfg = sim.DemoConfig()
			}
			flavors := sim.DefaultFlavors()
			for _, s := range c.StringSlice("flavor") {
				f, err := sim.ParseFlavor(s)
				if err != nil {
					return fmt.Errorf("ehos simulate: --flavor: %w", err)
				}
				flavors[f.Name] = f
			}
			tr, err := sim.ReadTrace(c.String("trace"))
			if err != nil {
				return err
			}
			opt := sim.Options{
				Config:  cfg,
				Flavors: flavors,
				Quota:   cloud.Limits{MaxInstances: c.Int("quota-instances"), MaxCores: c.Int("quota-cores"), MaxRAMMB: c.Int("quota-ram-mb")},
				Cloud: sim.CloudModel{BootMean: c.Duration("boot"), BootJitter: c.Duration("boot-jitter"),
					FailRate: c.Float64("fail-rate"), Seed: c.Uint64("seed")},
				JoinDelay:              c.Duration("join-delay"),
				NegotiationInterval:    c.Duration("negotiation-interval"),
				NegotiationMinInterval: c.Duration("negotiation-min-interval"),
				RescheduleDelay:        offIfZero(c.Duration("reschedule-delay")),
				ClaimWorklife:          offIfZero(c.Duration("claim-worklife")),
				DrainRecheck:           offIfZero(c.Duration("drain-recheck")),
				NoReschedule:           c.Bool("no-reschedule"),
				FirstFit:               c.Bool("first-fit"),
				BaselineFlavor:         c.String("baseline-flavor"),
				Samples:                c.String("svg") != "",
			}
			progress := func(label string) func(sim.Progress) {
				if c.Bool("quiet") || c.Bool("json") {
					return nil
				}
				return sim.ProgressPrinter(c.App.ErrWriter, label)
			}
			opt.Progress = progress("ehos")
			res, err := sim.Run(c.Context, tr, opt)
			if err != nil {
				return err
			}
			var base *sim.Result
			if c.Bool("baseline") {
				opt.Baseline, opt.Progress = true, progress("baseline")
				if base, err = sim.Run(c.Context, tr, opt); err != nil {
					return err
				}
			}
			if p := c.String("svg"); p != "" {
				series := sim.PlotSeries(res.Samples, "", false)
				if base != nil {
					series = append(series, sim.PlotSeries(base.Samples, "baseline ", true)...)
				}
				if err := writeSVG(p, "ehos simulate: "+tr.Name, series); err != nil {
					return err
				}
				res.Samples = nil
				if base != nil {
					base.Samples = nil
				}
			}
			w := c.App.Writer
			if c.Bool("json") {
				out := struct {
					Ehos       *sim.Result     `json:"ehos"`
					Baseline   *sim.Result     `json:"baseline,omitempty"`
					Comparison *sim.Comparison `json:"comparison,omitempty"`
				}{Ehos: res, Baseline: base}
				if base != nil {
					cmp := sim.Compare(res, base)
					out.Comparison = &cmp
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			if err := res.WriteText(w); err != nil {
				return err
			}
			if base != nil {
				fmt.Fprintln(w)
				if err := base.WriteText(w); err != nil {
					return err
				}
				fmt.Fprintln(w)
				fmt.Fprintln(w, sim.Compare(res, base).String())
			}
			return nil
		},
	}
}

func writeSVG(path, title string, series []sim.Series) error {
	var b bytes.Buffer
	if err := sim.WriteSVG(&b, title, series); err != nil {
		return fmt.Errorf("ehos simulate: --svg %s: %w", path, err)
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("ehos simulate: --svg: %w", err)
	}
	return nil
}

// offIfZero maps the command line's 0 ("off") to sim.Options' negative
// value (zero there means the default).
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
