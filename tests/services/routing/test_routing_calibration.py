"""Calibration and the abstention thresholds, on small hand-made cases with exact answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from townhall.services.routing.calibration import (
    combine,
    expected_calibration_error,
    fit_weights,
    precision_threshold,
)


def test_threshold_is_the_lowest_that_reaches_the_target_precision() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, True, False, True])
    # Routing all five: 4/5 = 0.8; the top three: 3/3; the top four: 3/4.
    assert precision_threshold(confidence, correct, 0.8) == (0.5, True)
    assert precision_threshold(confidence, correct, 0.97) == (0.7, True)


def test_equal_confidences_are_routed_together() -> None:
    confidence = np.array([0.9, 0.7, 0.7, 0.7])
    correct = np.array([True, True, False, True])
    # 0.7 routes all four (3/4); no cut can separate the three at 0.7.
    assert precision_threshold(confidence, correct, 0.8) == (0.9, True)
    assert precision_threshold(confidence, correct, 0.75) == (0.7, True)


def test_an_unreachable_target_sends_everything_to_people() -> None:
    confidence = np.array([0.9, 0.8])
    correct = np.array([False, True])
    assert precision_threshold(confidence, correct, 0.97) == (1.0, False)
    assert precision_threshold(np.array([]), np.array([], bool), 0.9) == (1.0, False)


def test_temperature_is_recovered_from_calibrated_samples() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4000, 5)) * 2
    truth = 3.0  # the labels are drawn from softmax(3 * scores)
    p = softmax(truth * scores, axis=1)
    y = np.array([rng.choice(5, p=row) for row in p])
    (w,) = fit_weights([scores], y)
    assert w == pytest.approx(truth, rel=0.1)
    assert combine([scores], np.array([w])).sum(axis=1) == pytest.approx(np.ones(4000))


def test_a_useless_block_gets_almost_no_weight() -> None:
    rng = np.random.default_rng(1)
    useful = rng.normal(size=(3000, 4)) * 2
    noise = rng.normal(size=(3000, 4)) * 2
    y = np.array([rng.choice(4, p=row) for row in softmax(2 * useful, axis=1)])
    w_useful, w_noise = fit_weights([useful, noise], y)
    assert w_noise < 0.1 * w_useful


def test_calibration_error_is_the_weighted_gap_per_bin() -> None:
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([True, True, True, False])
    # Bin of 0.95: accuracy 1.0, gap 0.05; bin of 0.55: accuracy 0.5, gap 0.05.
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.05)
