"""The tools of specrelay's agent loop, and what each answers the model.

Every path a model names is confined exactly as the applier confines edits
(:func:`~specrelay.edits.resolve_in_worktree`); edits go through the applier itself, whose refusal (line
numbers, closest candidates) is the tool's answer. ``run_check`` runs only a command the user wrote
(``[agent] commands``, else ``[verify] commands``), named exactly as written: model output never
becomes a shell command. A read-only toolbox (a review) offers only listing, reading and searching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from specrelay import gitrepo, proc
from specrelay.errors import EditError, OutsideWorktree
from specrelay.llm import Tool, ToolCall
from specrelay.text import path_matches

#: The most of a tool's answer sent back to the model (characters): a long file is read in parts.
ANSWER_CHARS = 20000
#: The most lines ``list_files`` and ``search`` answer.
LISTED_LINES = 300
#: The tail of a check's output the model is given.
CHECK_TAIL_CHARS = 4000

_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 1}


def _schema(required: Sequence[str], **props: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props), "required": list(required), "additionalProperties": False}


READ_TOOLS = (
    Tool("list_files", "List the repository's files (tracked, and new ones not ignored) matching a glob "
         "such as 'src/**/*.py' ('**' or nothing: all).", _schema([], glob=_STR)),
    Tool("read_file", "Read a file of the repository, its lines numbered ('N<TAB>line'; the numbers are not "
         "part of the file). start_line and end_line (1-based, inclusive) read a part.",
         _schema(["path"], path=_STR, start_line=_INT, end_line=_INT)),
    Tool("search", "Search the repository's files for a regular expression (git grep -E), optionally only in "
         "files matching a glob; answers 'path:line:text' lines.", _schema(["pattern"], pattern=_STR, glob=_STR)),
)
WRITE_TOOLS = (
    Tool("edit", "Replace one exact, unique occurrence of `search` in a file with `replace`. Copy `search` "
         "from the file exactly (without read_file's line numbers); a refusal says where it nearly matched.",
         _schema(["path", "search", "replace"], path=_STR, search=_STR, replace=_STR)),
    Tool("create_file", "Create a new file with the given content (refused if it exists: use edit).",
         _schema(["path", "content"], path=_STR, content=_STR)),
    Tool("run_check", "Run one of the project's own check commands, named exactly as listed in the "
         "instructions; answers its exit code and the end of its output.", _schema(["name"], name=_STR)),
    Tool("finish", "Say the work is done, with a one-paragraph summary of what was changed.",
         _schema(["summary"], summary=_STR)),
)


@dataclass(frozen=True)
class Answer:
    """What a tool answered, and whether the model said it was done (``finish``)."""

    text: str
    finished: bool = False
    #: False when the tool refused or failed (the model is told why).
    ok: bool = True


class BadArguments(Exception):
    """A tool was called with arguments it does not take."""


class Toolbox:
    """The tools of one agent step over one worktree."""

    def __init__(self, worktree: Path, *, writable: bool, commands: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, timeout_s: float = 600.0, logs: Path | None = None,
                 log_prefix: str = "agent") -> None:
        self.root = worktree.resolve()
        self.writable = writable
        self.commands = tuple(commands)
        self.env = dict(env or {})
        self.timeout_s = timeout_s
        self.logs = logs
        self.log_prefix = log_prefix
        self.checks_run = 0
        #: Worktree-relative paths the edits changed or created, in order.
        self.changed: list[str] = []

    @property
    def tools(self) -> tuple[Tool, ...]:
        if not self.writable:
            return READ_TOOLS
        return READ_TOOLS + (WRITE_TOOLS if self.commands else tuple(t for t in WRITE_TOOLS if t.name != "run_check"))

    def describe_commands(self) -> str:
        """The commands ``run_check`` may run, for the instructions."""
        if not self.commands:
            return "No check commands are configured: run_check is not available."
        return "Check commands you may run with run_check (name them exactly):\n" + "\n".join(
            f"- {c}" for c in self.commands)

    async def run(self, call: ToolCall) -> Answer:
        """Answer one tool call; a refusal or a failure is an answer too, never an exception."""
        offered = {t.name for t in self.tools}
        if call.name not in offered:
            return Answer(f"Unknown tool '{call.name}'. The tools are: {', '.join(sorted(offered))}.", ok=False)
        try:
            answer: Answer = await getattr(self, f"_{call.name}")(**dict(call.arguments))
            return answer
        except (TypeError, BadArguments) as exc:
            return Answer(f"Bad arguments for {call.name}: {exc}", ok=False)
        except OutsideWorktree as exc:
            return Answer(str(exc), ok=False)
        except EditError as exc:  # the applier's own refusal, written for the model
            return Answer(f"The edit was not applied (nothing changed): {exc}", ok=False)

    # -- reading --------------------------------------------------------------------------------

    def _files(self) -> list[str]:
        out = gitrepo.run_git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], self.root).stdout
        return sorted({f for f in out.split("\0") if f and (self.root / f).is_file()})

    async def _list_files(self, glob: str = "**") -> Answer:
        _text(glob=glob)
        pattern = glob.strip() or "**"
        files = [f for f in self._files() if pattern in ("**", "*", ".") or path_matches(f, pattern)]
        if not files:
            return Answer(f"No files match {pattern!r}.")
        shown = files[:LISTED_LINES]
        more = f"\n... and {len(files) - len(shown)} more (narrow the glob)" if len(files) > len(shown) else ""
        return Answer("\n".join(shown) + more)

    async def _read_file(self, path: str, start_line: int | None = None, end_line: int | None = None) -> Answer:
        _text(path=path)
        target = self._inside(path)
        if not target.is_file():
            return Answer(f"No file {path!r} in the repository (list_files shows what there is).", ok=False)
        try:
            lines = target.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            return Answer(f"{path} is not UTF-8 text (a binary file?).", ok=False)
        first = _line(start_line, "start_line") or 1
        last = min(_line(end_line, "end_line") or len(lines), len(lines))
        if not lines:
            return Answer(f"{path} is empty.")
        if first > len(lines):
            return Answer(f"{path} has {len(lines)} lines; start_line={first} is past its end.", ok=False)
        if first > last:
            return Answer(f"end_line={end_line} is before start_line={first}.", ok=False)
        body: list[str] = []
        shown_last = first - 1
        size = 0
        for n in range(first, last + 1):
            row = f"{n}\t{lines[n - 1]}"
            if size + len(row) > ANSWER_CHARS:
                if not body:  # one line longer than an answer: its beginning, said so
                    body.append(row[:ANSWER_CHARS] + " [line cut]")
                    shown_last = n
                break
            body.append(row)
            size += len(row) + 1
            shown_last = n
        note = f"\n[lines {first}-{shown_last} of {len(lines)}; read on with start_line={shown_last + 1}]" \
            if shown_last < last else ""
        return Answer("\n".join(body) + note)

    async def _search(self, pattern: str, glob: str | None = None) -> Answer:
        _text(pattern=pattern)
        args = ["grep", "-n", "-I", "-E", "--untracked", "--exclude-standard", "-e", pattern, "--"]
        if glob:
            _text(glob=glob)
            self._pathspec(glob)
            args.append(f":(glob){glob}")
        done = gitrepo.run_git(args, self.root, check=False)
        if done.returncode == 1:
            return Answer(f"No match for {pattern!r}" + (f" in {glob!r}." if glob else "."))
        if done.returncode != 0:
            return Answer(f"The search failed: {done.stderr.strip()[:300]}", ok=False)
        lines = done.stdout.splitlines()
        more = f"\n... and {len(lines) - LISTED_LINES} more lines (narrow the pattern or the glob)" \
            if len(lines) > LISTED_LINES else ""
        return Answer("\n".join(line[:400] for line in lines[:LISTED_LINES]) + more)

    # -- writing --------------------------------------------------------------------------------

    async def _edit(self, path: str, search: str, replace: str) -> Answer:
        _text(path=path, search=search)
        from specrelay.edits import EditBlock, apply_blocks

        if not search:
            return Answer("search is empty: use create_file for a new file.", ok=False)
        if refused := self._ignored(path):
            return refused
        result = apply_blocks(self.root, [EditBlock(path, search, replace, 1)])
        self._note(result.changed)
        report = result.reports[0]
        where = f" (lines {report.first_line}-{report.last_line} matched)" if report.first_line else ""
        return Answer(f"Edited {path}{where}.")

    async def _create_file(self, path: str, content: str) -> Answer:
        _text(path=path, content=content)
        from specrelay.edits import EditBlock, apply_blocks

        if self._inside(path).exists():
            return Answer(f"{path} exists already: change it with edit.", ok=False)
        if refused := self._ignored(path):
            return refused
        result = apply_blocks(self.root, [EditBlock(path, "", content, 1)])
        self._note(result.changed)
        return Answer(f"Created {path}.")

    def _ignored(self, path: str) -> Answer | None:
        """A refusal for a file git ignores (and does not track): a commit would never take it."""
        self._inside(path)  # confined first: an outside path is refused as such
        if gitrepo.ignored(self.root, [path]):
            return Answer(f"Refused: {path} is ignored by git (.gitignore or .git/info/exclude), so the change "
                          "would never be committed; edit or create files the repository keeps.", ok=False)
        return None

    async def _run_check(self, name: str) -> Answer:
        _text(name=name)
        if name not in self.commands:
            listed = "; ".join(self.commands) or "none are configured"
            return Answer(f"Refused: {name!r} is not one of the project's check commands, and only those run "
                          f"(no other command is ever run). They are: {listed}.", ok=False)
        self.checks_run += 1
        assert self.logs is not None
        log = self.logs / f"{self.log_prefix}_check_{self.checks_run}.log"
        done = await proc.run(name, cwd=self.root, log=log, env=self.env, timeout_s=self.timeout_s,
                              header=f"$ {name}\n")
        state = f"timed out after {self.timeout_s:g} s" if done.timed_out else f"exit code {done.exit_code}"
        tail = done.tail[-CHECK_TAIL_CHARS:]
        return Answer(f"{state}\n{tail}", ok=done.passed)

    async def _finish(self, summary: str) -> Answer:
        _text(summary=summary)
        return Answer(summary, finished=True)

    # -- helpers --------------------------------------------------------------------------------

    def _inside(self, path: str) -> Path:
        from specrelay.edits import resolve_in_worktree

        return resolve_in_worktree(self.root, path)

    def _pathspec(self, glob: str) -> None:
        """Refuse a glob that could reach outside the worktree (or use git's pathspec magic)."""
        pure = PurePosixPath(glob)
        if glob.startswith((":", "/", "~")) or pure.is_absolute() or ".." in pure.parts or "\\" in glob:
            raise OutsideWorktree(f"Refusing the glob {glob!r}: globs are relative to the repository root, "
                                  "without '..'")

    def _note(self, changed: Sequence[str]) -> None:
        for path in changed:
            if path not in self.changed:
                self.changed.append(path)


def _text(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, str):
            raise BadArguments(f"'{name}' must be a string")


def _line(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadArguments(f"'{name}' must be a whole number from 1")
    return value
