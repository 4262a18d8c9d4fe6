"""Check a parsed workflow against what the configuration knows and what the engine can run.

This is the one validation every command that loads a workflow applies (``run``, ``resume``,
``workflows`` and its ``--show``, the demo): a workflow ``specrelay workflows`` lists as fine is one
``run`` accepts, and the other way round. Kept apart from parsing so that reading a workflow never
needs config loaded. Every problem is a :class:`~specrelay.errors.WorkflowError` in the
``file:line: what. fix`` shape; :func:`problems` lists them all, :func:`validate` raises the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence

import specrelay.workflow.kinds as kinds
from specrelay.errors import WorkflowError
from specrelay.workflow.kinds import KindSpec
from specrelay.workflow.model import TASK_ARTIFACTS, Step, Workflow
from specrelay.workflow.parse import did_you_mean, error
from specrelay.workflow.routes import is_route, route_problem

#: Each route and the preset it goes to (None: no preset), as the config's ``route_table`` gives them.
Routes = Mapping[str, str | None]
#: Each preset and the family of its model, as the config's ``families`` gives them.
Families = Mapping[str, str]

#: Why a panel names each reviewer once: in every message that refuses a repeat (workflow or ``--panel``).
ONCE_WHY = "agreement counts independent reviewers"


def named_twice(presets: Sequence[str]) -> list[str]:
    """The presets ``presets`` names more than once, sorted: a panel lists each reviewer once."""
    return sorted({p for p in presets if presets.count(p) > 1})


def closest_first(word: str, choices: Collection[str]) -> list[str]:
    """``choices`` with the ones close to ``word`` first (closest first), then the rest sorted."""
    close = difflib.get_close_matches(word, list(choices), n=max(len(choices), 1), cutoff=0.6)
    return close + sorted(set(choices) - set(close))


def validate(workflow: Workflow, known_presets: Collection[str], *, has_config_verify: bool = False,
             routes: Routes | None = None, families: Families | None = None) -> None:
    """Raise the first of :func:`problems` (in file order), if any."""
    found = problems(workflow, known_presets, has_config_verify=has_config_verify, routes=routes,
                     families=families)
    if found:
        raise found[0]


def problems(workflow: Workflow, known_presets: Collection[str], *, has_config_verify: bool = False,
             routes: Routes | None = None, families: Families | None = None) -> list[WorkflowError]:
    """Every problem of ``workflow``, in file order.

    ``known_presets`` are the preset names the configuration defines. ``has_config_verify``
    says that ``[verify] commands`` are configured, so a verify step may name no ``run:``.
    ``routes``: the routes the workflow's ``@ROUTE`` names were resolved with
    (:func:`~specrelay.workflow.routes.with_routes`); one still written as ``@ROUTE`` is refused.
    ``families``: each preset's family, for a debate's challenger, which must be of another family than
    the proposer (None: not checked).
    """
    label = workflow.label
    if not workflow.steps:
        return [error(label, 1, "no steps found",
                      "Add a step such as '### [ ] Step: Planning' with '<!-- agent: PRESET -->' under it")]
    found: list[WorkflowError] = []
    seen: dict[str, Step] = {}
    written: set[str] = set(TASK_ARTIFACTS)
    implemented = False
    for step in workflow.steps:
        first = seen.setdefault(step.title.casefold(), step)
        if first is not step:
            found.append(error(label, step.line, f"duplicate step title '{step.title}' (first on line "
                               f"{first.line})", "Give each step its own title; progress is ticked by title"))
        found.extend(_step_problems(step, label, known_presets, has_config_verify, routes, families))
        found.extend(_order_problems(step, label, written, implemented))
        written.update(step.writes)
        written.update(_spec(step).always_writes)
        implemented = implemented or _spec(step).builds
    return found


def _step_problems(step: Step, label: str, known: Collection[str], has_config_verify: bool,
                   routes: Routes | None, families: Families | None) -> Iterator[WorkflowError]:
    """What is wrong with ``step`` on its own."""
    spec = _spec(step)
    yield from _preset_problems(step, spec, label, known, routes)
    yield from _challenger_problems(step, label, known, routes, families)
    if step.max_rounds is not None and step.max_rounds < 1:
        yield error(label, step.line_of("max-rounds"),
                    f"'max-rounds' must be a positive whole number, got {step.max_rounds}",
                    "Write e.g. '<!-- max-rounds: 3 -->'")
    if step.max_rounds is not None and not spec.bounds_rounds:
        bounded = _names(lambda s: s.bounds_rounds)
        yield error(label, step.line_of("max-rounds"),
                    f"'max-rounds' bounds the rounds of {bounded} steps, and '{step.title}' is "
                    f"{spec.with_article} step", f"Move '<!-- max-rounds: N -->' to {_a(bounded)} step")
    for key in ("mode", "max-turns"):
        if key in dict(step.directives) and not spec.agent_loop:
            looped = _names(lambda s: s.agent_loop)
            yield error(label, step.line_of(key), f"'{key}' is for {looped} steps (specrelay's tool loop), and "
                        f"'{step.title}' is {spec.with_article} step", f"Remove '<!-- {key}: ... -->' from it")
    if step.per and not spec.builds:
        yield error(label, step.line_of("per"), f"'per' takes a {_names(lambda s: s.builds)} step through the "
                    f"spec's milestones, and '{step.title}' is {spec.with_article} step",
                    "Remove '<!-- per: ... -->' from it, or move it to the build step")
    if step.per and step.is_panel and spec.best_of:
        yield error(label, step.line_of("per"), f"step '{step.title}' builds best-of-N ('agents:'), and 'per: "
                    "milestone' builds one milestone at a time; a step takes one of them", "Remove one of the two")
    if step.parallel and step.cascade:
        yield error(label, step.line_of("parallel"), f"step '{step.title}' is a cascade ('agent: a > b'), and "
                    "'parallel:' builds parts at once; an escalation would build every part again, so a step "
                    "takes one of them", "Remove one of the two")
    if step.per and step.parallel:
        yield error(label, step.line_of("per"), "'per: milestone' builds one milestone at a time, and "
                    "'parallel:' builds parts at once; a step takes one of them", "Remove one of the two")
    if step.parallel and not spec.builds:
        yield error(label, step.line_of("parallel"), f"'parallel' splits a {_names(lambda s: s.builds)} step "
                    f"among builders, and '{step.title}' is {spec.with_article} step",
                    "Remove '<!-- parallel: ... -->' from it, or move it to the build step")
    if "workstreams" in step.parallel and step.is_panel and spec.best_of:
        yield error(label, step.line_of("parallel"), f"step '{step.title}' builds best-of-N ('agents:'), each "
                    "candidate the whole spec, so it cannot also split the spec into workstreams",
                    "Keep one: '<!-- agents: ... -->' or '<!-- parallel: workstreams -->' (with '<!-- agent: ... -->')")
    if spec.commands:
        yield from _verify_problems(step, label, has_config_verify)
    elif step.run:
        runs = _names(lambda s: s.commands)
        yield error(label, step.line_of("run"),
                    f"'run' is only for {runs} steps, and '{step.title}' is {spec.with_article} step",
                    f"Move the command to {_a(runs)} step, or add '<!-- kind: {runs.split()[0]} -->' to this one")
    elif not step.presets and spec.needs_agent:
        yield error(label, step.line, f"step '{step.title}' ({step.kind}) has no agent",
                    "Add '<!-- agent: PRESET -->' under its heading")


def _preset_problems(step: Step, spec: KindSpec, label: str, known: Collection[str],
                     routes: Routes | None) -> Iterator[WorkflowError]:
    agent_key = "agents" if step.is_panel else "agent"
    line = step.line_of(agent_key)
    for preset in dict.fromkeys(step.presets):
        if is_route(preset):
            yield error(label, line, *route_problem(preset, routes))
        elif preset not in known:
            listed = ", ".join(closest_first(preset, known)) or "(none)"
            yield error(label, line, f"unknown preset '{preset}'; known: {listed}",
                        (did_you_mean(preset, list(known)).strip() + " Or define it in "
                         ".specrelay/config.toml").strip())
    twice = named_twice(step.presets)
    if step.cascade:
        yield from _cascade_problems(step, spec, label, twice)
        return
    if "escalate-after" in dict(step.directives):
        yield error(label, step.line_of("escalate-after"), f"'escalate-after' is for a cascade, and step "
                    f"'{step.title}' names one preset", "Name its presets cheapest first, "
                    "'<!-- agent: cheap > stronger -->', or remove '<!-- escalate-after: N -->'")
    if twice and spec.distinct_presets:
        yield error(label, line, f"step '{step.title}' names {', '.join(twice)} twice",
                    f"List each reviewer once: {ONCE_WHY}")
    if step.is_panel and not (spec.panel or spec.best_of or spec.commands):  # a commands step says why itself
        yield error(label, line, f"a panel ('agents: ...') can only {_names(lambda s: s.panel)}, and "
                    f"'{step.title}' is {spec.with_article} step",
                    f"Give it one preset: '<!-- agent: {step.presets[0]} -->' (on {_a(_names(lambda s: s.best_of))} "
                    "step, 'agents:' builds best-of-N)")


def _challenger_problems(step: Step, label: str, known: Collection[str], routes: Routes | None,
                         families: Families | None) -> Iterator[WorkflowError]:
    """What is wrong with a step's ``challenger:``, or with a debate step that has none."""
    spec = _spec(step)
    debates = _names(lambda s: s.challenger)
    line = step.line_of("challenger")
    if not spec.challenger:
        if step.challenger is not None:
            yield error(label, line, f"'challenger' is for {debates} steps, and '{step.title}' is "
                        f"{spec.with_article} step", f"Remove '<!-- challenger: ... -->', or make it "
                        f"{_a(debates.split()[0])} step with '<!-- kind: {debates.split()[0]} -->'")
        return
    proposer = step.presets[0] if step.presets else None
    others = _other_families(proposer, known, families, routes)
    example = f", such as {', '.join(others[:3])}" if others else ""
    challenger = step.challenger
    if challenger is None:
        whose = f"{proposer}'s ({families[proposer]})" if proposer and families and proposer in families else \
            "its agent's"
        yield error(label, step.line, f"{step.kind} step '{step.title}' has no challenger",
                    f"Add '<!-- challenger: PRESET -->' under its heading, naming a preset of another family "
                    f"than {whose}{example}")
    elif is_route(challenger):
        yield error(label, line, *route_problem(challenger, routes))
    elif challenger not in known:
        listed = ", ".join(closest_first(challenger, known)) or "(none)"
        yield error(label, line, f"unknown challenger preset '{challenger}'; known: {listed}",
                    (did_you_mean(challenger, list(known)).strip() + " Or define it in "
                     ".specrelay/config.toml").strip())
    elif proposer is not None and proposer in known and families is not None:
        same = families.get(proposer) == families.get(challenger)
        if challenger == proposer or same:
            who = ("is its own agent" if challenger == proposer
                   else f"is of the same family as its agent {proposer} ({families.get(proposer)})")
            written = step.written[len(step.presets)] if len(step.written) > len(step.presets) else challenger
            via = f" ({written})" if is_route(written) else ""
            where = (f", or point [routes] {written[1:]} at one in .specrelay/config.toml" if via else "")
            yield error(label, line, f"the challenger of '{step.title}', {challenger}{via}, {who}: a debate needs a "
                        "model of another family", f"Name a preset of another family{example}{where}; or, if its "
                        f"family is wrong, set 'family' in [presets.{challenger}] of .specrelay/config.toml")


