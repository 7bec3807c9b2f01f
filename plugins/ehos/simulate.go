package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ehos-project/ehos/lib/atomicfile"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/config"
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
			"flavors m1.small, m1.medium, m1.large; the report names the config it used.\n" +
			"Cost is in flavor cost-hours (flavor_overrides' cost, else vCPUs) against a lower bound no\n" +
			"policy can beat; a run that did not settle says so first and claims no ratio. --sweep runs a\n" +
			"grid of knobs and recommends one (see docs/simulate.md).\n\n" +
			"   ehos simulate -t week.txt --baseline\n" +
			"   ehos -c ehos.yaml simulate -t week.txt --sweep spare=0,1,2 --sweep idle_before_retire=0s,2m,5m --svg front.svg",
		Flags:  simulateFlags(),
		Action: func(c *cli.Context) error { return simulate(c, log, d) },
	}
}

func simulateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "trace", Aliases: []string{"t"}, Required: true, Usage: "job trace `FILE` (.csv, .swf, or condor_history -af:h output)"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON (no progress on stderr)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr (it comes only for runs longer than a few seconds)"},
		&cli.StringFlag{Name: "svg", Usage: "draw idle jobs, running jobs and VMs over time (with --sweep: cost against wait, and the frontier) into `FILE`"},
		&cli.GenericFlag{Name: "sweep", Value: &specs{}, Usage: "run every combination of `KNOB=V1,V2,...` (repeatable; knobs: " + strings.Join(sim.SweepKnobs, ", ") + ") and recommend one"},
		&cli.BoolFlag{Name: "baseline", Usage: "also run the original EHOS's rule on the same trace and compare"},
		&cli.BoolFlag{Name: "peers", Usage: "also run the rules of cloudscheduler v2 and COBalD/TARDIS on the same trace and compare"},
		&cli.StringFlag{Name: "baseline-flavor", Usage: "the baseline's one flavor `NAME` (default: the smallest that holds every job)"},
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
		&cli.IntFlag{Name: "seeds", Value: 1, Usage: "with --sweep: replay each configuration `N` times, with seeds --seed, --seed+1, …, and compare their means (one draw of boot times can rank two close configurations either way)"},
	}
}

// simulate is `ehos simulate`: it checks the options, reads the config and
// the trace, and runs the sweep, or ehos (and the baseline and peers) and
// prints the result.
func simulate(c *cli.Context, log *zerolog.Logger, d *deps) error {
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
	cfg, name, err := d.optionalConfig(c, log)
	if err != nil {
		return err
	}
	if cfg == nil {
		cfg, name = sim.DemoConfig(), "built-in demo config (no --config, no $EHOS_CONFIG)"
	}
	flavors := sim.DefaultFlavors()
	for _, s := range c.StringSlice("flavor") {
		f, err := sim.ParseFlavor(s)
		if err != nil {
			return fmt.Errorf("ehos simulate: --flavor: %w", err)
		}
		flavors[f.Name] = f
	}
	knobs, err := sweepKnobs(c, cfg)
	if err != nil {
		return err
	}
	tr, err := sim.ReadTrace(c.String("trace"))
	if err != nil {
		return err
	}
	opt := simOptions(c, cfg, flavors, len(knobs) == 0)
	if err := sim.Check(tr, opt); err != nil {
		return fmt.Errorf("ehos simulate: %s with config %s refused, nothing was run:\n%w", tr.Name, name, err)
	}
	if len(knobs) > 0 {
		return sweep(c, tr, opt, knobs, name)
	}
	return runSimulation(c, tr, opt, name)
}

// maxSeeds bounds --seeds: a sweep's runs are its grid times its seeds.
const maxSeeds = 100

