"""The report's statistics (engine/evalstats.py) and its matching of findings to failed checks
(engine/evalfindings.py), on inputs whose answers are known."""

from __future__ import annotations

import pytest

from specrelay.engine.evalfindings import Place, failure_places, flagged, parse_where
from specrelay.engine.evalstats import Interval, median, paired_difference, pass_rate, pass_rate_interval, quantile


def test_median_and_quantile() -> None:
    assert median([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert quantile([0.0, 1.0, 2.0, 3.0], 0.5) == 1.5
    assert quantile([0.0, 10.0], 0.25) == 2.5
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_all_passed_is_one_and_all_failed_is_zero() -> None:
    assert pass_rate_interval({"a": [True], "b": [True, True]}) == Interval(1.0, 1.0, 1.0)
    assert pass_rate_interval({"a": [False], "b": [False]}) == Interval(0.0, 0.0, 0.0)
    assert pass_rate_interval({}) is None
    assert pass_rate_interval({"a": []}) is None  # a case with no checked cell counts for nothing


def test_the_rate_pools_repeats_and_the_interval_is_seeded() -> None:
    outcomes = {f"c{i}": [i % 3 != 0, i % 2 == 0] for i in range(12)}
    assert pass_rate(outcomes) == 14 / 24
    first = pass_rate_interval(outcomes, seed=5)
    assert first == pass_rate_interval(outcomes, seed=5)
    assert first is not None and first.low < first.value < first.high
    others = {pass_rate_interval(outcomes, seed=s) for s in range(6)}
    assert len(others) > 1  # another seed draws other resamples


def test_a_cases_repeats_are_drawn_together() -> None:
    # One case passed once in two: every resample draws that case with both its repeats, so the rate
    # never moves. Drawing repeats apart would give 0 and 1 as well.
    assert pass_rate_interval({"only": [True, False]}) == Interval(0.5, 0.5, 0.5)
    # Two cases, one passed and one failed: a resample is both (0.5), or one of them twice (0 or 1).
    wide = pass_rate_interval({"a": [True], "b": [False]})
    assert wide == Interval(0.5, 0.0, 1.0)


def test_the_paired_difference_has_the_sign_of_a_minus_b() -> None:
    a = {"c1": [True], "c2": [True], "c3": [False], "only_a": [False]}
    b = {"c1": [False], "c2": [True], "c3": [False], "only_b": [True], "unchecked": []}
    d = paired_difference(a, b)
    assert d is not None and d.cases == 3 and (d.a_better, d.b_better) == (1, 0)
    assert d.difference.value == pytest.approx(1 / 3) and d.difference.low == 0.0 and d.difference.high == 1.0
    back = paired_difference(b, a)
    assert back is not None and back.difference.value == pytest.approx(-1 / 3)
    assert (back.a_better, back.b_better) == (0, 1)
    same = paired_difference({"c": [True, False]}, {"c": [True, False]})
    assert same is not None and same.difference == Interval(0.0, 0.0, 0.0)
    assert paired_difference({"x": [True]}, {"y": [True]}) is None


def test_failure_places_are_the_projects_non_test_lines() -> None:
    output = ('tests/test_calc.py:4: AssertionError\n'
              '  File "/tmp/specrelay-check-9f/tree/src/calc.py", line 12, in sub\n'
              'src/calc.py:12: in sub\n./src/util.js:7:3\n'
              '/usr/lib/python3.11/unittest/case.py:57: in run\n'
              '  File "/home/u/.venv/lib/python3.11/site-packages/x/y.py", line 3\n'
              'see http://example.com:8080/a.py:9 and 12:30:45 and ../outside.py:3\n'
              '  File "<string>", line 1, in <module>\n  File "<frozen importlib._bootstrap>", line 488\n'
              'thread panicked at src/lib.rs:5:9:\n    at add (/tmp/specrelay-check-x/tree/web/app.js:3:10)\n')
    assert failure_places(output) == [Place("src/calc.py", 12), Place("src/util.js", 7), Place("src/lib.rs", 5),
                                      Place("web/app.js", 3)]
    assert failure_places("") == []


def test_a_finding_flags_a_place_within_a_few_lines_of_the_same_file() -> None:
    assert parse_where("src/calc.py:9") == Place("src/calc.py", 9)
    assert parse_where("(general)") is None and parse_where("src/calc.py") is None
    place = Place("src/calc.py", 12)
    assert flagged(place, [Place("src/calc.py", 9)])
    assert flagged(place, [Place("calc.py", 15)])  # a path the reviewer wrote shorter
    assert not flagged(place, [Place("src/calc.py", 16)])
    assert not flagged(place, [Place("src/other.py", 12)])
    assert not flagged(place, [Place("lc.py", 12)])  # not the same file, only the same ending
