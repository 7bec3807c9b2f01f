package main

import (
	"os"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func doctorCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check everything: config, knobs, HTCondor, provisioner, demand job, templates, tokens, clouds",
		UsageText: "ehos doctor\n" +
			"   sudo ehos doctor          # as root (or condor) so a worker token can be minted",
		Description: "Runs `config check` and `clouds check` and also checks that the collector\n" +
			"answers, DAEMON_LIST runs EHOS_PROVISIONER, the provisioner's ad is fresh, the\n" +
			"ehos_demand job runs, every template renders (naming the file in use: the\n" +
			"admin's copy in the etc dir or the shipped one) and a worker token can be\n" +
			"minted (it is thrown away, never printed). One line per problem with its fix;\n" +
			"exits 1 if any.",
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			src, err := d.source(c, log, "")
			if err != nil {
				return err
			}
			wd, _ := os.Getwd()
			ctx, w, done := bounded(c, "HTCondor's configuration (condor_config_val)")
			defer done()
			var werr error
			fs := admin.Doctor{ConfigPath: src.Path, Condor: d.condorClient(c), Clouds: d.cloudOpts(c, log, src.Path), FS: os.DirFS("/"),
				Checkout: findCheckout(wd), Now: d.timeNow(), Waiting: w.Set,
				// Each finding as soon as it is known: the clouds may take
				// until --timeout.
				Found: func(fs admin.Findings) {
					if werr == nil && !asJSON {
						werr = fs.Write(c.App.Writer)
					}
				}}.Run(ctx)
			if werr != nil {
				return werr
			}
			if asJSON {
				return writeFindings(c, fs, "doctor")
			}
			return failed(fs.Failed(), "doctor")
		},
	}
}