// sweepKnobs are the --sweep grid's knobs, each given once.
func sweepKnobs(c *cli.Context, cfg *config.Config) ([]sim.Knob, error) {
	var knobs []sim.Knob
	for _, s := range c.Generic("sweep").(*specs).list {
		k, err := sim.ParseKnob(s, cfg)
		if err != nil {
			return nil, cmdline.Usagef(c, "ehos simulate: %v", err)
		}
		if slices.ContainsFunc(knobs, func(o sim.Knob) bool { return o.Name == k.Name }) {
			return nil, cmdline.Usagef(c, "ehos simulate: --sweep %s given twice: list all its values in one --sweep %s=V1,V2,...", k.Name, k.Name)
		}
		knobs = append(knobs, k)
	}
	if len(knobs) > 0 && c.Bool("baseline") {
		return nil, cmdline.Usagef(c, "ehos simulate: --sweep varies ehos's knobs; run --baseline on its own")
	}
	if n := c.Int("seeds"); n < 1 || n > maxSeeds {
		return nil, cmdline.Usagef(c, "ehos simulate: --seeds %d: want 1 to %d", n, maxSeeds)
	}
	if c.IsSet("seeds") && len(knobs) == 0 {
		return nil, cmdline.Usagef(c, "ehos simulate: --seeds is for --sweep (a one-value --sweep KNOB=V replays one configuration)")
	}
	return knobs, nil
}

// simOptions are the simulation's options from the command line.
func simOptions(c *cli.Context, cfg *config.Config, flavors map[string]cloud.Flavor, samples bool) sim.Options {
	return sim.Options{
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
		Samples:                c.String("svg") != "" && samples,
	}
}

// runSimulation runs ehos, and the baseline and peers when asked for, and
// prints them. ehos's result is printed whatever the others do; the
// baseline's reason not to run is known before either runs.
func runSimulation(c *cli.Context, tr *sim.Trace, opt sim.Options, name string) error {
	var baseErr error
	if c.Bool("baseline") {
		_, baseErr = sim.BaselineFlavor(tr, opt)
	}
	opt.Progress = progress(c, "ehos")
	res, err := sim.Run(c.Context, tr, opt)
	if err != nil {
		return err
	}
	res.Config = name
	var base *sim.Result
	if c.Bool("baseline") && baseErr == nil {
		opt.Baseline, opt.Progress = true, progress(c, "baseline")
		if base, baseErr = sim.Run(c.Context, tr, opt); base != nil {
			base.Config = name
		}
	}
	if p := c.String("svg"); p != "" {
		series := sim.PlotSeries(res.Samples, "", false)
		if base != nil {
			series = append(series, sim.PlotSeries(base.Samples, "baseline ", true)...)
		}
		if err := writeSVG(p, func(w io.Writer) error { return sim.WriteSVG(w, "ehos simulate: "+tr.Name, series) }); err != nil {
			return err
		}
		res.Samples = nil
		if base != nil {
			base.Samples = nil
		}
	}
	return writeSimulation(c.App.Writer, c.Bool("json"), res, base, baseErr, runPeers(c, tr, opt, name))
}

