"""Milestones: a spec's ``## Milestones``, built, verified and reviewed one at a time.

A build step with ``<!-- per: milestone -->`` builds only the current milestone (its builder is told
which, and that the earlier ones are committed); when the review approves it and milestones remain,
the review sends the loop back to the build step for the next one, in a new round, so that each
milestone is its own commit, reviewed before the builder goes on (the ``git-native`` workflow). A
milestone's fix rounds are bounded by the review's ``max-rounds:`` on their own.

The section holds one ``### ...`` heading per milestone, or a numbered list (``1. ...``), each item's
own lines following it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from specrelay.engine.steps.run import StepRun

_SECTION = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_HEADING = re.compile(r"^#{3,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_ITEM = re.compile(r"^(?:\d+[.)]|[-*])\s+(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Milestone:
    number: int
    title: str
    body: str

    def brief(self, total: int) -> str:
        """What the builder is told of it: which one, and what it holds."""
        return f"Milestone {self.number} of {total}: {self.title}\n\n{self.body}".rstrip() + "\n"


def milestones(spec: str) -> list[Milestone]:
    """The spec's milestones, in order (empty when it has no ``Milestones`` section, or an empty one)."""
    body = _section(spec)
    if not body or not body.strip():
        return []
    heads = list(_HEADING.finditer(body))
    if heads:
        found = []
        for i, m in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
            found.append(Milestone(i + 1, _plain(m.group(1)), body[m.end():end].strip()))
        return found
    items = list(_ITEM.finditer(body))
    found = []
    for i, m in enumerate(items):
        end = items[i + 1].start() if i + 1 < len(items) else len(body)
        found.append(Milestone(i + 1, _plain(m.group(1)), body[m.end():end].strip()))
    return found


def _section(spec: str) -> str | None:
    """The body of the ``# Milestones`` or ``## Milestones`` section, up to the next heading of that
    level or above (the milestones' own ``###`` headings are inside it)."""
    heads = list(_SECTION.finditer(spec))
    for i, m in enumerate(heads):
        if "milestone" in m.group(2).lower():
            end = heads[i + 1].start() if i + 1 < len(heads) else len(spec)
            return spec[m.end():end]
    return None


def _plain(title: str) -> str:
    """A milestone's title without a leading ``Milestone 2:`` and emphasis."""
    title = re.sub(r"^milestone\s*\d+\s*[:.\u2014-]\s*", "", title.strip(), flags=re.IGNORECASE)
    return title.strip("*_ ").strip() or title


def being_built(run: StepRun) -> tuple[Milestone, int] | None:
    """The milestone the loop of ``run``'s step is on, and how many there are: for the build step
    itself (``per: milestone``) and for the steps after it (its review); None when the loop does not go
    by milestones, or the spec has none (it is then built whole)."""
    if run.workflow is None:
        return None
    own = run.step.per == "milestone"
    build = run.index if own else run.loop_start()
    if build is None or run.workflow.steps[build].per != "milestone":
        return None
    found = milestones(run.spec_text())
    if not found:
        return None
    return found[min(run.state.milestone, len(found) - 1)], len(found)
