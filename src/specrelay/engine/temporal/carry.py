"""Carrying a task between machines through a git remote they share (``[backend] remote``).

A worker on another machine cannot see the submitter's repository folder. So the task travels as two
refs on the shared remote: its branch (the code), and an *artifacts* ref of specrelay's own,
``refs/specrelay/carried/<id>``, whose commit holds everything else a step reads and writes:

- ``ledger.json``: the task's ledger rows (:mod:`specrelay.ledger.portable`), calls included;
- ``task/``: the task's folder (request, spec, reviews, events), without this machine's locks;
- ``project/``: the submitter's ``.specrelay/config.toml``, the small files beside it and its
  ``workflows/`` (the keys stay each machine's own, in its user config).

The submitter publishes both refs when it hands the task over (:func:`publish`). A worker takes them
into a clone of its own before each step (:func:`take`), runs the step there, and pushes both back
(:func:`give_back`), leased on what it took: of two workers that both ran a step, only the first's push
lands, and the other's attempt fails and is retried from what landed. The submitter takes the task
back whenever it looks (:func:`sync`): the ledger rows and the task's folder, and its worktree moved
on to the branch's new commits when it holds no change of the user's.

Each local repository keeps what it last saw of the remote on two refs, the lease of its next push:
``refs/specrelay/carried/<id>`` and ``refs/specrelay/carried-branch/<id>``. Branches a step makes beside
the task's (a best-of-N step's candidates, ``<branch>.cand-N``) are pushed too, and the submitter takes
them back; a worker never takes them (a step redone on it builds its own).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from specrelay import gitrepo, paths
from specrelay.engine.lock import LOCK_FILE, REMOTE_FILE
from specrelay.engine.task import Task
from specrelay.errors import GitError, UserError
from specrelay.fsutil import atomic_write_text
from specrelay.gitrepo.commits import identity_args
from specrelay.gitrepo.process import GitCommandError, git_env, run_git
from specrelay.gitrepo.repo import EXCLUDE_OWN
from specrelay.ledger import Ledger
from specrelay.ledger.portable import export_task, import_task, task_calls

ARTIFACTS = "refs/specrelay/carried/"
SEEN_BRANCH = "refs/specrelay/carried-branch/"
#: Beside a task handed over through a remote: that remote's URL.
URL_FILE = "carried-url"
#: Files of a task's folder that belong to the machine they are on, never carried.
_LOCAL_FILES = {LOCK_FILE, REMOTE_FILE, URL_FILE}
_ZERO = ""  # a lease on a ref the remote must not have yet
#: The largest file of the project's folder carried to workers (a scripted preset's replies, say).
PROJECT_FILE_LIMIT = 1_000_000


class PushRefused(GitError):
    """The remote's refs moved since they were taken: another attempt of the step landed first."""


@dataclass(frozen=True)
class Place:
    """A task taken into a worker's clone: its root there, the remote and branch it came from."""

    root: Path
    url: str
    task_id: str
    branch: str
    #: The calls the remote had when the task was taken: any other call of the task in this clone's
    #: ledger was made here since (a step's heartbeats carry those).
    carried_uids: frozenset[str] = frozenset()


#: A remote given as a URL (``https://``, ``ssh://``, ``file://``) or scp-like (``git@host:path``), not a path.
_URL = re.compile(r"^[\w+.-]+://|^[\w.-]+@[\w.-]+:")


def artifacts_ref(task_id: str) -> str:
    return ARTIFACTS + task_id


def remote_url(root: Path, remote: str) -> str:
    """The URL every worker fetches the task from: ``remote`` as one of the repository's git remotes
    (``origin``), else as a URL or a path as given."""
    found = run_git(["remote", "get-url", "--", remote], root, check=False)
    if found.returncode == 0 and found.stdout.strip():
        url = found.stdout.strip()
    elif _URL.match(remote):
        url = remote
    elif Path(remote).expanduser().exists():
        url = str(Path(remote).expanduser().resolve())
    else:
        raise UserError(f"[backend] remote = {remote!r}: neither a git remote of {root} (`git remote -v`) nor a "
                        "URL or an existing path; name the remote every worker can fetch from "
                        "(`git remote add shared URL`).")
    if not _URL.match(url) and not Path(url).is_absolute():
        url = str((root / url).resolve())  # a relative path, as the repository's own remote gives it
    return url


# -- the submitter ----------------------------------------------------------------------------------

