"""Routes in a workflow: ``<!-- agent: @plan -->`` names the preset ``[routes] plan`` goes to.

A step's presets are read as written (``@plan`` among them); :func:`with_routes` puts the preset of each
route in its place, keeping what was written for display (:attr:`~specrelay.workflow.model.Step.written`).
A route that is not one, or that no config points at a preset, is left as written for validation to
refuse (:func:`route_problem`), naming the workflow's line. The routes come from the caller (the config's
``route_table``): this layer reads no config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from specrelay.workflow.model import Workflow

#: What marks a preset name as a route: ``@plan``.
PREFIX = "@"


def is_route(name: str) -> bool:
    """Whether a preset name as written is a route (``@plan``)."""
    return name.startswith(PREFIX)


def with_routes(workflow: Workflow, routes: Mapping[str, str | None],
                recorded: Sequence[Sequence[str]] | None = None) -> Workflow:
    """``workflow`` with each ``@ROUTE`` replaced by the preset ``routes`` maps it to.

    A step's presets and its challenger (:attr:`~specrelay.workflow.model.Step.team`) are replaced alike.
    ``recorded``: the presets a task recorded for each step when it started (by index); a step that
    names a route takes those, so that a resumed task keeps the presets its routes named then, whatever
    the config says now. A route ``routes`` does not map is left as written (validation refuses it).
    """
    steps = []
    for index, step in enumerate(workflow.steps):
        team = step.team  # the challenger too: a debate's may be a route
        if not any(is_route(p) for p in team):
            steps.append(step)
            continue
        kept = tuple(recorded[index]) if recorded is not None and index < len(recorded) else ()
        if kept and len(kept) == len(team):
            named = kept
        else:
            named = tuple(routes.get(p[len(PREFIX):]) or p if is_route(p) else p for p in team)
        own = len(step.presets)
        steps.append(replace(step, presets=named[:own], challenger=named[own] if step.challenger else None,
                             written=team))
    return replace(workflow, steps=tuple(steps))


def route_problem(name: str, routes: Mapping[str, str | None] | None) -> tuple[str, str]:
    """What is wrong with ``name`` (``@ROUTE``) left unresolved, and the fix: (what, fix)."""
    route = name[len(PREFIX):]
    if routes is None or route not in routes:
        import difflib

        known = list(routes or ())
        close = difflib.get_close_matches(route, known, n=1)
        hint = f"Did you mean '{PREFIX}{close[0]}'? " if close else ""
        listed = ", ".join(PREFIX + r for r in known) or "(none)"
        return (f"'{name}' is not a route; routes: {listed}",
                f"{hint}Name a route, or a preset without '{PREFIX}'")
    return (f"route '{name}' names no preset",
            f"Set [routes] {route} = \"PRESET\" in .specrelay/config.toml, or name a preset here")

