"""Score and time specrelay's panel consolidation (``specrelay.engine.review.agreement``).

Usage::

    python bench/panel_merge.py [--data tests/data/panel_labelled.json] [--split all|dev|held-out]
                                [--runs 200] [--show-errors] [--json]

Quality: every case of the labelled set (see the file's ``about``) is consolidated and scored by
pairs of findings: a pair placed in one merged finding is a predicted pair, a pair inside one
ground-truth group a true pair. Precision = correct predicted pairs / predicted pairs, recall =
correct predicted pairs / true pairs, both summed over all cases of the split. Odd-numbered cases
(``dev``) were used for tuning, even-numbered ones (``held-out``) were not.

Speed: three synthetic reviews of 50 findings each (8 files, a third of the problems raised by
two or three reviewers in other words and at nearby lines) consolidated ``--runs`` times; the
median and p90 are reported in milliseconds (goal: median ≤ 20 ms).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any

from specrelay.engine.review.agreement import Consolidated, ReviewerResult, consolidate
from specrelay.engine.review.document import Review

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "panel_labelled.json"


def case_results(case: dict[str, Any]) -> list[ReviewerResult]:
    """A labelled case's reviewers as panel results."""
    return [ReviewerResult(preset=name, model=name, review=Review.model_validate(
        {"verdict": "request_changes", "findings": findings})) for name, findings in case["reviewers"].items()]


def predicted_groups(case: dict[str, Any], merged: Consolidated) -> list[list[str]]:
    """The ids of the findings placed in each merged finding."""
    return [[case["reviewers"][w["reviewer"]][i]["id"] for w in m.wordings for i in w["indices"]]
            for m in merged.findings]


def pairs(groups: list[list[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for g in groups for p in combinations(g, 2)}


def score_cases(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Pairwise precision and recall over the cases, and the pairs it got wrong."""
    tp = predicted = true = 0
    wrong: list[str] = []
    for case in cases:
        merged = consolidate(case_results(case), diff_files=case.get("diff_files"))
        got, want = pairs(predicted_groups(case, merged)), pairs(case["same"])
        tp += len(got & want)
        predicted += len(got)
        true += len(want)
        wrong += [f"{case['id']} merged {sorted(p)}" for p in sorted(got - want, key=sorted)]
        wrong += [f"{case['id']} missed {sorted(p)}" for p in sorted(want - got, key=sorted)]
    return {"cases": len(cases), "true_pairs": true, "predicted_pairs": predicted, "correct_pairs": tp,
            "precision": tp / predicted if predicted else 1.0, "recall": tp / true if true else 1.0, "wrong": wrong}


def split(cases: list[dict[str, Any]], which: str) -> list[dict[str, Any]]:
    if which == "all":
        return cases
    odd = which == "dev"
    return [c for c in cases if (int(c["id"][1:]) % 2 == 1) == odd]


PROBLEMS = [
    ("Off-by-one in the loop bound", "range(len(items) - 1) skips the last item"),
    ("Missing None check", "value can be None here and the call raises AttributeError"),
    ("SQL built with string formatting", "user input reaches the query unescaped; use parameters"),
    ("Exception swallowed", "a bare except hides the error and returns a default"),
    ("Race between check and write", "two workers can pass the check before either writes"),
    ("Unbounded cache growth", "entries are never evicted, so memory grows with traffic"),
    ("No timeout on the HTTP call", "a stuck server hangs the worker forever"),
    ("Test depends on the current date", "the fixture expires next year and the test starts failing"),
    ("Float used for money", "rounding errors accumulate; use Decimal"),
    ("Secret written to the log", "the token appears in an info-level log line"),
    ("Blocking call inside async code", "requests.get blocks the event loop"),
    ("Mutable default argument", "the list is shared between calls"),
]


def synthetic_panel(per_reviewer: int = 50, seed: int = 7) -> list[ReviewerResult]:
    """Three reviews of ``per_reviewer`` findings each, about a third shared in other words."""
    rng = random.Random(seed)
    files = [f"src/pkg/module_{i}.py" for i in range(8)]
    shared = [(rng.choice(files), rng.randint(1, 400), rng.choice(PROBLEMS), k) for k in range(per_reviewer // 3)]
    out = []
    for name in ("gpt-reviewer", "gemini-reviewer", "sonnet-reviewer"):
        findings = []
        for file, line, (title, detail), k in shared:
            if rng.random() < 0.7:
                findings.append({"file": file, "line": line + rng.randint(-2, 2), "severity": rng.choice(
                    ["major", "minor"]), "title": f"{title} ({k})", "detail": f"{detail}; {name} saw it"})
        while len(findings) < per_reviewer:
            title, detail = rng.choice(PROBLEMS)
            findings.append({"file": rng.choice(files), "line": rng.randint(1, 400), "severity": "minor",
                             "title": f"{title} in helper {len(findings)}", "detail": detail})
        out.append(ReviewerResult(name, name, Review.model_validate({"verdict": "request_changes",
                                                                      "findings": findings})))
    return out


def time_merge(runs: int) -> dict[str, float]:
    """Median and p90 milliseconds to consolidate the synthetic panel."""
    panel = synthetic_panel()
    consolidate(panel)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        consolidate(panel)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"runs": runs, "findings": sum(len(r.review.findings) for r in panel if r.review),
            "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--split", choices=["all", "dev", "held-out"], default="all")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cases = json.loads(args.data.read_text(encoding="utf-8"))["cases"]
    report = {name: score_cases(split(cases, name)) for name in ("dev", "held-out", "all")}
    timing = time_merge(args.runs)
    if args.json:
        print(json.dumps({"quality": report, "timing": timing}, indent=2))
        return 0
    print("| split | cases | true pairs | predicted | correct | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for name, r in report.items():
        print(f"| {name} | {r['cases']} | {r['true_pairs']} | {r['predicted_pairs']} | {r['correct_pairs']} "
              f"| {r['precision']:.3f} | {r['recall']:.3f} |")
    print(f"\nconsolidate 3 x 50 findings: median {timing['median_ms']:.2f} ms, p90 {timing['p90_ms']:.2f} ms "
          f"over {timing['runs']} runs")
    if args.show_errors:
        print("\n".join(["", *report[args.split]["wrong"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
