"""Evaluation cases: tasks taken from a repository's own history, each with a check no phase ever sees.

A case is a folder of plain files the user can read and edit, ``.specrelay/eval/SUITE/CASE/``:

- ``case.toml``: ``base`` (the commit the task starts from), ``source`` (the commit it was taken from;
  empty for a hand-written case), ``tests`` (the hidden check's files), ``test_commands``, ``request``;
- ``request.md``: what the task asks for (a commit's message; never its diff), or that message rewritten
  by a preset into a task description (``eval make --rewrite``), the message then kept in ``request.orig.md``;
- ``check/``: the hidden check, the commit's own test files at their paths in the repository. No phase
  is shown them; a run applies them to the task's result only once the task is done.

:func:`history_cases` finds the commits worth a case on HEAD's first-parent history, newest first: a
commit that changes code together with tests. It skips merge commits (their change is the merged
branch's, many commits at once), root commits (no parent to start from), commits that change no test
(nothing to check the result with), docs-only commits, and commits that change tests only: with no
code change to ask for, the request would be "write these tests", which the check (the same tests)
cannot judge, and the check would already pass at the base.

Every case is written into a temporary folder beside its final place and renamed into it, so a case
folder is either whole or absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from specrelay import paths
from specrelay.errors import GitError, UserError
from specrelay.gitrepo import resolve_ref, run_git
from specrelay.text import path_matches

#: A suite or case name: a plain folder name (letters, digits, ``.``, ``_``, ``-``; no leading dot).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TEST_DIRS = frozenset({"tests", "test", "__tests__", "spec", "testing"})
_TEST_SUFFIXES = (".test.js", ".test.ts", ".test.jsx", ".test.tsx", ".spec.js", ".spec.ts", ".test.mjs",
                  ".test.cjs", "_test.go", "_test.py", "_test.rb", "_spec.rb", "_test.rs", "Test.java",
                  "Tests.java", "Test.kt", "Tests.cs")
_DOC_SUFFIXES = (".md", ".rst", ".txt", ".adoc", ".org")
_DOC_NAMES = frozenset({"LICENSE", "LICENCE", "COPYING", "AUTHORS", "CHANGELOG", "NOTICE", "CONTRIBUTORS"})
_DOC_DIRS = frozenset({"docs", "doc"})
CASE_FILE = "case.toml"
#: The folder of a suite that holds its runs (:mod:`specrelay.engine.evalruns`), never a case.
RUNS_FOLDER = "runs"
REQUEST_FILE = "request.md"
ORIGINAL_FILE = "request.orig.md"
CHECK_DIR = "check"


def is_test_path(path: str) -> bool:
    """Whether ``path`` (relative, ``/``-separated) is a test file by the usual conventions: ``test_*.py``,
    ``*_test.py``, ``*_test.go``, ``*.test.js``, ``*_spec.rb``, ``FooTest.java``..., or any file under a
    ``tests/``, ``test/``, ``__tests__/`` or ``spec/`` folder, or ``conftest.py``."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    if any(part in _TEST_DIRS for part in parts[:-1]):
        return True
    if name == "conftest.py" or (name.startswith("test_") and name.endswith(".py")):
        return True
    return name.endswith(_TEST_SUFFIXES)


def is_doc_path(path: str) -> bool:
    """Whether ``path`` is documentation: Markdown, reST, text, a LICENSE-like file, or under ``docs/``."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    bare = "." not in name or name.endswith(_DOC_SUFFIXES)
    return (name.endswith(_DOC_SUFFIXES) or (bare and name.split(".")[0].upper() in _DOC_NAMES)
            or any(part in _DOC_DIRS for part in parts[:-1]))


def check_name(name: str, what: str) -> str:
    """``name`` when it is a plain folder name; otherwise a UserError saying what a name may be."""
    if not _NAME.match(name) or ".." in name:
        raise UserError(f"{what} {name!r} is not a plain name: use letters, digits, '.', '_' and '-', "
                        "starting with a letter or digit (e.g. `history` or `login-fix`).")
    if what == "case name" and name == RUNS_FOLDER:
        raise UserError(f"case name {name!r} is taken: a suite keeps its runs in {RUNS_FOLDER}/; "
                        "name the case otherwise (e.g. `runs-check`).")
    return name


def suite_dir(root: Path, suite: str) -> Path:
    """Where suite ``suite``'s cases live: ``.specrelay/eval/SUITE/``."""
    return paths.project_dir(root) / "eval" / check_name(suite, "suite name")


