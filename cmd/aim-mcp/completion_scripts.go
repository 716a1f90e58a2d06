package main

import (
	"fmt"
	"slices"
	"strings"
)

// The four scripts share one shape: at the first word, the commands; after
// a flag that takes a value, its values (fixed ones, files, or the server
// names "aim-mcp __complete servers" prints); at a word starting with -, the
// command's flags; at the second word, the command's subcommands; else,
// for commands that take a SERVER, the server names.

func bashCompletion(s completionSpec) string {
	var b strings.Builder
	b.WriteString(`# bash completion for aim-mcp. Install:
#   aim-mcp completion bash > ~/.local/share/bash-completion/completions/aim-mcp
# or add to ~/.bashrc:  source <(aim-mcp completion bash)
_aim_mcp() {
    local cur prev cmd words
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    if [[ $COMP_CWORD -eq 1 ]]; then
`)
	fmt.Fprintf(&b, "        COMPREPLY=($(compgen -W %s -- \"$cur\"))\n        return\n    fi\n", shQuote(s.names()))
	b.WriteString("    cmd=\"${COMP_WORDS[1]}\"\n    case \"$prev\" in\n")
	for _, name := range sortedKeys(s.values) {
		fmt.Fprintf(&b, "        %s)\n            COMPREPLY=($(compgen -W %s -- \"$cur\"))\n            return ;;\n", dashedAlternatives(name), shQuote(s.values[name]))
	}
	fmt.Fprintf(&b, "        %s)\n            COMPREPLY=($(compgen -f -- \"$cur\"))\n            return ;;\n", dashedAlternatives(s.fileFlags...))
	fmt.Fprintf(&b, "        %s)\n            COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" __complete servers 2>/dev/null)\" -- \"$cur\"))\n            return ;;\n", dashedAlternatives(s.serverFlags...))
	b.WriteString("    esac\n    if [[ $cur == -* ]]; then\n        case \"$cmd\" in\n")
	for _, c := range s.commands {
		if fl := s.dashedFlags(c.name); len(fl) > 0 {
			fmt.Fprintf(&b, "            %s) words=%s ;;\n", c.name, shQuote(fl))
		}
	}
	b.WriteString("        esac\n        COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n        return\n    fi\n")
	b.WriteString("    if [[ $COMP_CWORD -eq 2 ]]; then\n        case \"$cmd\" in\n")
	for _, name := range sortedKeys(s.subs) {
		fmt.Fprintf(&b, "            %s)\n                COMPREPLY=($(compgen -W %s -- \"$cur\"))\n                return ;;\n", name, shQuote(s.subs[name]))
	}
	b.WriteString("        esac\n    fi\n    case \"$cmd\" in\n")
	fmt.Fprintf(&b, "        %s)\n            COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" __complete servers 2>/dev/null)\" -- \"$cur\")) ;;\n", strings.Join(s.serverArgs, "|"))
	b.WriteString("    esac\n}\ncomplete -o default -F _aim_mcp aim-mcp\n")
	return b.String()
}

func zshCompletion(s completionSpec) string {
	var b strings.Builder
	b.WriteString(`#compdef aim-mcp
# zsh completion for aim-mcp. Install:
#   aim-mcp completion zsh > "${fpath[1]}/_aim-mcp"
# or add to ~/.zshrc, after compinit:  source <(aim-mcp completion zsh)
_aim_mcp() {
    local cmd=${words[2]} prev=${words[CURRENT-1]} cur=${words[CURRENT]}
    if (( CURRENT == 2 )); then
        local -a cmds
        cmds=(
`)
	for _, c := range s.commands {
		fmt.Fprintf(&b, "            %s\n", shQuote1(c.name+":"+c.short))
	}
	b.WriteString("        )\n        _describe 'command' cmds\n        return\n    fi\n    case $prev in\n")
	for _, name := range sortedKeys(s.values) {
		fmt.Fprintf(&b, "        %s) compadd -- %s; return ;;\n", dashedAlternatives(name), strings.Join(s.values[name], " "))
	}
	fmt.Fprintf(&b, "        %s) _files; return ;;\n", dashedAlternatives(s.fileFlags...))
	fmt.Fprintf(&b, "        %s) compadd -- ${(f)\"$(${words[1]} __complete servers 2>/dev/null)\"}; return ;;\n", dashedAlternatives(s.serverFlags...))
	b.WriteString("    esac\n    if [[ $cur == -* ]]; then\n        case $cmd in\n")
	for _, c := range s.commands {
		if fl := s.dashedFlags(c.name); len(fl) > 0 {
			fmt.Fprintf(&b, "            %s) compadd -- %s ;;\n", c.name, strings.Join(fl, " "))
		}
	}
	b.WriteString("        esac\n        return\n    fi\n    if (( CURRENT == 3 )); then\n        case $cmd in\n")
	for _, name := range sortedKeys(s.subs) {
		fmt.Fprintf(&b, "            %s) compadd -- %s; return ;;\n", name, strings.Join(s.subs[name], " "))
	}
	b.WriteString("        esac\n    fi\n    case $cmd in\n")
	fmt.Fprintf(&b, "        %s) compadd -- ${(f)\"$(${words[1]} __complete servers 2>/dev/null)\"} ;;\n", strings.Join(s.serverArgs, "|"))
	b.WriteString(`        *) _files ;;
    esac
}
if [[ "${funcstack[1]}" == "_aim-mcp" ]]; then
    _aim_mcp "$@"
else
    compdef _aim_mcp aim-mcp
fi
`)
	return b.String()
}

