package main

import (
	"fmt"
	"runtime"

	"github.com/ehos-project/ehos/lib/version"
	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the ehos version",
		UsageText: "ehos version",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "ehos %s (%s, %s/%s)\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// -v is --verbose here (as in the original tool), so --version has no
// short form.
func init() {
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
}
