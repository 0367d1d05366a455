"""Every governance figure in one run: PII quality and speed, fairness audit time, SHAP speed.

    python benchmarks/governance.py [--quick] [--json]

Runs benchmarks/privacy.py (per-entity precision and recall on the labelled UK set, redaction
documents/s), benchmarks/fairness.py (a full audit of 1,000,000 decision records) and
benchmarks/explain.py (SHAP reasons per second, LightGBM with 50 features). --quick shrinks each
so the whole thing runs in seconds, for checking that it works, not for figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The sibling benchmark scripts, imported for their run() functions.
import explain
import fairness
import privacy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = {
        "privacy": privacy.run(privacy.DEFAULT_SET, 50 if args.quick else 1000),
        "fairness": fairness.run(20_000 if args.quick else 1_000_000, 20 if args.quick else 200),
        "explain": explain.run(600 if args.quick else 20_000, 10 if args.quick else 2_000),
    }
    if args.json:
        json.dump(figures, sys.stdout)
        print()
        return
    for section, values in figures.items():
        print(f"[{section}]")
        print(json.dumps(values, indent=2))


if __name__ == "__main__":
    main()