def publish(root: Path, ledger: Ledger, task_id: str, url: str) -> None:
    """Put the task (its branch and its artifacts) on the remote, for a worker to take. Refused while
    the workers' commits seen on the remote are not on the branch here (never a branch rewound)."""
    row = ledger.task(task_id)
    if row is None:
        raise UserError(f"no task {task_id} to hand over")
    with _locked(_lock_of(root, task_id)):
        seen = _ref(root, SEEN_BRANCH + task_id)
        if seen is not None and not _contains(root, f"refs/heads/{row.branch}", seen):
            why = _why_not_moved(root, row.branch, Path(row.worktree), seen) or "`specrelay status` brings them in"
            raise UserError(f"task {task_id}: the workers' commits ({SEEN_BRANCH}{task_id}) are not on "
                            f"{row.branch} yet: {why}; then hand it over again.")
        _push(root, url, task_id, row.branch, _artifacts_commit(root, ledger, task_id))


def sync(root: Path, ledger: Ledger, task_id: str, url: str) -> bool:
    """Take the task back from the remote when a worker has moved it on: its ledger rows, its folder's
    files and its branch (the worktree moved on, unless it holds changes of the user's). Never the
    project's config: the submitter's own stays as it is. True when anything new came back."""
    row = ledger.task(task_id)
    if row is None:
        return False
    with _locked(_lock_of(root, task_id)):
        got = _fetch(root, url, task_id, row.branch, missing_ok=True)
        if got is None:
            return False
        artifacts, tip = got
        changed = artifacts != _ref(root, artifacts_ref(task_id))
        if changed:
            rows = _unpack(root, artifacts, paths.task_dir(root, task_id), task_id, project=False)
            import_task(ledger, rows, task_id=task_id)  # the worktree's path stays this machine's own
            # a best-of-N step's candidates (the losers stay for the user, as a local run leaves them)
            run_git(["fetch", "--quiet", "--no-tags", "--", url, _beside(row.branch)], root, check=False,
                    env=_network_env())
        _mark_seen(root, task_id, artifacts, tip)  # only once imported: a sync cut short is done again
        if not _contains(root, f"refs/heads/{row.branch}", tip):
            why = _move_branch(root, row.branch, Path(row.worktree), tip)
            if why and changed:
                ledger.update_task(task_id, message=f"the workers' commits are on {SEEN_BRANCH}{task_id}, not yet "
                                                    f"on {row.branch}: {why}")
    return changed


def take_back(task: Task, url: str) -> bool:
    """:func:`sync` for a task handed over from this machine (its own ledger opened here)."""
    root = task.folder.parents[2]  # <root>/.specrelay/tasks/<id>
    ledger = Ledger(paths.ledger_path(root))
    try:
        return sync(root, ledger, task.id, url)
    finally:
        ledger.close()


def remember(folder: Path, url: str) -> None:
    """Keep the remote a task was handed over through, beside it (it outlives its ``remote.json``)."""
    atomic_write_text(folder / URL_FILE, url + "\n")


