package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// hoistGlobalFlags lets users put the app's global flags (-v, --config,
// --clouds, --condor-bin) after the command, as they type them
// (`ehos config check --config F`, `ehos status -vv`): urfave/cli only
// reads a flag at the level that defines it, so each such flag found after
// the command words is moved in front of them. A flag the command itself
// defines (render and simulate have their own --config) stays where it
// is, and so does everything after "--".
func hoistGlobalFlags(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	global := flagIndex(app.Flags)
	i := 1
	// Global flags already in front stay there.
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		f, inline := lookupFlag(global, args[i])
		i++
		if f != nil && takesValue(f) && !inline && i < len(args) {
			i++
		}
	}
	// The command words: command, subcommand, ...
	local := map[string]cli.Flag{}
	cmds, words := app.Commands, i
	for i < len(args) {
		c := findCommand(cmds, args[i])
		if c == nil {
			break
		}
		for n, f := range flagIndex(c.Flags) {
			local[n] = f
		}
		cmds = c.Subcommands
		i++
	}
	if i == words {
		return args // no command: nothing to hoist
	}
	var moved, rest []string
	for j := i; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			rest = append(rest, args[j:]...)
			break
		}
		if f, inline := lookupFlag(local, a); f != nil {
			rest = append(rest, a)
			if takesValue(f) && !inline && j+1 < len(args) {
				j++
				rest = append(rest, args[j])
			}
			continue
		}
		if f, inline := lookupFlag(global, a); f != nil {
			moved = append(moved, a)
			if takesValue(f) && !inline && j+1 < len(args) {
				j++
				moved = append(moved, args[j])
			}
			continue
		}
		rest = append(rest, a)
	}
	if len(moved) == 0 {
		return args
	}
	out := append([]string{}, args[:1]...)
	out = append(out, moved...)
	out = append(out, args[1:i]...)
	return append(out, rest...)
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
	if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
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
