"""Step kinds: one module each (plan, implement, verify, review), all run through :class:`StepRun`."""

from specrelay.engine.phases.base import StepRun

__all__ = ["StepRun"]
