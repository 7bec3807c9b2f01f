// Command ehos_provisioner is the ehos daemon: each cycle it observes the
// clouds and the pool, decides, acts and publishes its state. condor_master
// starts it on the central manager (DAEMON_LIST = $(DAEMON_LIST)
// EHOS_PROVISIONER); it also runs by hand or under systemd.
//
// SIGTERM (condor_master's graceful stop) and SIGINT finish the cycle under
// way and exit; SIGQUIT (fast stop) exits at once.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/version"
)

// verbosity counts -v flags.
var verbosity int

func main() {
	cmdline.DefaultPath()
	os.Exit(cmdline.Run(context.Background(), newApp(), os.Args, os.Stderr))
}

// newApp is the command line; verbosity counts its -v flags.
func newApp() *cli.App {
	// -v is verbosity here, as in the original ehosd; --version stays.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	return &cli.App{
		Name:    "ehos_provisioner",
		Usage:   "grow and shrink an HTCondor pool on OpenStack",
		Version: version.Version,
		// -vv as well as -v -v. Flags it defines (-f, -local-name from
		// condor_master) are never split.
		UseShortOptionHandling: true,
		UsageText: `ehos_provisioner [--config ehos.yaml] [--once] [--dry-run]   (ehos.yaml and clouds.yaml are found as ehos finds them: docs/cli.md)

Under condor_master (central manager config.d):
   EHOS_PROVISIONER = $(EHOS_LIBEXEC)/ehos_provisioner
   DAEMON_LIST = $(DAEMON_LIST) EHOS_PROVISIONER
By hand, one cycle, deciding but touching nothing:
   ehos_provisioner --config /usr/local/etc/ehos/ehos.yaml --once --dry-run --log-format console`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "ehos.yaml `FILE` (default: $EHOS_CONFIG, the EHOS_CONFIG knob, " + config.DefaultEtcDir + "/ehos.yaml)"},
			&cli.BoolFlag{Name: "once", Usage: "run one cycle and exit"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "with --once: give up on HTCondor and the clouds after this long"},
			&cli.BoolFlag{Name: "dry-run", Usage: "decide and log, create/drain/delete nothing"},
			&cli.StringFlag{Name: "log-file", Usage: "log here (default: EHOS_PROVISIONER_LOG under condor_master, else stderr)"},
			&cli.StringFlag{Name: "log-format", Usage: "json or console (default: ehos.yaml log.format)"},
			&cli.StringFlag{Name: "clouds", Aliases: []string{"clouds-file"}, Usage: "clouds.yaml `FILE` (default: OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack, /etc/openstack, then beside ehos.yaml)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "more log detail (-v info, -vv debug)", Count: &verbosity},
			// condor_master passes -f (stay in the foreground) to the
			// daemons it starts; we never fork anyway.
			&cli.BoolFlag{Name: "f", Hidden: true},
			&cli.StringFlag{Name: "local-name", Hidden: true},
		},
		Action: run,
	}
}

// signals turns SIGTERM/SIGINT into a stop after the cycle (stop is
// cancelled) and SIGQUIT into an immediate one (hard is cancelled too).
func signals() (stop, hard context.Context) {
	stop, cancelStop := context.WithCancel(context.Background())
	hard, cancelHard := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	go func() {
		for s := range ch {
			cancelStop()
			if s == syscall.SIGQUIT {
				cancelHard()
			}
		}
	}()
	return stop, hard
}
