"""Research: read-only scouts answer the step's questions about the repository and write research.md.

Each scout is specrelay's tool loop with the read-only tools (list, read, search) on its preset (the
``research`` route in the built-in workflow: a cheap model); its last reply, with no tool call, is its
notes. With ``agents:`` the scouts run at once: on the same questions, or, when the body has one
``#### `` section per scout, each on its own section (the prose before the first section goes to
every scout). Their notes are merged, one section per scout, into ``research.md``, which a plan step
after it reads instead of the repository map (:mod:`specrelay.engine.steps.plan`).

Notes may name only files of the repository: a line naming a path outside it (absolute, ``~``,
``..``, a symlink that leads out) is dropped, and the notes say how many lines were dropped and why.
A scout that fails is reported while another answered; when none did, the step fails.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import specrelay.engine.context as C
from specrelay.engine.prompts import prompt
from specrelay.engine.steps.kind import Outcome
from specrelay.engine.steps.run import StepRun
from specrelay.errors import OutsideWorktree, ProviderError, StepFailed
from specrelay.llm.cutoff import cut_off
from specrelay.workflow.kinds import KindSpec

RESEARCH = "research.md"

_SECTION = re.compile(r"^####\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BACKTICKED = re.compile(r"`([^`\n]+)`")
# A bare path that may leave the repository: /etc/passwd, ~/.ssh/id_rsa, ../other/file.py, C:\\x.
_BARE = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[(\[\"']))((?:~|\.\.)?/[^\s`'\")\]]+|[A-Za-z]:\\[^\s`'\")\]]+)")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_LINES_SUFFIX = re.compile(r":\d+(?:-\d+)?$")


@dataclass(frozen=True)
class Scout:
    """One scout: its preset and the questions it answers."""

    number: int
    preset: str
    questions: str


def scouts(run: StepRun) -> list[Scout]:
    """The step's scouts: every preset on the whole body, or each on its own ``#### `` section."""
    body = run.step.body
    heads = list(_SECTION.finditer(body))
    presets = run.step.presets
    if len(presets) < 2 or not heads:
        return [Scout(i, p, body) for i, p in enumerate(presets, 1)]
    if len(heads) != len(presets):
        raise StepFailed(f"step '{run.step.title}': its body has {len(heads)} '#### ' question sections for "
                         f"{len(presets)} scouts; give one section per scout (in the order of 'agents:'), or "
                         f"none for every scout to answer the whole body (line {run.step.line} of "
                         f"{run.task.workflow_path})")
    shared = body[:heads[0].start()].strip()
    out = []
    for i, (preset, head) in enumerate(zip(presets, heads, strict=True)):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        own = body[head.start():end].strip()
        out.append(Scout(i + 1, preset, f"{shared}\n\n{own}".strip()))
    return out


def _context(run: StepRun, scout: Scout) -> C.Context:
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("request", "Request", run.task.request)
    ctx.add("questions", "Your questions", scout.questions)
    ctx.add("map", "Repository map", C.repo_map(run.worktree))
    return ctx


def _outside(worktree: Path, text: str) -> bool:
    """Whether the path ``text`` leaves the repository at ``worktree``: through ``~``, ``..``, a drive, a
    symlink that leads out, into ``.git``, or as an absolute path to a file that exists outside it. An
    absolute path to nothing (``/api/users``, a URL's path) names no file, so it is not one."""
    from specrelay.edits import resolve_in_worktree

    root = worktree.resolve()
    if text.startswith("~") or _DRIVE.match(text) or ".." in PurePosixPath(text.replace("\\", "/")).parts:
        return True
    if text.startswith("/"):
        try:
            target = Path(text).resolve()
        except (OSError, RuntimeError):
            return True
        return not target.is_relative_to(root) and os.path.lexists(text)
    try:
        resolve_in_worktree(root, text.rstrip("/"))
    except OutsideWorktree:
        return True
    return False


def outside_paths(worktree: Path, line: str) -> list[str]:
    """The paths ``line`` names that lie outside the repository at ``worktree`` (in the order named)."""
    found: list[str] = []
    for m in _BACKTICKED.finditer(line):
        text = _LINES_SUFFIX.sub("", m.group(1).strip())
        if " " in text or not ("/" in text or "\\" in text or text.startswith("~")
                               or os.path.lexists(worktree / text)):
            continue  # a symbol or a phrase, not a path
        if _outside(worktree, text):
            found.append(m.group(1).strip())
    for m in _BARE.finditer(_BACKTICKED.sub(" ", line)):
        text = _LINES_SUFFIX.sub("", m.group(1).rstrip(".,;:"))
        if _outside(worktree, text):
            found.append(text)
    return found


