package cmdline

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Args reorders a command line so urfave/cli reads every option wherever
// the user typed it. urfave/cli reads an option only at the level that
// defines it and stops at the first argument, so `ehos config migrate
// old.yaml -o new.yaml` and `ehos status -vv` would fail. Args returns
//
//	prog GLOBAL-OPTIONS COMMAND... OPTIONS UNKNOWN-DASH-WORDS ARGUMENTS
//
// An option the command defines wins over a global one of the same name.
// A word that looks like an option but is none is kept before the
// arguments, so urfave/cli reports it as a usage error rather than taking
// it as an argument. Everything after "--" stays an argument, in order.
func Args(app *cli.App, args []string) []string {
	// Shell completion asks with the words typed so far, flag last.
	if len(args) < 2 || args[len(args)-1] == completionFlag {
		return args
	}
	global := flagIndex(app.Flags)
	var front []string
	i := 1
	// Global options before the command.
	for i < len(args) && isDash(args[i]) {
		n := width(global, args, i)
		front = append(front, args[i:i+n]...)
		i += n
	}
	// `help COMMAND...` is `COMMAND... --help`: urfave/cli's help command
	// shows a command that has not run without its subcommands.
	if i+1 < len(args) && args[i] == "help" && findCommand(app.Commands, "help") == nil && !isDash(args[i+1]) {
		rest := append(append([]string{}, args[i+1:]...), "--help")
		return Args(app, append(append(append([]string{}, args[:1]...), front...), rest...))
	}
	// The command words: command, subcommand, ...
	local := map[string]cli.Flag{}
	var words []string
	cmds := app.Commands
	for i < len(args) {
		if isDash(args[i]) {
			// an option between command words (`ehos -v config -v check`)
			if n := width(local, args, i); n > 0 && local[flagName(args[i])] != nil {
				words = append(words, args[i:i+n]...)
				i += n
				continue
			}
			if f, _ := lookupFlag(global, args[i]); f != nil {
				n := width(global, args, i)
				front = append(front, args[i:i+n]...)
				i += n
				continue
			}
			break
		}
		c := findCommand(cmds, args[i])
		if c == nil {
			break
		}
		words = append(words, args[i])
		local = flagIndex(c.Flags)
		cmds = c.Subcommands
		i++
	}
	var opts, unknown, plain, tail []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			tail = args[i:]
			break
		}
		if !isDash(a) {
			plain = append(plain, a)
			continue
		}
		if f, _ := lookupFlag(local, a); f != nil {
			n := width(local, args, i)
			opts = append(opts, args[i:i+n]...)
			i += n - 1
			continue
		}
		if f, _ := lookupFlag(global, a); f != nil {
			n := width(global, args, i)
			front = append(front, args[i:i+n]...)
			i += n - 1
			continue
		}
		unknown = append(unknown, a)
	}
	out := append([]string{args[0]}, front...)
	out = append(out, words...)
	out = append(out, opts...)
	out = append(out, unknown...)
	if len(plain) > 0 && len(tail) == 0 {
		// An argument that starts with "-" would be read as an option.
		tail = []string{"--"}
	}
	if len(tail) > 0 {
		out = append(out, tail[0])
		out = append(out, plain...)
		return append(out, tail[1:]...)
	}
	return out
}

const completionFlag = "--generate-bash-completion"

// isDash says a word is written as an option.
func isDash(a string) bool { return strings.HasPrefix(a, "-") && a != "-" && a != "--" }

// width is how many words the option at args[i] spans: 2 when it takes a
// value given as the next word, else 1.
func width(flags map[string]cli.Flag, args []string, i int) int {
	f, inline := lookupFlag(flags, args[i])
	if f != nil && takesValue(f) && !inline && i+1 < len(args) {
		return 2
	}
	return 1
}

func flagName(arg string) string {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

// flagIndex maps every name and alias of flags to its flag.
func flagIndex(flags []cli.Flag) map[string]cli.Flag {
	m := map[string]cli.Flag{}
	for _, f := range flags {
		for _, n := range f.Names() {
			m[n] = f
		}
	}
	return m
}

// lookupFlag finds the flag an argument names: -x, --x, -x=v, --x=v, and
// the repeated short form of a boolean (-vv, -vvv). inline says the value
// came with it after '='.
func lookupFlag(flags map[string]cli.Flag, arg string) (f cli.Flag, inline bool) {
	if !isDash(arg) {
		return nil, false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, inline = strings.Cut(name, "=")
	if f, ok := flags[name]; ok {
		return f, inline
	}
	// -vv: a one-letter boolean given several times at once.
	if !strings.HasPrefix(arg, "--") && !inline && len(name) > 1 && strings.Count(name, name[:1]) == len(name) {
		if f, ok := flags[name[:1]]; ok && !takesValue(f) {
			return f, false
		}
	}
	return nil, false
}

func takesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
