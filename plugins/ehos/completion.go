package main

import (
	"fmt"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/urfave/cli/v2"
)

// The scripts ask ehos itself for the words that may follow (urfave/cli's
// --generate-bash-completion), so they never fall behind the commands.
const bashCompletion = `# ehos completion for bash: source <(ehos completion bash)
_ehos() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local words
    if [[ $cur == -* ]]; then
        # a lone "-" asks for the options (a partial one would not parse)
        words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" - --generate-bash-completion 2>/dev/null)
    else
        words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    [[ ${#COMPREPLY[@]} -eq 0 ]] && compopt -o default 2>/dev/null
    return 0
}
complete -F _ehos ehos
`

const zshCompletion = `#compdef ehos
# ehos completion for zsh: source <(ehos completion zsh)
_ehos() {
    local -a opts dash
    [[ $PREFIX == -* ]] && dash=(-)
    opts=("${(@f)$(${words[1]} ${words[2,CURRENT-1]} $dash --generate-bash-completion 2>/dev/null)}")
    if [[ ${#opts} -gt 0 && -n ${opts[1]} ]]; then
        _describe 'ehos' opts
    else
        _files
    fi
}
compdef _ehos ehos
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash or zsh",
		ArgsUsage: "bash|zsh",
		UsageText: "ehos completion bash > /etc/bash_completion.d/ehos\n" +
			"   source <(ehos completion bash)     # in ~/.bashrc\n" +
			"   source <(ehos completion zsh)      # in ~/.zshrc, after compinit",
		Action: func(c *cli.Context) error {
			var script string
			switch c.Args().First() {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			default:
				return cmdline.Usagef(c, "ehos completion: want bash or zsh, got %q", c.Args().First())
			}
			if c.NArg() > 1 {
				return cmdline.Usagef(c, "ehos completion: want one shell, got %d arguments", c.NArg())
			}
			_, err := fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}
