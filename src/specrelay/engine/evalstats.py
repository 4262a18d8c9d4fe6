"""The statistics of an evaluation report: pass rates with a bootstrap confidence interval over cases,
the paired difference between two workflows on the cases both checked, and medians.

Outcomes come per case: the pass/fail of each of its checked repeats (a cell whose check could not
run is left out before it gets here). A bootstrap resample draws cases with replacement, and a drawn
case brings all its repeats with it: the repeats of one case are not independent of each other, the
cases are. Every resampling is seeded (``random.Random(seed)``), so a report is the same each time
it is built from the same run.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: The seed and number of resamples a report uses unless told otherwise.
SEED = 17
RESAMPLES = 2000
#: The confidence level of every interval.
LEVEL = 0.95

#: A case's checked repeats: True passed, False failed.
Outcomes = Mapping[str, Sequence[bool]]


@dataclass(frozen=True)
class Interval:
    """An estimate and its confidence interval ``[low, high]``."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        """Rounded to 6 places: a rate is no more precise than that."""
        return {"value": round(self.value, 6), "low": round(self.low, 6), "high": round(self.high, 6)}


@dataclass(frozen=True)
class Paired:
    """Workflow ``a`` against ``b`` on the ``cases`` both checked: the mean of the per-case differences of
    pass rate (a minus b) with its interval, and on how many cases each did better."""

    cases: int
    difference: Interval
    a_better: int
    b_better: int

    def to_json(self) -> dict[str, object]:
        return {"cases": self.cases, "difference": self.difference.to_json(), "a_better": self.a_better,
                "b_better": self.b_better}


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None for no values."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolating linearly between neighbours."""
    if not ordered:
        raise ValueError("quantile of no values")
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _checked(outcomes: Outcomes) -> dict[str, Sequence[bool]]:
    return {case: runs for case, runs in outcomes.items() if runs}


def pass_rate(outcomes: Outcomes) -> float | None:
    """Passed checks over checked ones, every repeat of every case counted; None when nothing was checked."""
    runs = [r for rs in outcomes.values() for r in rs]
    return sum(runs) / len(runs) if runs else None


def _interval(value: float, samples: list[float]) -> Interval:
    samples.sort()
    tail = (1 - LEVEL) / 2
    return Interval(value, quantile(samples, tail), quantile(samples, 1 - tail))


def pass_rate_interval(outcomes: Outcomes, *, seed: int = SEED, resamples: int = RESAMPLES) -> Interval | None:
    """The pass rate and its 95% percentile-bootstrap interval, resampling cases (each with its repeats).
    None when no case was checked."""
    cases = _checked(outcomes)
    value = pass_rate(cases)
    if value is None:
        return None
    ordered = sorted(cases.items())
    passes, counts = [sum(runs) for _, runs in ordered], [len(runs) for _, runs in ordered]
    rng = random.Random(seed)
    samples = []
    for _ in range(resamples):
        drawn = rng.choices(range(len(ordered)), k=len(ordered))
        samples.append(sum(passes[i] for i in drawn) / sum(counts[i] for i in drawn))
    return _interval(value, samples)


def paired_difference(a: Outcomes, b: Outcomes, *, seed: int = SEED,
                      resamples: int = RESAMPLES) -> Paired | None:
    """``a`` against ``b`` on the cases both checked: per case, a's pass rate minus b's (over its
    repeats); their mean, with a 95% bootstrap interval resampling those cases. None when no case was
    checked under both."""
    a_cases, b_cases = _checked(a), _checked(b)
    shared = sorted(a_cases.keys() & b_cases.keys())
    if not shared:
        return None
    diffs = [sum(a_cases[c]) / len(a_cases[c]) - sum(b_cases[c]) / len(b_cases[c]) for c in shared]
    value = sum(diffs) / len(diffs)
    rng = random.Random(seed)
    samples = []
    for _ in range(resamples):
        samples.append(sum(rng.choices(diffs, k=len(diffs))) / len(diffs))
    return Paired(len(shared), _interval(value, samples), sum(d > 0 for d in diffs), sum(d < 0 for d in diffs))
