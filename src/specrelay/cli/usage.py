"""How ``--help`` reads: plain usage lines (``REQUEST...``, ``[RANGE]``), options with a word for their
value (``--jobs N``) instead of Python types, and every command's whole first sentence in the list.

typer's own plain help shows ``{REQUEST}...``, ``<list[str]>`` and ``[[RANGE]]``; these classes keep
its parsing and change only what is printed. Imported at start-up, so it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer import core

#: The word shown for an option's value when the command gives none, by the value's type.
_VALUE_WORDS = {"int": "N", "float": "NUMBER", "path": "PATH"}

#: Words by the option's name, before its type: what the value means, not what Python holds it in.
_NAMED_WORDS = {"budget": "USD"}

#: Arguments shown by another name than their parameter's: every task id is ``ID``.
_ARGUMENT_WORDS = {"task_id": "ID"}


def _value_word(param: Any) -> str:
    if param.name in _NAMED_WORDS:
        return _NAMED_WORDS[param.name]
    annotation = getattr(param.type_descriptor, "annotation", None)
    name = getattr(annotation, "__name__", "").lower()
    if name in _VALUE_WORDS:
        return _VALUE_WORDS[name]
    if "path" in name:
        return "PATH"
    return (param.name or "value").upper()


def _argument_name(param: Any) -> str:
    name = (param.metavar or (param.name or "arg").upper()).strip("[]")
    name = name if param.required else f"[{name}]"
    return name + ("..." if param.nargs != 1 else "")


class HelpCommand(core.TyperCommand):
    """A command whose help names values in words."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, core.TyperOption) and not param.is_flag and param.metavar is None:
                param.metavar = _value_word(param)
            elif isinstance(param, core.TyperArgument) and param.metavar is None:
                # The usage line and the "Missing argument" error then name it alike.
                param.metavar = _ARGUMENT_WORDS.get(param.name or "", (param.name or "arg").upper())

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, core.TyperArgument):
                pieces.append(_argument_name(param))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, core.TyperArgument):
                args.append((_argument_name(param).strip("[]."), record[1]))
            else:
                opts.append(record)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


#: The order ``--help`` lists the commands in: a task's life first, then the tools around it.
COMMAND_ORDER = ("run", "resume", "status", "show", "diff", "logs", "merge", "discard", "update", "review",
                 "ask", "cost", "serve", "mcp", "presets", "routes", "workflows", "eval", "init", "demo", "gc",
                 "worker", "temporal", "completion")


class HelpGroup(core.TyperGroup):
    """The top-level command: every command listed with its first sentence, never cut short, in one
    order (:data:`COMMAND_ORDER`; a command not named there comes after, alphabetically)."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: n for n, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            text = (cmd.short_help or cmd.help or "").strip().split("\n\n")[0].replace("\n", " ")
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


_Command = TypeVar("_Command", bound=Callable[..., Any])


class App(typer.Typer):
    """A Typer whose commands all print their help the way :class:`HelpCommand` does."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[_Command], _Command]:
        """typer's ``command``, typed: the decorated function keeps its own signature."""
        kwargs.setdefault("cls", HelpCommand)
        register: Callable[[_Command], _Command] = super().command(*args, **kwargs)
        return register
