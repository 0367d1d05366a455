"""Message -> team, or to people: the router estimators and the route they give one message.

Both routers follow scikit-learn's conventions (parameters in `__init__`, learned state ending in
`_`, `fit`/`predict`/`predict_proba`, `clone`-able). Input is a sequence of texts.

`fit` holds back a stratified validation split, trains on the rest, calibrates probabilities
on the split, and there chooses the two checks that send a message to human triage:

- out of scope: the message looks unlike anything the teams handle (it is closest to the
  `triage` examples, if the data has them, or its scope score is above the level that only
  `max_false_triage` of in-scope validation messages reach);
- low confidence: the best team's calibrated probability is below the lowest threshold at which
  routed validation messages reach `target_precision`.

Then (with `refit`, the default) it trains again on all the data, keeping those thresholds.
The scores come from subclasses: `tfidf.TfidfRouter` and `hybrid.HybridRouter`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from townhall.services.routing.calibration import combine, fit_weights, precision_threshold
from townhall.services.routing.data import TRIAGE, check_labelled

Reason = Literal["confident", "low_confidence", "out_of_scope"]


@dataclass(frozen=True)
class Route:
    """Where one message goes. `team` is None when it goes to the human triage queue."""

    team: str | None
    confidence: float  # calibrated probability of `suggested_team`
    reason: Reason
    suggested_team: str  # the model's best team, shown to the person who triages it
    evidence: tuple[str, ...] = ()  # the words that most pointed to `suggested_team`

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["evidence"] = list(self.evidence)
        out["triage"] = self.team is None
        return out


@dataclass(frozen=True)
class Decisions:
    """The router's verdicts for a batch of messages, as arrays."""

    proba: np.ndarray  # (n, classes) calibrated
    best: np.ndarray  # column of the best team (never the triage column)
    confidence: np.ndarray
    out_of_scope: np.ndarray  # bool
    routed: np.ndarray  # bool: confident and in scope

    def reasons(self) -> list[Reason]:
        return [
            "out_of_scope" if out else ("confident" if routed else "low_confidence")
            for out, routed in zip(self.out_of_scope, self.routed, strict=True)
        ]


def as_texts(X: Any) -> list[str]:
    if isinstance(X, str):
        raise TypeError("Expected a sequence of message texts, got a single string.")
    values = list(X.ravel()) if isinstance(X, np.ndarray) else list(X)
    if not all(isinstance(v, str) for v in values):
        raise TypeError("Every message must be a string.")
    return values


