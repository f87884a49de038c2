package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask fundtrace itself for the words that can
// come next (--generate-bash-completion, urfave/cli's protocol), so they
// follow the commands and flags of the binary they complete. They are
// urfave/cli's autocomplete scripts (MIT licence, github.com/urfave/cli,
// autocomplete/), with the program's name filled in.
const bashCompletion = `#!/bin/bash
# fundtrace completion for bash: source it, or put it in
# /etc/bash_completion.d/fundtrace (fundtrace completion bash > ...).
_fundtrace_init_completion() {
  COMPREPLY=()
  _get_comp_words_by_ref "$@" cur prev words cword
}

_fundtrace_bash_autocomplete() {
  if [[ "${COMP_WORDS[0]}" != "source" ]]; then
    local cur opts base words
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if declare -F _init_completion >/dev/null 2>&1; then
      _init_completion -n "=:" || return
    else
      _fundtrace_init_completion -n "=:" || return
    fi
    words=("${words[@]:0:$cword}")
    if [[ "$cur" == "-"* ]]; then
      requestComp="${words[*]} ${cur} --generate-bash-completion"
    else
      requestComp="${words[*]} --generate-bash-completion"
    fi
    opts=$(eval "${requestComp}" 2>/dev/null)
    COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
    return 0
  fi
}

complete -o bashdefault -o default -o nospace -F _fundtrace_bash_autocomplete fundtrace
`

const zshCompletion = `#compdef fundtrace
# fundtrace completion for zsh: put it on $fpath as _fundtrace
# (fundtrace completion zsh > "${fpath[1]}/_fundtrace").
_fundtrace() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

compdef _fundtrace fundtrace
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		UsageText: "fundtrace completion bash|zsh|fish",
		Description: `bash: source <(fundtrace completion bash), or save it in
/etc/bash_completion.d/fundtrace. zsh: save it as _fundtrace on $fpath.
fish: fundtrace completion fish > ~/.config/fish/completions/fundtrace.fish.
The scripts are made from the same definitions as fundtrace help.`,
		Action: func(c *cli.Context) error {
			shell, err := oneArg(c, "shell (bash, zsh or fish)")
			if err != nil {
				return err
			}
			switch shell {
			case "bash":
				_, err = fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				_, err = fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				var s string
				if s, err = c.App.ToFishCompletion(); err == nil {
					_, err = fmt.Fprint(c.App.Writer, s)
				}
			default:
				err = fmt.Errorf("shell %q: want bash, zsh or fish", shell)
			}
			return err
		},
	}
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print fundtrace's manual page (troff), made from the same definitions as fundtrace help",
		UsageText: "fundtrace man > fundtrace.1 && man ./fundtrace.1",
		Action: func(c *cli.Context) error {
			s, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, strings.TrimLeft(s, "\n"))
			return err
		},
	}
}