def _other_families(proposer: str | None, known: Collection[str], families: Families | None,
                    routes: Routes | None) -> list[str]:
    """The known presets of another family than ``proposer``'s: those the routes name first (the presets
    in use), then the rest, sorted; empty when it cannot be told."""
    if proposer is None or families is None or proposer not in families:
        return []
    routed = [p for p in (routes or {}).values() if p is not None]
    ordered = dict.fromkeys([*routed, *sorted(known)])
    return [name for name in ordered if name in known and families.get(name, families[proposer]) != families[proposer]]


def _cascade_problems(step: Step, spec: KindSpec, label: str, twice: list[str]) -> Iterator[WorkflowError]:
    """What is wrong with a cheap-first cascade (``agent: a > b``): it escalates a build step's work."""
    line = step.line_of("agent")
    if not spec.builds:
        builds = _names(lambda s: s.builds)
        yield error(label, line, f"a cascade ('>') escalates a build when it fails, and '{step.title}' is "
                    f"{spec.with_article} step", f"Name one preset here, or move the cascade to {_a(builds)} step")
    if twice:
        yield error(label, line, f"the cascade of step '{step.title}' names {', '.join(twice)} twice",
                    "Name each preset once, cheapest first: a preset that failed is not tried again")


def _verify_problems(step: Step, label: str, has_config_verify: bool) -> Iterator[WorkflowError]:
    if step.presets:
        key = "agents" if step.is_panel else "agent"
        # A verify step runs the user's commands; a preset on it would silently do nothing.
        yield error(label, step.line_of(key), f"{step.kind} step '{step.title}' runs commands, so its '{key}' "
                    "would be ignored", f"Remove '<!-- {key}: ... -->', or make it a review step with "
                    "'<!-- kind: review -->'")
    elif not step.run and not has_config_verify:
        yield error(label, step.line, f"{step.kind} step '{step.title}' has nothing to run",
                    "Add '<!-- run: pytest -q -->' under its heading, or set '[verify] commands' "
                    "in .specrelay/config.toml")


