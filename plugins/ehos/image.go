package main

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/tmpl"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func imageCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "build the ehos base image",
		Subcommands: []*cli.Command{{
			Name:  "build",
			Usage: "boot a VM with cloudinit/base.yaml, wait until it is ready, snapshot it",
			UsageText: "ehos image build --source-image debian-13\n" +
				"   ehos image build --cloud alpha --region RegionOne --flavor m1.small --source-image debian-13 --timeout 45m",
			Description: "Boots a VM from --source-image (a stock Debian trixie or Ubuntu 24.04 cloud\n" +
				"image) with the rendered base template, waits for EHOS-BASE-READY in its\n" +
				"console log, stops it, snapshots it, waits for the image to be active and\n" +
				"deletes the VM (also when anything fails). Prints the image id per region:\n" +
				"put it into clouds[].image (or region_overrides.REGION.image).",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "cloud", Usage: "cloud `NAME` of ehos.yaml (default: the first enabled)"},
				&cli.StringSliceFlag{Name: "region", Usage: "`REGION` (repeatable; default: every region of the cloud)"},
				&cli.StringFlag{Name: "flavor", Usage: "`FLAVOR` of the build VM (default: the cloud's first)"},
				&cli.StringFlag{Name: "source-image", Usage: "stock `IMAGE` to start from", Required: true},
				&cli.StringFlag{Name: "name", Usage: "image `NAME` (default ehos-base-YYYYMMDD-HHMM)"},
				&cli.DurationFlag{Name: "timeout", Value: 30 * time.Minute, Usage: "per region, boot to active image"},
				&cli.DurationFlag{Name: "poll", Value: 5 * time.Second, Hidden: true},
			},
			Action: func(c *cli.Context) error {
				cfg, cfgPath, err := d.loadConfig(c, log)
				if err != nil {
					return err
				}
				cc, oc, regions, err := openOne(c, d, log, cfg, cfgPath)
				if err != nil {
					return err
				}
				flavor := c.String("flavor")
				if flavor == "" && len(cc.Flavors) > 0 {
					flavor = cc.Flavors[0]
				}
				name := c.String("name")
				if name == "" {
					name = "ehos-base-" + d.timeNow().UTC().Format("20060102-1504")
				}
				wd, _ := os.Getwd()
				var failedRegions int
				for _, r := range regions {
					path, ud, err := admin.RenderTemplate(os.DirFS("/"), cfg, findCheckout(wd), cfg.Templates.Base,
						tmpl.VMValues{InstanceName: name + "-build", Cloud: cc.Name, Region: r, Flavor: flavor})
					if err != nil {
						return err
					}
					log.Info().Str("template", path).Str("region", r).Msg("building")
					fmt.Fprintf(c.App.ErrWriter, "%s/%s: building %s from %s with %s (up to %s)\n", cc.Name, r, name, c.String("source-image"), path, c.Duration("timeout"))
					v := admin.OverridesFor(cc, r)
					id, err := admin.BuildImage(c.Context, oc, admin.ImageBuild{Region: r, ImageName: name, Timeout: c.Duration("timeout"), Poll: c.Duration("poll"), Log: *log,
						Boot: cloud.CreateRequest{Name: name + "-build", Flavor: flavor, Image: c.String("source-image"), Network: v.Network,
							KeyPair: v.KeyPair, SecurityGroups: cc.SecurityGroups, UserData: ud}})
					if err != nil {
						failedRegions++
						fmt.Fprintf(c.App.ErrWriter, "%s/%s: FAILED: %v\n", cc.Name, r, err)
						continue
					}
					fmt.Fprintf(c.App.Writer, "%s/%s %s %s\n", cc.Name, r, name, id)
				}
				return failed(failedRegions, "image build")
			},
		}},
	}
}

// openOne opens the cloud --cloud (or the first enabled) and returns the
// regions --region picks (default: all of the cloud's).
func openOne(c *cli.Context, d *deps, log *zerolog.Logger, cfg *config.Config, cfgPath string) (cloud.Config, *openstack.Cloud, []string, error) {
	var cc cloud.Config
	found := false
	for _, x := range cfg.Clouds {
		if (c.String("cloud") == "" && x.IsEnabled()) || x.Name == c.String("cloud") {
			cc, found = x, true
			break
		}
	}
	if !found {
		return cc, nil, nil, fmt.Errorf("no cloud %q in ehos.yaml", c.String("cloud"))
	}
	oc, err := openstack.Open(c.Context, cc, d.cloudOpts(c, log, cfgPath))
	if err != nil {
		return cc, nil, nil, err
	}
	regions := oc.Regions()
	if want := c.StringSlice("region"); len(want) > 0 {
		for _, r := range want {
			if !slices.Contains(regions, r) {
				return cc, nil, nil, fmt.Errorf("cloud %q has no region %q configured (it has %v)", cc.Name, r, regions)
			}
		}
		regions = want
	}
	return cc, oc, regions, nil
}
