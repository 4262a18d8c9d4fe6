"""Parse a Markdown workflow (Zenflow's format) into a :class:`~specrelay.workflow.model.Workflow`.

A step is a heading whose text is ``[ ] Step: Title`` or ``[x] Step: Title``. Directives are
HTML comments right under the heading, one ``key: value`` per line::

    ### [ ] Step: Review
    <!-- agents: gpt-reviewer, gemini-reviewer -->
    <!-- max-rounds: 3 -->
    Review the diff against spec.md.

Parsing goes through markdown-it tokens, so a heading inside a code fence or a block quote
is never mistaken for a step, and every error can name the line it is about.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import specrelay.workflow.kinds as kinds
from specrelay.errors import WorkflowError
from specrelay.workflow.model import Step, Workflow

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

#: Every directive key a step may carry, in the order error messages list them.
KNOWN_DIRECTIVES: tuple[str, ...] = ("agent", "agents", "kind", "reads", "writes", "run", "max-rounds", "mode",
                                     "max-turns", "parallel", "challenger",
                                     "escalate-after", "per")
#: What ``<!-- parallel: ... -->`` may split a build step by: the spec's workstreams, a fix round's findings.
PARALLEL_VALUES: tuple[str, ...] = ("workstreams", "findings")

_SINGLE_KEYS = frozenset({"agent", "agents", "kind", "max-rounds", "mode", "max-turns", "parallel", "challenger",
                          "escalate-after", "per"})
#: What separates the presets of a cheap-first cascade: ``agent: flash-builder > sonnet-builder``.
CASCADE_SEP = ">"
_STEP_RE = re.compile(r"^\[([ xX])\]\s+step:\s*(.*?)\s*$", re.IGNORECASE)
_COMMENT_RE = re.compile(r"<!--(.*?)-->", re.DOTALL)
# (?:(?!-->).)* so that "<!-- a --> prose <!-- b -->" is not read as one comment.
_ONLY_COMMENTS_RE = re.compile(r"\s*(?:<!--(?:(?!-->).)*-->\s*)+", re.DOTALL)
_PAIR_RE = re.compile(r"^([A-Za-z][\w-]*)\s*:\s*(.*?)\s*$")
_PRESET_RE = re.compile(r"^[^\s,]+$")


class StepHeading(NamedTuple):
    """A step heading found in a workflow's Markdown, before its directives are read."""

    line: int  # 1-based
    title: str
    checked: bool
    token_index: int


class _Directive(NamedTuple):
    key: str
    value: str
    line: int


def error(label: str, line: int, what: str, fix: str) -> WorkflowError:
    """A :class:`WorkflowError` in the ``file:line: what. fix`` shape every workflow error uses."""
    return WorkflowError(f"{label}:{line}: {what}. {fix}")


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _normalize(text: str) -> str:
    # markdown-it counts lines after turning \r\n and \r into \n; do the same so maps line up.
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


@functools.cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt  # imported late: only commands that read workflows pay for it

    # Block structure is all a workflow needs: heading text and HTML comments are block-level
    # token content, so the (slow) inline pass is skipped.
    return MarkdownIt("commonmark").disable("inline")


def _tokens(src: str) -> list[Token]:
    return _parser().parse(src)


def _headings(tokens: Sequence[Token]) -> list[StepHeading]:
    found: list[StepHeading] = []
    for index, token in enumerate(tokens):
        # level 0 only: a step heading inside a block quote or list belongs to a body.
        if token.type != "heading_open" or token.level != 0 or token.map is None:
            continue
        match = _STEP_RE.match(tokens[index + 1].content)
        if match:
            found.append(StepHeading(token.map[0] + 1, match.group(2), match.group(1) != " ", index))
    return found


def step_headings(text: str) -> list[StepHeading]:
    """The step headings of ``text`` in order, without reading directives (never raises)."""
    return _headings(_tokens(_normalize(text)))


