"""A debate on a plan: the JSON the challenger and the proposer answer, the record of its points, and how
they read as Markdown.

The challenger answers a proposal with points, each tagged ``agree``, ``disagree`` or ``change`` (what it
would change); a point not tagged ``agree`` is contested. In a follow-up round the proposer answers each
open point (``accept``, ``amend`` or ``defend``), then the challenger tags each open point again by its
number, and may raise new ones. Every answer is schema-checked JSON (one repair request); the schemas of
a follow-up round are built for its open points (:func:`reply_schema`, :func:`follow_up_schema`), so an
answer that skips one is sent back like any invalid reply. :class:`Debate` keeps the points as they move,
and renders the section of the consensus spec that lists what was contested and how it ended.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Tag = Literal["agree", "disagree", "change"]
Stance = Literal["accept", "amend", "defend"]

#: The heading of the consensus spec's section on the debate (specrelay writes it, from the record).
SECTION = "Contested points"


class Point(BaseModel):
    """One point of the challenger's answer."""

    model_config = ConfigDict(extra="forbid")

    tag: Tag
    title: str = Field(min_length=1)
    detail: str = ""
    #: What it would change in the proposal (a ``change`` point must say).
    change: str = ""
    #: In a follow-up round: the number of the earlier point this tags again (None: a new point).
    point: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _says_what_to_change(self) -> Point:
        if self.tag == "change" and not self.change.strip():
            raise ValueError(f"point '{self.title}' is tagged 'change' and does not say what to change in 'change'")
        return self


class Counter(BaseModel):
    """The challenger's answer: where it agrees, where it disagrees, what it would change."""

    model_config = ConfigDict(extra="forbid")

    summary: str = ""
    points: list[Point] = Field(min_length=1)


class Answer(BaseModel):
    """The proposer's answer to one open point."""

    model_config = ConfigDict(extra="forbid")

    point: int = Field(ge=1)
    stance: Stance
    reason: str = ""

    @model_validator(mode="after")
    def _says_why(self) -> Answer:
        if self.stance != "accept" and not self.reason.strip():
            raise ValueError(f"the answer to point {self.point} is '{self.stance}' and gives no 'reason'")
        return self


class Reply(BaseModel):
    """The proposer's answers in a follow-up round, one per open point."""

    model_config = ConfigDict(extra="forbid")

    answers: list[Answer] = Field(min_length=1)


def reply_schema(open_points: Collection[int]) -> type[Reply]:
    """The :class:`Reply` that answers exactly ``open_points``, each once."""
    wanted = sorted(open_points)

    class RoundReply(Reply):
        @model_validator(mode="after")
        def _answers_each_open_point(self) -> RoundReply:
            named = [a.point for a in self.answers]
            if sorted(named) != wanted:
                raise ValueError(f"answer each open point once, by its number: {_numbers(wanted)} "
                                 f"(the answers name {_numbers(named)})")
            return self

    return RoundReply


def follow_up_schema(open_points: Collection[int], count: int) -> type[Counter]:
    """The :class:`Counter` of a follow-up round: it tags each of ``open_points`` again (by ``point``), each
    once, may tag any earlier point (1 to ``count``) and may raise new ones (no ``point``)."""
    wanted = set(open_points)

    class FollowUp(Counter):
        @model_validator(mode="after")
        def _tags_each_open_point(self) -> FollowUp:
            named = [p.point for p in self.points if p.point is not None]
            unknown = sorted({n for n in named if n > count})
            if unknown:
                raise ValueError(f"'point' {_numbers(unknown)} names no earlier point (they are 1 to {count})")
            twice = sorted({n for n in named if named.count(n) > 1})
            if twice:
                raise ValueError(f"point {_numbers(twice)} is tagged more than once")
            missing = sorted(wanted - set(named))
            if missing:
                raise ValueError(f"tag each open point again with its number in 'point'; missing: {_numbers(missing)}")
            return self

    return FollowUp


def _numbers(numbers: Collection[int]) -> str:
    return ", ".join(str(n) for n in numbers) or "none"


COUNTER_SHAPE = """Answer with one JSON object and nothing else:

{"summary": "two or three sentences",
 "points": [{"tag": "agree" | "disagree" | "change",
             "title": "one line",
             "detail": "what you see in the proposal, and why it matters",
             "change": "what you would change in the proposal (required for 'change')"}]}

Give at least one point. Tag "agree" what is right and matters, "disagree" what is wrong, "change"
what you would do differently and say how."""

