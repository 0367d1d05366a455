"""PII detection quality and redaction speed on the labelled UK set.

    python benchmarks/privacy.py [--labelled PATH] [--documents N] [--json]

Prints per-entity precision / recall / F1 (overlap match, see privacy_eval) and how many
documents per second `privacy.redact` (one at a time) and `privacy.redact_many` (spaCy batches)
handle once the analyser is loaded; load time is reported apart, as it is paid once per process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import cycle, islice
from pathlib import Path

from townhall.governance import privacy
from townhall.governance.privacy_eval import evaluate

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SET = REPO / "tests" / "governance" / "data" / "uk_pii_labelled.jsonl"


def run(labelled: Path, documents: int) -> dict[str, object]:
    started = time.perf_counter()
    privacy.detect("warm up")
    load_seconds = time.perf_counter() - started
    texts = [json.loads(line)["text"] for line in labelled.read_text("utf-8").splitlines() if line]
    sample = list(islice(cycle(texts), documents))
    started = time.perf_counter()
    for text in sample:
        privacy.redact(text)
    redact_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in privacy.redact_many(sample):
        pass
    batched_seconds = time.perf_counter() - started
    return {
        "labelled_set": str(labelled),
        "analyser_load_seconds": round(load_seconds, 3),
        "documents": len(sample),
        "mean_document_chars": round(sum(map(len, sample)) / len(sample), 1),
        "redact_documents_per_second": round(len(sample) / redact_seconds, 1),
        "redact_many_documents_per_second": round(len(sample) / batched_seconds, 1),
        "per_entity": evaluate(labelled),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=Path, default=DEFAULT_SET)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = run(args.labelled, args.documents)
    if args.json:
        json.dump(figures, sys.stdout)
        print()
        return
    per_entity = figures.pop("per_entity")
    for key, value in figures.items():
        print(f"{key:<36}{value}")
    print(f"\n{'entity':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for entity, s in per_entity.items():  # type: ignore[attr-defined]
        print(
            f"{entity:<22}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}"
            f"{int(s['support']):>9}"
        )


if __name__ == "__main__":
    main()
