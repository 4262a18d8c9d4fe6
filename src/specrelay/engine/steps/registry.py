"""The one door for step kinds: :func:`register`, the built-in kinds through it as any other.

A plugin package adds a kind with an entry point in the ``specrelay.step_kinds`` group naming its
module (whose import calls :func:`register`) or a function that registers it.
"""

from __future__ import annotations

from specrelay.engine.steps.kind import StepKind
from specrelay.errors import ConfigError, StepFailed
from specrelay.workflow import kinds
from specrelay.workflow.kinds import KindSpec

_KINDS: dict[str, StepKind] = {}
ENTRY_POINT_GROUP = "specrelay.step_kinds"


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


def load_plugins() -> None:
    """Register the kinds that installed packages declare in :data:`ENTRY_POINT_GROUP`."""
    from importlib.metadata import entry_points  # here: only what runs or checks workflows pays for it

    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = point.load()
            if callable(target):
                target()
        except Exception as exc:  # a broken plugin is the user's to fix or remove, not an internal error
            raise ConfigError(f"the step kind plugin '{point.name}' ({point.value}) failed to load: {exc}. "
                              "Fix or uninstall the package that provides it.") from exc
