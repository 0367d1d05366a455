"""Stratified bootstrap intervals for group rates and disparities, vectorised with numpy.

Every metric here depends only on each group's four confusion-matrix counts, so resampling rows
within a group is the same as drawing those counts from a multinomial: one numpy call whatever
the number of rows, and independent of row order.
"""

from __future__ import annotations

import warnings

import numpy as np


def rates(cells: np.ndarray) -> dict[str, np.ndarray]:
    tn, fp, fn, tp = (cells[..., i].astype(float) for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "selection_rate": (tp + fp) / (tn + fp + fn + tp),
            "false_positive_rate": fp / (fp + tn),
            "false_negative_rate": fn / (fn + tp),
            "true_positive_rate": tp / (tp + fn),
            "precision": tp / (tp + fp),
        }


def bootstrap(cells: np.ndarray, n: int, seed: int | None) -> dict[str, np.ndarray]:
    """Resample rows within each group (stratified); return per-group and overall draws."""
    if n <= 0:
        return {}
    sizes = cells.sum(axis=1)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(sizes, cells / sizes[:, None], size=(n, len(sizes)))
    group_rates = rates(draws)  # each shape (n, groups)
    out = {f"group:{k}": v for k, v in group_rates.items()}

    def spread(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hi, lo = np.nanmax(r, axis=1), np.nanmin(r, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return hi - lo, lo / hi

    # A resample where every group's rate is undefined warns in nanmax; NaN is the right answer.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dp_d, dp_r = spread(group_rates["selection_rate"])
        fpr_d, fpr_r = spread(group_rates["false_positive_rate"])
        fnr_d, fnr_r = spread(group_rates["false_negative_rate"])
        tpr_d, tpr_r = spread(group_rates["true_positive_rate"])
    out |= {
        "demographic_parity_difference": dp_d,
        "demographic_parity_ratio": dp_r,
        "equalized_odds_difference": np.fmax(tpr_d, fpr_d),
        "equalized_odds_ratio": np.fmin(tpr_r, fpr_r),
        "false_positive_rate_difference": fpr_d,
        "false_positive_rate_ratio": fpr_r,
        "false_negative_rate_difference": fnr_d,
        "false_negative_rate_ratio": fnr_r,
    }
    return out


def interval(draws: np.ndarray) -> tuple[float | None, float | None]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None, None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)
