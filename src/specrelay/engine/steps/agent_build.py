"""Implement with a builder that edits the worktree itself (an external coding agent).

The agent is given the same fresh context an API builder gets, in the task's worktree, allowed to write
there; specrelay, not the agent, commits what it changed (tracked and untracked files), with the usual
message and trailers. Commits the agent made anyway are kept, and said so. The call is never taken from
the ledger on resume (the agent's edits are not in it): an interrupted step is redone after its leftovers
are set aside. Writes the agent was refused are reported, and kept in ``implement_rN.agent.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from specrelay import gitrepo
from specrelay.engine.events import Note
from specrelay.engine.prompts import prompt
from specrelay.errors import StepFailed
from specrelay.llm.backend import backend_class

if TYPE_CHECKING:
    from specrelay.config import Config
    from specrelay.engine.context import Context
    from specrelay.engine.steps.run import StepRun
    from specrelay.llm import CallResult


def edits_worktree(config: Config, preset: str) -> bool:
    """Whether ``preset``'s backend edits the worktree itself (an agent) rather than answering edits."""
    return backend_class(config.preset(preset)).edits_worktree


async def build_with_agent(run: StepRun, ctx: Context, message: str) -> str:
    """Run the agent builder in the worktree, writable, and commit what it changed; returns HEAD's sha."""
    preset = run.step.presets[0]
    before = gitrepo.head_sha(run.worktree)
    result = await run.call(preset, prompt("implement_agent"), ctx, writable=True, replay=False)
    own = _commits_since(run, before)
    report = _report(run, result, own)
    if result.agent is not None and result.agent.denials:
        run.emit(Note(f"{preset} was refused {len(result.agent.denials)} action(s): "
                      f"{'; '.join(result.agent.denials[:3])} (see {report.name})"))
    if own:
        run.emit(Note(f"{preset} made {len(own)} commit(s) itself ({', '.join(c[:10] for c in own)}); "
                      "they are kept on the task's branch"))
    if own and not gitrepo.is_dirty(run.worktree):  # all of it committed by the agent: HEAD still says whose
        message = (f"{message.rstrip()}\n\n{preset} committed this step's work itself, in "
                   f"{len(own)} commit(s) before this one, which records the step.")
    sha = gitrepo.commit_all(run.worktree, message, {
        "Specrelay-Task": run.task.id, "Specrelay-Model": result.model, "Specrelay-Step": run.key,
        **({"Specrelay-Agent-Commits": " ".join(own)} if own else {})}, allow_empty=bool(own))
    if sha is not None:
        files = gitrepo.changed_files(run.worktree, sha + '~1', sha)
        if files or not own:
            run.emit(Note(f"committed what {preset} changed: {', '.join(files) or 'no files'}"))
        return sha
    denied = f"; it was refused: {'; '.join(result.agent.denials)}" if result.agent and result.agent.denials else ""
    raise StepFailed(f"step '{run.step.title}': the agent {preset} changed nothing in the worktree{denied}. "
                     f"Its answer is in {report}.")


def _commits_since(run: StepRun, before: str) -> list[str]:
    """Commits the agent made on the task's branch, oldest first."""
    out = gitrepo.run_git(["rev-list", "--reverse", f"{before}..HEAD"], run.worktree).stdout
    return out.split()


def _report(run: StepRun, result: CallResult, own: list[str]) -> Path:
    """The agent's answer and account of its run, kept as ``implement_rN.agent.md``."""
    agent = result.agent
    lines = [f"# {result.preset} ({result.model})", "", result.text.strip() or "(no final message)", ""]
    if agent is not None:
        lines += [f"- turns: {agent.turns if agent.turns is not None else 'not reported'}",
                  f"- tools called: {', '.join(agent.tools) or 'none reported'}"]
        if agent.denials:
            lines += ["- refused:", *(f"  - {d}" for d in agent.denials)]
    if own:
        lines.append(f"- commits it made itself (kept): {', '.join(own)}")
    return run.write_artifact(f"implement_r{run.round}.agent.md", "\n".join(lines) + "\n")