@dataclass(frozen=True)
class Case:
    """One case, as written to (or read from) its folder."""

    name: str
    base: str
    request: str
    tests: list[str]
    test_commands: list[str]
    source: str = ""
    #: The commit's own message when a preset rewrote the request (``request.orig.md``), else "".
    original_request: str = ""
    #: The preset that rewrote the request, else "".
    rewritten_by: str = ""

    def toml(self) -> str:
        """``case.toml``'s text."""
        def value(v: object) -> str:
            return json.dumps(v, ensure_ascii=False)  # a JSON string or list of strings is valid TOML

        return "".join([
            "# An evaluation case (specrelay eval). The files under check/ are the hidden check: no phase\n",
            "# sees them; they are applied to the task's result once it is done, then test_commands run.\n",
            f"name = {value(self.name)}\n",
            f"base = {value(self.base)}\n",
            f"source = {value(self.source)}\n",
            f"request = {value(REQUEST_FILE)}\n",
            f"tests = {value(self.tests)}\n",
            f"test_commands = {value(self.test_commands)}\n",
            *([f"original_request = {value(ORIGINAL_FILE)}\n", f"rewritten_by = {value(self.rewritten_by)}\n"]
              if self.original_request else []),
        ])

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "base": self.base, "source": self.source, "tests": self.tests,
                "test_commands": self.test_commands,
                **({"rewritten_by": self.rewritten_by} if self.original_request else {})}


@dataclass(frozen=True)
class Skipped:
    """A commit of the history that is no case, and why."""

    sha: str
    subject: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"sha": self.sha, "subject": self.subject, "reason": self.reason}


