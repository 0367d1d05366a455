"""SHAP reasons per second for a LightGBM model of 50 features.

    python benchmarks/explain.py [--rows 20000] [--explain 2000] [--json]

Trains LightGBM (200 trees) on synthetic data, builds the Explainer against a 200-row reference
set, then times full explanations (contributions + catalogue reasons) for --explain rows, and
checks additivity on every row while it is at it.
"""

from __future__ import annotations

import argparse
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from report import emit  # the sibling module; scripts run with this folder on sys.path

from townhall.governance.explain import Catalogue, Explainer, Reason, ReferenceSet


def run(rows: int, explain: int, features: int = 50) -> dict[str, object]:
    rng = np.random.default_rng(0)
    names = [f"f{i:02d}" for i in range(features)]
    X = pd.DataFrame(rng.normal(size=(rows, features)), columns=names)
    weights = rng.normal(size=features)
    y = (X.to_numpy() @ weights + rng.normal(size=rows) > 0).astype(int)
    model = lgb.LGBMClassifier(n_estimators=200, num_leaves=31, verbose=-1).fit(X, y)
    catalogue = Catalogue("bench", {n: Reason(f"{n} up", f"{n} down", "up", "down") for n in names})
    started = time.perf_counter()
    explainer = Explainer(model, ReferenceSet("bench", "1", X.iloc[:200]), catalogue)
    setup = time.perf_counter() - started
    target = X.iloc[-explain:]
    started = time.perf_counter()
    explanations = explainer.explain(target)
    seconds = time.perf_counter() - started
    raw = model.predict(target, raw_score=True)
    worst = max(abs(e.output - r) for e, r in zip(explanations, raw, strict=True))
    return {
        "features": features,
        "trees": 200,
        "reference_rows": 200,
        "explained": explain,
        "setup_seconds": round(setup, 3),
        "seconds": round(seconds, 3),
        "reasons_per_second": round(explain / seconds, 1),
        "max_additivity_error": float(worst),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--explain", type=int, default=2_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.rows, args.explain)
    emit(figures, as_json=args.json)


if __name__ == "__main__":
    main()
