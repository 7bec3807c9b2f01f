package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// The flags as users type them (README: --once --dry-run -vv) and as
// condor_master passes them (-f, -local-name NAME).
func TestFlagsAsTyped(t *testing.T) {
	for _, tc := range []struct {
		args      string
		verbosity int
		local     string
	}{
		{"--once --dry-run -vv", 2, ""},
		{"--once --dry-run -v -v", 2, ""},
		{"-v --once", 1, ""},
		{"-f -local-name EHOS_PROVISIONER -vv", 2, "EHOS_PROVISIONER"},
		{"--once", 0, ""},
	} {
		verbosity = 0
		app := newApp()
		var got string
		app.Action = func(c *cli.Context) error { got = c.String("local-name"); return nil }
		if err := app.Run(append([]string{"ehos_provisioner"}, strings.Fields(tc.args)...)); err != nil {
			t.Errorf("%s: %v", tc.args, err)
			continue
		}
		// urfave/cli leaves an unset counting flag at -1: no -v at all.
		if max(verbosity, 0) != tc.verbosity || got != tc.local {
			t.Errorf("%s: verbosity %d local-name %q, want %d %q", tc.args, verbosity, got, tc.verbosity, tc.local)
		}
	}
}