func fishCompletion(s completionSpec) string {
	var b strings.Builder
	b.WriteString(`# fish completion for aim-mcp. Install:
#   aim-mcp completion fish > ~/.config/fish/completions/aim-mcp.fish
# The command is always the second word: aim-mcp has no flags before it.
function __aim_mcp_using -d 'the command line is aim-mcp CMD ..., CMD one of the arguments'
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and contains -- $tokens[2] $argv
end
function __aim_mcp_second -d 'the word being completed is the one after aim-mcp CMD'
    set -l tokens (commandline -opc)
    test (count $tokens) -eq 2; and contains -- $tokens[2] $argv
end
function __aim_mcp_first -d 'the word being completed is the command'
    test (count (commandline -opc)) -eq 1
end
complete -c aim-mcp -f
`)
	for _, c := range s.commands {
		fmt.Fprintf(&b, "complete -c aim-mcp -n __aim_mcp_first -a %s -d %s\n", c.name, fishQuote(c.short))
	}
	for _, name := range sortedKeys(s.subs) {
		fmt.Fprintf(&b, "complete -c aim-mcp -n '__aim_mcp_second %s' -a '%s'\n", name, strings.Join(s.subs[name], " "))
	}
	fmt.Fprintf(&b, "complete -c aim-mcp -n '__aim_mcp_using %s' -a '(aim-mcp __complete servers 2>/dev/null)'\n", strings.Join(s.serverArgs, " "))
	for _, c := range s.commands {
		for _, f := range s.flags[c.name] {
			opt := "-l " + f.name
			if len([]rune(f.name)) == 1 {
				opt = "-s " + f.name
			}
			fmt.Fprintf(&b, "complete -c aim-mcp -n '__aim_mcp_using %s' %s", c.name, opt)
			switch {
			case !f.value:
			case s.values[f.name] != nil:
				fmt.Fprintf(&b, " -x -a '%s'", strings.Join(s.values[f.name], " "))
			case slices.Contains(s.fileFlags, f.name):
				b.WriteString(" -r -F")
			case slices.Contains(s.serverFlags, f.name):
				b.WriteString(" -x -a '(aim-mcp __complete servers 2>/dev/null)'")
			default:
				b.WriteString(" -x")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func powershellCompletion(s completionSpec) string {
	var b strings.Builder
	b.WriteString(`# PowerShell completion for aim-mcp. Install:
#   aim-mcp completion powershell | Out-String | Invoke-Expression
# (add that line to $PROFILE to keep it)
Register-ArgumentCompleter -Native -CommandName 'aim-mcp', 'aim-mcp.exe' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | ForEach-Object { $_.ToString() })
    $n = $words.Count
    if ($wordToComplete -ne '') { $n-- }
`)
	fmt.Fprintf(&b, "    $commands = @(%s)\n", psList(s.names()))
	b.WriteString("    $subs = @{\n")
	for _, name := range sortedKeys(s.subs) {
		fmt.Fprintf(&b, "        '%s' = @(%s)\n", name, psList(s.subs[name]))
	}
	b.WriteString("    }\n    $flags = @{\n")
	for _, c := range s.commands {
		if fl := s.dashedFlags(c.name); len(fl) > 0 {
			fmt.Fprintf(&b, "        '%s' = @(%s)\n", c.name, psList(fl))
		}
	}
	b.WriteString("    }\n    $values = @{\n")
	for _, name := range sortedKeys(s.values) {
		fmt.Fprintf(&b, "        '%s' = @(%s)\n", dashed(name), psList(s.values[name]))
	}
	b.WriteString("    }\n")
	fmt.Fprintf(&b, "    $serverFlags = @(%s)\n", psList(dashedAll(s.serverFlags)))
	fmt.Fprintf(&b, "    $fileFlags = @(%s)\n", psList(dashedAll(s.fileFlags)))
	fmt.Fprintf(&b, "    $serverArgs = @(%s)\n", psList(s.serverArgs))
	b.WriteString(`    $candidates = @()
    if ($n -le 1) {
        $candidates = $commands
    } else {
        $cmd = $words[1]
        $prev = $words[$n - 1]
        if ($values.ContainsKey($prev)) {
            $candidates = $values[$prev]
        } elseif ($serverFlags -contains $prev) {
            $candidates = @(& $words[0] __complete servers 2>$null)
        } elseif ($fileFlags -contains $prev) {
            return
        } elseif ($wordToComplete.StartsWith('-')) {
            $candidates = $flags[$cmd]
        } elseif ($n -eq 2 -and $subs.ContainsKey($cmd)) {
            $candidates = $subs[$cmd]
        } elseif ($serverArgs -contains $cmd) {
            $candidates = @(& $words[0] __complete servers 2>$null)
        }
    }
    $candidates | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
        [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
    }
}
`)
	return b.String()
}

// shQuote is words as one single-quoted shell word.
func shQuote(words []string) string { return shQuote1(strings.Join(words, " ")) }

// shQuote1 single-quotes s for bash, zsh and fish.
func shQuote1(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// psList is a PowerShell array body: 'a', 'b'.
func psList(words []string) string {
	var q []string
	for _, w := range words {
		q = append(q, "'"+strings.ReplaceAll(w, "'", "''")+"'")
	}
	return strings.Join(q, ", ")
}

// dashedAlternatives is a case pattern matching each flag as -name or --name.
func dashedAlternatives(names ...string) string {
	var alts []string
	for _, n := range names {
		alts = append(alts, "-"+n, "--"+n)
	}
	return strings.Join(alts, "|")
}

func dashedAll(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, dashed(n))
	}
	return out
}

// fishQuote single-quotes s for fish, where \' is a quote inside quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
