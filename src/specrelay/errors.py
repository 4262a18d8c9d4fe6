"""The errors specrelay raises, all in one tree.

::

    SpecRelayError
    ├── UserError            the user can fix it; the message says how
    │   ├── ConfigError      file, field, what was expected
    │   ├── WorkflowError    file, line, what is wrong
    │   ├── PresetError      unknown preset (lists known ones), missing key (names the env var)
    │   ├── GitError         not a repo, dirty tree, conflict (names the files)
    │   │   └── GitCommandError  a git command that failed: its command, exit code and output  [gitrepo/process.py]
    │   ├── LedgerLocked     another process holds the ledger's write lock (names it)          [ledger/errors.py]
    │   └── TaskBusy         the task is running in another process (names it)
    └── RunError             a run could not go on; state is saved and resumable
        ├── ProviderError    status, provider, retry-after, FailureKind; after retries and fallbacks
        ├── BudgetExceeded   spent, limit, how to resume with more
        ├── EditError        a SEARCH/REPLACE block could not be applied
        │   ├── NoMatch          with the closest candidate spans and their line numbers
        │   ├── AmbiguousMatch   with the line numbers of every match
        │   ├── UncertainEdit    SEARCH found its place, but how REPLACE applies there is not certain
        │   ├── EditsRejected    some blocks failed, so none was applied (every block's report)  [edits/apply.py]
        │   ├── OutsideWorktree  a path that leaves the worktree
        │   └── MalformedBlock   a reply whose blocks cannot be parsed (quotes the line)
        ├── StepFailed       which step, why, where the logs are
        │   ├── ReplyCutOff      a reply stopped at its output cap: which preset, the cap, what to raise
        │   ├── EditsNotApplied  a builder's edits still did not apply after its corrections (the report kept)
        │   ├── InvalidReply     a reply that is not the JSON asked for, even after a repair: the preset, the reply
        │   └── ContextOverflow  a prompt too large for the preset's context window: the parts and their sizes
        ├── CommandNotRunnable  a verify command the shell cannot start (exit 126/127): where to fix it
        └── Interrupted      Ctrl-C or SIGTERM paused the run (exit 130; the CLI says "paused", not "error")

Every class is defined here except the three marked with their module: each carries a value of its
own package (a git command, a lock holder, an edit report), and this module imports nothing above it.
Third-party and subprocess errors are translated at the boundary (``raise X from exc``).
The CLI prints any ``SpecRelayError`` as one clear message and exits non-zero.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class SpecRelayError(Exception):
    """Base of every error specrelay raises on purpose."""

    #: The process exit code when this error ends a command (1 is kept for "review requested changes").
    exit_code = 2


class UserError(SpecRelayError):
    """Something the user can fix; the message says how."""


class TaskBusy(UserError):
    """The task is running in another process: wait for it (a driver of the task tries its step again)."""


class ConfigError(UserError):
    """A config file is invalid: names the file, the field and what was expected."""


class WorkflowError(UserError):
    """A workflow file is invalid: names the file, the line and what is wrong."""


class PresetError(UserError):
    """An unknown preset, or a preset whose API key is missing."""


class GitError(UserError):
    """Not a repository, a dirty tree, a missing ref, a conflict."""


class RunError(SpecRelayError):
    """A run could not go on; its state is saved and it can be resumed."""


class FailureKind(StrEnum):
    """Why a model call failed: the ``kind`` of a failed attempt and of a :class:`ProviderError`, and
    the ``outcome`` of a failed call in the ledger (a successful one is ``"ok"``)."""

    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTH = "auth"
    REJECTED = "rejected"
    INVALID_OUTPUT = "invalid_output"
    ERROR = "error"
    #: A scripted preset ran out of replies (never retried, never a ledger row).
    REPLIES_EXHAUSTED = "replies_exhausted"
    #: A reply reached the output cap a budget lowered it to: recorded, paid for, never used.
    CUT_BY_BUDGET = "cut_by_budget"
    #: The run was stopped (Ctrl-C, SIGTERM, a panel cancelling its other reviewers) while the attempt
    #: was in flight: recorded with how long it ran, its cost unknown; never retried.
    INTERRUPTED = "interrupted"

    @property
    def retryable(self) -> bool:
        """Worth another attempt on the same preset."""
        return self in _RETRYABLE

    @classmethod
    def of_status(cls, status: int) -> FailureKind:
        """The kind of an HTTP error status."""
        if status == 429:
            return cls.RATE_LIMIT
        if status >= 500 or status in (408, 409):
            return cls.SERVER
        if status in (401, 403):
            return cls.AUTH
        return cls.REJECTED


_RETRYABLE = frozenset({FailureKind.RATE_LIMIT, FailureKind.SERVER, FailureKind.TIMEOUT, FailureKind.CONNECTION})

#: The kinds an attempt can fail with as a provider would (what a scripted reply may name).
ATTEMPT_KINDS = (FailureKind.RATE_LIMIT, FailureKind.SERVER, FailureKind.TIMEOUT, FailureKind.CONNECTION,
                 FailureKind.AUTH, FailureKind.REJECTED, FailureKind.ERROR)


class ProviderError(RunError):
    """A provider kept failing after retries and fallbacks."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 retry_after: float | None = None, kind: FailureKind = FailureKind.ERROR) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        self.kind = kind