def confine(worktree: Path, notes: str) -> tuple[str, list[str]]:
    """``notes`` without the lines that name a path outside the repository, and the paths dropped."""
    kept: list[str] = []
    dropped: list[str] = []
    for line in notes.splitlines():
        outside = outside_paths(worktree, line)
        if outside:
            dropped.extend(p for p in outside if p not in dropped)
            continue
        kept.append(line)
    return "\n".join(kept).strip(), dropped


def _demoted(notes: str) -> str:
    """Headings one level down (outside code fences), so a scout's notes sit under its own heading."""
    out, fenced = [], False
    for line in notes.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        out.append("#" + line if not fenced and re.match(r"#{1,5}\s", line) else line)
    return "\n".join(out)


def merge(answered: list[tuple[Scout, str]], failed: list[tuple[Scout, str]], dropped: list[str]) -> str:
    """research.md: one scout's notes as they are, several scouts' each under a heading of its own."""
    if len(answered) == 1 and not failed:
        text = "# Research\n\n" + answered[0][1]
    else:
        parts = [f"# Research\n\nNotes of {len(answered)} read-only scouts, merged."]
        for scout, notes in answered:
            asked = " ".join(scout.questions.split())
            parts.append(f"## Scout {scout.number} ({scout.preset})\n\nAsked: {asked[:300]}\n\n{_demoted(notes)}")
        for scout, why in failed:
            parts.append(f"## Scout {scout.number} ({scout.preset})\n\nNo notes: {why}")
        text = "\n\n".join(parts)
    if dropped:
        listed = ", ".join(f"`{p}`" for p in dropped)
        text += (f"\n\n> specrelay dropped the lines of these notes that named paths outside the repository "
                 f"({listed}): research covers this repository only.")
    return text + "\n"


async def _scout(run: StepRun, scout: Scout, key: str, system: str) -> str:
    from specrelay.engine.agent.step import read_only

    name = f"research_r{run.round}" + (f"_scout{scout.number}" if len(run.step.presets) > 1 else "")
    result = await read_only(run, scout.preset, system, _context(run, scout), key=key,
                             transcript=f"{name}.transcript.jsonl")
    last = result.results[-1]
    if last.truncated:
        kept = run.write_artifact(f"rejected_{name}.md", result.text.strip() + "\n")
        raise cut_off(run.config, last, f"step '{run.step.title}': scout {scout.number}'s notes", kept=str(kept))
    if not result.text.strip():
        raise StepFailed(f"step '{run.step.title}': scout {scout.number} ({scout.preset}) ended its loop with no "
                         "notes")
    return result.text.strip()


async def run_research(run: StepRun) -> Outcome:
    """Run the scouts at once; merge what they found into the step's artifact (research.md)."""
    team = scouts(run)
    system = prompt("research")
    keys = [run.next_key() for _ in team]  # in order, before any runs: a resume gives each scout its own again
    results = await asyncio.gather(*(_scout(run, s, k, system) for s, k in zip(team, keys, strict=True)),
                                   return_exceptions=True)
    answered: list[tuple[Scout, str]] = []
    failed: list[tuple[Scout, str]] = []
    dropped: list[str] = []
    for scout, result in zip(team, results, strict=True):
        if isinstance(result, BaseException) and (len(team) == 1
                                                  or not isinstance(result, StepFailed | ProviderError)):
            raise result  # one scout's failure, the budget, Ctrl-C: the task pauses or fails as for any step
        if isinstance(result, BaseException):
            failed.append((scout, str(result)))
            continue
        kept, outside = confine(run.worktree, result)
        dropped.extend(p for p in outside if p not in dropped)
        answered.append((scout, kept))
    if not answered:
        raise StepFailed(f"step '{run.step.title}': no scout answered: " + "; ".join(why for _, why in failed))
    target = run.step.writes[0] if run.step.writes else RESEARCH
    run.write_artifact(target, merge(answered, failed, dropped))
    notes = tuple(f"scout {s.number} ({s.preset}) failed: {why}" for s, why in failed)
    if dropped:
        notes += (f"research: dropped the lines naming paths outside the repository: {', '.join(dropped)}",)
    detail = {"wrote": target, "scouts": len(team), "answered": len(answered), "dropped_outside": dropped}
    return Outcome(detail=detail, notes=notes)


class ResearchStep:
    """Read-only scouts on cheap presets answer the step's questions and write research.md."""

    spec = KindSpec("research", title_words=("research", "scout", "scouts", "scouting"), writes=(RESEARCH,),
                    panel=True, distinct_presets=False, tool_loop=True)

    async def run(self, step_run: StepRun) -> Outcome:
        return await run_research(step_run)