FOLLOW_UP_SHAPE = """Answer with one JSON object and nothing else:

{"summary": "two or three sentences",
 "points": [{"point": 2, "tag": "agree" | "disagree" | "change", "title": "one line",
             "detail": "why", "change": "what you would still change (required for 'change')"}]}

Tag every open point again, with its number in "point": "agree" when the proposer's answer settles it,
"disagree" or "change" when it does not. A new point you must raise has no "point"."""

REPLY_SHAPE = """Answer with one JSON object and nothing else:

{"answers": [{"point": 2, "stance": "accept" | "amend" | "defend", "reason": "why; for 'amend', how"}]}

Answer every open point once, by its number: "accept" takes the challenger's change, "amend" takes it
in another form (say which), "defend" keeps the proposal as it is (say why)."""


@dataclass
class Issue:
    """One point of the debate as it moved: raised in a counter, answered, tagged again."""

    number: int
    title: str
    tag: Tag
    detail: str
    change: str
    #: The round it was raised in (0: the counter).
    raised: int
    #: Its first tag: a point contested when raised stays listed as contested once settled.
    first: Tag
    #: The proposer's answers, with their rounds.
    answers: list[tuple[int, Answer]] = field(default_factory=list)
    #: The round the challenger agreed in after contesting it (None: it did not, or never contested it).
    settled: int | None = None
    #: Tagged other than ``agree`` at some point of the debate.
    contested: bool = False

    def __post_init__(self) -> None:
        self.contested = self.contested or self.tag != "agree"

    @property
    def open(self) -> bool:
        return self.tag != "agree"

    def to_json(self) -> dict[str, Any]:
        return {"point": self.number, "title": self.title, "tag": self.tag, "first_tag": self.first,
                "detail": self.detail, "change": self.change, "raised": self.raised, "settled": self.settled,
                "answers": [{"round": r, **a.model_dump()} for r, a in self.answers]}


@dataclass
class Debate:
    """The record of one debate: who argued, its points as they stand, the rounds held."""

    proposer: str
    challenger: str
    max_rounds: int
    issues: list[Issue] = field(default_factory=list)
    #: Follow-up rounds held.
    rounds: int = 0
    summaries: list[str] = field(default_factory=list)

    @property
    def open(self) -> list[Issue]:
        return [i for i in self.issues if i.open]

    @property
    def contested(self) -> list[Issue]:
        return [i for i in self.issues if i.contested]

    @property
    def converged(self) -> bool:
        return not self.open

    @property
    def agreed_as_is(self) -> bool:
        """The challenger agreed with every point and asked for no change: the proposal stands."""
        return not self.contested and not any(i.change.strip() for i in self.issues)

    def take_counter(self, counter: Counter, rnd: int) -> None:
        """Record a counter (``rnd`` 0) or a follow-up round's: points tagged again, new points added."""
        self.summaries.append(counter.summary)
        for p in counter.points:
            if p.point is not None and rnd > 0:
                issue = self.issues[p.point - 1]
                if issue.open and p.tag == "agree":
                    issue.settled = rnd
                elif p.tag != "agree":
                    issue.settled, issue.contested = None, True
                issue.tag, issue.detail, issue.change = p.tag, p.detail or issue.detail, p.change or issue.change
            else:
                self.issues.append(Issue(len(self.issues) + 1, p.title, p.tag, p.detail, p.change, rnd, p.tag))
        if rnd > 0:
            self.rounds = rnd

    def take_reply(self, reply: Reply, rnd: int) -> None:
        """Record the proposer's answers of round ``rnd``."""
        for a in reply.answers:
            self.issues[a.point - 1].answers.append((rnd, a))

    def to_json(self) -> str:
        """``debate.json``: the whole record."""
        data = {"proposer": self.proposer, "challenger": self.challenger, "max_rounds": self.max_rounds,
                "rounds": self.rounds, "converged": self.converged, "summaries": self.summaries,
                "points": [i.to_json() for i in self.issues]}
        return json.dumps(data, indent=2) + "\n"

    def detail(self) -> dict[str, Any]:
        """What the ledger records of the step."""
        return {"proposer": self.proposer, "challenger": self.challenger, "rounds": self.rounds,
                "max_rounds": self.max_rounds, "points": len(self.issues), "contested": len(self.contested),
                "converged": self.converged, "open": [i.title for i in self.open]}


def point_line(number: int, tag: str, title: str, detail: str, change: str) -> str:
    """One point as a numbered Markdown item, with what the challenger would change."""
    line = f"{number}. **[{tag}] {title}**"
    if detail:
        line += f"\n   {detail}"
    if change:
        line += f"\n   Change: {change}"
    return line


