"""Score specrelay's ``apply_edit`` on a corpus of real edits and their drifted variants.

Usage::

    python bench/edits.py ../shared/data/edits/flask.jsonl.gz [--limit N] [--json] [--show-wrong K]

The corpus format is described in ``shared/data/edits/README.md``: one JSON
object per line with ``before``, ``search``, ``replace``, ``after`` and a list of
``variants`` (``kind``, ``search``, ``replace``, ``expect``). The clean edit is
scored as kind ``clean``. An outcome is *correct* (the text became ``after``),
*refused* (an ``EditError``), or *wrong* (any other text, or any other
exception): wrong is the one outcome that must never happen, and the script
exits 1 if it happens at all.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from specrelay.edits import apply_edit
from specrelay.errors import EditError

KIND_ORDER = ["clean", "trailing_ws", "smart_quotes", "outdent", "drop_inner_line", "elide", "no_context"]


@dataclass
class KindScore:
    """Outcomes and timings of one kind of edit."""

    correct: int = 0
    refused: int = 0
    wrong: int = 0
    seconds: list[float] = field(default_factory=list)
    wrong_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.correct + self.refused + self.wrong

    def pct(self, count: int) -> float:
        return 100.0 * count / self.total if self.total else 0.0


@dataclass(frozen=True)
class Case:
    """One edit to score."""

    id: str
    kind: str
    before: str
    search: str
    replace: str
    after: str


def read_cases(corpus: Path, limit: int | None) -> Iterator[Case]:
    """The clean edit and every variant of the first ``limit`` records."""
    opener = gzip.open if corpus.suffix == ".gz" else open
    with opener(corpus, "rt", encoding="utf-8") as fh:
        for number, raw in enumerate(fh):
            if limit is not None and number >= limit:
                return
            rec = json.loads(raw)
            yield Case(rec["id"], "clean", rec["before"], rec["search"], rec["replace"], rec["after"])
            for var in rec["variants"]:
                yield Case(rec["id"], var["kind"], rec["before"], var["search"], var["replace"],
                           rec["after"])


def score(cases: Iterator[Case]) -> dict[str, KindScore]:
    """Apply every case and sort the outcomes by kind."""
    scores: dict[str, KindScore] = {}
    for case in cases:
        kind = scores.setdefault(case.kind, KindScore())
        started = time.perf_counter()
        try:
            result: str | None = apply_edit(case.before, case.search, case.replace)
        except EditError:
            result = None
        except Exception as exc:  # a crash is scored as wrong: it is not a clean refusal
            result = f"crash: {exc!r}"
        kind.seconds.append(time.perf_counter() - started)
        if result is None:
            kind.refused += 1
        elif result == case.after:
            kind.correct += 1
        else:
            kind.wrong += 1
            kind.wrong_ids.append(case.id)
    return scores


def _row(name: str, s: KindScore) -> str:
    ms = sorted(t * 1000 for t in s.seconds) or [0.0]
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return (f"| {name} | {s.total} | {s.pct(s.correct):.1f}% | {s.pct(s.refused):.1f}% "
            f"| {s.wrong} ({s.pct(s.wrong):.1f}%) | {statistics.median(ms):.3f} | {p95:.3f} |")


def table(scores: dict[str, KindScore]) -> str:
    """The scores as a Markdown table, kinds in a fixed order, then a total row."""
    rows = ["| kind | edits | applied correctly | refused | silently wrong | median ms/edit | p95 ms |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    kinds = [k for k in KIND_ORDER if k in scores] + sorted(set(scores) - set(KIND_ORDER))
    rows += [_row(name, scores[name]) for name in kinds]
    total = KindScore(
        sum(s.correct for s in scores.values()),
        sum(s.refused for s in scores.values()),
        sum(s.wrong for s in scores.values()),
        [t for s in scores.values() for t in s.seconds],
    )
    rows.append(_row("**all**", total))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any edit was silently wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a .jsonl or .jsonl.gz corpus of edits")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N records")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--show-wrong", type=int, default=5, metavar="K",
                        help="list up to K ids of silently wrong edits per kind (default 5)")
    args = parser.parse_args(argv)
    scores = score(read_cases(args.corpus, args.limit))
    if args.json:
        print(json.dumps({k: {"edits": s.total, "correct": s.correct, "refused": s.refused,
                              "wrong": s.wrong, "median_ms": statistics.median(s.seconds) * 1000,
                              "wrong_ids": s.wrong_ids} for k, s in scores.items()}, indent=2))
    else:
        print(table(scores))
        for name, s in scores.items():
            for case_id in s.wrong_ids[: args.show_wrong]:
                print(f"silently wrong ({name}): {case_id}", file=sys.stderr)
    return 1 if any(s.wrong for s in scores.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
