package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/tmpl"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func renderCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:      "render",
		Usage:     "fill a cloud-init template's <tags> and print the result",
		ArgsUsage: "TEMPLATE",
		UsageText: "ehos render worker.yaml --set instance_name=w1 --set worker_token=TOKEN\n" +
			"   ehos --config ehos.yaml render master\n" +
			"   ehos render --legacy old-master.yaml   # convert the original tool's {tags}",
		Description: "TEMPLATE is a path (holding a /) or a bare name such as worker.yaml or worker,\n" +
			"looked up in templates.etc_dir (an admin's copy wins), then templates.share_dir,\n" +
			"then cloudinit/ of an ehos source tree around the working directory.\n" +
			"Tags come from --config and --set; see docs/templates.md. Errors name FILE:LINE:COL.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "set", Usage: "set tag `NAME=VALUE` (repeatable; wins over --config)"},
			&cli.BoolFlag{Name: "legacy", Usage: "read TEMPLATE in the original tool's {tag} syntax, converting it (warnings on stderr)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cmdline.Usagef(c, "ehos render: want one TEMPLATE, got %d arguments", c.NArg())
			}
			cfg, _, err := d.optionalConfig(c, log)
			if err != nil {
				return err
			}
			out, err := render(*log, renderArgs{
				config:   cfg,
				sets:     c.StringSlice("set"),
				legacy:   c.Bool("legacy"),
				template: c.Args().First(),
			})
			if err != nil {
				return err
			}
			_, err = c.App.Writer.Write(out)
			return err
		},
	}
}

type renderArgs struct {
	config   *config.Config // nil: none
	sets     []string
	legacy   bool
	template string
}

func render(log zerolog.Logger, a renderArgs) ([]byte, error) {
	cfg := a.config
	var dirsCfg config.Templates
	if cfg != nil {
		dirsCfg = cfg.Templates
	}
	var bad []string
	sets := map[string]string{}
	for _, s := range a.sets {
		name, val, ok := strings.Cut(s, "=")
		if !ok || !tmpl.ValidName(name) {
			bad = append(bad, fmt.Sprintf("--set %q: want NAME=VALUE with NAME of lower-case letters, digits and _", s))
			continue
		}
		if err := tmpl.CheckValue(name, val); err != nil {
			bad = append(bad, fmt.Sprintf("--set %q: %v", s, err))
			continue
		}
		sets[name] = val
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "\n"))
	}
	// The VM's cloud and region choose its central manager address and
	// private network name (<host_ip>, <private_network>), as for the
	// provisioner; --set still wins.
	values, err := tmpl.Values(cfg, tmpl.VMValues{Cloud: sets["cloud"], Region: sets["region"]})
	if err != nil {
		return nil, err
	}
	for name, val := range sets {
		values[name] = val
	}

	name := a.template
	if strings.Contains(name, "/") {
		if name, err = filepath.Abs(name); err != nil {
			return nil, err
		}
	}
	wd, _ := os.Getwd()
	path, src, err := tmpl.Find(os.DirFS("/"), name, tmpl.SearchDirs(dirsCfg, findCheckout(wd)))
	if err != nil {
		return nil, err
	}
	log.Info().Str("template", path).Msg("rendering") // at -v: which copy was used matters

	if a.legacy {
		conv, warns, err := tmpl.ConvertLegacy(path, src)
		for _, w := range warns {
			log.Warn().Msg(w.String())
		}
		if err != nil {
			return nil, err
		}
		src = conv
	}
	return tmpl.Render(path, src, values)
}

// findCheckout returns the ehos source tree holding dir (a go.mod of the ehos
// module beside cloudinit/), or "".
func findCheckout(dir string) string {
	for dir != "" {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(mod), "module github.com/ehos-project/ehos\n") {
			if st, err := os.Stat(filepath.Join(dir, "cloudinit")); err == nil && st.IsDir() {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	return ""
}

var _ fs.FS = os.DirFS("/")
