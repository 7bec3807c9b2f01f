package main

import (
	"github.com/ehos-project/ehos/lib/admin"
	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/urfave/cli/v2"
)

// outputFlag is -o of the check commands, as openstack and kubectl have it.
func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`FORMAT` of the findings: text (one line each) or json"}
}

// jsonOutput says whether -o json was asked for; any other format than
// text or json is a usage error, found before anything is checked.
func jsonOutput(c *cli.Context) (bool, error) {
	switch f := c.String("output"); f {
	case "text":
		return false, nil
	case "json":
		return true, nil
	default:
		return false, cmdline.Usagef(c, "-o %q: want text or json", f)
	}
}

// writeFindings prints the findings of a check (as -o asks) and makes
// the exit status 1 when any failed.
func writeFindings(c *cli.Context, fs admin.Findings, what string) error {
	if c.String("output") == "json" {
		if fs == nil {
			fs = admin.Findings{}
		}
		if err := writeJSON(c.App.Writer, struct {
			Findings admin.Findings `json:"findings"`
			Failed   int            `json:"failed"`
		}{fs, fs.Failed()}); err != nil {
			return err
		}
	} else if err := fs.Write(c.App.Writer); err != nil {
		return err
	}
	return failed(fs.Failed(), what)
}
