package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/tmpl"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

func masterCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "master",
		Usage: "deploy a central manager VM",
		Subcommands: []*cli.Command{{
			Name:  "deploy",
			Usage: "boot the central manager with cloudinit/master.yaml and print its address",
			UsageText: "ehos master deploy\n" +
				"   ehos master deploy --cloud alpha --region RegionOne --flavor m1.large",
			Description: "Renders the master template with ehos.yaml's pool values, adds ehos.yaml\n" +
				"itself as /usr/local/etc/ehos/ehos.yaml (no credentials: clouds.yaml is copied\n" +
				"by hand afterwards, as the template's header says), boots the VM from the\n" +
				"cloud's image (the ehos base image), waits until it is ACTIVE and prints its\n" +
				"addresses. The VM carries no ehos_pool metadata, so no provisioner touches it.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "cloud", Usage: "cloud `NAME` of ehos.yaml (default: the first enabled)"},
				&cli.StringSliceFlag{Name: "region", Usage: "`REGION` (default: the cloud's first)"},
				&cli.StringFlag{Name: "flavor", Usage: "`FLAVOR` (default: the cloud's first)"},
				&cli.StringFlag{Name: "image", Usage: "`IMAGE` (default: the cloud's image)"},
				&cli.StringFlag{Name: "name", Usage: "VM `NAME` (default ehos-master-POOL)"},
				&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "how long to wait for ACTIVE"},
				&cli.DurationFlag{Name: "poll", Value: 3 * time.Second, Hidden: true},
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
				r := regions[0]
				ov := admin.OverridesFor(cc, r)
				flavor, image, name := c.String("flavor"), c.String("image"), c.String("name")
				if flavor == "" && len(cc.Flavors) > 0 {
					flavor = cc.Flavors[0]
				}
				if image == "" {
					image = ov.Image
				}
				if name == "" {
					name = "ehos-master-" + cfg.Pool.Name
				}
				wd, _ := os.Getwd()
				path, ud, err := admin.RenderTemplate(os.DirFS("/"), cfg, findCheckout(wd), cfg.Templates.Master,
					tmpl.VMValues{InstanceName: name, Cloud: cc.Name, Region: r, Flavor: flavor})
				if err != nil {
					return err
				}
				raw, err := os.ReadFile(cfgPath)
				if err != nil {
					return err
				}
				if ud, err = admin.AddFile(ud, "/usr/local/etc/ehos/ehos.yaml", "0640", raw); err != nil {
					return err
				}
				log.Info().Str("template", path).Msg("rendered")
				vm, err := oc.Create(c.Context, r, cloud.CreateRequest{Name: name, Flavor: flavor, Image: image, Network: ov.Network,
					KeyPair: ov.KeyPair, SecurityGroups: cc.SecurityGroups, UserData: ud, Metadata: map[string]string{"ehos_role": "master"}})
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, "%s/%s: created %s (%s) from %s; waiting for ACTIVE\n", cc.Name, r, name, vm.ID, image)
				return waitActive(c, oc, r, name, vm.ID)
			},
		}},
	}
}

// waitActive waits for the central manager's VM id to be ACTIVE and prints
// its addresses.
func waitActive(c *cli.Context, oc *openstack.Cloud, r, name, id string) error {
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	for {
		v, err := oc.Get(ctx, r, id)
		if err == nil && v.Status == cloud.StatusError {
			return fmt.Errorf("central manager %s went to ERROR: %s (delete it with openstack server delete %s)", id, v.Fault, id)
		}
		if err == nil && v.Status == cloud.StatusActive {
			fmt.Fprintf(c.App.Writer, "%s %s %s\n", name, v.ID, strings.Join(v.Addresses, " "))
			fmt.Fprintf(c.App.ErrWriter, "next: copy clouds.yaml to /usr/local/etc/ehos/clouds.yaml there (mode 0600, owner condor), then `ehos doctor`\n")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("central manager %s not ACTIVE within %s; it is left for you to inspect", id, c.Duration("timeout"))
		case <-time.After(c.Duration("poll")):
		}
	}
}