def _order_problems(step: Step, label: str, written: set[str], implemented: bool) -> Iterator[WorkflowError]:
    """What is wrong with where ``step`` stands: what it reads, what comes before it."""
    if "reads" in dict(step.directives):
        for name in step.reads:
            if name not in written:
                have = ", ".join(sorted(written))
                yield error(label, step.line_of("reads"), f"'reads' names {name!r}, which no earlier step "
                            f"writes (available by then: {have})",
                            f"Add '<!-- writes: {name} -->' to an earlier step, or read one of those")
    if _spec(step).needs_build and not implemented:
        build = _names(lambda s: s.builds)
        yield error(label, step.line, f"{step.kind} step '{step.title}' comes before any {build} step, so it "
                    f"would have no change to {step.kind}", f"Move it after {_a(build)} step")


def _spec(step: Step) -> KindSpec:
    found = kinds.spec(step.kind)
    if found is None:  # parsing refuses such a step; a Step built by hand may still hold one
        raise WorkflowError(f"step '{step.title}' is of kind {step.kind!r}, which is not registered; "
                            f"known: {', '.join(kinds.known_kinds())}")
    return found


def _names(has: Callable[[KindSpec], bool]) -> str:
    """The kinds that have a property, for a message: ``review``, ``review or debate``."""
    return " or ".join(s.name for s in kinds.specs() if has(s)) or "(no)"


def _a(word: str) -> str:
    """``word`` with its article: ``a plan``, ``an implement``."""
    return ("an " if word[:1] in "aeiou" else "a ") + word
