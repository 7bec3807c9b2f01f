// Command ehos is the admin CLI of ehos: render templates, check config and
// clouds, look at the pool. Each subcommand lives in its own file; the logic
// behind them is in lib/admin.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/version"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmdline.Run(ctx, newApp(os.Stdout, os.Stderr), os.Args, os.Stderr)
	stop()
	os.Exit(code)
}

// deps are what the commands reach the world through; tests replace them.
type deps struct {
	condor *condor.Client    // nil: built from --condor-bin
	now    func() time.Time  // nil: time.Now
	tty    func() bool       // is stdout a terminal; nil: never
	clouds openstack.Options // extra options (tests: timeouts)
}

// newApp builds the CLI; tests run it with their own writers.
func newApp(stdout, stderr io.Writer) *cli.App {
	d := &deps{}
	if stdout == os.Stdout {
		d.tty = func() bool {
			st, err := os.Stdout.Stat()
			return err == nil && st.Mode()&os.ModeCharDevice != 0
		}
	}
	return newAppWith(stdout, stderr, d)
}

func newAppWith(stdout, stderr io.Writer, d *deps) *cli.App {
	// The level is raised by -v in Before; the logger is shared by pointer
	// so the commands built here see it.
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}).Level(zerolog.WarnLevel)
	var verbosity int
	return &cli.App{
		Name:    "ehos",
		Usage:   "Elastic HTCondor OpenStack Scaling: the admin CLI",
		Version: version.Version,
		Description: "Run on the central manager. ehos.yaml is --config (or a command's FILE), else\n" +
			"$EHOS_CONFIG, else what `condor_config_val EHOS_CONFIG` names, else\n" +
			config.DefaultEtcDir + "/ehos.yaml; the EHOS_* knobs are laid over it, as the\n" +
			"provisioner does. clouds.yaml is --clouds, else the OpenStack tools' search\n" +
			"(OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/, /etc/openstack/),\n" +
			"else clouds.yaml beside ehos.yaml. -v says which files were used.\n" +
			"Exit status: 0 OK, 1 a check found problems or an action failed, 2 usage error.",
		UsageText: "ehos [-v|-vv] [--config ehos.yaml] COMMAND [options] [arguments]   (options may come in any order)\n\n" +
			"   ehos doctor                 # everything at once, each problem with its fix\n" +
			"   ehos status --watch         # what the provisioner sees and decides\n" +
			"   ehos -v clouds check        # every cloud and region, with info logging",
		Writer:                 stdout,
		ErrWriter:              stderr,
		UseShortOptionHandling: true,
		Suggest:                true,
		EnableBashCompletion:   true,
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: &verbosity, Usage: "more log detail: -v info, -vv debug (default: warnings only)"},
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "ehos.yaml `FILE` (default: $EHOS_CONFIG, the EHOS_CONFIG knob, " + config.DefaultEtcDir + "/ehos.yaml)"},
			&cli.StringFlag{Name: "clouds", Aliases: []string{"clouds-file"}, Usage: "clouds.yaml `FILE` (default: the OpenStack tools' lookup, then beside ehos.yaml)"},
			&cli.DurationFlag{Name: "timeout", Value: DefaultTimeout, Usage: "give up on the collector and the clouds after this long (commands with their own --timeout: theirs)"},
			&cli.StringFlag{Name: "pool", Usage: "ask the collector at `HOST[:PORT]`, as condor_status -pool does (default: HTCondor's COLLECTOR_HOST)"},
			&cli.StringFlag{Name: "condor-bin", Usage: "`DIR` holding the HTCondor tools (default: $PATH)", EnvVars: []string{"EHOS_CONDOR_BIN"}},
		},
		Before: func(c *cli.Context) error {
			switch {
			case verbosity >= 2:
				log = log.Level(zerolog.DebugLevel)
			case verbosity == 1:
				log = log.Level(zerolog.InfoLevel)
			}
			return nil
		},
		Commands: []*cli.Command{
			renderCommand(&log, d),
			versionCommand(),
			configCommand(&log, d),
			statusCommand(&log, d),
			nodesCommand(&log, d),
			metricsCommand(&log, d),
			cloudsCommand(&log, d),
			doctorCommand(&log, d),
			drainCommand(&log, d),
			retireCommand(&log, d),
			imageCommand(&log, d),
			masterCommand(&log, d),
			simulateCommand(&log, d),
			completionCommand(),
		},
	}
}

