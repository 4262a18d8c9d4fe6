"""Markdown workflows: parsing, validation, checkbox ticking and template lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

import specrelay.engine.steps  # noqa: F401  (registers the step kinds parsing knows)
from specrelay.config import ROUTE_DEFAULTS, ROUTE_NAMES
from specrelay.errors import UserError, WorkflowError
from specrelay.workflow import (
    DEFAULT_WORKFLOW,
    Workflow,
    builtin_workflows,
    checked_titles,
    find_workflow,
    infer_kind,
    list_workflows,
    load_workflow,
    parse_workflow,
    problems,
    tick,
    tick_text,
    validate,
    with_routes,
)

PRESETS = (
    "opus-planner", "sonnet-reviewer", "flash-builder", "gpt-reviewer", "gemini-reviewer", "local-coder",
)
#: The routes of a config without [routes]: their defaults.
ROUTES = {name: ROUTE_DEFAULTS.get(name) for name in ROUTE_NAMES}


def builtin(name: str) -> Workflow:
    """A built-in workflow with its routes resolved as a config without [routes] resolves them."""
    return with_routes(load_workflow(builtin_workflows()[name]), ROUTES)

ZENFLOW = """\
### [ ] Step: Planning
<!-- agent: opus-planner -->
Analyze the requirements. Produce spec.md covering architecture,
affected files, edge cases, and verification criteria.

### [ ] Step: Implementation
<!-- agent: flash-builder -->
Implement the plan in spec.md.

### [ ] Step: Review
<!-- agent: sonnet-reviewer -->
Review the implementation against spec.md.
Write findings to review.md.
"""


def parse(text: str) -> object:
    return parse_workflow(text, name="workflow", path=Path("workflow.md"))


def check(text: str, *, has_config_verify: bool = False) -> None:
    validate(parse_workflow(text, name="workflow", path=Path("workflow.md")), PRESETS,
             has_config_verify=has_config_verify)


# --- parsing ---------------------------------------------------------------------------------


def test_zenflow_example_parses_unchanged() -> None:
    wf = parse_workflow(ZENFLOW, name="zen", path=None)
    assert [(s.title, s.kind, s.presets, s.line) for s in wf.steps] == [
        ("Planning", "plan", ("opus-planner",), 1),
        ("Implementation", "implement", ("flash-builder",), 6),
        ("Review", "review", ("sonnet-reviewer",), 10),
    ]
    plan, build, review = wf.steps
    assert plan.body.startswith("Analyze the requirements.") and plan.body.endswith("verification criteria.")
    assert build.body == "Implement the plan in spec.md."
    assert (plan.reads, plan.writes) == ((), ("spec.md",))
    assert (build.reads, build.writes) == (("spec.md",), ())
    assert (review.reads, review.writes) == (("spec.md",), ("review.md",))
    assert not any(s.checked or s.is_panel or s.run for s in wf.steps)
    assert wf.description == "" and wf.source == ZENFLOW
    validate(wf, PRESETS)


def test_description_body_headings_and_code_fences() -> None:
    text = """\
# Release workflow

Prose about it.

## [x] Step: Design
<!-- agent: opus-planner -->
Intro.

#### Notes
A heading that is not a step stays in the body.

```markdown
### [ ] Step: Not a step, inside a fence
```

> ### [ ] Step: Not a step, inside a quote

### [X] Step: Build it
<!-- agent: flash-builder -->
"""
    wf = parse(text)
    assert wf.description == "# Release workflow\n\nProse about it."
    assert wf.summary == "Prose about it."
    assert [s.title for s in wf.steps] == ["Design", "Build it"]
    assert [s.checked for s in wf.steps] == [True, True]
    design = wf.steps[0]
    assert "#### Notes" in design.body and "inside a fence" in design.body and "inside a quote" in design.body
    assert wf.steps[1].body == "" and wf.steps[1].line == 18
    assert wf.pending() == ()


def test_directives_in_one_block_or_several() -> None:
    text = """\