def render_counter(debate: Debate, counter: Counter, rnd: int) -> str:
    """A counter as Markdown (``counter.md``; a follow-up round's ``counter_N.md``), once it is recorded."""
    title = "Counter" if rnd == 0 else f"Follow-up counter, round {rnd}"
    lines = [f"# {title} ({debate.challenger} on {debate.proposer}'s proposal)", ""]
    if counter.summary:
        lines += [counter.summary, ""]
    again = [p for p in counter.points if p.point is not None and rnd > 0]
    fresh = iter(range(len(debate.issues) - (len(counter.points) - len(again)) + 1, len(debate.issues) + 1))
    for p in counter.points:
        number = p.point if p.point is not None and rnd > 0 else next(fresh)
        lines.append(point_line(number, p.tag, p.title, p.detail, p.change))
    lines += ["", _standing(debate)]
    return "\n".join(lines).rstrip() + "\n"


def _standing(debate: Debate) -> str:
    if not debate.open:
        return "Nothing is contested: the debate has converged."
    return "Contested: " + ", ".join(f"{i.number} ({i.title})" for i in debate.open) + "."


def render_reply(debate: Debate, reply: Reply, rnd: int) -> str:
    """The proposer's answers of a follow-up round as Markdown (``reply_N.md``)."""
    lines = [f"# Answers, round {rnd} ({debate.proposer} to {debate.challenger})", ""]
    for a in reply.answers:
        issue = debate.issues[a.point - 1]
        lines.append(f"{a.point}. **{issue.title}**: {a.stance}" + (f": {a.reason}" if a.reason else ""))
    return "\n".join(lines) + "\n"


def open_points(debate: Debate) -> str:
    """The open points with the proposer's answers so far, for the next prompt."""
    return "\n".join(_with_answers(i) for i in debate.open)


def every_point(debate: Debate) -> str:
    """Every point with the answers and where it stands, for the consensus prompt."""
    return "\n".join(_with_answers(i) + ("\n   (still open)" if i.open else "") for i in debate.issues)


def _with_answers(issue: Issue) -> str:
    text = point_line(issue.number, issue.tag, issue.title, issue.detail, issue.change)
    for rnd, a in issue.answers:
        text += f"\n   Proposer, round {rnd}: {a.stance}" + (f": {a.reason}" if a.reason else "")
    return text


def resolution(debate: Debate) -> str:
    """The consensus spec's section on the debate: what was contested, how each point was resolved, and
    the points left open (the proposer's position stands on those)."""
    lines = [f"## {SECTION}", ""]
    who = f"{debate.challenger} challenged {debate.proposer}'s proposal"
    rounds = f"{debate.rounds} follow-up round{'s' if debate.rounds != 1 else ''}"
    if not debate.contested:
        lines.append(f"None: {who} and agreed with each of its {len(debate.issues)} point"
                     f"{'s' if len(debate.issues) != 1 else ''}.")
        return "\n".join(lines) + "\n"
    if debate.converged:
        lines.append(f"{who}; {len(debate.contested)} of {len(debate.issues)} points were contested, and all were "
                     f"resolved in {rounds}.")
    else:
        lines.append(f"{who}; the debate did not converge within {rounds} (at most {debate.max_rounds}): "
                     f"{len(debate.open)} point{'s are' if len(debate.open) != 1 else ' is'} left open, and on "
                     "those this spec keeps the proposer's position.")
    settled = [i for i in debate.contested if not i.open]
    if settled:
        lines += ["", "### Resolved", ""] + [_resolved(i) for i in settled]
    if debate.open:
        lines += ["", "### Left open", ""] + [_left_open(i) for i in debate.open]
    return "\n".join(lines) + "\n"


def _resolved(issue: Issue) -> str:
    line = f"- **{issue.title}** ({issue.first}"
    line += f", agreed in round {issue.settled})" if issue.settled is not None else ")"
    if issue.answers:
        rnd, a = issue.answers[-1]
        line += f": the proposer answered {a.stance}" + (f": {a.reason}" if a.reason else "")
    return line + "."


def _left_open(issue: Issue) -> str:
    parts = [issue.detail or "no detail given"]
    if issue.change:
        parts.append(f"Change asked: {issue.change}")
    if issue.answers:
        _, a = issue.answers[-1]
        parts.append(f"The proposer: {a.stance}" + (f", {a.reason}" if a.reason else ""))
    return f"- **{issue.title}** ({issue.tag}): " + " ".join(_sentence(p) for p in parts)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def without_section(spec: str) -> str:
    """``spec`` without a section of the debate's heading the proposer may have written itself (the one
    specrelay adds is drawn from the record, so it says what happened)."""
    out: list[str] = []
    skipping = False
    for line in spec.splitlines():
        if line.startswith("## "):
            skipping = line[3:].strip().strip("#").strip().lower() == SECTION.lower()
        if not skipping:
            out.append(line)
    return "\n".join(out).rstrip()