// condorClient is the HTCondor client for this run.
func (d *deps) condorClient(c *cli.Context) *condor.Client {
	if d.condor != nil {
		return d.condor
	}
	cl := &condor.Client{BinDir: c.String("condor-bin")}
	if p := c.String("pool"); p != "" {
		// What -pool does for condor_status, for every tool ehos runs.
		cl.Env = append(cl.Env, "_CONDOR_COLLECTOR_HOST="+p)
	}
	return cl
}

func (d *deps) timeNow() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// source finds ehos.yaml (file: a command's FILE argument, else --config)
// and reads the knobs, as every ehos binary does (config.Find).
func (d *deps) source(c *cli.Context, log *zerolog.Logger, file string) (config.Source, error) {
	if file == "" {
		file = c.String("config")
	}
	s, err := config.Find(c.Context, config.Lookup{File: file, Knobs: d.condorClient(c).ConfigVal})
	if err != nil {
		return s, err
	}
	log.Info().Str("config", s.Path).Str("from", s.From).Msg("ehos.yaml in use")
	if s.KnobErr != nil {
		log.Info().Err(s.KnobErr).Msg("EHOS_* knobs not read: ehos.yaml alone decides")
	}
	return s, nil
}

// provisionerIdentity is the identity whose EHOSProvisioner ads are
// believed, as the lookup of ehos.yaml read it from the knobs; ehos.yaml
// itself need not exist.
func (d *deps) provisionerIdentity(c *cli.Context, log *zerolog.Logger) (string, error) {
	s, err := d.source(c, log, "")
	if err != nil && !errors.Is(err, config.ErrNoConfig) {
		return "", err
	}
	return s.ProvisionerIdentity()
}

// loadConfig finds and loads ehos.yaml with the knobs laid over it.
func (d *deps) loadConfig(c *cli.Context, log *zerolog.Logger) (*config.Config, string, error) {
	s, err := d.source(c, log, "")
	if err != nil {
		return nil, "", err
	}
	cfg, err := s.Load()
	return cfg, s.Path, err
}

// optionalConfig is the ehos.yaml of commands that work without one
// (render, simulate): the file named by --config or $EHOS_CONFIG, with the
// knobs laid over it, and its path; nil when neither names one.
func (d *deps) optionalConfig(c *cli.Context, log *zerolog.Logger) (*config.Config, string, error) {
	if c.String("config") == "" && os.Getenv("EHOS_CONFIG") == "" {
		return nil, "", nil
	}
	s, err := d.source(c, log, "")
	if err != nil {
		return nil, "", err
	}
	cfg, err := s.Load()
	return cfg, s.Path, err
}

// cloudOpts are the lib/openstack options for this run, clouds.yaml found
// for the ehos.yaml at configPath.
func (d *deps) cloudOpts(c *cli.Context, log *zerolog.Logger, configPath string) openstack.Options {
	o := d.clouds
	use, path, from := config.FindClouds(c.String("clouds"), configPath, nil)
	o.CloudsFile = use
	if path == "" {
		log.Info().Msg("no clouds.yaml found")
	} else {
		log.Info().Str("clouds", path).Str("from", from).Msg("clouds.yaml in use")
	}
	return o
}

// failed is the error of a check command that found problems: main prints
// it and exits 1.
func failed(n int, what string) error {
	if n == 0 {
		return nil
	}
	return cli.Exit(fmt.Sprintf("%s: %d problem(s)", what, n), 1)
}
