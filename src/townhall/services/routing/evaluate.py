"""How well a router routes: accuracy, macro-F1, per-team precision and recall, the confusion
matrix, calibration, and what abstention buys (coverage against accuracy at each threshold, the
precision of what is routed, how many out-of-scope messages reach people).

Two views, both reported:

- forced choice: the router's best team for every in-scope message, as a plain classifier is
  measured (accuracy, macro-F1, the confusion matrix, per-team precision and recall);
- with abstention: what actually happens. A message labelled `triage` is right only if it goes
  to people; routing it to any team is an error. Abstaining on an in-scope message is not an
  error, but lowers coverage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from townhall.services.routing.calibration import expected_calibration_error
from townhall.services.routing.data import TRIAGE
from townhall.services.routing.model import Router

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class Outcomes:
    """One row per message: the truth and what the router did."""

    truth: np.ndarray  # str: the right team, or "triage" for out of scope
    best: np.ndarray  # str: the router's best team
    confidence: np.ndarray
    out_of_scope: np.ndarray  # bool: sent to people as out of scope
    routed: np.ndarray  # bool: sent to `best`
    threshold: float  # the router's confidence threshold

    @classmethod
    def of(cls, router: Router, texts: Sequence[str], teams: Sequence[str]) -> Outcomes:
        decided = router.decide(list(texts))
        return cls(
            truth=np.asarray(teams, dtype=object),
            best=np.asarray(router.classes_[decided.best], dtype=object),
            confidence=decided.confidence,
            out_of_scope=decided.out_of_scope,
            routed=decided.routed,
            threshold=float(router.threshold_),
        )

    @classmethod
    def pooled(cls, parts: Sequence[Outcomes]) -> Outcomes:
        return cls(
            truth=np.concatenate([p.truth for p in parts]),
            best=np.concatenate([p.best for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            out_of_scope=np.concatenate([p.out_of_scope for p in parts]),
            routed=np.concatenate([p.routed for p in parts]),
            threshold=float(np.mean([p.threshold for p in parts])),
        )


def _ratio(numerator: int | float, denominator: int | float) -> float | None:
    return round(float(numerator) / float(denominator), 4) if denominator else None


@dataclass
class Evaluation:
    messages: int
    in_scope: int
    out_of_scope: int
    accuracy: float | None
    macro_f1: float | None
    per_team: dict[str, dict[str, Any]]
    confusion: dict[str, Any]
    coverage: float | None
    routed_precision: float | None
    in_scope_routed_correctly: float | None
    out_of_scope_recall: float | None
    calibration_error: float | None
    threshold: float
    by_threshold: list[dict[str, Any]]
    folds: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "in_scope": self.in_scope,
            "out_of_scope": self.out_of_scope,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "coverage": self.coverage,
            "routed_precision": self.routed_precision,
            "in_scope_routed_correctly": self.in_scope_routed_correctly,
            "out_of_scope_recall": self.out_of_scope_recall,
            "calibration_error": self.calibration_error,
            "threshold": round(self.threshold, 4),
            "by_threshold": self.by_threshold,
            "per_team": self.per_team,
            "confusion": self.confusion,
            **({"folds": self.folds} if self.folds else {}),
        }

    def summary(self) -> dict[str, Any]:
        """The headline figures (what the registry records)."""
        full = self.as_dict()
        return {k: full[k] for k in full if k not in ("per_team", "confusion", "by_threshold")}


def evaluate_outcomes(outcomes: Outcomes) -> Evaluation:
    o = outcomes
    in_scope = o.truth != TRIAGE
    right = o.best == o.truth
    teams = sorted({str(t) for t in o.truth[in_scope]} | {str(t) for t in o.best[in_scope]})
    per_team: dict[str, dict[str, Any]] = {}
    accuracy = macro_f1 = None
    confusion: dict[str, Any] = {"labels": teams, "matrix": []}
    if in_scope.any():
        truth, best = o.truth[in_scope].astype(str), o.best[in_scope].astype(str)
        accuracy = _ratio(right[in_scope].sum(), in_scope.sum())
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, best, labels=teams, zero_division=0
        )
        present = support > 0
        macro_f1 = round(float(f1[present].mean()), 4)
        confusion["matrix"] = confusion_matrix(truth, best, labels=teams).tolist()
        for i, team in enumerate(teams):
            sent = o.routed & (o.best == team)
            per_team[team] = {
                "support": int(support[i]),
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "routed": int(sent.sum()),
                "routed_precision": _ratio((sent & right).sum(), sent.sum()),
                "routed_recall": _ratio((sent & right).sum(), (o.truth == team).sum()),
            }
    by_threshold = []
    for t in sorted({*THRESHOLDS, round(o.threshold, 4)}):
        routed = ~o.out_of_scope & (o.confidence >= t)
        by_threshold.append(
            {
                "threshold": t,
                "coverage": _ratio(routed.sum(), len(routed)),
                "accuracy": _ratio((routed & right).sum(), routed.sum()),
                "out_of_scope_recall": _ratio((~routed & ~in_scope).sum(), (~in_scope).sum()),
                "chosen": abs(t - round(o.threshold, 4)) < 1e-9,
            }
        )
    return Evaluation(
        messages=len(o.truth),
        in_scope=int(in_scope.sum()),
        out_of_scope=int((~in_scope).sum()),
        accuracy=accuracy,
        macro_f1=macro_f1,
        per_team=per_team,
        confusion=confusion,
        coverage=_ratio(o.routed.sum(), len(o.routed)),
        routed_precision=_ratio((o.routed & right).sum(), o.routed.sum()),
        in_scope_routed_correctly=_ratio((o.routed & right)[in_scope].sum(), in_scope.sum()),
        out_of_scope_recall=_ratio((~o.routed)[~in_scope].sum(), (~in_scope).sum()),
        calibration_error=(
            round(expected_calibration_error(o.confidence[in_scope], right[in_scope]), 4)
            if in_scope.any()
            else None
        ),
        threshold=o.threshold,
        by_threshold=by_threshold,
    )


def evaluate(router: Router, texts: Sequence[str], teams: Sequence[str]) -> Evaluation:
    """Measure a fitted router on labelled messages it was not trained on."""
    return evaluate_outcomes(Outcomes.of(router, texts, teams))


def cross_validate(
    router: Router,
    texts: Sequence[str],
    teams: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Stratified k-fold: fit a clone on each training part, pool the held-out outcomes.

    The pooled evaluation is over every message once; `folds` lists each fold's headline
    figures, so their spread can be read too.
    """
    X = np.asarray(texts, dtype=object)
    y = np.asarray(teams, dtype=object)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    parts: list[Outcomes] = []
    per_fold: list[dict[str, Any]] = []
    for number, (train, test) in enumerate(splitter.split(X, y), start=1):
        model = clone(router).fit(list(X[train]), list(y[train]))
        outcome = Outcomes.of(model, list(X[test]), list(y[test]))
        parts.append(outcome)
        fold = evaluate_outcomes(outcome)
        per_fold.append(
            {
                "fold": number,
                "accuracy": fold.accuracy,
                "macro_f1": fold.macro_f1,
                "coverage": fold.coverage,
                "routed_precision": fold.routed_precision,
                "threshold": round(fold.threshold, 4),
            }
        )
        if progress is not None:
            progress(number, folds)
    pooled = evaluate_outcomes(Outcomes.pooled(parts))
    pooled.folds = per_fold
    return pooled
