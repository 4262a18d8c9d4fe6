"""Check a parsed workflow against what the configuration knows (presets, verify commands).

Kept apart from parsing so that reading a workflow never needs config loaded.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from specrelay.workflow.model import Step, StepKind, Workflow
from specrelay.workflow.parse import did_you_mean, error


def closest_first(word: str, choices: Collection[str]) -> list[str]:
    """``choices`` with the ones close to ``word`` first (closest first), then the rest sorted."""
    close = difflib.get_close_matches(word, list(choices), n=max(len(choices), 1), cutoff=0.6)
    return close + sorted(set(choices) - set(close))


def validate(workflow: Workflow, known_presets: Collection[str], *, has_config_verify: bool = False) -> None:
    """Raise :class:`~specrelay.errors.WorkflowError` for the first problem, in file order.

    ``known_presets`` are the preset names the configuration defines. ``has_config_verify``
    says that ``[verify] commands`` are configured, so a verify step may name no ``run:``.
    """
    label = workflow.label
    if not workflow.steps:
        raise error(label, 1, "no steps found",
                    "Add a step such as '### [ ] Step: Planning' with '<!-- agent: PRESET -->' under it")
    seen: dict[str, Step] = {}
    for step in workflow.steps:
        first = seen.setdefault(step.title.casefold(), step)
        if first is not step:
            raise error(label, step.line, f"duplicate step title '{step.title}' (first on line {first.line})",
                        "Give each step its own title; progress is ticked by title")
        _check_step(step, label, known_presets, has_config_verify)


def _check_step(step: Step, label: str, known: Collection[str], has_config_verify: bool) -> None:
    agent_key = "agents" if step.is_panel else "agent"
    for preset in step.presets:
        if preset not in known:
            listed = ", ".join(closest_first(preset, known)) or "(none)"
            raise error(label, step.line_of(agent_key), f"unknown preset '{preset}'; known: {listed}",
                        (did_you_mean(preset, list(known)).strip() + " Or define it in "
                         ".specrelay/config.toml").strip())
    if step.max_rounds is not None and step.max_rounds < 1:
        raise error(label, step.line_of("max-rounds"),
                    f"'max-rounds' must be a positive whole number, got {step.max_rounds}",
                    "Write e.g. '<!-- max-rounds: 3 -->'")
    if step.kind is StepKind.VERIFY:
        _check_verify(step, label, has_config_verify)
    elif step.run:
        raise error(label, step.line_of("run"),
                    f"'run' is only for verify steps, and '{step.title}' is a {step.kind.value} step",
                    "Move the command to a verify step, or add '<!-- kind: verify -->' to this one")
    elif not step.presets:
        raise error(label, step.line, f"step '{step.title}' ({step.kind.value}) has no agent",
                    "Add '<!-- agent: PRESET -->' under its heading")


def _check_verify(step: Step, label: str, has_config_verify: bool) -> None:
    if step.run or step.presets or has_config_verify:
        return
    raise error(label, step.line, f"verify step '{step.title}' has nothing to run",
                "Add '<!-- run: pytest -q -->' under its heading, or set '[verify] commands' "
                "in .specrelay/config.toml")
