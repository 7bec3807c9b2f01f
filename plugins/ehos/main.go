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

	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/version"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(os.Stdout, os.Stderr)
	if err := app.RunContext(ctx, hoistGlobalFlags(app, os.Args)); err != nil {
		if err.Error() != "" {
			fmt.Fprintln(os.Stderr, err)
		}
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

// deps are what the commands reach the world through; tests replace them.
type deps struct {
	condor *condor.Client    // nil: built from --condor-bin
	now    func() time.Time  // nil: time.Now
	tty    func() bool       // is stdout a terminal; nil: never
	clouds openstack.Options // extra options (tests: timeouts)
}

// DefaultConfigPath is where install-master.sh puts ehos.yaml.
const DefaultConfigPath = "/usr/local/etc/ehos/ehos.yaml"

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
		Description: "Run on the central manager. ehos.yaml is --config, else $EHOS_CONFIG, else\n" +
			DefaultConfigPath + ", else what `condor_config_val EHOS_CONFIG` names.\n" +
			"clouds.yaml is found as the OpenStack tools find it (OS_CLIENT_CONFIG_FILE,\n" +
			"./clouds.yaml, ~/.config/openstack/, /etc/openstack/) unless --clouds names it.",
		UsageText: "ehos [-v|-vv] [--config ehos.yaml] COMMAND [options]   (the global flags may also follow COMMAND)\n\n" +
			"   ehos doctor                 # everything at once, each problem with its fix\n" +
			"   ehos status --watch         # what the provisioner sees and decides\n" +
			"   ehos -v clouds check        # every cloud and region, with info logging",
		Writer:                 stdout,
		ErrWriter:              stderr,
		UseShortOptionHandling: true,
		Suggest:                true,
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: &verbosity, Usage: "more log detail: -v info, -vv debug (default: warnings only)"},
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "ehos.yaml `FILE`", EnvVars: []string{"EHOS_CONFIG"}},
			&cli.StringFlag{Name: "clouds", Usage: "clouds.yaml `FILE` (default: the OpenStack tools' lookup)"},
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
			renderCommand(&log),
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
			simulateCommand(),
		},
	}
}

// condorClient is the HTCondor client for this run.
func (d *deps) condorClient(c *cli.Context) *condor.Client {
	if d.condor != nil {
		return d.condor
	}
	return &condor.Client{BinDir: c.String("condor-bin")}
}

func (d *deps) timeNow() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// cloudOpts are the lib/openstack options for this run.
func (d *deps) cloudOpts(c *cli.Context) openstack.Options {
	o := d.clouds
	if f := c.String("clouds"); f != "" {
		o.CloudsFile = f
	}
	return o
}

// configPath finds ehos.yaml: --config/$EHOS_CONFIG, the installed path,
// then the EHOS_CONFIG knob.
func (d *deps) configPath(c *cli.Context) (string, error) {
	if p := c.String("config"); p != "" {
		return p, nil
	}
	if _, err := os.Stat(DefaultConfigPath); err == nil {
		return DefaultConfigPath, nil
	}
	vals, err := d.condorClient(c).ConfigVal(c.Context, "EHOS_CONFIG")
	if err == nil && vals["EHOS_CONFIG"] != "" {
		return vals["EHOS_CONFIG"], nil
	}
	return "", fmt.Errorf("no ehos.yaml: give --config FILE or set $EHOS_CONFIG (looked in %s and the EHOS_CONFIG knob)", DefaultConfigPath)
}

// loadConfig finds and loads ehos.yaml.
func (d *deps) loadConfig(c *cli.Context) (*config.Config, string, error) {
	p, err := d.configPath(c)
	if err != nil {
		return nil, "", err
	}
	cfg, err := config.Load(p)
	return cfg, p, err
}

// failed is the error of a check command that found problems: main prints
// it and exits 1.
func failed(n int, what string) error {
	if n == 0 {
		return nil
	}
	return cli.Exit(fmt.Sprintf("%s: %d problem(s)", what, n), 1)
}
