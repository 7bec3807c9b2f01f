package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

var cloudFlag = &cli.StringSliceFlag{Name: "cloud", Usage: "only the cloud `NAME` (repeatable; default: every enabled cloud of ehos.yaml)"}

var masterNetworkFlag = &cli.StringFlag{Name: "master-network", Usage: "the central manager's PRIVATE_NETWORK_NAME `NAME` (default: POOL-cm, as install-master.sh sets it)"}

// network is the pool's network for the checks, from ehos.yaml and the
// flags.
func network(c *cli.Context, cfg *config.Config) (admin.Net, error) {
	n := admin.Net{Pool: cfg.Pool, CMNetwork: c.String("master-network"), MasterGroup: c.String("master-group")}
	if n.CMNetwork == "" {
		n.CMNetwork = admin.DefaultCMNetwork(cfg.Pool.Name)
	}
	if n.MasterGroup != "" {
		name, region, _ := strings.Cut(c.String("master-cloud"), "/")
		if name == "" {
			return n, cmdline.Usagef(c, "--master-group needs --master-cloud CLOUD[/REGION]: where the central manager's security group is")
		}
		m, err := pickClouds(cfg, []string{name})
		if err != nil {
			return n, cmdline.Usagef(c, "--master-cloud: %v", err)
		}
		n.Master, n.MasterRegion = &m[0], region
	}
	return n, nil
}

func cloudsCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:  "clouds",
		Usage: "check the clouds of ehos.yaml, or set up their security groups and key pair",
		Subcommands: []*cli.Command{
			{
				Name:      "check",
				Usage:     "per cloud and region: authentication, image, flavors, network, key pair, security groups, quota",
				ArgsUsage: "[NAME...]",
				UsageText: "ehos clouds check\n" +
					"   ehos clouds check alpha          # only that cloud (as --cloud alpha)",
				Description: "One line per finding, OK, WARN or FAIL with the fix. Each region's line\n" +
					"\"topology\" says what it assumed: workers brokered through the collector\n" +
					"(CCB, ehos's default) need no inbound port, and a rule letting 9618 in is\n" +
					"warned of; workers whose private_network is the central manager's\n" +
					"(--master-network) are claimed directly and need 9618/tcp in. 22/tcp for\n" +
					"admins is optional. With pool.ha_peer the line names the region's HA peer\n" +
					"too, and its address is checked as the central manager's. With\n" +
					"--master-group, the central manager's own group must let 9618/tcp in from\n" +
					"wherever workers come from. Exits 1 on any failure.",
				Flags: []cli.Flag{cloudFlag, outputFlag(), masterNetworkFlag,
					&cli.StringFlag{Name: "master-group", Usage: "also check the central manager's security group `GROUP`"},
					&cli.StringFlag{Name: "master-cloud", Usage: "where --master-group is: `CLOUD[/REGION]` of ehos.yaml"},
				},
				Action: func(c *cli.Context) error {
					if _, err := jsonOutput(c); err != nil {
						return err
					}
					cfg, clouds, path, err := d.chosenClouds(c, log)
					if err != nil {
						return err
					}
					n, err := network(c, cfg)
					if err != nil {
						return err
					}
					ctx, _, done := bounded(c, "the clouds' APIs ("+cloudNames(clouds)+")")
					fs := admin.CheckClouds(ctx, clouds, n, d.cloudOpts(c, log, path))
					done()
					return writeFindings(c, fs, "clouds check")
				},
			},
			cloudsSetupCommand(log, d),
		},
	}
}

// chosenClouds are ehos.yaml, its clouds that --cloud and the arguments
// name (all when none), and its path.
func (d *deps) chosenClouds(c *cli.Context, log *zerolog.Logger) (*config.Config, []cloud.Config, string, error) {
	cfg, path, err := d.loadConfig(c, log)
	if err != nil {
		return nil, nil, "", err
	}
	clouds, err := pickClouds(cfg, append(c.StringSlice("cloud"), c.Args().Slice()...))
	if err != nil {
		return nil, nil, "", cmdline.Usagef(c, "%v", err)
	}
	return cfg, clouds, path, nil
}

func cloudsSetupCommand(log *zerolog.Logger, d *deps) *cli.Command {
	return &cli.Command{
		Name:      "setup",
		Usage:     "add the missing security group rules and upload the key pair",
		ArgsUsage: "[NAME...]",
		UsageText: "ehos clouds setup --public-key ~/.ssh/id_rsa.pub\n" +
			"   ehos clouds setup alpha --admin-cidr 192.0.2.0/24",
		Description: "In the first security group of each cloud (default: \"default\") it adds\n" +
			"what the region's topology needs (see clouds check): nothing for brokered\n" +
			"workers, ingress 9618/tcp from the group itself for workers claimed directly\n" +
			"and, only with --admin-cidr, 22/tcp from that CIDR, where no rule allows them\n" +
			"yet; where clouds[].key_pair does not exist it imports --public-key. Each rule\n" +
			"added is printed. Running it again changes nothing.",
		Flags: []cli.Flag{
			cloudFlag, masterNetworkFlag,
			&cli.PathFlag{Name: "public-key", Usage: "public key `FILE` to upload as the key pair"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be added, add nothing"},
			&cli.StringFlag{Name: "admin-cidr", Usage: "source `CIDR` allowed to SSH (default: no SSH rule is added)"},
		},
		Action: func(c *cli.Context) error {
			cfg, clouds, path, err := d.chosenClouds(c, log)
			if err != nil {
				return err
			}
			n, err := network(c, cfg)
			if err != nil {
				return err
			}
			s := admin.Setup{AdminCIDR: c.String("admin-cidr"), DryRun: c.Bool("dry-run")}
			if p := c.Path("public-key"); p != "" {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				s.PublicKey = strings.TrimSpace(string(b))
				if strings.Contains(s.PublicKey, "PRIVATE KEY") {
					return fmt.Errorf("%s is a private key: give the .pub file", p)
				}
			}
			ctx, _, done := bounded(c, "the clouds' APIs ("+cloudNames(clouds)+")")
			fs := admin.SetupClouds(ctx, clouds, n, d.cloudOpts(c, log, path), s)
			done()
			if err := fs.Write(c.App.Writer); err != nil {
				return err
			}
			return failed(fs.Failed(), "clouds setup")
		},
	}
}

// pickClouds returns the clouds of cfg named in only (all when empty).
func pickClouds(cfg *config.Config, only []string) ([]cloud.Config, error) {
	if len(only) == 0 {
		return cfg.Clouds, nil
	}
	var out []cloud.Config
	for _, n := range only {
		found := false
		for _, c := range cfg.Clouds {
			if c.Name == n {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			var names []string
			for _, c := range cfg.Clouds {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("no cloud %q in ehos.yaml (it has %s)", n, strings.Join(names, ", "))
		}
	}
	return out, nil
}

func cloudNames(cs []cloud.Config) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