def remembered(folder: Path) -> str | None:
    try:
        return (folder / URL_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def bring_in(root: Path, ledger: Ledger, task: Task) -> str | None:
    """Before a carried task is merged: taken back once more (a push that landed after its workflow
    ended), and the workers' commits moved onto its branch (a worktree with changes of the user's is left
    as it is); why they could not be, or None. A remote out of reach leaves what was taken before."""
    url = remembered(task.folder)
    if url is not None:
        with contextlib.suppress(UserError):
            sync(root, ledger, task.id, url)
    seen = _ref(root, SEEN_BRANCH + task.id)
    if seen is None or not gitrepo.branch_exists(root, task.branch) \
            or _contains(root, f"refs/heads/{task.branch}", seen):
        return None
    with _locked(_lock_of(root, task.id)):
        why = _move_branch(root, task.branch, task.worktree, seen)
    return None if why is None else f"the workers' commits ({SEEN_BRANCH}{task.id}) are not on {task.branch}: {why}"


def _move_branch(root: Path, branch: str, worktree: Path, tip: str) -> str | None:
    """Move the task's branch here on to ``tip``, fast-forward only; a worktree with the user's own
    changes is left as it is (its work is never overwritten). Why it could not, or None."""
    why = _why_not_moved(root, branch, worktree, tip)
    if why is not None:
        return why
    old = gitrepo.resolve_ref(root, f"refs/heads/{branch}")
    if worktree.is_dir() and _checked_out(worktree) == f"refs/heads/{branch}":
        run_git(["merge", "--ff-only", "--quiet", tip], worktree)
    else:  # not checked out there (the user switched the worktree to another branch): the ref alone
        run_git(["update-ref", f"refs/heads/{branch}", tip, old], root)
    if not _contains(root, f"refs/heads/{branch}", tip):
        return f"{branch} did not move on to {tip[:12]}; merge it by hand (`git merge {tip[:12]}`)"
    return None


def _checked_out(worktree: Path) -> str | None:
    """The branch ref the worktree has checked out (None when detached)."""
    found = run_git(["symbolic-ref", "--quiet", "HEAD"], worktree, check=False)
    return found.stdout.strip() or None


def _why_not_moved(root: Path, branch: str, worktree: Path, tip: str) -> str | None:
    if not _contains(root, tip, f"refs/heads/{branch}"):
        return (f"{branch} has commits here that the remote lacks; merge the workers' into it "
                f"(`git -C {worktree} merge {tip[:12]}`)")
    if worktree.is_dir() and _checked_out(worktree) == f"refs/heads/{branch}" and gitrepo.is_dirty(worktree):
        return (f"{worktree} holds changes of yours; stash them (`git -C {worktree} stash`) and the workers' "
                "commits come in (at the next `specrelay status` while it runs, or at `specrelay merge`); "
                "then `git stash pop`")
    return None


def _contains(root: Path, ref: str, commit: str) -> bool:
    """Whether ``ref`` has ``commit`` in its history."""
    return run_git(["merge-base", "--is-ancestor", commit, ref], root, check=False).returncode == 0


def _lock_of(root: Path, task_id: str) -> Path:
    """The lock one machine's carrying of a task is done under (sync, publish): in the git dir, never carried."""
    return gitrepo.git_common_dir(root) / "specrelay" / f"carry-{task_id}.lock"


# -- a worker ---------------------------------------------------------------------------------------

#: What a task id and its branch may look like when they come from a workflow's input (they name
#: folders and refs here).
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_SAFE_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")


def _check_names(task_id: str, branch: str | None = None) -> None:
    if not _SAFE_ID.match(task_id) or (branch is not None and (not _SAFE_BRANCH.match(branch) or ".." in branch
                                                              or branch.endswith((".lock", "/", ".")))):
        raise UserError(f"refusing a task named {task_id!r} on branch {branch!r}: not a specrelay task's name")


@contextlib.contextmanager
def holding(url: str, task_id: str, clones: Path, *, stop: Callable[[], bool] | None = None) -> Iterator[None]:
    """This worker's hold on its clone of a task, for a whole attempt (take, run, give back): another
    attempt on this machine waits meanwhile; one told to ``stop`` while waiting raises TaskBusy."""
    from specrelay.errors import TaskBusy

    _check_names(task_id)
    path = clone_of(url, task_id, clones).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if stop is None or stop():
                    raise TaskBusy(f"task {task_id}: another attempt of its step runs on this machine") from None
                time.sleep(0.25)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def take(url: str, task_id: str, branch: str, clones: Path) -> Place:
    """The task as the remote has it, in this worker's clone for it (made on first use, from a mirror
    of the remote kept beside it so that each task's clone shares its objects). Under :func:`holding`."""
    _check_names(task_id, branch)
    root = clone_of(url, task_id, clones)
    base = root.parent
    with _locked(base / ".lock"):
        mirror = base / "mirror.git"
        if not mirror.is_dir():
            _clone(["--bare", "--quiet"], url, mirror, lambda exc: f"task {task_id}: {_unreachable(url, exc)}")
        if not (root / ".git").exists():
            _clone(["--shared", "--no-checkout", "--quiet"], str(mirror), root,
                   lambda exc: f"cannot make a clone in {root}: {_last_line(exc)}")
            gitrepo.add_exclude(root)
    got = _fetch(root, url, task_id, branch)
    assert got is not None
    artifacts, tip = got
    rows = _unpack(root, artifacts, paths.task_dir(root, task_id), task_id, project=True)
    worktree = paths.worktree_dir(root, task_id)
    ledger = Ledger(paths.ledger_path(root))
    try:
        import_task(ledger, rows, task_id=task_id, worktree=str(worktree))
    finally:
        ledger.close()
    _check_out(root, branch, worktree, tip)
    _mark_seen(root, task_id, artifacts, tip)
    calls = rows.get("calls")
    uids = frozenset(str(c["uid"]) for c in calls if isinstance(c, dict) and c.get("uid")) \
        if isinstance(calls, list) else frozenset()
    return Place(root, url, task_id, branch, uids)


def clone_of(url: str, task_id: str, clones: Path) -> Path:
    """Where a worker keeping its clones in ``clones`` takes task ``task_id`` of remote ``url``."""
    _check_names(task_id)
    return clones / _slug(url) / task_id


def give_back(place: Place) -> None:
    """Push the task's branch and artifacts back, leased on what :func:`take` saw; :class:`PushRefused`
    when another attempt's push landed first (this attempt's calls are added to what landed even so:
    they were paid for)."""
    ledger = Ledger(paths.ledger_path(place.root))
    try:
        commit = _artifacts_commit(place.root, ledger, place.task_id)
        try:
            _push(place.root, place.url, place.task_id, place.branch, commit)
        except PushRefused:
            with contextlib.suppress(Exception):  # best effort: the lost race is what this attempt reports
                _add_calls(place, ledger)
            raise
    finally:
        ledger.close()


#: How many times a lost race's calls are added to what landed, each on the artifacts then on the remote.
_ADD_TRIES = 5


def _add_calls(place: Place, ledger: Ledger) -> None:
    """The calls of this clone's task that the remote's artifacts lack, added to them (nothing else of
    this attempt: its step's result lost the race), leased on what was fetched, tried again while it moves."""
    root, task_id = place.root, place.task_id
    mine = task_calls(ledger, task_id)
    for _ in range(_ADD_TRIES):
        got = _fetch(root, place.url, task_id, place.branch)
        assert got is not None
        artifacts = got[0]
        shown = run_git(["show", f"{artifacts}:ledger.json"], root).stdout
        rows = json.loads(shown)
        known = {c.get("uid") for c in rows.get("calls") or [] if isinstance(c, dict)}
        missing = [c for c in mine if c.get("uid") not in known]
        if not missing:
            return
        rows["calls"] = [*(rows.get("calls") or []), *missing]
        blob = run_git(["hash-object", "-w", "--stdin"], root, input=json.dumps(rows, indent=1) + "\n").stdout.strip()
        with tempfile.TemporaryDirectory(prefix="specrelay-carry-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            run_git(["read-tree", artifacts], root, env=env)
            run_git(["update-index", "--add", "--cacheinfo", f"100644,{blob},ledger.json"], root, env=env)
            tree = run_git(["write-tree"], root, env=env).stdout.strip()
        commit = run_git([*identity_args(root), "commit-tree", tree, "-p", artifacts, "-m",
                          f"specrelay: task {task_id}'s calls of an attempt that lost its race"], root).stdout.strip()
        pushed = run_git(["push", "--quiet", "--no-verify", f"--force-with-lease={artifacts_ref(task_id)}:{artifacts}",
                          "--", place.url, f"{commit}:{artifacts_ref(task_id)}"], root, check=False, env=_network_env())
        if pushed.returncode == 0:
            return


def forget(place: Place) -> None:
    """Remove the worker's clone of a task that ended (only once :func:`give_back` has pushed it all)."""
    shutil.rmtree(place.root, ignore_errors=True)


def _check_out(root: Path, branch: str, worktree: Path, tip: str) -> None:
    """The task's worktree in this clone, at ``tip`` (what the remote has): this clone's own copy, so
    whatever an earlier attempt left in it is the remote's to decide, not kept."""
    if worktree.is_dir():
        run_git(["reset", "--hard", "--quiet", tip], worktree)
        run_git(["clean", "-fdq", "--", ":/", EXCLUDE_OWN], worktree)
        return
    run_git(["worktree", "prune"], root)
    run_git(["branch", "--force", "--", branch, tip], root)
    worktree.parent.mkdir(parents=True, exist_ok=True)
    run_git(["worktree", "add", "--quiet", "--", str(worktree), branch], root)


# -- both -------------------------------------------------------------------------------------------

INCOMING = "refs/specrelay/incoming/"


def _network_env() -> dict[str, str]:
    """git talking to the remote never waits on a prompt, a dead host or a stalled transfer for long
    (the user's own GIT_SSH_COMMAND is kept)."""
    env = {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "20"}
    if not os.environ.get("GIT_SSH_COMMAND"):
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=10"
    return env


def _fetch(root: Path, url: str, task_id: str, branch: str, *,
           missing_ok: bool = False) -> tuple[str, str] | None:
    """The remote's artifacts commit and branch tip of the task, fetched (onto refs of their own, not yet
    the record of what was seen: that moves once they are taken in, :func:`_mark_seen`). A task the
    remote lacks: None with ``missing_ok``, else a UserError naming what is missing; an unreachable
    remote is a UserError naming it."""
    art_in, tip_in = f"{INCOMING}{task_id}", f"{INCOMING}{task_id}-branch"
    specs = [f"+{artifacts_ref(task_id)}:{art_in}", f"+refs/heads/{branch}:{tip_in}"]
    try:
        run_git(["fetch", "--quiet", "--no-tags", "--", url, *specs], root, env=_network_env())
    except GitCommandError as exc:
        if "couldn't find remote ref" not in exc.stderr:
            raise UserError(f"task {task_id}: {_unreachable(url, exc)}") from None
        if missing_ok:
            return None
        what = (f"its branch {branch}" if artifacts_ref(task_id) not in exc.stderr
                else f"its artifacts ({artifacts_ref(task_id)})")
        raise UserError(f"task {task_id}: {url} has no {what}; the submitting machine puts them there when it "
                        f"hands the task over (`specrelay resume {task_id}` there hands it over again).") from None
    artifacts, tip = _ref(root, art_in), _ref(root, tip_in)
    assert artifacts is not None and tip is not None
    return artifacts, tip


def _mark_seen(root: Path, task_id: str, artifacts: str, tip: str) -> None:
    """Record what this repository took of the remote: the lease of its next push."""
    run_git(["update-ref", "--stdin"], root,
            input=f"update {artifacts_ref(task_id)} {artifacts}\nupdate {SEEN_BRANCH}{task_id} {tip}\n")


def _push(root: Path, url: str, task_id: str, branch: str, artifacts: str) -> None:
    tip = gitrepo.resolve_ref(root, f"refs/heads/{branch}")
    seen_art = _ref(root, artifacts_ref(task_id)) or _ZERO
    seen_tip = _ref(root, SEEN_BRANCH + task_id) or _ZERO
    args = ["push", "--quiet", "--atomic", "--no-verify",
            f"--force-with-lease={artifacts_ref(task_id)}:{seen_art}",
            f"--force-with-lease=refs/heads/{branch}:{seen_tip}",
            "--", url, f"{artifacts}:{artifacts_ref(task_id)}", f"{tip}:refs/heads/{branch}", _beside(branch)]
    try:
        run_git(args, root, env=_network_env())
    except GitCommandError as exc:
        if "stale info" in exc.stderr:  # a lease failed: the remote's refs are not what this attempt took
            raise PushRefused(f"task {task_id}: {url} moved on meanwhile (another attempt's step landed "
                              "first); this attempt is dropped and the step goes on from there") from None
        raise UserError(f"task {task_id}: cannot push to {url} from {socket.gethostname()}: {_last_line(exc)} "
                        "(check that this machine may push there)") from None
    _mark_seen(root, task_id, artifacts, tip)


def _beside(branch: str) -> str:
    """The refspec of the branches a step makes beside the task's (``<branch>.cand-N``)."""
    return f"+refs/heads/{branch}.*:refs/heads/{branch}.*"


def _artifacts_commit(root: Path, ledger: Ledger, task_id: str) -> str:
    """A commit of the task's artifacts (on top of the last one seen), made through a temporary index."""
    with tempfile.TemporaryDirectory(prefix="specrelay-carry-") as tmp:
        top = Path(tmp) / "tree"
        top.mkdir()
        atomic_write_text(top / "ledger.json", json.dumps(export_task(ledger, task_id), indent=1) + "\n")
        _copy(paths.task_dir(root, task_id), top / "task", skip=_LOCAL_FILES)
        project = top / "project"
        project.mkdir()
        for source in _project_files(root):
            shutil.copy2(source, project / source.name)
        _copy(paths.project_workflows(root), project / "workflows")
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": str(top)}
        run_git(["add", "--all", "--force", "."], top, env={**env, "GIT_DIR": str(gitrepo.git_common_dir(root))})
        tree = run_git(["write-tree"], top, env={**env, "GIT_DIR": str(gitrepo.git_common_dir(root))}).stdout.strip()
    parent = _ref(root, artifacts_ref(task_id))
    args = [*identity_args(root), "commit-tree", tree, *(["-p", parent] if parent else []),
            "-m", f"specrelay: task {task_id}'s artifacts"]
    return run_git(args, root).stdout.strip()


def _unpack(root: Path, ref: str, folder: Path, task_id: str, *, project: bool) -> dict[str, object]:
    """Write the artifacts of commit ``ref`` into this repository: the task's folder (its local files
    kept) and (``project``: a worker's clone) the project's config and workflows; the ledger rows it
    carries."""
    proc = subprocess.run(["git", "archive", "--format=tar", ref], cwd=root, env=git_env(), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise GitError(f"cannot read {ref} in {root}: {proc.stderr.decode(errors='replace').strip()}")
    with tempfile.TemporaryDirectory(prefix="specrelay-carry-") as tmp, \
            tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(tmp, filter="data")
        top = Path(tmp)
        try:
            rows = json.loads((top / "ledger.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{ref} holds no readable ledger.json ({exc}); it was not written by specrelay") from None
        if not isinstance(rows, dict) or not isinstance(rows.get("task"), dict):
            raise UserError(f"{ref}: ledger.json is not a task's rows")
        if rows["task"].get("id") != task_id:
            raise UserError(f"the artifacts carried for task {task_id} are task {rows['task'].get('id')!r}'s; "
                            "refused")
        _replace(top / "task", folder, keep=_LOCAL_FILES)
        if not project:
            return rows
        mine = paths.project_dir(root)
        mine.mkdir(parents=True, exist_ok=True)
        for source in (top / "project").glob("*"):
            if source.is_file() and _carried_file(source):
                shutil.copy2(source, mine / source.name)
        if (top / "project" / "workflows").is_dir():
            _replace(top / "project" / "workflows", paths.project_workflows(root))
    return rows


def _project_files(root: Path) -> list[Path]:
    """The project's own files a step may read: ``.specrelay/config.toml`` and the files beside it (a
    scripted preset's replies), not its ledger, locks or logs."""
    folder = paths.project_dir(root)
    return sorted(p for p in folder.glob("*") if p.is_file() and _carried_file(p)) if folder.is_dir() else []


def _carried_file(path: Path) -> bool:
    return (path.suffix in {".toml", ".json", ".md", ".txt", ".yaml", ".yml"}
            and path.stat().st_size <= PROJECT_FILE_LIMIT)


def _copy(source: Path, target: Path, *, skip: AbstractSet[str] = frozenset()) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=lambda d, names: [n for n in names if n in skip and d == str(source)])


def _replace(source: Path, target: Path, *, keep: AbstractSet[str] = frozenset()) -> None:
    """``target`` made exactly ``source``, but for its files named in ``keep``."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if old.name in keep:
            continue
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    if source.is_dir():
        for new in source.iterdir():
            shutil.move(str(new), str(target / new.name))


def _ref(root: Path, ref: str) -> str | None:
    found = run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root, check=False)
    return found.stdout.strip() or None


def _clone(options: list[str], source: str, target: Path, what: Callable[[GitCommandError], str]) -> None:
    """``git clone`` into ``target`` through a temporary folder beside it: never a half-made clone."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=target.parent))
    try:
        run_git(["clone", *options, "--", source, str(tmp / "repo")], target.parent)
        os.replace(tmp / "repo", target)
    except GitCommandError as exc:
        raise UserError(what(exc)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unreachable(url: str, exc: GitCommandError) -> str:
    return (f"cannot reach its git remote {url} from {socket.gethostname()}: {_last_line(exc)} (check that "
            "this machine can reach the remote and may read it)")


def _last_line(exc: GitCommandError) -> str:
    """git's own reason: its ``fatal:`` line (not the hints after it), else its last line."""
    lines = [line.strip() for line in (exc.stderr or exc.stdout).strip().splitlines() if line.strip()]
    said = next((line for line in lines if line.startswith(("fatal:", "error:", "ssh:"))), lines[-1] if lines else "")
    return said.removeprefix("fatal: ").removeprefix("error: ") or f"git exited {exc.returncode}"


def _slug(url: str) -> str:
    name = re.sub(r"[^\w.-]+", "-", url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))[:40] or "repo"
    return f"{name}-{hashlib.sha1(url.encode()).hexdigest()[:10]}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
