"""Score specrelay's ``apply_edit`` on a corpus of real edits and their drifted variants.

Usage::

    python bench/edits.py ../shared/data/edits/flask.jsonl.gz [--limit N] [--json] [--show-wrong K]
    python bench/edits.py OUT.jsonl.gz --synthesize-from DIR [--seed N] [--records N]

The corpus format is described in ``shared/data/edits/README.md``: one JSON
object per line with ``before``, ``search``, ``replace``, ``after`` and a list of
``variants`` (``kind``, ``search``, ``replace``, ``expect``). The clean edit is
scored as kind ``clean``. An outcome is *correct* (the text became ``after``),
*refused* (an ``EditError``), or *wrong* (any other text, or any other
exception): wrong is the one outcome that must never happen, and the script
exits 1 if it happens at all.

``--synthesize-from DIR`` writes a corpus in the same format instead, from the
Python files under DIR (another project's code): random hunk-shaped edits with
2 lines of context widened until unique, and the same drifted variants, so that
the rules can be checked on code they were not written against.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def synthesize(root: Path, seed: int, records: int) -> Iterator[dict[str, Any]]:
    """Up to ``records`` corpus records from the Python files (3-40 kB) under ``root``."""
    rng = random.Random(seed)
    files = sorted(p for p in root.rglob("*.py") if 3000 < p.stat().st_size < 40000)
    rng.shuffle(files)
    made = 0
    for path in files:
        try:
            before = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "\r" in before or not before.endswith("\n"):
            continue
        for _ in range(2):
            record = _synthetic_record(rng, str(path), before)
            if record is not None:
                yield record
                made += 1
                if made >= records:
                    return


def _synthetic_record(rng: random.Random, source: str, before: str) -> dict[str, Any] | None:
    lines = before.split("\n")[:-1]
    a = rng.randrange(2, max(3, len(lines) - 4))
    b = min(len(lines), a + rng.choice([0, 1, 1, 2, 3]))
    new = [_mutate(rng, line, lines) for line in lines[a:b]]
    new += [_mutate(rng, rng.choice(lines), lines) for _ in range(rng.choice([0, 0, 1, 2]))]
    if new == lines[a:b]:
        return None
    lo, hi = a - 2, b + 2
    while not _once(before, _text(lines[max(lo, 0):hi])) and (lo > 0 or hi < len(lines)):
        lo, hi = lo - 1, hi + 1  # widen the context until SEARCH is unique, as git's would be
    lo = max(lo, 0)
    old, replacement = lines[lo:hi], lines[lo:a] + new + lines[b:hi]
    search, replace = _text(old), _text(replacement)
    if not _once(before, search) or not before.startswith(search, len(_text(lines[:lo]))):
        return None
    return {"id": f"{source}:{a + 1}", "source": source, "before": before, "search": search,
            "replace": replace, "after": before.replace(search, replace, 1),
            "variants": _variants(rng, before, old, replace, lines[a:b], new)}


def _once(text: str, part: str) -> bool:
    """True if ``part`` occurs exactly once in ``text``, overlapping occurrences included."""
    first = text.find(part)
    return first != -1 and text.find(part, first + 1) == -1


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _mutate(rng: random.Random, line: str, pool: list[str]) -> str:
    """A changed version of ``line``: a renamed word, a line from elsewhere, a stock line, a re-indent."""
    roll, indent = rng.random(), line[: len(line) - len(line.lstrip())]
    words = re.findall(r"\w+", line)
    if roll < 0.3 and words:
        word = rng.choice(words)
        return line.replace(word, word + rng.choice(["_new", "_x", "_v2"]), 1)
    if roll < 0.5:
        return rng.choice(pool)
    if roll < 0.7:
        stock = rng.choice(["pass", "return None", "x = 'a'", "# note", 'log.debug("x")', ""])
        return indent + stock if stock else ""
    if roll < 0.85 and line.strip():
        return indent + "    " + line.lstrip()
    return ""


def _variants(rng: random.Random, before: str, old: list[str], replace: str, changed: list[str],
              new: list[str]) -> list[dict[str, str]]:
    """The drifted variants of one edit, as ``shared/data/edits/README.md`` describes them."""
    search = _text(old)
    out = [{"kind": "trailing_ws", "search": "".join(line + "  \n" for line in old), "expect": "after"}]
    if textwrap.dedent(search) != search:
        out.append({"kind": "outdent", "search": textwrap.dedent(search), "replace": textwrap.dedent(replace),
                    "expect": "after"})
    fillers = [k for k in range(1, len(old) - 1) if not old[k].strip() or old[k].strip().startswith("#")]
    if fillers:
        k = rng.choice(fillers)
        out.append({"kind": "drop_inner_line", "search": _text(old[:k] + old[k + 1:]),
                    "expect": "after-or-refuse"})
    if len(old) >= 6:
        indent = old[2][: len(old[2]) - len(old[2].lstrip())]
        out.append({"kind": "elide", "search": _text(old[:2] + [indent + "..."] + old[-2:]),
                    "expect": "after-or-refuse"})
    if "'" in search:
        out.append({"kind": "smart_quotes", "search": search.replace("'", "\u2019"), "expect": "after"})
    if changed:
        out.append({"kind": "no_context", "search": _text(changed), "replace": _text(new),
                    "expect": "after-or-refuse"})
    # As in the flask corpus, a drift that happens to be text the file has elsewhere is left out:
    # there the stricter match is the right one, and no applier could tell.
    return [{"replace": replace, **v} for v in out if v["kind"] == "no_context" or v["search"] not in before]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any edit was silently wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a .jsonl or .jsonl.gz corpus of edits")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N records")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--show-wrong", type=int, default=5, metavar="K",
                        help="list up to K ids of silently wrong edits per kind (default 5)")
    parser.add_argument("--synthesize-from", type=Path, metavar="DIR",
                        help="write CORPUS from the Python files under DIR instead of scoring it")
    parser.add_argument("--seed", type=int, default=1, help="random seed for --synthesize-from")
    parser.add_argument("--records", type=int, default=1500, help="records to write with --synthesize-from")
    args = parser.parse_args(argv)
    if args.synthesize_from is not None:
        with gzip.open(args.corpus, "wt", encoding="utf-8") as fh:
            count = sum(fh.write(json.dumps(r) + "\n") > 0 for r in synthesize(
                args.synthesize_from, args.seed, args.records))
        print(f"wrote {count} records to {args.corpus}")
        return 0
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