class BudgetExceeded(RunError):
    """The next call could exceed the task's budget."""

    def __init__(self, message: str, *, spent: float = 0.0, limit: float = 0.0) -> None:
        super().__init__(message)
        self.spent = spent
        self.limit = limit


class EditError(RunError):
    """A SEARCH/REPLACE edit could not be applied safely."""


class NoMatch(EditError):
    """SEARCH matches nowhere; ``candidates`` holds (first_line, last_line, text) of the closest spans."""

    def __init__(self, message: str, candidates: list[tuple[int, int, str]] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


class AmbiguousMatch(EditError):
    """SEARCH matches in more than one place; ``lines`` holds the first line number of each match."""

    def __init__(self, message: str, lines: list[int] | None = None) -> None:
        super().__init__(message)
        self.lines = lines or []


class UncertainEdit(EditError):
    """SEARCH matched one place, but how REPLACE applies there is not certain (a skipped line next
    to a change, an ambiguous ``...``, a doubtful indentation); ``span`` is (first_line, last_line,
    text) of the lines SEARCH matched."""

    def __init__(self, message: str, span: tuple[int, int, str] | None = None) -> None:
        super().__init__(message)
        self.span = span


class OutsideWorktree(EditError):
    """A path that is absolute, climbs out with ``..``, goes through a symlink out, or into ``.git``."""


class MalformedBlock(EditError):
    """A reply whose SEARCH/REPLACE blocks cannot be parsed; the message quotes the offending line, and
    ``line`` is its 1-based number in the reply (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class StepFailed(RunError):
    """A workflow step failed: which step, why, and where its logs are."""


class EditsNotApplied(StepFailed):
    """A builder's edits could not be applied after its corrections; the report is kept as an artifact.
    A cheap-first cascade escalates to its next preset on it. ``gist``: why, in one line."""

    def __init__(self, message: str, *, gist: str = "") -> None:
        super().__init__(message)
        self.gist = gist


class ReplyCutOff(StepFailed):
    """A model's reply stopped at the output cap it was sent with (finish reason "length"), so it is
    not built on: the message names the preset, the cap, and the config field to raise. ``reply`` is
    the text that came back, for the caller to keep."""

    def __init__(self, message: str, *, reply: str = "", preset: str = "", cap: int | None = None) -> None:
        super().__init__(message)
        self.reply = reply
        self.preset = preset
        self.cap = cap


class InvalidReply(StepFailed):
    """A structured call whose reply was not the JSON its schema asks for, even after one repair request:
    the message names the preset and what is wrong. ``reply`` is the last reply, for the caller to keep."""

    def __init__(self, message: str, *, reply: str = "", preset: str = "") -> None:
        super().__init__(message)
        self.reply = reply
        self.preset = preset


class ContextOverflow(StepFailed):
    """A prompt that, with its output cap, does not fit the preset's context window; refused before it
    is sent. ``parts`` holds the prompt's parts and their estimated tokens, largest first."""

    def __init__(self, message: str, *, preset: str = "", window: int = 0,
                 parts: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__(message)
        self.preset = preset
        self.window = window
        self.parts = parts


class CommandNotRunnable(RunError):
    """A verification command could not be started (not found, not executable): the user's setup to
    fix, not the change's. The task is paused, and ``resume`` runs the step again once it is fixed.

    ``detail`` is what the step found (its commands, exit codes and logs), kept on the paused step so
    that status and show give the verification as it ran.
    """

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class Interrupted(RunError):
    """The run was interrupted (Ctrl-C, SIGTERM); the task is paused and resumable."""

    exit_code = 130
