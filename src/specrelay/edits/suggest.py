"""The spans of a file closest to a SEARCH block that matched nowhere, for the model to correct itself."""

from __future__ import annotations

from rapidfuzz import fuzz, process

#: Spans less similar than this (0-100) are not worth showing.
MIN_SIMILARITY = 40.0


def closest_spans(
    lines: list[str], search: list[str], limit: int = 3
) -> list[tuple[int, int, str, float]]:
    """Up to ``limit`` non-overlapping windows of ``lines`` most like ``search``.

    Each is ``(first_line, last_line, text, similarity)`` with 1-based, inclusive
    line numbers. Windows are as long as SEARCH; indentation is ignored when
    scoring, since a lost indent is among the likeliest reasons for the miss.
    """
    if not lines or not search:
        return []
    width = min(len(search), len(lines))
    stripped = [line.strip() for line in lines]
    query = "\n".join(line.strip() for line in search)
    windows = ["\n".join(stripped[i:i + width]) for i in range(len(lines) - width + 1)]
    scored = process.extract(query, windows, scorer=fuzz.ratio, limit=None, score_cutoff=MIN_SIMILARITY)
    picked: list[tuple[int, int, str, float]] = []
    taken: list[range] = []
    for _, score, start in scored:
        span = range(start, start + width)
        if any(span.start < t.stop and t.start < span.stop for t in taken):
            continue
        taken.append(span)
        picked.append((start + 1, start + width, "\n".join(lines[span.start:span.stop]), float(score)))
        if len(picked) == limit:
            break
    return picked
