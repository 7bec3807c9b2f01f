package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// Exit codes, the same for every ehos binary (docs/cli.md).
const (
	ExitOK      = 0 // done; every check passed
	ExitProblem = 1 // a check found problems, or an action failed
	ExitUsage   = 2 // the command line is wrong: the help went to stderr
)

// UsageError is a command line ehos cannot run as typed.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef is the error of an action that finds its arguments wrong: it
// prints the command's help to stderr and makes the binary exit 2.
func Usagef(c *cli.Context, format string, a ...any) error {
	writeHelp(c)
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// Prepare makes app and every command in it report usage errors as
// UsageError (help to stderr, not stdout, so `ehos status --jsn | jq` gets
// nothing to parse) and an unknown command as one, with a suggestion.
func Prepare(app *cli.App) {
	onUsage := func(c *cli.Context, err error, _ bool) error { return Usagef(c, "%v", err) }
	app.OnUsageError = onUsage
	if app.ExitErrHandler == nil {
		// Run decides the exit status; urfave/cli would os.Exit itself.
		app.ExitErrHandler = func(*cli.Context, error) {}
	}
	if app.Action == nil && len(app.Commands) > 0 {
		app.Action = unknownCommand(app.Commands)
	}
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.OnUsageError = onUsage
			if c.Action == nil && len(c.Subcommands) > 0 {
				c.Action = unknownCommand(c.Subcommands)
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

// unknownCommand is the action of a command that only holds subcommands:
// alone it shows its help; with a word that names none, it is a usage
// error.
func unknownCommand(cmds []*cli.Command) cli.ActionFunc {
	return func(c *cli.Context) error {
		if !c.Args().Present() {
			if len(c.Lineage()) <= 2 {
				return cli.ShowAppHelp(c)
			}
			return cli.ShowSubcommandHelp(c)
		}
		word := c.Args().First()
		msg := fmt.Sprintf("unknown command %q", word)
		if s := cli.SuggestCommand(cmds, word); s != "" {
			msg += ". " + s
		}
		return Usagef(c, "%s", msg)
	}
}

// writeHelp prints the help of the command c runs to stderr.
func writeHelp(c *cli.Context) {
	out := c.App.Writer
	c.App.Writer = c.App.ErrWriter
	defer func() { c.App.Writer = out }()
	if len(c.Lineage()) <= 2 || c.Command == nil || c.Command.Name == "" {
		_ = cli.ShowAppHelp(c)
		return
	}
	if len(c.Command.Subcommands) > 0 {
		_ = cli.ShowSubcommandHelp(c)
		return
	}
	_ = cli.ShowCommandHelp(c.Lineage()[1], c.Command.Name)
}

// Run runs app on args (reordered by Args), prints an error to stderr
// once, prefixed with the app's name, and returns the exit code.
func Run(ctx context.Context, app *cli.App, args []string, stderr io.Writer) int {
	Prepare(app)
	// `ehos stauts --help` asks for help on a command there is none of.
	var unknown error
	app.CommandNotFound = func(c *cli.Context, name string) {
		msg := fmt.Sprintf("unknown command %q", name)
		if s := cli.SuggestCommand(app.Commands, name); s != "" {
			msg += ". " + s
		}
		unknown = Usagef(c, "%s", msg)
	}
	err := app.RunContext(ctx, Args(app, args))
	if err == nil {
		err = unknown
	}
	if err == nil {
		return ExitOK
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", app.Name, msg)
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return ExitProblem
}
