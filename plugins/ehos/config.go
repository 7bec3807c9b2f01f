package main

import (
	"fmt"
	"os"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/atomicfile"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func configCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:        "config",
		Usage:       "check, show or migrate ehos.yaml",
		Subcommands: []*cli.Command{configCheckCommand(log, d), configShowCommand(log, d), configMigrateCommand()},
	}
}

func configCheckCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "report every problem of ehos.yaml, the EHOS_* knobs and clouds.yaml at once",
		ArgsUsage: "[FILE]",
		UsageText: "ehos config check\n" +
			"   ehos config check /tmp/new-ehos.yaml --clouds /tmp/clouds.yaml",
		Description: "Validates ehos.yaml (each problem names the key and value), lays the EHOS_*\n" +
			"HTCondor knobs over it (condor_config_val; skipped with a note when HTCondor\n" +
			"is not reachable) and finds each cloud's clouds.yaml entry (no network).\n" +
			"Exits 1 if anything is wrong.",
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			if _, err := jsonOutput(c); err != nil {
				return err
			}
			if c.NArg() > 1 {
				return cmdline.Usagef(c, "ehos config check: want at most one FILE, got %d arguments", c.NArg())
			}
			src, err := d.source(c, log, c.Args().First())
			if err != nil {
				return err
			}
			_, fs := admin.CheckConfig(c.Context, admin.ConfigCheck{Path: src.Path, Condor: d.condorClient(c), Clouds: d.cloudOpts(c, log, src.Path)})
			return writeFindings(c, fs, "config check")
		},
	}
}

func configShowCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print the configuration in effect: defaults, ehos.yaml and the EHOS_* knobs, each value with its source",
		ArgsUsage: "[FILE]",
		UsageText: "ehos config show\n" +
			"   ehos config show /tmp/new-ehos.yaml",
		Description: "What the provisioner runs with, as condor_config_val -dump shows HTCondor's:\n" +
			"each value is followed by where it comes from (FILE:LINE, knob NAME or\n" +
			"default); secret-looking values are masked.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return cmdline.Usagef(c, "ehos config show: want at most one FILE, got %d arguments", c.NArg())
			}
			src, err := d.source(c, log, c.Args().First())
			if err != nil {
				return err
			}
			out, err := src.Show()
			if err != nil {
				return err
			}
			knobs := "EHOS_* knobs applied"
			if src.KnobErr != nil {
				knobs = "EHOS_* knobs not read (" + src.KnobErr.Error() + ")"
			}
			fmt.Fprintf(c.App.Writer, "# %s (%s); %s\n", src.Path, src.From, knobs)
			_, err = c.App.Writer.Write(out)
			return err
		},
	}
}

func configMigrateCommand() *cli.Command {
	return &cli.Command{
		Name:      "migrate",
		Usage:     "convert the original EHOS ehos.yaml into the new form",
		ArgsUsage: "OLD.yaml",
		UsageText: "ehos config migrate -o /usr/local/etc/ehos/ehos.yaml --clouds-out ~/.config/openstack/clouds.yaml old-ehos.yaml\n" +
			"   ehos config migrate old-ehos.yaml            # print the new ehos.yaml",
		Description: "Writes the new ehos.yaml (stdout without -o) and, when the old file carried\n" +
			"cloud credentials inline, a clouds.yaml (mode 0600; --clouds-out, default\n" +
			"clouds.yaml beside -o, where every ehos command looks after the OpenStack\n" +
			"tools' places). Notes say what was converted, moved or dropped. The\n" +
			"old pool password is never copied: workers get their own tokens now. Every\n" +
			"layout of the original (1.0-1.3: clouds: map, cloud:, ehos:, daemon:,\n" +
			"ehos_daemon:) is read; a file already in the new form is refused.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the new ehos.yaml to `FILE`"},
			&cli.StringFlag{Name: "clouds-out", Usage: "write the clouds.yaml with the credentials to `FILE`"},
			&cli.BoolFlag{Name: "force", Usage: "replace -o and --clouds-out files that exist (default: refuse)"},
		},
		Action: migrateConfig,
	}
}

// migrateConfig is `ehos config migrate`.
func migrateConfig(c *cli.Context) error {
	if c.NArg() != 1 {
		return cmdline.Usagef(c, "ehos config migrate: want one OLD.yaml, got %d arguments", c.NArg())
	}
	old := c.Args().First()
	data, err := os.ReadFile(old)
	if err != nil {
		return err
	}
	m, err := config.Migrate(old, data)
	if err != nil {
		return err
	}
	out := c.String("output")
	co := c.String("clouds-out")
	if m.CloudsYAML != nil && co == "" {
		if out == "" {
			return fmt.Errorf("the old file carries cloud credentials: give --clouds-out FILE for the clouds.yaml (written 0600)")
		}
		co = filepathJoinDir(out, "clouds.yaml")
	}
	// Both checked before either is written: an existing
	// ehos.yaml or clouds.yaml is someone's work.
	if !c.Bool("force") {
		for _, f := range []string{out, co} {
			if f == "" {
				continue
			}
			if _, err := os.Lstat(f); err == nil {
				return fmt.Errorf("%s exists: not replaced (nothing written); --force replaces it", f)
			}
		}
	}
	if out == "" {
		if _, err := c.App.Writer.Write(m.Config); err != nil {
			return err
		}
	} else if err := atomicfile.Write(out, m.Config, 0o644); err != nil {
		return err
	} else {
		fmt.Fprintf(c.App.ErrWriter, "wrote %s\n", out)
	}
	if m.CloudsYAML != nil {
		if err := atomicfile.Write(co, m.CloudsYAML, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(c.App.ErrWriter, "wrote %s (mode 0600: it holds credentials)\n", co)
		// Say how it is found when the lookup would not find it.
		if _, found, _ := config.FindClouds("", out, nil); out == "" || !sameFile(found, co) {
			fmt.Fprintf(c.App.ErrWriter, "note: ehos finds %s with --clouds %s, or: export OS_CLIENT_CONFIG_FILE=%s\n", co, co, co)
		}
	}
	for _, n := range m.Notes {
		fmt.Fprintf(c.App.ErrWriter, "note: %s\n", n)
	}
	return nil
}