def _drop_blank_ends(lines: Sequence[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return list(lines[start:end])


def _directive_blocks(tokens: Sequence[Token], start: int, stop: int) -> list[Token]:
    """The comment-only HTML blocks right after the heading whose ``heading_open`` is at ``start``."""
    blocks: list[Token] = []
    index = start + 3  # heading_open, inline, heading_close
    while index < stop:
        token = tokens[index]
        if token.type != "html_block" or not _ONLY_COMMENTS_RE.fullmatch(token.content):
            break
        blocks.append(token)
        index += 1
    return blocks


def _read_directives(blocks: Sequence[Token], label: str) -> Iterator[_Directive]:
    for block in blocks:
        assert block.map is not None
        for comment in _COMMENT_RE.finditer(block.content):
            first = block.map[0] + 1 + block.content.count("\n", 0, comment.start(1))
            for offset, raw in enumerate(comment.group(1).split("\n")):
                if raw.strip():
                    yield _parse_pair(raw, first + offset, label)


def _parse_pair(raw: str, line: int, label: str) -> _Directive:
    match = _PAIR_RE.match(raw.strip())
    if not match:
        raise error(label, line, f"cannot read directive {raw.strip()!r}",
                    "Write directives as '<!-- key: value -->', one per line")
    key, value = match.group(1).lower(), match.group(2)
    if key not in KNOWN_DIRECTIVES:
        raise error(label, line, f"unknown directive '{key}'; known: {', '.join(KNOWN_DIRECTIVES)}",
                    did_you_mean(key, KNOWN_DIRECTIVES).strip() or "Use one of the known directives")
    if not value:
        raise error(label, line, f"directive '{key}' has no value", f"Write it as '<!-- {key}: VALUE -->'")
    return _Directive(key, value, line)


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _artifacts(d: _Directive, label: str) -> tuple[str, ...]:
    names = _split_list(d.value)
    for name in names:
        if "/" in name or "\\" in name or name in {".", ".."} or name.startswith("."):
            raise error(label, d.line, f"'{d.key}' names {name!r}, which is not a plain file name",
                        "Artifacts live in the task folder; name them like 'spec.md' or 'notes.txt'")
    return names


def _cascade(d: _Directive, label: str) -> tuple[str, ...]:
    """``agent: a > b > c``: the presets of a cheap-first cascade, cheapest first."""
    links = tuple(part.strip() for part in d.value.split(CASCADE_SEP))
    for n, name in enumerate(links, 1):
        if not name:
            raise error(label, d.line, f"link {n} of the cascade {d.value!r} names no preset",
                        "Write a cascade as '<!-- agent: cheap > stronger > strongest -->'")
        if not _PRESET_RE.match(name):
            raise error(label, d.line, f"{name!r} in the cascade {d.value!r} is not a preset name",
                        "Separate a cascade's presets with '>': '<!-- agent: cheap > stronger -->'")
    return links


def _presets(d: _Directive, label: str) -> tuple[str, ...]:
    if d.key == "agent":
        if CASCADE_SEP in d.value:
            return _cascade(d, label)
        if not _PRESET_RE.match(d.value):
            raise error(label, d.line, f"'agent' takes one preset name, got {d.value!r}",
                        "For a panel of several presets, write '<!-- agents: a, b -->'")
        return (d.value,)
    names = _split_list(d.value)
    if len(names) < 2:
        raise error(label, d.line, f"'agents' needs two or more presets, got {len(names)}",
                    "For a single preset, write '<!-- agent: NAME -->'")
    for name in names:
        if not _PRESET_RE.match(name):
            raise error(label, d.line, f"{name!r} is not a preset name",
                        "Separate preset names with commas: '<!-- agents: a, b -->'")
    return names


def _challenger(d: _Directive, label: str) -> str:
    if not _PRESET_RE.match(d.value):
        raise error(label, d.line, f"'challenger' takes one preset name, got {d.value!r}",
                    "Name one preset (or route) of another family: '<!-- challenger: gpt-reviewer -->'")
    return d.value


def _kind(d: _Directive, label: str) -> str:
    known = kinds.known_kinds()
    if kinds.spec(d.value.lower()) is None:  # a kind no module registered: nothing could run it
        raise error(label, d.line, f"unknown step kind {d.value!r}; known: {', '.join(known)}",
                    did_you_mean(d.value.lower(), known).strip() or "Use one of the known kinds")
    return d.value.lower()


def _max_rounds(d: _Directive, label: str) -> int:
    if not re.fullmatch(r"\+?\d+", d.value) or int(d.value) < 1:
        raise error(label, d.line, f"'max-rounds' must be a positive whole number, got {d.value!r}",
                    "Write e.g. '<!-- max-rounds: 3 -->'")
    return int(d.value)


def _escalate_after(d: _Directive, label: str) -> int:
    if not re.fullmatch(r"\+?\d+", d.value) or int(d.value) < 1:
        raise error(label, d.line, f"'escalate-after' must be a positive whole number of review rounds, got "
                    f"{d.value!r}", "Write e.g. '<!-- escalate-after: 1 -->'")
    return int(d.value)


def _max_turns(d: _Directive, label: str) -> int:
    if not re.fullmatch(r"\+?\d+", d.value) or int(d.value) < 1:
        raise error(label, d.line, f"'max-turns' must be a positive whole number, got {d.value!r}",
                    "Write e.g. '<!-- max-turns: 30 -->'")
    return int(d.value)


def _mode(d: _Directive, label: str) -> str:
    if d.value.lower() not in ("answer", "agent"):
        raise error(label, d.line, f"'mode' must be 'answer' or 'agent', got {d.value!r}",
                    "Write '<!-- mode: agent -->' for specrelay's tool loop, or leave it out")
    return d.value.lower()


def _parallel(d: _Directive, label: str) -> tuple[str, ...]:
    values = tuple(v.lower() for v in _split_list(d.value))
    for value in values:
        if value not in PARALLEL_VALUES:
            raise error(label, d.line, f"unknown 'parallel' value {value!r}; known: {', '.join(PARALLEL_VALUES)}",
                        (did_you_mean(value, PARALLEL_VALUES).strip() + " Write e.g. "
                         "'<!-- parallel: workstreams, findings -->'").strip())
    return tuple(dict.fromkeys(values))


#: What ``<!-- per: ... -->`` may take a build step through one at a time: the spec's milestones.
PER_VALUES = ("milestone",)


def _per(d: _Directive, label: str) -> str:
    value = d.value.strip().lower().removesuffix("s")
    if value not in PER_VALUES:
        raise error(label, d.line, f"unknown 'per' value {d.value!r}; known: {', '.join(PER_VALUES)}",
                    "Write '<!-- per: milestone -->' to build and review the spec's milestones one at a time")
    return value


def _title_kinds(title: str) -> list[str]:
    """The kinds the words of ``title`` point to, each once, in title order."""
    words = re.findall(r"[a-z]+", title.lower())
    table = kinds.title_words()
    return list(dict.fromkeys(table[w].name for w in words if w in table))


def infer_kind(title: str) -> str | None:
    """The kind a step title implies (``"Planning"`` → plan), or ``None`` if none or ambiguous."""
    kinds = _title_kinds(title)
    return kinds[0] if len(kinds) == 1 else None


class _Fields:
    """The directive values of one step as they are read, before defaults are applied."""

    def __init__(self) -> None:
        self.presets: tuple[str, ...] = ()
        self.kind: str | None = None
        self.reads: tuple[str, ...] | None = None
        self.writes: tuple[str, ...] | None = None
        self.run: list[str] = []
        self.max_rounds: int | None = None
        self.mode: str | None = None
        self.max_turns: int | None = None
        self.parallel: tuple[str, ...] = ()
        self.challenger: str | None = None
        self.cascade = False
        self.escalate_after: int | None = None
        self.per: str | None = None
        self.lines: dict[str, int] = {}

    def add(self, d: _Directive, label: str) -> None:
        if d.key in _SINGLE_KEYS and d.key in self.lines:
            raise error(label, d.line, f"'{d.key}' is given twice (first on line {self.lines[d.key]})",
                        "Keep one")
        clash = {"agent": "agents", "agents": "agent"}.get(d.key)
        if clash in self.lines:
            raise error(label, d.line, f"a step takes 'agent' or 'agents', not both ('{clash}' is on "
                        f"line {self.lines[clash]})", "Use 'agent' for one preset, 'agents' for a panel")
        self.lines.setdefault(d.key, d.line)
        if d.key in ("agent", "agents"):
            self.presets = _presets(d, label)
            self.cascade = d.key == "agent" and len(self.presets) > 1
        elif d.key == "kind":
            self.kind = _kind(d, label)
        elif d.key in ("reads", "writes"):
            names = (getattr(self, d.key) or ()) + _artifacts(d, label)
            setattr(self, d.key, names)
        elif d.key == "run":
            self.run.append(d.value)
        elif d.key == "mode":
            self.mode = _mode(d, label)
        elif d.key == "max-turns":
            self.max_turns = _max_turns(d, label)
        elif d.key == "parallel":
            self.parallel = _parallel(d, label)
        elif d.key == "challenger":
            self.challenger = _challenger(d, label)
        elif d.key == "escalate-after":
            self.escalate_after = _escalate_after(d, label)
        elif d.key == "per":
            self.per = _per(d, label)
        else:
            self.max_rounds = _max_rounds(d, label)


def _resolve_kind(fields: _Fields, heading: StepHeading, label: str) -> str:
    if fields.kind is not None:
        return fields.kind
    kind = infer_kind(heading.title)
    if kind is None and fields.run and not fields.presets:
        # A step that only runs commands can only be a kind that runs commands.
        kind = next((s.name for s in kinds.specs() if s.commands), None)
    if kind is None:
        suggested = _title_kinds(heading.title)
        why = f" (its title suggests {' and '.join(suggested)})" if suggested else ""
        raise error(label, heading.line, f"cannot tell what kind of step '{heading.title}' is{why}",
                    "Add '<!-- kind: KIND -->' under its heading, with KIND one of: "
                    + ", ".join(kinds.known_kinds()))
    return kind


def _build_step(heading: StepHeading, fields: _Fields, body: str, label: str) -> Step:
    if not heading.title:
        raise error(label, heading.line, "step heading has no title", "Write it as '### [ ] Step: Title'")
    kind = _resolve_kind(fields, heading, label)
    spec = kinds.spec(kind)
    assert spec is not None  # _resolve_kind names registered kinds only
    return Step(
        title=heading.title,
        kind=kind,
        presets=fields.presets,
        body=body,
        line=heading.line,
        checked=heading.checked,
        reads=spec.reads if fields.reads is None else fields.reads,
        writes=spec.writes if fields.writes is None else fields.writes,
        run=tuple(fields.run),
        max_rounds=fields.max_rounds,
        mode=fields.mode,
        max_turns=fields.max_turns,
        parallel=fields.parallel,
        directives=tuple(fields.lines.items()),
        challenger=fields.challenger,
        cascade=fields.cascade,
        escalate_after=fields.escalate_after,
        per=fields.per,
    )


def parse_workflow(text: str, *, name: str, path: Path | None) -> Workflow:
    """Parse workflow Markdown into a :class:`Workflow`.

    Checks the file's own shape (directive names and values, kinds); checks that need
    config, such as whether presets exist, are :func:`~specrelay.workflow.validate.validate`'s.
    Errors name ``path`` (or ``name`` when there is no path) and the line.
    """
    label = str(path) if path is not None else name
    src = _normalize(text)
    lines = src.split("\n")
    tokens = _tokens(src)
    headings = _headings(tokens)
    steps = []
    for number, heading in enumerate(headings):
        following = headings[number + 1] if number + 1 < len(headings) else None
        token_end = following.token_index if following else len(tokens)
        line_end = following.line - 1 if following else len(lines)
        blocks = _directive_blocks(tokens, heading.token_index, token_end)
        fields = _Fields()
        for directive in _read_directives(blocks, label):
            fields.add(directive, label)
        last = blocks[-1] if blocks else tokens[heading.token_index]
        assert last.map is not None
        body = "\n".join(_drop_blank_ends(lines[last.map[1]:line_end]))
        steps.append(_build_step(heading, fields, body, label))
    first = headings[0].line - 1 if headings else len(lines)
    description = "\n".join(_drop_blank_ends(lines[:first]))
    return Workflow(name=name, path=path, source=text, description=description, steps=tuple(steps))


def load_workflow(path: Path) -> Workflow:
    """Read and parse the workflow file at ``path``; its name is the file's stem."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise WorkflowError(f"{path}: no such workflow file. Check the path") from None
    except OSError as exc:
        raise WorkflowError(f"{path}: cannot read workflow: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise WorkflowError(f"{path}: not UTF-8 text (byte {exc.start}). Save the workflow as UTF-8") from exc
    return parse_workflow(text, name=path.stem, path=path)