### [ ] Step: Checks
<!--
kind: verify
run: pytest -q
-->
<!-- run: ruff check . -->
<!-- writes: checks.log -->
Run everything.
### [ ] Step: Panel review
<!-- agents: gpt-reviewer , gemini-reviewer,sonnet-reviewer -->
<!-- max-rounds: 2 -->
<!-- reads: spec.md, checks.log -->
"""
    checks, panel = parse(text).steps
    assert checks.kind == "verify" and checks.run == ("pytest -q", "ruff check .")
    assert checks.writes == ("checks.log",) and checks.body == "Run everything."
    assert (checks.line_of("kind"), checks.line_of("run"), checks.line_of("writes")) == (3, 4, 7)
    assert panel.is_panel and panel.presets == ("gpt-reviewer", "gemini-reviewer", "sonnet-reviewer")
    assert panel.max_rounds == 2 and panel.reads == ("spec.md", "checks.log")
    assert panel.line_of("agents") == 10
    assert panel.line_of("run") == panel.line == 9
    # checks.log is written by the step before; spec.md by none, and nothing was built to review
    found = [str(e) for e in problems(parse(text), PRESETS)]
    assert len(found) == 2, found
    assert found[0].startswith("workflow.md:12: 'reads' names 'spec.md', which no earlier step writes")
    assert found[1].startswith("workflow.md:9: review step 'Panel review' comes before any implement step")


def test_comment_further_down_is_body_not_directive() -> None:
    text = "### [ ] Step: Plan\n<!-- agent: opus-planner -->\nText.\n\n<!-- a note: kept -->\n"
    assert parse(text).steps[0].body == "Text.\n\n<!-- a note: kept -->"
    mixed = "### [ ] Step: Plan\n<!-- agent: opus-planner --> prose <!-- b -->\n"
    step = parse(mixed).steps[0]
    assert step.presets == () and step.body == "<!-- agent: opus-planner --> prose <!-- b -->"


@pytest.mark.parametrize(("title", "kind"), [
    ("Planning", "plan"), ("Write the SPEC", "plan"), ("Design", "plan"),
    ("Implementation", "implement"), ("Build", "implement"),
    ("Fix findings", "implement"),
    ("Run tests", "verify"), ("Verification", "verify"), ("check", "verify"),
    ("Review", "review"), ("Security audit", "review"),
    ("Deploy", None), ("Code review", None),  # no kind word; two kinds' words
])
def test_kind_inferred_from_title(title: str, kind: str | None) -> None:
    assert infer_kind(title) == kind


def test_step_with_only_run_is_a_verify_step() -> None:
    step = parse("### [ ] Step: Lint\n<!-- run: ruff check . -->\n").steps[0]
    assert step.kind == "verify" and step.writes == ()


def test_explicit_kind_wins_over_title() -> None:
    step = parse("### [ ] Step: Code review\n<!-- kind: review -->\n<!-- agent: gpt-reviewer -->\n").steps[0]
    assert step.kind == "review"


# --- errors ----------------------------------------------------------------------------------

PLAN = "### [ ] Step: Planning\n<!-- agent: opus-planner -->\nPlan it.\n\n"

BAD = {
    "unknown directive": (PLAN + "### [ ] Step: Build\n<!-- agnet: flash-builder -->\n", 6,
                          ["unknown directive 'agnet'", "known: agent, agents, kind, reads, writes, run, "
                           "max-rounds", "Did you mean 'agent'?"]),
    "unknown preset": (PLAN + "### [ ] Step: Build\n\n<!-- agent: flash-bilder -->\n", 7,
                       ["unknown preset 'flash-bilder'", "known: flash-builder, ", "Did you mean"]),
    "step without agent": (PLAN + "### [ ] Step: Build\nJust do it.\n", 5, ["has no agent", "<!-- agent:"]),
    "duplicate title": (PLAN + "### [ ] Step: planning\n<!-- agent: opus-planner -->\n", 5,
                        ["duplicate step title", "first on line 1"]),
    "max-rounds zero": (PLAN + "### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\n<!-- max-rounds: 0 -->\n",
                        7, ["'max-rounds' must be a positive whole number, got '0'"]),
    "max-rounds word": (PLAN + "### [ ] Step: Review\n<!-- agent: gpt-reviewer\nmax-rounds: three -->\n",
                        7, ["got 'three'"]),
    "run on non-verify": (PLAN + "### [ ] Step: Build\n<!-- agent: flash-builder -->\n<!-- run: make -->\n",
                          7, ["'run' is only for verify steps", "implement step", "kind: verify"]),
    "empty workflow": ("# Nothing here\n\nJust prose.\n", 1, ["no steps found", "### [ ] Step:"]),
    "uninferable kind": (PLAN + "### [ ] Step: Deploy\n<!-- agent: local-coder -->\n", 5,
                         ["cannot tell what kind of step 'Deploy' is", "<!-- kind: KIND -->",
                          "plan, implement, verify, review"]),
    "ambiguous kind": (PLAN + "### [ ] Step: Code review\n<!-- agent: gpt-reviewer -->\n", 5,
                       ["(its title suggests implement and review)", "<!-- kind: KIND -->"]),
    "unknown kind": (PLAN + "### [ ] Step: Deploy\n<!-- kind: ship -->\n", 6, ["unknown step kind 'ship'"]),
    "agent and agents": (PLAN + "### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\n"
                         "<!-- agents: gpt-reviewer, gemini-reviewer -->\n", 7,
                         ["'agent' or 'agents', not both", "line 6"]),
    "panel of one": (PLAN + "### [ ] Step: Review\n<!-- agents: gpt-reviewer -->\n", 6,
                     ["'agents' needs two or more presets", "agent: NAME"]),
    "agent with two names": (PLAN + "### [ ] Step: Review\n<!-- agent: gpt-reviewer, x -->\n", 6,
                             ["'agent' takes one preset name", "agents: a, b"]),
    "kind twice": (PLAN + "### [ ] Step: Review\n<!-- kind: review\nkind: plan -->\n", 7, ["given twice"]),
    "not key: value": (PLAN + "### [ ] Step: Review\n<!-- just a note -->\n", 6, ["cannot read directive"]),
    "artifact outside task": (PLAN + "### [ ] Step: Review\n<!-- writes: ../x.md -->\n", 6,
                              ["not a plain file name"]),
    "verify with nothing": (PLAN + "### [ ] Step: Verification\nRun checks.\n", 5,
                            ["has nothing to run", "<!-- run: pytest -q -->", "[verify] commands"]),
    "untitled step": ("### [ ] Step:\n<!-- agent: opus-planner -->\n", 1, ["no title"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_workflow_names_file_and_line(case: str, tmp_path: Path) -> None:
    text, line, fragments = BAD[case]
    path = tmp_path / "workflow.md"
    path.write_text(text)
    with pytest.raises(WorkflowError) as info:
        validate(load_workflow(path), PRESETS)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, UserError)


def test_verify_step_may_rely_on_config_commands() -> None:
    text = PLAN + "### [ ] Step: Verification\nRun checks.\n"
    check(text, has_config_verify=True)


def test_no_known_presets_at_all() -> None:
    with pytest.raises(WorkflowError, match=r"workflow.md:2: unknown preset 'opus-planner'; known: \(none\)"):
        validate(parse(PLAN), ())


def test_unknown_preset_lists_closest_first() -> None:
    expected = r"known: gpt-reviewer, .*local-coder.*Did you mean 'gpt-reviewer'"
    with pytest.raises(WorkflowError, match=expected):
        check("### [ ] Step: Review\n<!-- agent: gpt-reveiwer -->\n")


def test_error_without_path_names_the_workflow() -> None:
    with pytest.raises(WorkflowError, match=r"^mine:2: unknown directive"):
        parse_workflow("### [ ] Step: Plan\n<!-- model: x -->\n", name="mine", path=None)


def test_unreadable_workflow_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    with pytest.raises(WorkflowError, match="nope.md: no such workflow file"):
        load_workflow(missing)
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"\xff\xfe### [ ] Step")
    with pytest.raises(WorkflowError, match="not UTF-8"):
        load_workflow(binary)


# --- ticking ---------------------------------------------------------------------------------


def test_tick_changes_one_byte_and_round_trips(tmp_path: Path) -> None:
    raw = (b"# Flow  \r\n\r\n### [ ] Step: Planning   \r\n<!-- agent: opus-planner -->\r\nPlan.\t\r\n\r\n"
           b"### [ ] Step: Review \r\n<!-- agent: gpt-reviewer -->\r\nNo newline at end  ")
    path = tmp_path / "workflow.md"
    path.write_bytes(raw)
    path.chmod(0o644)

    assert tick(path, "Review") is True
    after = path.read_bytes()
    assert len(after) == len(raw)
    diffs = [i for i, (a, b) in enumerate(zip(raw, after, strict=True)) if a != b]
    assert len(diffs) == 1 and after[diffs[0]:diffs[0] + 1] == b"x"
    assert after.index(b"[x] Step: Review") == diffs[0] - 1
    assert path.stat().st_mode & 0o777 == 0o644

    wf = load_workflow(path)
    assert [(s.title, s.checked) for s in wf.steps] == [("Planning", False), ("Review", True)]
    assert checked_titles(after.decode()) == {"Review"}

    assert tick(path, "Review") is False  # already ticked: no write
    assert tick(path, "Review", done=False) is True
    assert path.read_bytes() == raw


def test_tick_text_handles_setext_headings_and_bom() -> None:
    text = "\ufeff[ ] Step: Plan\n===\n<!-- agent: opus-planner -->\n  ## [X] Step: Build\n"
    ticked = tick_text(text, "Plan")
    assert ticked == text.replace("[ ] Step: Plan", "[x] Step: Plan")
    assert checked_titles(ticked) == {"Plan", "Build"}
    assert tick_text(ticked, "Build", done=False).endswith("## [ ] Step: Build\n")


def test_tick_unknown_title_lists_steps(tmp_path: Path) -> None:
    path = tmp_path / "workflow.md"
    path.write_text(ZENFLOW)
    expected = r"workflow.md:1: no step titled 'Deploy'.*'Planning', 'Implementation'"
    with pytest.raises(WorkflowError, match=expected):
        tick(path, "Deploy")
    assert path.read_text() == ZENFLOW


# --- templates -------------------------------------------------------------------------------


def test_builtin_templates_parse_and_validate() -> None:
    builtins = builtin_workflows()
    assert set(builtins) == {"multi-model", "single-model", "zenflow", "comprehensive-review", "research-plan-build",
                             "cascade", "git-native", "debate"}
    assert DEFAULT_WORKFLOW in builtins
    for name in builtins:
        wf = builtin(name)
        validate(wf, PRESETS, has_config_verify=True, routes=ROUTES)
        assert wf.name == name and wf.description.startswith("# ") and wf.summary
        assert all(s.body for s in wf.steps), name


def test_builtin_template_shapes() -> None:
    def shape(name: str) -> list[tuple[str, str, tuple[str, ...], int | None]]:
        return [(s.title, s.kind, s.presets, s.max_rounds) for s in builtin(name).steps]

    assert shape("multi-model") == [
        ("Planning", "plan", ("opus-planner",), None),
        ("Implementation", "implement", ("flash-builder",), None),
        ("Verification", "verify", (), None),
        ("Review", "review", ("gpt-reviewer",), 3),
    ]
    assert {p for _, _, presets, _ in shape("single-model") for p in presets} == {"opus-planner"}
    assert shape("comprehensive-review")[-1][2] == ("gpt-reviewer", "gemini-reviewer", "sonnet-reviewer")
    assert shape("research-plan-build") == [
        ("Research", "research", ("flash-builder", "flash-builder"), None),  # two scouts on split questions
        ("Planning", "plan", ("opus-planner",), None),
        ("Implementation", "implement", ("flash-builder",), None),
        ("Verification", "verify", (), None),
        ("Review", "review", ("gpt-reviewer",), 3),
    ]
    cascade = builtin("cascade").steps[1]
    assert cascade.cascade and cascade.presets == ("flash-builder", "opus-planner") and not cascade.is_panel
    assert shape("git-native") == [
        ("Planning", "plan", ("opus-planner",), None),
        ("Implementation", "implement", ("flash-builder",), None),
        ("Verification", "verify", (), None),
        ("Review", "review", ("opus-planner",), 3),  # the planner's model reviews each milestone
    ]
    assert builtin("git-native").steps[1].per == "milestone"
    assert shape("debate") == [
        ("Debate", "debate", ("opus-planner",), 1),
        ("Implementation", "implement", ("flash-builder",), None),
        ("Verification", "verify", (), None),
        ("Review", "review", ("gpt-reviewer",), 3),
    ]
    assert builtin("debate").steps[0].challenger == "gpt-reviewer"
    assert builtin("debate").steps[0].written == ("@plan", "@review")
    assert builtin_workflows()["zenflow"].read_text().endswith(ZENFLOW)
    with pytest.raises(WorkflowError, match="has nothing to run"):
        validate(builtin("multi-model"), PRESETS, routes=ROUTES)
    # multi-model names its presets through routes: one config change moves it.
    assert [s.written for s in builtin("multi-model").steps] == [("@plan",), ("@implement",), (), ("@review",)]
    moved = with_routes(load_workflow(builtin_workflows()["multi-model"]), {**ROUTES, "review": "sonnet-reviewer"})
    assert moved.steps[-1].presets == ("sonnet-reviewer",)


def test_find_workflow_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    assert find_workflow("zenflow", root) == builtin_workflows()["zenflow"]
    assert find_workflow("multi-model.md", None) == builtin_workflows()["multi-model"]

    project = root / ".specrelay" / "workflows"
    project.mkdir(parents=True)
    (project / "zenflow.md").write_text(ZENFLOW)
    (project / "mine.md").write_text(ZENFLOW)
    assert find_workflow("zenflow", root) == project / "zenflow.md"
    assert find_workflow("mine", root) == project / "mine.md"
    sources = {e.name: e.source for e in list_workflows(root)}
    assert sources == {"cascade": "built-in", "comprehensive-review": "built-in", "mine": "project",
                       "multi-model": "built-in", "research-plan-build": "built-in", "single-model": "built-in",
                       "zenflow": "project", "git-native": "built-in",
                       "debate": "built-in"}

    monkeypatch.chdir(tmp_path)
    (tmp_path / "zenflow").write_text(ZENFLOW)  # a file by that name in the cwd wins over both
    assert find_workflow("zenflow", root) == Path("zenflow")
    assert find_workflow(str(project / "mine.md"), None) == project / "mine.md"


def test_find_workflow_unknown_lists_names(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as info:
        find_workflow("multi-modle", tmp_path)
    message = str(info.value)
    assert "unknown workflow 'multi-modle'" in message and "Did you mean 'multi-model'?" in message
    for name in builtin_workflows():
        assert name in message
    with pytest.raises(WorkflowError, match="no such workflow file"):
        find_workflow("flows/missing.md", tmp_path)


# --- the one validation: every problem, in file order ------------------------------------------

BUILD = "### [ ] Step: Implementation\n<!-- agent: flash-builder -->\nBuild.\n"


def test_problems_lists_every_problem_in_file_order() -> None:
    text = ("### [ ] Step: Review\n<!-- agents: gpt-reviewer, gpt-reviewer -->\n\n"
            "### [ ] Step: Planning\n<!-- agents: flash-builder, opus-planner -->\n<!-- reads: notes.md -->\n\n"
            "### [ ] Step: Verification\n<!-- agent: gpt-reviewer -->\n<!-- max-rounds: 2 -->\n")
    found = [str(e) for e in problems(parse(text), PRESETS)]
    assert [m.split(": ")[0] for m in found] == [
        "workflow.md:2", "workflow.md:1", "workflow.md:5", "workflow.md:6", "workflow.md:10", "workflow.md:9"]
    assert "gpt-reviewer twice" in found[0] and "before any implement step" in found[1]
    assert "can only review" in found[2] and "'notes.md', which no earlier step writes" in found[3]
    assert "bounds the rounds of review or debate steps" in found[4] and "would be ignored" in found[5]
    with pytest.raises(WorkflowError, match="gpt-reviewer twice"):
        validate(parse(text), PRESETS)


def test_reads_of_what_earlier_steps_write_are_fine() -> None:
    text = ("### [ ] Step: Planning\n<!-- agent: opus-planner -->\n<!-- writes: notes.md -->\n\n"
            "### [ ] Step: Implementation\n<!-- agent: flash-builder -->\n<!-- reads: notes.md, request.md -->\n\n"
            "### [ ] Step: Tests\n<!-- run: pytest -q -->\n\n"
            "### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\n<!-- reads: notes.md, verify.json -->\n"
            "<!-- max-rounds: 2 -->\n")
    assert problems(parse(text), PRESETS) == []


def test_default_reads_are_not_required() -> None:
    # an implement step reads spec.md by default, and goes without it when no step plans
    assert problems(parse(BUILD + "### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\n"), PRESETS) == []


def test_builtin_workflows_have_no_problems() -> None:
    for name in builtin_workflows():
        assert problems(builtin(name), PRESETS, has_config_verify=True, routes=ROUTES) == [], name
