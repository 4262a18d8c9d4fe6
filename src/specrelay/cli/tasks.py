"""Commands around tasks: ``status``, ``show``, ``merge``, ``discard``, ``update``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from specrelay.cli.common import (
    age,
    console,
    money,
    print_json,
    print_table,
    repo_root,
    task_cost,
    tokens,
    write_bytes,
)
from specrelay.cli.root import app
from specrelay.errors import UserError

if TYPE_CHECKING:
    from pathlib import Path

    from specrelay.app.live import Remote
    from specrelay.app.tasks import MergeResult
    from specrelay.app.views import TaskDetail, TaskStatus, TaskView


@app.command("status")
def status_command(
    task_id: str | None = typer.Argument(None, metavar="ID", help="One task: an id, a unique prefix, or last "
                                         "(default: every task)."),
    status: list[str] | None = typer.Option(None, "--status", "-s", metavar="STATUS", help=(
        "Only tasks with this status (repeat it, or a comma list: paused,failed).")),
    limit: int | None = typer.Option(None, "--limit", "-n", metavar="N", help="At most N tasks, the newest."),
    json_out: bool = typer.Option(False, "--json", help="Print a list of status objects."),
) -> None:
    """Every task (or one), newest first: status, current step, round, age, tokens and cost."""
    from specrelay.app import tasks

    wanted = _statuses(status or [])
    tasks.check_limit(limit)
    root = repo_root()
    rows = tasks.status(root, task_id, statuses=wanted, limit=limit, overlaps=True)
    if json_out:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        if wanted:
            console.print(f"No {' or '.join(wanted)} tasks.", markup=False)
        else:
            console.print("No tasks yet. Start one with: specrelay run \"describe the change\"", markup=False)
        return
    _render_status(rows)


def _statuses(given: list[str]) -> tuple[TaskStatus, ...]:
    """The --status values, each checked: repeated options and comma lists alike."""
    from specrelay.app.tasks import check_statuses, known_statuses

    names = [name.strip() for item in given for name in item.split(",") if name.strip()]
    wanted = check_statuses(names)
    if given and not names:
        raise UserError(f"--status: name a status, one of {known_statuses()}.")
    return wanted


def _render_status(rows: list[TaskView]) -> None:
    from specrelay.app.views import CLOSED

    cells = []
    for r in rows:
        step = r.current_step or "-"
        if not r.worktree_exists and r.status not in CLOSED:
            step += " (worktree missing)"
        cells.append([r.id, r.status, step, str(r.rounds), age(r.age_s), tokens(r.input_tokens + r.output_tokens),
                      task_cost(r.cost_usd, r.unknown_cost_calls, r.simulated)])
    print_table(["task", "status", "step", "round", "age", "tokens", "cost"], cells,
                right=("round", "age", "tokens", "cost"))
    if any(r.simulated for r in rows):
        console.print("[dim]* simulated: scripted models priced as the real models they stand for[/]")
    for r in rows:
        if r.remote is not None and r.status == "running":
            console.print(f"{r.id} {_remote_line(r.remote)}", markup=False)
        if r.panel:
            console.print(f"{r.id} review panel: {panel_line(r.panel)}", markup=False)
        for line in escalation_lines(r.escalations):
            console.print(f"{r.id} {line}", markup=False)
    _verification_lines(rows)
    _overlap_lines(rows)


def _overlap_lines(rows: list[TaskView]) -> None:
    """A line for each pair of listed live tasks that name or change the same files (once a pair), red
    when their branches conflict (``--json`` has each task's overlaps with every live task)."""
    listed = {r.id for r in rows}
    shown: set[frozenset[str]] = set()
    for r in rows:
        for o in r.overlaps:
            pair = frozenset((r.id, o["task"]))
            if pair in shown or o["task"] not in listed:
                continue
            shown.add(pair)
            files = ", ".join(o["files"])
            conflicts = o["conflicts"]
            if conflicts is None:
                said, style = f"{r.id} and {o['task']} both touch {files} (not both built yet)", "yellow"
            elif conflicts:
                said = f"{r.id} and {o['task']} both touch {files}: their branches conflict on {', '.join(conflicts)}"
                style = "red"
            else:
                said, style = f"{r.id} and {o['task']} both touch {files} (their branches merge cleanly)", "yellow"
            console.print(said, markup=False, style=style)


def _remote_line(remote: Remote) -> str:
    """What a task handed to Temporal is doing, as its server says, or (it cannot be asked) as the ledger does."""
    if remote.state in ("running", "waiting"):
        return remote.line or "on Temporal"
    said = f"{remote.line} " if remote.line else ""
    if remote.state == "ended":
        return f"{said}(its Temporal workflow has ended)"
    return f"{said}(handed to Temporal at {remote.address}, which cannot be asked now)"


def _render_remote(remote: Remote) -> None:
    """The ``Temporal`` part of ``show``: the task's workflow, where it is, its step and worker."""
    console.print(f"Temporal: workflow {remote.workflow_id} at {remote.address} (namespace {remote.namespace}) "
                  f"· queue {remote.queue!r}", markup=False)
    if remote.state == "running":
        attempt = f" (attempt {remote.attempt})" if remote.attempt else ""
        console.print(f"  step {remote.step} · worker {remote.worker}{attempt}", markup=False)
    elif remote.state == "waiting":
        console.print(f"  step {remote.step or '-'} · waiting for a worker on queue {remote.queue!r}", markup=False)
    elif remote.state == "ended":
        console.print("  its workflow has ended", markup=False)
    else:
        console.print(f"  its server cannot be asked now: {remote.error or 'no answer'}", markup=False,
                      style="yellow")


def escalation_lines(escalations: list[dict[str, Any]]) -> list[str]:
    """One line for each escalation of a cheap-first cascade."""
    return [f"escalated {e['from_preset']} → {e['to_preset']} ({e['step']}, round {e['round']}): "
            f"{e['from_preset']} {e['why']}" for e in escalations]


def _verification_lines(rows: list[TaskView]) -> None:
    """A line for each task whose verification did not pass: failed, or none configured."""
    from specrelay.cli.summary import VERIFY_STYLE, verification_line

    for r in rows:
        v = r.verification
        if v and v.state != "passed":
            console.print(f"{r.id}: {verification_line(v)}", markup=False, style=VERIFY_STYLE[v.state])


def panel_line(panel: list[dict[str, Any]]) -> str:
    """Each reviewer of a panel: verdict (or FAILED), cost, latency."""
    parts = []
    for p in panel:
        if p.get("error"):
            parts.append(f"{p['preset']} FAILED")
            continue
        latency = f"{p['latency_s']:.1f} s" if p.get("latency_s") is not None else "-"
        parts.append(f"{p['preset']} {p.get('verdict')} {money(p.get('cost_usd'))} {latency}")
    return "; ".join(parts)


@app.command("show")
def show_command(
    task_id: str = typer.Argument(..., help="The task."),
    artifact: str | None = typer.Argument(None, help="An artifact to print: spec.md, review.md, a verify log..."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """A task's summary, or one of its artifacts."""
    from specrelay.app import tasks

    root = repo_root()
    if artifact is not None:
        data = tasks.artifact(root, task_id, artifact)
        if artifact.endswith(".transcript.jsonl") and sys.stdout.isatty():  # for a person: turn by turn
            console.print(tasks.transcript_text(data), markup=False, highlight=False)
            return
        # The file's bytes as they are: a JSON or Markdown artifact piped on must parse as the file does.
        write_bytes(data)
        return
    detail = tasks.show(root, task_id)
    if json_out:
        print_json(detail.to_json())
        return
    _render_show(detail)


def _render_show(s: TaskDetail) -> None:
    from specrelay.cli.summary import render_summary

    console.print(f"[bold]{s.id}[/] · {s.title}")
    # A discarded (or hand-removed) task's worktree is gone: naming its old path would send the user there.
    where = s.worktree if s.worktree_exists else "removed"
    console.print(f"workflow {s.workflow} · branch {s.branch} (from {s.base_sha[:10]}) · worktree {where}",
                  markup=False)
    steps = [[st.title, st.kind, (" > " if st.cascade else ", ").join(st.presets), st.status, str(st.round)]
             for st in s.steps]
    print_table(["step", "kind", "presets", "status", "round"], steps, right=("round",), title="Steps")
    for line in escalation_lines(s.escalations):
        console.print(line[:1].upper() + line[1:], markup=False, style="yellow")
    for st in s.steps:
        if st.error:
            console.print(f"{st.title} failed: {st.error.strip().splitlines()[0]}", markup=False, style="red")
    calls = []
    for c in s.call_list:
        ctx = ", ".join(f"{k} {v:,}" for k, v in c.context.items())
        out = tokens(c.output_tokens) + (f" (cap {c.max_tokens:,}: budget)" if c.capped_by_budget else "")
        calls.append([c.step or c.phase, c.preset, c.outcome, tokens(c.input_tokens), out, money(c.cost_usd), ctx])
    print_table(["step", "preset", "outcome", "in", "out", "cost", "context"], calls,
                right=("in", "out", "cost"), title="Model calls (context tokens by part)")
    if s.panel:
        console.print(f"Review panel: {panel_line(s.panel)}")
    if s.parts:
        rows = [[str(p["round"]), str(p["name"]), str(p["title"]), ", ".join(p["files"]) or "-", str(p["branch"]),
                 str(p["calls"]), money(p["cost_usd"])] for p in s.parts]
        print_table(["round", "part", "title", "files", "branch", "calls", "cost"], rows, right=("calls", "cost"),
                    title="Parallel builders (workstreams, groups of findings)")
    if s.candidates:
        _render_candidates(s.candidates)
    if s.diffstat:
        from specrelay.cli.diff import diffstat_line

        console.print(f"Changes: {diffstat_line(s.diffstat.to_json())} (specrelay diff {s.id})", markup=False)
    if s.remote is not None and s.status == "running":
        _render_remote(s.remote)
    render_summary(s)
    if s.rejected:
        console.print(f"Rejected replies: {', '.join(s.rejected)} (specrelay show {s.id} ARTIFACT)", markup=False,
                      style="yellow")
    console.print(f"Artifacts: {', '.join(s.artifacts)} (specrelay show {s.id} ARTIFACT)")


def _render_candidates(record: dict[str, Any]) -> None:
    """A best-of-N build's candidates by rank, with their scores and branches, and how to take another."""
    rows = []
    for c in sorted(record["candidates"], key=lambda c: c["rank"]):
        found = "-" if c["blocking"] is None else str(c["blocking"])
        rows.append([f"cand-{c['n']}" + (" (winner)" if c["n"] == record["winner"] else ""), c["preset"],
                     str(c["rank"]), c["verification"] or "not built", found,
                     "-" if c["diff_lines"] is None else str(c["diff_lines"]), money(c["cost_usd"]), c["branch"]])
    print_table(["candidate", "preset", "rank", "verification", "blocking", "lines", "cost", "branch"], rows,
                right=("rank", "blocking", "lines", "cost"), title=f"Best-of-{len(rows)} candidates")
    console.print(f"Ranked by: {record['rule']}.", markup=False)
    other = next((c for c in sorted(record["candidates"], key=lambda c: c["rank"])
                  if c["n"] != record["winner"] and c["built"]), None)
    if other is not None:
        console.print(f"To take another candidate, merge its branch instead of the task's: e.g. "
                      f"`git merge {other['branch']}` in place of `specrelay merge`.", markup=False)


@app.command("merge")
def merge_command(
    task_id: str | None = typer.Argument(None, metavar="ID", help="The task whose branch to merge."),
    all_done: bool = typer.Option(False, "--all", help=(
        "Merge every done task, in the order that avoids conflicts; stop at the first that would conflict.")),
    ff_only: bool = typer.Option(False, "--ff-only", help="Only fast-forward."),
    delete: bool = typer.Option(False, "--delete", help="Then remove the task's worktree and branch."),
    force: bool = typer.Option(False, "--force", help="Merge even a task that is not finished (paused, failed, "
                               "needs_attention, failing verification); with --delete, also throw away "
                               "uncommitted changes and kept leftovers."),
) -> None:
    """Merge a task's branch into its base branch, in the worktree that has the base checked out."""
    from specrelay.app import tasks

    if all_done == (task_id is not None):
        raise UserError("merge: name one task (specrelay merge ID) or pass --all, not both"
                        if all_done else "merge: name the task to merge (specrelay merge ID), or pass --all")
    if all_done and force:
        raise UserError("merge --all merges only done tasks; --force is for one task: specrelay merge ID --force")
    root = repo_root()
    if all_done:
        everything = tasks.merge_all(root, ff_only=ff_only, delete=delete)
        for merged in everything.merged:
            _merged_lines(root, merged)
        stopped = everything.message()
        if stopped is not None:
            raise UserError(stopped)
        if not everything.merged:
            console.print("No done task to merge (`specrelay status` lists them).", markup=False)
        return
    assert task_id is not None
    _merged_lines(root, tasks.merge(root, task_id, ff_only=ff_only, delete=delete, force=force))


def _merged_lines(root: Path, result: MergeResult) -> None:
    if result.forced:
        console.print(f"Merging unfinished work (--force): {'; '.join(result.forced)}", markup=False)
    where = "" if result.worktree == root else f" in {result.worktree}"
    console.print(f"Merged {result.branch} into {result.into}{where} ({result.sha[:10]}).", markup=False)
    if result.removed:
        console.print(f"Removed the task's worktree and branch {result.branch}.", markup=False)
    if result.dropped_refs:
        console.print(f"Deleted its leftovers (--force): {', '.join(result.dropped_refs)}.", markup=False)


@app.command("discard")
def discard_command(
    task_id: str = typer.Argument(..., help="The task to throw away."),
    force: bool = typer.Option(False, "--force", help="Even with uncommitted or unmerged work, or kept leftovers."),
) -> None:
    """Remove a task's worktree and branch; refuses to lose work unless --force."""
    from specrelay.app import tasks
    from specrelay.app.views import TaskStatus

    root = repo_root()
    result = tasks.discard(root, task_id, force=force)
    kept = " (it stays merged)" if result.status is TaskStatus.MERGED else ""
    console.print(f"Discarded {result.task_id}{kept}: worktree and branch removed; its record stays in "
                  f"{result.folder}.", markup=False)
    if result.removed_refs:
        console.print(f"Deleted its leftovers: {', '.join(result.removed_refs)}.", markup=False)


@app.command("update")
def update_command(
    task_id: str = typer.Argument(..., help="The task whose branch to bring up to date."),
) -> None:
    """Merge the base branch's new commits into a task's branch, in the task's worktree."""
    from specrelay.app import tasks

    root = repo_root()
    result = tasks.update(root, task_id)
    if result.sha is None:
        console.print(f"{result.branch} already has every commit of {result.base_branch}; its base is now "
                      f"{result.new_base[:10]}.", markup=False)
        return
    console.print(f"Merged {result.base_branch} ({result.new_base[:10]}) into {result.branch} ({result.sha[:10]}); "
                  f"diffs and reviews now start from {result.new_base[:10]}.", markup=False)
    if result.reopened:
        console.print(f"Reopened {', '.join(result.reopened)}: `specrelay resume {result.task_id}` verifies and "
                      "reviews it again.", markup=False)
