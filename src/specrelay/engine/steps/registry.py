"""The one door for step kinds: :func:`register`, the built-in kinds through it as any other."""

from __future__ import annotations

from specrelay.engine.steps.kind import StepKind
from specrelay.errors import StepFailed
from specrelay.workflow import kinds
from specrelay.workflow.kinds import KindSpec

_KINDS: dict[str, StepKind] = {}


def register(kind: StepKind) -> StepKind:
    """Make ``kind`` runnable, and its spec known to workflow parsing and validation."""
    _KINDS[kind.spec.name] = kind
    kinds.register_spec(kind.spec)
    return kind


def unregister(name: str) -> None:
    """Forget the kind ``name`` (for tests that register one of their own)."""
    _KINDS.pop(name, None)
    kinds.unregister_spec(name)


def kind_of(name: str, step: str = "") -> StepKind:
    """The registered kind ``name``; a step of a kind no module registered cannot run."""
    found = _KINDS.get(name)
    if found is None:  # parsing refuses such a step; a hand-edited task copy may still hold one
        raise StepFailed(f"step '{step}': kind {name} is not registered (known: {', '.join(_KINDS)}).")
    return found


def spec_of(name: str) -> KindSpec | None:
    """The spec of kind ``name`` (as a ledger row records it), or None when it is not registered."""
    return kinds.spec(name)
