"""Per-entity precision and recall of `privacy.detect` on a labelled JSON-lines set.

Each line is {"text": ..., "entities": [{"type", "start", "end"}, ...]}. A prediction counts as
correct when it has the same type as a gold span and *overlaps* it (one-to-one, greedy in text
order): overlap rather than exact match because recognisers legitimately differ on edges
("Dr Jane Roe" vs "Jane Roe") while still removing the identifier, which is what redaction needs.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from townhall.governance.privacy import ENTITIES, detect_many


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(labelled_path: str | Path) -> dict[str, dict[str, float]]:
    """{entity: {precision, recall, f1, support}} over every entity type seen or predicted."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    support: Counter[str] = Counter()
    path = Path(labelled_path)
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
    predictions = detect_many(row["text"] for row in rows)
    for row, found in zip(rows, predictions, strict=True):
        gold = [(g["type"], (g["start"], g["end"])) for g in row["entities"]]
        for kind, _ in gold:
            support[kind] += 1
        unmatched = list(gold)
        for finding in found:
            span = (finding.start, finding.end)
            hit = next(
                (g for g in unmatched if g[0] == finding.entity and _overlaps(g[1], span)),
                None,
            )
            if hit is None:
                fp[finding.entity] += 1
            else:
                tp[finding.entity] += 1
                unmatched.remove(hit)
        for kind, _ in unmatched:
            fn[kind] += 1
    scores: dict[str, dict[str, float]] = {}
    for entity in ENTITIES:
        if not (support[entity] or fp[entity]):
            continue
        predicted = tp[entity] + fp[entity]
        precision = tp[entity] / predicted if predicted else 0.0
        recall = tp[entity] / support[entity] if support[entity] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[entity] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": float(support[entity]),
        }
    return scores
