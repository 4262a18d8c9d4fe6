"""What the workflow layer knows of step kinds: their specs, registered from above.

A step kind's behaviour lives in the engine (``specrelay.engine.steps``); what parsing and
validation need of it is a :class:`KindSpec`: the title words that infer it, the artifacts it reads
and writes by default, and the few facts validation checks (may it be a panel, does it run commands,
does it bound the fix rounds, does it need a build before it). The engine registers one spec per
kind it can run (:func:`register_spec`); this layer never imports the engine, and a kind nobody
registered is unknown here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindSpec:
    """The data of one step kind, as the workflow layer and every face read it."""

    #: The value of ``<!-- kind: NAME -->``; also the ledger's ``kind`` of its steps.
    name: str
    #: Words of a step title that imply this kind when no ``kind:`` is given (lower case).
    title_words: tuple[str, ...] = ()
    #: Artifacts it reads when the step names none.
    reads: tuple[str, ...] = ()
    #: Artifacts it writes when the step names none.
    writes: tuple[str, ...] = ()
    #: Artifacts it writes whatever its ``writes:`` says (what a later ``reads:`` may name).
    always_writes: tuple[str, ...] = ()
    #: It runs a preset, so a step of it must name one (``agent:``).
    needs_agent: bool = True
    #: It may run several presets at once (``agents:``).
    panel: bool = False
    #: ``agents:`` builds the same spec once per preset at once and keeps the best (best-of-N).
    best_of: bool = False
    #: It runs the user's commands (``run:``, ``[verify] commands``) instead of a preset.
    commands: bool = False
    #: It is a build step: where a loop goes back to, and what a step that ``needs_build`` follows.
    builds: bool = False
    #: What it sends back to the last build step before it, if anything: ``"findings"`` (a review's)
    #: or ``"verify"`` (a failing verification's output).
    loops_back: str | None = None
    #: ``max-rounds:`` bounds its fix rounds.
    bounds_rounds: bool = False
    #: It needs a build step before it (it has a change to look at).
    needs_build: bool = False
    #: Its executions are counted by verification attempt (the build and the check of it).
    attempts: bool = False
    #: It writes the spec the rest works from: its preset is the one-model counterfactual of ``cost``.
    plans: bool = False
    #: It can run in specrelay's tool loop (``mode: agent``, ``max-turns:``).
    agent_loop: bool = False
    #: It always runs specrelay's own tool loop (research scouts): its presets must call tools.
    tool_loop: bool = False
    #: It runs a second preset against its own, of another family, named by ``challenger:`` (a debate).
    challenger: bool = False
    #: Its panel names each preset once (reviewers: agreement counts independent ones); False where the
    #: same preset may run twice on different work (research scouts on split questions).
    distinct_presets: bool = True

    @property
    def with_article(self) -> str:
        """The kind with its article, for messages: ``a plan``, ``an implement``."""
        return ("an " if self.name[:1] in "aeiou" else "a ") + self.name


_SPECS: dict[str, KindSpec] = {}


def register_spec(spec: KindSpec) -> None:
    """Make ``spec`` known to parsing and validation (a later spec of the same name replaces it)."""
    _SPECS[spec.name] = spec


def unregister_spec(name: str) -> None:
    """Forget the kind ``name`` (nothing when it is unknown)."""
    _SPECS.pop(name, None)


def specs() -> tuple[KindSpec, ...]:
    """Every registered kind, in registration order."""
    if not _SPECS:
        raise RuntimeError("no step kinds are registered: import specrelay.engine.steps first")
    return tuple(_SPECS.values())


def spec(name: str) -> KindSpec | None:
    """The registered kind ``name``, or None."""
    return _SPECS.get(name)


def known_kinds() -> list[str]:
    """The names of the registered kinds, in registration order."""
    return [s.name for s in specs()]


def title_words() -> dict[str, KindSpec]:
    """Each title word and the kind it implies."""
    return {word: s for s in specs() for word in s.title_words}


def last_build_before(kinds_in_order: list[str], idx: int) -> int | None:
    """The index of the last build step before ``idx`` among steps of ``kinds_in_order``: where a
    loop sends work back to; None when there is none."""
    for i in range(idx - 1, -1, -1):
        found = spec(kinds_in_order[i])
        if found is not None and found.builds:
            return i
    return None