@dataclass
class HistoryScan:
    """What a look at the history found: the cases to write (with their check files' contents), the rest."""

    cases: list[tuple[Case, dict[str, bytes]]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    looked_at: int = 0


#: Commits one ``git log`` of :func:`_history` reads at a time: a short --limit asks for little.
_BATCH = 200
#: Starts each commit's header in :func:`_history`'s log: no sha, parent list or status begins with it.
_MARK = "\x1e"


@dataclass(frozen=True)
class _Commit:
    sha: str
    parents: list[str]
    subject: str
    message: str
    changed: list[tuple[str, str]]  # (status, path) against the first parent; renames as delete + add


def _history(root: Path, since: str | None) -> Iterator[_Commit]:
    """HEAD's first-parent history, newest first (after ``since``), each commit with its message and the
    files it changes against its first parent: one ``git log`` per :data:`_BATCH` commits."""
    head = resolve_ref(root, "HEAD")
    revs = [head, *([f"^{resolve_ref(root, since)}"] if since is not None else [])]
    skip = 0
    while True:
        out = run_git(["log", "--first-parent", "--no-color", "--no-show-signature", "--name-status", "-z",
                       "--no-renames", f"--format={_MARK}%H%x00%P%x00%s%x00%B", f"--max-count={_BATCH}",
                       f"--skip={skip}", *revs, "--"], root).stdout
        commits = _parse_log(out)
        yield from commits
        if len(commits) < _BATCH:
            return
        skip += _BATCH


def _parse_log(out: str) -> list[_Commit]:
    """The commits of :func:`_history`'s log: per commit ``MARK sha NUL parents NUL subject NUL message NUL``,
    then, after a newline, ``status NUL path NUL`` per changed file (none for an empty commit)."""
    fields = out.split("\0")
    commits: list[_Commit] = []
    i = 0
    while i + 3 < len(fields):
        head = fields[i].lstrip("\n")
        if not head.startswith(_MARK):
            raise GitError(f"unexpected `git log` output near {head[:40]!r}; report this as a specrelay bug")
        sha, parents, subject, message = head[len(_MARK):], fields[i + 1].split(), fields[i + 2], fields[i + 3]
        i += 4
        changed: list[tuple[str, str]] = []
        while i + 1 < len(fields) and not fields[i].lstrip("\n").startswith(_MARK):
            changed.append((fields[i].lstrip("\n"), fields[i + 1]))
            i += 2
        commits.append(_Commit(sha, parents, subject, message, changed))
    return commits


def _why_skip(changed: list[tuple[str, str]], globs: list[str]) -> str | None:
    files = [p for _, p in changed]
    if globs and not any(path_matches(p, g) for p in files for g in globs):
        return "no file matches --paths"
    tests = [p for p in files if is_test_path(p)]
    code = [p for p in files if not is_test_path(p) and not is_doc_path(p)]
    if not tests and not code:
        return "docs only"
    if not tests:
        return "no test change"
    if not code:
        return "tests only: no code change to ask for"
    if not [p for s, p in changed if s != "D" and is_test_path(p)]:
        return "its test changes only delete tests"
    return None


#: Judges a candidate case with its check files: None to keep it, else why it is no case.
Validator = Callable[[Case, dict[str, bytes]], str | None]


def history_cases(root: Path, test_commands: list[str], *, since: str | None = None, limit: int | None = None,
                  globs: list[str] | None = None, validate: Validator | None = None) -> HistoryScan:
    """The cases HEAD's first-parent history holds (newest first, at most ``limit``), read from git only;
    each candidate is then put to ``validate`` (when given), and skipped with the reason it gives. ``limit``
    counts the cases kept."""
    scan = HistoryScan()
    for commit in _history(root, since):
        if limit is not None and len(scan.cases) >= limit:
            break
        scan.looked_at += 1
        sha, parents, subject = commit.sha, commit.parents, commit.subject
        reason = ("a merge commit" if len(parents) > 1 else "a root commit (no parent to start from)"
                  if not parents else None)
        changed = commit.changed if reason is None else []
        reason = reason or _why_skip(changed, globs or [])
        if reason is not None:
            scan.skipped.append(Skipped(sha, subject, reason))
            continue
        tests = sorted(p for s, p in changed if s != "D" and is_test_path(p))
        files = _files_at(root, sha, tests)
        case = Case(name=_case_name(sha, subject), base=parents[0], request=commit.message.strip() + "\n",
                    tests=tests, test_commands=test_commands, source=sha)
        reason = validate(case, files) if validate is not None else None
        if reason is not None:
            scan.skipped.append(Skipped(sha, subject, reason))
            continue
        scan.cases.append((case, files))
    return scan


def _files_at(root: Path, sha: str, files: list[str]) -> dict[str, bytes]:
    """The bytes of ``files`` at commit ``sha``, exactly (a test's binary fixture too), read through a
    checkout into a scratch folder with a scratch index: the repository's own index and tree are untouched."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="specrelay-eval-") as scratch:
        out = Path(scratch) / "tree"
        out.mkdir()
        run_git(["--work-tree", str(out), "checkout", sha, "--", *files], root,
                env={"GIT_INDEX_FILE": str(Path(scratch) / "index")})
        return {p: (out / p).read_bytes() for p in files}


def _case_name(sha: str, subject: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:40].rstrip("-")
    return f"{slug}-{sha[:7]}" if slug else sha[:12]


def hand_case(root: Path, name: str, base: str, request: str, checks: list[Path],
              test_commands: list[str]) -> tuple[Case, dict[str, bytes]]:
    """A hand-written case: ``checks`` are files (or folders of them) in the repository's working tree."""
    check_name(name, "case name")
    if not request.strip():
        raise UserError("--request is empty: say what the task asks for, e.g. --request \"Add rate limiting\".")
    if not checks:
        raise UserError("a hand-written case needs its hidden check: --check PATH (a test file), once or more.")
    files: dict[str, bytes] = {}
    top = root.resolve()
    for given in checks:
        path = given if given.is_absolute() else Path.cwd() / given
        path = path.resolve()
        if not path.is_relative_to(top) or path.is_relative_to(paths.project_dir(top)):
            raise UserError(f"--check {given}: not a file of this repository ({root}); name a test file in it.")
        found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        if not path.exists() or not found:
            raise UserError(f"--check {given}: no such file; name a test file of this repository.")
        for p in found:
            files[p.relative_to(top).as_posix()] = p.read_bytes()
    case = Case(name=name, base=resolve_ref(root, base), request=request.strip() + "\n", tests=sorted(files),
                test_commands=test_commands)
    return case, files


def refuse_existing(folder: Path, names: list[str], force: bool) -> None:
    """A UserError naming the cases that exist already, unless ``force``; nothing is written then."""
    existing = [n for n in names if (folder / n).exists()]
    if existing and not force:
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise UserError(f"case {shown} already exists in {folder}; pass --force to replace it, "
                        "or remove it first.")


def write_case(folder: Path, case: Case, files: dict[str, bytes]) -> Path:
    """Write ``case`` into ``folder/NAME/`` whole: into a temporary folder first, then renamed into place
    (replacing an older case of that name)."""
    paths.make_dir(folder)
    final = folder / case.name
    tmp = folder / f".{case.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / CHECK_DIR).mkdir(parents=True)
        (tmp / CASE_FILE).write_text(case.toml(), encoding="utf-8")
        (tmp / REQUEST_FILE).write_text(case.request, encoding="utf-8")
        if case.original_request:
            (tmp / ORIGINAL_FILE).write_text(case.original_request, encoding="utf-8")
        for rel, data in files.items():
            target = tmp / CHECK_DIR / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        old = folder / f".{case.name}.old-{os.getpid()}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_case(folder: Path) -> Case:
    """The case in ``folder``; a UserError naming ``case.toml`` when it cannot be read."""
    path = folder / CASE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: cannot be read as a case ({exc}); fix it or remove the folder.") from exc
    for key in ("tests", "test_commands"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{path}: {key} must be a list of strings, e.g. {key} = [\"python -m pytest -q\"]"
                            if key == "test_commands" else f"{path}: {key} must be a list of file paths (strings).")
    for key in ("name", "base", "source", "request", "original_request", "rewritten_by"):
        if key in data and not isinstance(data[key], str):
            raise UserError(f"{path}: {key} must be a string.")
    request_path = folder / str(data.get("request", REQUEST_FILE))
    request = request_path.read_text(encoding="utf-8") if request_path.is_file() else ""
    original_path = folder / str(data.get("original_request", ORIGINAL_FILE))
    kept = "original_request" in data and original_path.is_file()
    original = original_path.read_text(encoding="utf-8") if kept else ""
    return Case(name=str(data.get("name", folder.name)), base=str(data.get("base", "")), request=request,
                tests=[str(t) for t in data.get("tests", [])],
                test_commands=[str(c) for c in data.get("test_commands", [])], source=str(data.get("source", "")),
                original_request=original, rewritten_by=str(data.get("rewritten_by", "")))


def suites(root: Path) -> dict[str, list[str]]:
    """Every suite under ``.specrelay/eval/`` and its case names, sorted."""
    base = paths.project_dir(root) / "eval"
    if not base.is_dir():
        return {}
    return {d.name: case_names(d) for d in sorted(base.iterdir()) if d.is_dir() and _NAME.match(d.name)}


def case_names(folder: Path) -> list[str]:
    """The cases of a suite folder (temporary folders of an unfinished write are not cases)."""
    return sorted(d.name for d in folder.iterdir() if d.is_dir() and _NAME.match(d.name)
                  and d.name != RUNS_FOLDER and (d / CASE_FILE).is_file())
