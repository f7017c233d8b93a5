"""Shell completion scripts, generated from the command line's own parser, so
they stay true: ``assistant-router completion bash|zsh|fish``."""

from __future__ import annotations

import argparse


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its sub-parsers here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(option for action in parser._actions for option in action.option_strings if option.startswith("--"))


def _choices(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Options (and positional arguments, under their name) with a fixed set of values."""
    found = {}
    for action in parser._actions:
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            key = action.option_strings[-1] if action.option_strings else action.dest
            found[key] = [str(choice) for choice in action.choices]
    return found


def script(parser: argparse.ArgumentParser, shell: str, tasks: list[str]) -> str:
    commands = _commands(parser)
    prog = parser.prog
    if shell == "fish":
        lines = [f"# {prog} completion for fish: {prog} completion fish > ~/.config/fish/completions/{prog}.fish",
                 f"complete -c {prog} -f -n '__fish_use_subcommand' -a '{' '.join(commands)}'"]
        for name, sub in commands.items():
            seen = f"__fish_seen_subcommand_from {name}"
            for option in _options(sub):
                lines.append(f"complete -c {prog} -n '{seen}' -l {option[2:]}")
            for option, values in _choices(sub).items():
                if option.startswith("--"):
                    lines.append(f"complete -c {prog} -n '{seen}' -l {option[2:]} -x -a '{' '.join(values)}'")
            for option, values in _choices(sub).items():
                if not option.startswith("-"):  # a positional argument with fixed values
                    lines.append(f"complete -c {prog} -n '{seen}' -x -a '{' '.join(values)}'")
            if name == "run":
                lines.append(f"complete -c {prog} -n '{seen}; and __fish_is_nth_token 2' -x -a '{' '.join(tasks)}'")
            if name == "route":
                lines.append(f"complete -c {prog} -n '{seen}' -l task -x -a '{' '.join(tasks)}'")
        return "\n".join(lines) + "\n"
    function = "_" + prog.replace("-", "_")
    first_is_task = '      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "$tasks" -- "$cur")); return; fi\n'
    cases = []
    for name, sub in commands.items():
        values = "".join(f'      {option}) COMPREPLY=($(compgen -W "{" ".join(choices)}" -- "$cur")); return;;\n'
                         for option, choices in _choices(sub).items() if option.startswith("--"))
        cases.append(f'    {name})\n      opts="{" ".join(_options(sub))}"\n'
                     f'      case "$prev" in\n{values}'
                     f'      --task) COMPREPLY=($(compgen -W "$tasks" -- "$cur")); return;;\n      esac\n'
                     + (first_is_task if name == "run" else "")
                     + "".join(f'      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "{" ".join(choices)}"'
                               f' -- "$cur")); return; fi\n'
                               for option, choices in _choices(sub).items() if not option.startswith("-"))
                     + "      ;;")
    body = f'''{function}() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" opts=""
  local tasks="{" ".join(tasks)}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "{" ".join(commands)} --help --version" -- "$cur")); return
  fi
  case "${{COMP_WORDS[1]}}" in
{chr(10).join(cases)}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
}}
complete -o filenames -F {function} {prog}
'''
    if shell == "zsh":
        return (f"# {prog} completion for zsh: add  eval \"$({prog} completion zsh)\"  to ~/.zshrc\n"
                "autoload -U +X bashcompinit && bashcompinit\n" + body)
    return f"# {prog} completion for bash: add  eval \"$({prog} completion bash)\"  to ~/.bashrc\n" + body
