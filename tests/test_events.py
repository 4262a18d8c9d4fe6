"""Engine events are typed values that a sink can write as JSON lines."""

from __future__ import annotations

import json
import typing

from specrelay.engine import events as E


def test_every_event_has_a_distinct_name_and_round_trips_through_json() -> None:
    kinds = typing.get_args(E.Event)
    names = [k.event for k in kinds]
    assert len(set(names)) == len(names) and "" not in names
    step = E.StepStarted("Build", "implement", ("flash-builder",), 2)
    line = json.loads(json.dumps(step.to_json()))
    assert line == {"event": "step_started", "title": "Build", "kind": "implement",
                    "presets": ["flash-builder"], "round": 2}
    call = E.CallFinished("Build", "p", "m", 10, 5, None, 1.5, True, False)
    assert json.loads(json.dumps(call.to_json()))["cost_usd"] is None


def test_tee_hands_each_event_to_every_sink_in_order() -> None:
    heard: list[tuple[str, E.Event]] = []
    sink = E.tee(lambda e: heard.append(("a", e)), lambda e: heard.append(("b", e)))
    note = E.Note("hello")
    sink(note)
    assert heard == [("a", note), ("b", note)]