class Router(ClassifierMixin, BaseEstimator, ABC):
    """The shared fit / calibrate / abstain logic. Subclasses supply the scores."""

    # Parameters every router has; subclasses declare them (and their own) in __init__.
    C: float
    target_precision: float
    max_false_triage: float
    validation_fraction: float
    refit: bool
    random_state: int
    n_evidence: int

    kind = "router"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

    # -- what subclasses provide -------------------------------------------------------------
    @abstractmethod
    def _fit_scores(self, texts: list[str], y: np.ndarray) -> None:
        """Fit the scorers on the training messages (`y`: class indices)."""

    @abstractmethod
    def _score_blocks(
        self, texts: list[str], tfidf: sp.csr_matrix | None = None
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """Score blocks (each (n, classes); the first is the linear model's) and, if the model
        has one, each message's similarity to the nearest in-scope training message. `tfidf`:
        the messages' TF-IDF rows, if already computed."""

    @abstractmethod
    def _tfidf(self, texts: list[str]) -> sp.csr_matrix:
        """The messages' TF-IDF rows, for evidence terms."""

    @abstractmethod
    def _tfidf_evidence(self, row: sp.csr_matrix, column: int) -> tuple[str, ...]:
        """The terms of one message that most support class `column`."""

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X: Sequence[str], y: Sequence[str]) -> Router:
        texts = as_texts(X)
        labels = np.array([str(v) for v in y], dtype=object)
        check_labelled(texts, list(labels), source="training data")
        self.classes_ = np.unique(labels)
        y_idx = np.searchsorted(self.classes_, labels)
        fit_part, held_out = self._split(y_idx)
        self._fit_scores([texts[i] for i in fit_part], y_idx[fit_part])
        blocks, similarity = self._score_blocks([texts[i] for i in held_out])
        self.weights_ = fit_weights(blocks, y_idx[held_out])
        signals = self._scope_signals(blocks[0], similarity)
        self._choose_thresholds(combine(blocks, self.weights_), signals, y_idx[held_out])
        if self.refit:
            self._fit_scores(texts, y_idx)
        self.n_training_ = len(texts)
        return self

    def _split(self, y_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, k = len(y_idx), len(self.classes_)
        size = min(max(round(self.validation_fraction * n), k), n - k)
        index = np.arange(n)
        fit_part, held_out = train_test_split(
            index, test_size=size, stratify=y_idx, random_state=self.random_state
        )
        return np.sort(fit_part), np.sort(held_out)

    @property
    def _triage_column(self) -> int | None:
        hits = np.flatnonzero(self.classes_ == TRIAGE)
        return int(hits[0]) if len(hits) else None

    def _scope_signals(self, linear: np.ndarray, similarity: np.ndarray | None) -> np.ndarray:
        """Per message, larger when it looks out of scope: how far below every team's boundary
        its best linear score is and (for the hybrid) how unlike its nearest in-scope training
        message it is. Raw scores, not calibrated probabilities: those saturate near 1 and
        separate out-of-scope messages far worse (measured on CLINC150)."""
        triage = self._triage_column
        if triage is not None:
            linear = np.delete(linear, triage, axis=1)
        columns = [-linear.max(axis=1)]
        if similarity is not None:
            columns.append(1.0 - similarity)
        return np.column_stack(columns)

    def _choose_thresholds(self, proba: np.ndarray, signals: np.ndarray, y: np.ndarray) -> None:
        best, confidence, triage_wins = self._best_team(proba)
        in_scope = y != (self._triage_column if self._triage_column is not None else -1)
        self.scope_center_ = signals[in_scope].mean(axis=0)
        self.scope_scale_ = signals[in_scope].std(axis=0) + 1e-9
        # What the thresholds are chosen from, kept so that `retune` can move them later.
        self.validation_scores_ = {
            "confidence": confidence,
            "correct": best == y,
            "triage_wins": triage_wins,
            "scope": ((signals - self.scope_center_) / self.scope_scale_).sum(axis=1),
            "in_scope": in_scope,
        }
        self._set_thresholds()

    def _set_thresholds(self) -> None:
        v = self.validation_scores_
        score, in_scope, correct, confidence = (
            v["scope"],
            v["in_scope"],
            v["correct"],
            v["confidence"],
        )
        out = v["triage_wins"].copy()
        self.scope_threshold_: float | None = None
        if self.max_false_triage > 0:
            self.scope_threshold_ = float(np.quantile(score[in_scope], 1.0 - self.max_false_triage))
            out |= score > self.scope_threshold_
        self.threshold_, reached = precision_threshold(
            confidence[~out], correct[~out], self.target_precision
        )
        routed = ~out & (confidence >= self.threshold_)
        oos = ~in_scope
        self.validation_ = {
            "messages": len(score),
            "out_of_scope_examples": int(oos.sum()),
            "target_precision": self.target_precision,
            "target_reached": reached,
            "threshold": self.threshold_,
            "coverage": float(routed.mean()),
            "routed_precision": float(correct[routed].mean()) if routed.any() else None,
            "accuracy": float(correct[in_scope].mean()),
            "in_scope_sent_to_triage_as_out_of_scope": float(out[in_scope].mean()),
            "out_of_scope_recall": float(out[oos].mean()) if oos.any() else None,
        }

    def retune(
        self, *, target_precision: float | None = None, max_false_triage: float | None = None
    ) -> Router:
        """Move the abstention thresholds for another target without retraining: they are
        chosen again on the same validation messages."""
        check_is_fitted(self, "validation_scores_")
        if target_precision is not None:
            self.target_precision = target_precision
        if max_false_triage is not None:
            self.max_false_triage = max_false_triage
        self._set_thresholds()
        return self

    # -- prediction ---------------------------------------------------------------------------
    def _best_team(self, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        triage = self._triage_column
        masked = proba
        if triage is not None:
            masked = proba.copy()
            masked[:, triage] = -1.0
        best = masked.argmax(axis=1)
        confidence = proba[np.arange(len(proba)), best]
        triage_wins = (
            proba.argmax(axis=1) == triage if triage is not None else np.zeros(len(best), bool)
        )
        return best, confidence, triage_wins

    def decide(self, X: Sequence[str], tfidf: sp.csr_matrix | None = None) -> Decisions:
        check_is_fitted(self, "threshold_")
        blocks, similarity = self._score_blocks(as_texts(X), tfidf)
        proba = combine(blocks, self.weights_)
        best, confidence, triage_wins = self._best_team(proba)
        out = triage_wins
        if self.scope_threshold_ is not None:
            signals = self._scope_signals(blocks[0], similarity)
            score = ((signals - self.scope_center_) / self.scope_scale_).sum(axis=1)
            out = out | (score > self.scope_threshold_)
        routed = ~out & (confidence >= self.threshold_)
        return Decisions(proba, best, confidence, out, routed)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "weights_")
        blocks, _ = self._score_blocks(as_texts(X))
        return combine(blocks, self.weights_)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable class of each message (no abstention: see `route`)."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[proba.argmax(axis=1)])

    def route_many(self, X: Sequence[str], *, evidence: bool = True) -> list[Route]:
        texts = as_texts(X)
        check_is_fitted(self, "threshold_")
        tfidf = self._tfidf(texts)
        decided = self.decide(texts, tfidf)
        routes = []
        for i, reason in enumerate(decided.reasons()):
            team = str(self.classes_[decided.best[i]])
            routes.append(
                Route(
                    team=team if decided.routed[i] else None,
                    confidence=round(float(decided.confidence[i]), 4),
                    reason=reason,
                    suggested_team=team,
                    evidence=self._tfidf_evidence(tfidf[i], int(decided.best[i]))
                    if evidence
                    else (),
                )
            )
        return routes

    def route(self, text: str, *, evidence: bool = True) -> Route:
        """Where one message goes, why, and the words that pointed there."""
        return self.route_many([text], evidence=evidence)[0]
