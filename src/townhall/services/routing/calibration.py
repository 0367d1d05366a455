"""Probability calibration and the thresholds that decide when a person takes over.

Calibration is temperature scaling (Guo et al., 2017), generalised to a weighted sum when a model
has several score blocks (the hybrid's linear scores and its nearest-neighbour votes): the
weights are fitted by minimising log-loss on validation messages the model never trained on.
One weight per block keeps the argmax of a single block unchanged and costs nothing per message,
unlike one sigmoid per team (CalibratedClassifierCV), which is also slower at 77 teams.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax


def fit_weights(blocks: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Non-negative weights w minimising the log-loss of softmax(sum w_i * blocks_i) against y.

    `y` holds each row's true column index. Rows whose label the model does not know (-1) are
    ignored.
    """
    known = y >= 0
    stack = np.stack([b[known] for b in blocks])  # (blocks, n, classes)
    target = y[known]
    rows = np.arange(len(target))

    def loss(log_w: np.ndarray) -> tuple[float, np.ndarray]:
        w = np.exp(log_w)
        logits = np.tensordot(w, stack, axes=1)
        logp = log_softmax(logits, axis=1)
        p = np.exp(logp)
        nll = -logp[rows, target].mean()
        # d nll / d w_i = mean over rows of (E_p[block_i] - block_i[target]); chain rule for log w
        expected = np.einsum("nk,bnk->bn", p, stack)
        chosen = stack[:, rows, target]
        grad_w = (expected - chosen).mean(axis=1)
        return float(nll), grad_w * w

    start = np.zeros(len(blocks))
    result = minimize(
        loss, start, jac=True, method="L-BFGS-B", bounds=[(-10.0, 10.0)] * len(blocks)
    )
    return np.exp(result.x)


def combine(blocks: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Calibrated probabilities from score blocks and fitted weights."""
    logits = sum(w * b for w, b in zip(weights, blocks, strict=True))
    return np.asarray(softmax(logits, axis=1))


def precision_threshold(
    confidence: np.ndarray, correct: np.ndarray, target: float
) -> tuple[float, bool]:
    """The lowest confidence threshold whose routed precision on these messages reaches `target`.

    A message is routed when its confidence is at least the threshold; `correct` says whether
    routing it would have been right. Returns (threshold, reached). When no threshold reaches the
    target, every message goes to people: the threshold is 1.0 and `reached` is False.
    """
    if len(confidence) == 0:
        return 1.0, False
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    hits = np.cumsum(correct[order])
    routed = np.arange(1, len(conf) + 1)
    # Only cut between distinct confidences: equal confidences are routed together.
    last_of_tie = np.r_[conf[1:] != conf[:-1], True]
    ok = (hits / routed >= target) & last_of_tie
    if not ok.any():
        return 1.0, False
    k = int(np.flatnonzero(ok)[-1])
    return float(conf[k]), True


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.sum() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total / len(confidence))
