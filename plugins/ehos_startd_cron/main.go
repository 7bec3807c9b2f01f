// Command ehos_startd_cron is the worker's startd cron hook: it prints the
// worker's identity and health as ClassAd attributes for its machine ad
// (STARTD_CRON_EHOS_* in condor-config/50-ehos-worker.conf). It always
// prints a valid ad and exits 0: problems become EHOSHealthy = false with
// EHOSHealthReason. The logic is in lib/nodeinfo.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/nodeinfo"
	"github.com/ehos-project/ehos/lib/version"
)

func main() {
	app := &cli.App{
		Name:    "ehos_startd_cron",
		Usage:   "print this worker's identity and health as machine-ad attributes",
		Version: version.Version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "identity", Value: nodeinfo.DefaultIdentityFile, EnvVars: []string{"EHOS_IDENTITY_FILE"}, Usage: "identity file written by cloud-init"},
			&cli.StringFlag{Name: "instance-id-file", Value: "/var/lib/cloud/data/instance-id", EnvVars: []string{"EHOS_INSTANCE_ID_FILE"}, Usage: "cloud-init's instance id, used when the identity has none"},
			&cli.StringFlag{Name: "metadata-url", EnvVars: []string{"EHOS_METADATA_URL"}, Usage: "metadata service to fill gaps, e.g. http://169.254.169.254 (default: none)"},
			&cli.StringFlag{Name: "execute-dir", EnvVars: []string{"EHOS_EXECUTE_DIR"}, Usage: "EXECUTE (default: condor_config_val)"},
			&cli.StringFlag{Name: "log-dir", EnvVars: []string{"EHOS_LOG_DIR"}, Usage: "LOG (default: condor_config_val)"},
			&cli.StringFlag{Name: "spool-dir", EnvVars: []string{"EHOS_SPOOL_DIR"}, Usage: "SPOOL (default: condor_config_val)"},
			&cli.Int64Flag{Name: "min-scratch-mb", Value: 1024, EnvVars: []string{"EHOS_MIN_SCRATCH_MB"}, Usage: "free MB EXECUTE needs to be healthy (0: no check)"},
			&cli.StringFlag{Name: "condor-bin", EnvVars: []string{"EHOS_CONDOR_BIN"}, Usage: "directory of HTCondor's tools (default: $PATH)"},
		},
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		// Only flag errors get here; the hook's own problems are in the ad.
		fmt.Fprintln(os.Stderr, "ehos_startd_cron:", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	cmdline.DefaultPath()
	ctx, cancel := context.WithTimeout(c.Context, 20*time.Second)
	defer cancel()
	dirs := map[string]string{"EXECUTE": c.String("execute-dir"), "LOG": c.String("log-dir"), "SPOOL": c.String("spool-dir")}
	var missing []string
	for k, v := range dirs {
		if v == "" {
			missing = append(missing, k)
		}
	}
	var reasons []string
	if len(missing) > 0 {
		cl := &condor.Client{BinDir: c.String("condor-bin"), Timeout: 10 * time.Second}
		vals, err := cl.ConfigVal(ctx, missing...)
		if err != nil {
			reasons = append(reasons, "condor_config_val: "+err.Error())
		}
		for _, k := range missing {
			dirs[k] = vals[k]
		}
	}
	now := time.Now()
	r := nodeinfo.Check(ctx, nodeinfo.Options{
		IdentityFile:   c.String("identity"),
		InstanceIDFile: c.String("instance-id-file"),
		MetadataURL:    c.String("metadata-url"),
		Dirs:           dirs,
		ScratchDir:     dirs["EXECUTE"],
		MinScratchMB:   c.Int64("min-scratch-mb"),
		Now:            now,
		BootTime:       nodeinfo.KernelBootTime("/proc/stat"),
	})
	if len(reasons) > 0 {
		r.Reasons = append(reasons, r.Reasons...)
		r.Healthy = false
	}
	if r.Identity.Name != "" && r.Identity.Pool != "" && r.Identity.RetireIdentity != "" {
		// Has the provisioner asked this worker to retire? Only a request
		// its identity wrote counts. A failed query leaves EHOSRetire as
		// the last run published it.
		cl := &condor.Client{BinDir: c.String("condor-bin"), Timeout: 10 * time.Second}
		ads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: nodeinfo.RetireConstraint(r.Identity.Pool, r.Identity.Name, r.Identity.RetireIdentity), Attrs: []string{"Name"}})
		if err == nil {
			retire := len(ads) > 0
			r.Retire = &retire
		}
	}
	text, err := r.Ad(now).MarshalText()
	if err != nil {
		// Cannot happen with the fixed attribute names; say so rather than
		// print half an ad.
		return err
	}
	_, err = os.Stdout.Write(text)
	return err
}
