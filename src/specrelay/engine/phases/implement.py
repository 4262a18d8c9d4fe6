"""Implement: the builder answers SEARCH/REPLACE blocks against spec.md; they are applied and committed.

A reply whose blocks do not apply is sent back with the applier's message (line numbers, closest
candidates) for a corrected reply, a bounded number of times. Nothing is half-applied: a reply
applies whole or not at all.
"""

from __future__ import annotations

from specrelay import gitrepo
from specrelay.engine import context as C
from specrelay.engine import leftovers
from specrelay.engine.phases.base import StepRun, prompt
from specrelay.errors import EditError, StepFailed

#: How many corrected replies a builder may send after its first one fails to apply.
MAX_CORRECTIONS = 2


def build_context(run: StepRun, findings: str | None, failing_output: str | None) -> C.Context:
    spec = run.read_artifact(run.spec_name) or ""
    files = C.affected_files(spec)
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("spec", run.spec_name, spec or run.task.request)
    ctx.add("instruction", "Step instruction", run.step.body)
    if findings:
        ctx.add("findings", "Review findings to fix in this round", findings)
    if failing_output:
        ctx.add("verify", "Failing verification output to fix", failing_output)
    ctx.add("files", "Current contents of the affected files", C.file_contents(run.worktree, files))
    if not files:
        ctx.add("map", "Repository map", C.repo_map(run.worktree))
    return ctx


def _gist(exc: EditError) -> str:
    """The applier's message in one line: the failing blocks' reasons, without the code it quotes."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line.removesuffix("; closest:") for line in lines if line.startswith("Block ")] or lines[:1]
    return "; ".join(reasons).rstrip(":")


def _already_committed(run: StepRun) -> str | None:
    """The commit this very step execution made before an interruption, if HEAD is it."""
    out = gitrepo.run_git(["log", "-1", "--format=%H%n%(trailers:key=Specrelay-Step,valueonly)"],
                          run.worktree).stdout.split("\n")
    return out[0] if len(out) > 1 and out[1].strip() == run.key else None


def _set_aside_leftovers(run: StepRun) -> str | None:
    """Edits left by an interrupted execution are kept on a ref of specrelay's own (never deleted, never
    in the user's stash) before the step is redone; the ref, or None when the worktree was clean."""
    if not gitrepo.is_dirty(run.worktree):
        return None
    ref = leftovers.set_aside(run.root, run.worktree, run.task.id,
                              f"specrelay {run.task.id}: leftovers of interrupted step {run.key}")
    if ref:
        run.emit("note", {"text": f"uncommitted leftovers of an interrupted step were kept at {ref}"})
    return ref


async def run_implement(run: StepRun, findings: str | None = None, failing_output: str | None = None) -> str:
    """Apply the builder's edits and commit them; returns the commit sha."""
    from specrelay.edits import apply_blocks, parse_blocks

    kept = None
    if run.interrupted:  # the cut-off run's `git commit` may still be running its hooks, about to land
        gitrepo.wait_for_commits(run.worktree)
        done = _already_committed(run)
        if done:
            return done
        kept = _set_aside_leftovers(run)
    preset = run.step.presets[0]
    ctx = build_context(run, findings, failing_output)
    model = preset
    for attempt in range(MAX_CORRECTIONS + 1):
        result = await run.call(preset, prompt("implement"), ctx)
        model = result.model
        try:
            blocks = parse_blocks(result.text)
            if not blocks:
                raise EditError("the reply holds no SEARCH/REPLACE blocks")
            applied = apply_blocks(run.worktree, blocks)
            break
        except EditError as exc:
            if attempt == MAX_CORRECTIONS:
                report = run.write_artifact(f"rejected_edits_r{run.round}.md",
                                            f"# Edits that could not be applied\n\n{exc}\n\n## The last reply\n\n"
                                            f"{result.text}\n")
                raise StepFailed(f"step '{run.step.title}': the builder's edits could not be applied after "
                                 f"{MAX_CORRECTIONS} corrections: {_gist(exc)}. The full report: {report}") from None
            run.emit("note", {"text": f"edits did not apply ({str(exc).splitlines()[0]}); asking for a fix"})
            ctx.add("previous", "Your previous reply", result.text)
            ctx.add("problem", "Why it could not be applied (nothing was changed)",
                    f"{exc}\n\nAnswer again with the complete, corrected set of SEARCH/REPLACE blocks.")
    run.emit("note", {"text": f"applied edits to {', '.join(applied.changed) or 'no files'}"})
    sha = gitrepo.commit_all(run.worktree, f"specrelay: {run.step.title} (round {run.round})", {
        "Specrelay-Task": run.task.id, "Specrelay-Model": model, "Specrelay-Step": run.key},
        paths=sorted(set(applied.changed) | set(applied.created)))
    if sha is None:
        raise StepFailed(f"step '{run.step.title}': the builder's edits changed nothing in the worktree; "
                         f"see its reply with `specrelay show {run.task.id}`.")
    if kept and leftovers.drop_if_reproduced(run.root, kept, sha):
        run.emit("note", {"text": "the redone step committed exactly the leftovers; their copy was dropped"})
    return sha
