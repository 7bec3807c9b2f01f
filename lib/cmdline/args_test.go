package cmdline

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/urfave/cli/v2"
)

func testApp() *cli.App {
	str := func(n string, aliases ...string) cli.Flag { return &cli.StringFlag{Name: n, Aliases: aliases} }
	return &cli.App{
		Flags: []cli.Flag{&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}}, str("config", "c"), str("clouds")},
		Commands: []*cli.Command{
			{Name: "status", Flags: []cli.Flag{&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}}, &cli.DurationFlag{Name: "interval"}}},
			{Name: "config", Subcommands: []*cli.Command{
				{Name: "check"},
				{Name: "migrate", Flags: []cli.Flag{str("output", "o"), &cli.BoolFlag{Name: "force"}}},
			}},
			{Name: "render", Flags: []cli.Flag{&cli.StringSliceFlag{Name: "set"}}},
			{Name: "local", Flags: []cli.Flag{str("config")}},
		},
	}
}

func TestArgs(t *testing.T) {
	app := testApp()
	for _, tc := range []struct{ in, want string }{
		{"ehos config check --config F", "ehos --config F config check"},
		{"ehos config check --config=F -v", "ehos --config=F -v config check"},
		{"ehos status -vv --watch", "ehos -vv status --watch"},
		{"ehos status -v -v", "ehos -v -v status"},
		{"ehos -c F status --clouds C", "ehos -c F --clouds C status"},
		// Options after arguments (the README's own migrate line).
		{"ehos config migrate old.yaml -o new.yaml", "ehos config migrate -o new.yaml -- old.yaml"},
		{"ehos config migrate old.yaml -o new.yaml --force -c F", "ehos -c F config migrate -o new.yaml --force -- old.yaml"},
		{"ehos render worker.yaml --set a=1 --set=b=2", "ehos render --set a=1 --set=b=2 -- worker.yaml"},
		// A global option between command words.
		{"ehos config -v check", "ehos -v config check"},
		// A command's own option of a global's name stays the command's.
		{"ehos local x --config F", "ehos local --config F -- x"},
		// A word that looks like an option but is none stays before the
		// arguments, so it is refused rather than taken as an argument.
		{"ehos status --jsn", "ehos status --jsn"},
		{"ehos config migrate old.yaml --bogus", "ehos config migrate --bogus -- old.yaml"},
		// After "--" nothing is an option.
		{"ehos render x -- --set F", "ehos render -- x --set F"},
		// An argument that starts with - is still an argument after "--".
		{"ehos config migrate -- -old.yaml", "ehos config migrate -- -old.yaml"},
		// No command, or nothing to move: unchanged.
		{"ehos --config F", "ehos --config F"},
		{"ehos -vv --config F status", "ehos -vv --config F status"},
		// help COMMAND is COMMAND --help, which shows its subcommands.
		{"ehos help config", "ehos config --help"},
		{"ehos -v help config migrate", "ehos -v config migrate --help"},
		// An unknown command is left for the app to refuse.
		{"ehos stauts -v", "ehos -v -- stauts"},
	} {
		got := strings.Join(Args(app, strings.Fields(tc.in)), " ")
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q: (-want +got)\n%s", tc.in, d)
		}
	}
}