// writeSimulation prints ehos's result, the baseline's (or why it did not
// run) with the comparison, and the peers', as text or JSON.
func writeSimulation(w io.Writer, asJSON bool, res, base *sim.Result, baseErr error, peers []peerRun) error {
	var cmp *sim.Comparison
	var noCmp error
	if base != nil {
		if cm, err := sim.Compare(res, base); err != nil {
			noCmp = err
		} else {
			cmp = &cm
		}
	}
	if asJSON {
		out := struct {
			Settled        bool            `json:"settled"` // every run settled
			Ehos           *sim.Result     `json:"ehos"`
			Baseline       *sim.Result     `json:"baseline,omitempty"`
			BaselineNotRun string          `json:"baseline_not_run,omitempty"`
			Comparison     *sim.Comparison `json:"comparison,omitempty"`
			NoComparison   string          `json:"no_comparison,omitempty"`
			Peers          []peerRun       `json:"peers,omitempty"`
		}{Settled: res.Settled && (base == nil || base.Settled), Ehos: res, Baseline: base, Comparison: cmp,
			BaselineNotRun: errText(baseErr), NoComparison: errText(noCmp)}
		for _, p := range peers {
			out.Settled = out.Settled && (p.Result == nil || p.Result.Settled)
			out.Peers = append(out.Peers, p.against(res))
		}
		return writeJSON(w, out)
	}
	if err := res.WriteText(w); err != nil {
		return err
	}
	if baseErr != nil {
		fmt.Fprintf(w, "\nbaseline    not run: %v\n", baseErr)
	}
	if base != nil {
		fmt.Fprintln(w)
		if err := base.WriteText(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
		if noCmp != nil {
			fmt.Fprintln(w, noCmp)
		} else {
			fmt.Fprintln(w, cmp.String())
		}
	}
	for _, p := range peers {
		if err := p.writeText(w, res); err != nil {
			return err
		}
	}
	return nil
}

// sweep runs the grid of knobs and prints its table (or JSON) and, with
// --svg, draws its frontier.
func sweep(c *cli.Context, tr *sim.Trace, opt sim.Options, knobs []sim.Knob, name string) error {
	sw, err := sim.RunSweep(c.Context, tr, opt, knobs, c.Int("seeds"), 0)
	if err != nil {
		return err
	}
	sw.Config = name
	if p := c.String("svg"); p != "" {
		if err := writeSVG(p, sw.WriteSVG); err != nil {
			return err
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, sw)
	}
	return sw.WriteText(c.App.Writer)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func writeSVG(path string, draw func(io.Writer) error) error {
	var b bytes.Buffer
	if err := draw(&b); err != nil {
		return fmt.Errorf("ehos simulate: --svg %s: %w", path, err)
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("ehos simulate: --svg: %w", err)
	}
	return nil
}

// specs collects a repeatable flag's values whole: a --sweep value holds
// commas, which a string slice flag would split.
type specs struct{ list []string }

func (s *specs) Set(v string) error { s.list = append(s.list, v); return nil }
func (s *specs) String() string     { return strings.Join(s.list, " ") }

// offIfZero maps the command line's 0 ("off") to sim.Options' negative
// value (zero there means the default).
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// progress prints a run's progress on stderr, labelled, unless --quiet or
// --json says not to.
func progress(c *cli.Context, label string) func(sim.Progress) {
	if c.Bool("quiet") || c.Bool("json") {
		return nil
	}
	return sim.ProgressPrinter(c.App.ErrWriter, label)
}

// peerRun is one peer's rule run on the trace: its result, or why it did
// not run; and, once compared with ehos's, the comparison or why there is
// none.
type peerRun struct {
	Rule         string          `json:"rule"`
	Result       *sim.Result     `json:"result,omitempty"`
	NotRun       string          `json:"not_run,omitempty"`
	Comparison   *sim.Comparison `json:"comparison,omitempty"`
	NoComparison string          `json:"no_comparison,omitempty"`
}

// runPeers runs every peer's rule (every baseline rule but the original's)
// when --peers is given. A peer that cannot run is reported, not fatal: the
// other results still print.
func runPeers(c *cli.Context, tr *sim.Trace, opt sim.Options, config string) []peerRun {
	if !c.Bool("peers") {
		return nil
	}
	var out []peerRun
	for _, rule := range sim.Rules[1:] {
		popt := opt
		popt.Baseline, popt.Rule, popt.Samples, popt.Progress = true, rule, false, progress(c, rule)
		r, err := sim.Run(c.Context, tr, popt)
		if r != nil {
			r.Config = config
		}
		out = append(out, peerRun{Rule: rule, Result: r, NotRun: errText(err)})
	}
	return out
}

// against fills in the comparison of ehos's result with the peer's.
func (p peerRun) against(res *sim.Result) peerRun {
	if p.Result == nil {
		return p
	}
	if cm, err := sim.Compare(res, p.Result); err != nil {
		p.NoComparison = err.Error()
	} else {
		p.Comparison = &cm
	}
	return p
}

func (p peerRun) writeText(w io.Writer, res *sim.Result) error {
	fmt.Fprintln(w)
	if p.Result == nil {
		_, err := fmt.Fprintf(w, "%-11s not run: %s\n", p.Rule, p.NotRun)
		return err
	}
	if err := p.Result.WriteText(w); err != nil {
		return err
	}
	p = p.against(res)
	fmt.Fprintln(w)
	if p.Comparison == nil {
		_, err := fmt.Fprintln(w, p.NoComparison)
		return err
	}
	_, err := fmt.Fprintf(w, "against %s: %s\n", p.Rule, p.Comparison.String())
	return err
}
