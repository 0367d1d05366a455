"""Per-decision reason codes for tabular models, from SHAP.

Tree models (LightGBM, scikit-learn forests and boosting) use SHAP's TreeExplainer; linear ones
(scikit-learn's linear models) use SHAP's exact linear explainer. Both explain the model's raw
output (log-odds for classifiers) against a fixed, versioned reference set whose digest is recorded
on every decision, so an explanation can be reproduced later. Contributions plus the baseline equal
the raw output, which the tests check to 1e-6.

Reasons come from a catalogue the service declares: every feature has a sentence for staff and a
plain-language one that can be told to the citizen. Protected characteristics are refused as
features, so they can never become reasons.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from townhall.core.errors import InvalidInput
from townhall.governance.fairness import PROTECTED_CHARACTERISTICS as CANONICAL_CHARACTERISTICS

# The Equality Act 2010 characteristics, plus the other names their columns often go by.
PROTECTED_CHARACTERISTICS = frozenset(CANONICAL_CHARACTERISTICS) | {
    "age",
    "gender",
    "ethnicity",
    "religion",
    "pregnancy",
    "marriage",
    "marital_status",
}
MIN_REASONS, MAX_REASONS = 2, 4


class ExplanationError(InvalidInput):
    """The model, reference set or catalogue cannot give honest explanations."""


@dataclass(frozen=True)
class Reason:
    """Text for one feature. ``{value}`` in a sentence is replaced by the feature's value."""

    raises: str  # for staff, when the feature pushed the score up
    lowers: str  # for staff, when it pushed the score down
    citizen_raises: str
    citizen_lowers: str


@dataclass(frozen=True)
class Catalogue:
    version: str
    reasons: dict[str, Reason]


def catalogue_from_mapping(data: Any) -> Catalogue:
    """A catalogue from plain data: ``{"version": ..., "reasons": {feature: {raises: ...}}}``.

    Every feature needs all four sentences; unknown keys are refused so a misspelt one is not
    silently ignored.
    """
    if not isinstance(data, dict) or set(data) != {"version", "reasons"}:
        raise ExplanationError("A reason catalogue has exactly two keys: version and reasons.")
    version = data["version"]
    if isinstance(version, dt.date):  # YAML reads an unquoted 2026-11-01 as a date
        version = version.isoformat()
    if not isinstance(version, (str, int)) or isinstance(version, bool) or not str(version):
        raise ExplanationError("The catalogue's version must be text, e.g. version: '2026-11'.")
    entries = data["reasons"]
    if not isinstance(entries, dict) or not entries:
        raise ExplanationError("The catalogue's reasons must map each feature to its sentences.")
    wanted = [f.name for f in fields(Reason)]
    reasons = {}
    for feature, text in entries.items():
        if not isinstance(text, dict) or sorted(text) != sorted(wanted):
            raise ExplanationError(
                f"The catalogue entry for {feature} must have exactly: {', '.join(wanted)}."
            )
        if not all(isinstance(text[k], str) and text[k].strip() for k in wanted):
            raise ExplanationError(f"Every sentence for {feature} must be non-empty text.")
        reasons[str(feature)] = Reason(**{k: text[k] for k in wanted})
    return Catalogue(version=str(version), reasons=reasons)


def load_catalogue(path: Path) -> Catalogue:
    """Read a reason catalogue from a YAML file (the format is in docs/governance.md)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ExplanationError(f"Cannot read the catalogue {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ExplanationError(
            f"The catalogue {path} is not valid YAML: {problem}{where}."
        ) from None
    return catalogue_from_mapping(data)


@dataclass(frozen=True)
class ReferenceSet:
    """The background data explanations are measured against; fixed once a model is live."""

    name: str
    version: str
    data: pd.DataFrame
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        if self.data.empty:
            raise ExplanationError("The reference set is empty.")
        hashed = pd.util.hash_pandas_object(self.data, index=False).to_numpy()
        digest = hashlib.sha256(hashed.tobytes() + ",".join(self.data.columns).encode())
        object.__setattr__(self, "digest", digest.hexdigest())


@dataclass(frozen=True)
class Explanation:
    method: str
    baseline: float
    output: float
    contributions: dict[str, float]
    reasons: list[dict[str, Any]]
    reference: dict[str, str]
    catalogue_version: str

    def to_record(self) -> dict[str, Any]:
        """The shape stored as a DecisionRecord's ``explanation``."""
        return {
            "method": self.method,
            "baseline": self.baseline,
            "output": self.output,
            "contributions": self.contributions,
            "reasons": self.reasons,
            "reference": self.reference,
            "catalogue_version": self.catalogue_version,
        }


def _is_tree(model: Any) -> bool:
    name = type(model).__module__ + "." + type(model).__name__
    return any(
        key in name
        for key in (
            "lightgbm",
            "xgboost",
            "catboost",
            "Forest",
            "Tree",
            "GradientBoosting",
            "HistGradientBoosting",
        )
    )


def _is_linear(model: Any) -> bool:
    return hasattr(model, "coef_") and hasattr(model, "intercept_")


def _format(template: str, value: Any) -> str:
    shown = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
    return template.replace("{value}", shown)


def check_features(features: list[str], catalogue: Catalogue) -> None:
    """Refuse protected characteristics as features, and features the catalogue has no text for."""
    protected = sorted(set(features) & PROTECTED_CHARACTERISTICS)
    if protected:
        raise ExplanationError(
            f"Protected characteristics must not be model features: {', '.join(protected)}."
        )
    missing = [f for f in features if f not in catalogue.reasons]
    if missing:
        raise ExplanationError(f"The reason catalogue has no text for: {', '.join(missing)}.")


class Explainer:
    """Reasons for one model; build once per model version and reuse."""

    def __init__(self, model: Any, reference: ReferenceSet, catalogue: Catalogue) -> None:
        features = list(reference.data.columns)
        check_features(features, catalogue)
        import shap  # imported here: loading SHAP is slow and only explaining needs it

        self.features = features
        self.reference = reference
        self.catalogue = catalogue
        background = reference.data.to_numpy(dtype=float)
        if _is_tree(model):
            self.method = "shap.tree.interventional"
            self._explainer = shap.TreeExplainer(
                model, data=background, feature_perturbation="interventional", model_output="raw"
            )
        elif _is_linear(model):
            self.method = "shap.linear.exact"
            masker = shap.maskers.Independent(background, max_samples=len(background))
            self._explainer = shap.LinearExplainer(model, masker)
        else:
            raise ExplanationError(
                f"{type(model).__name__} is neither a tree nor a linear model; "
                "Townhall explains only those exactly."
            )
        self._baseline = float(np.ravel(self._explainer.expected_value)[-1])

    def _values(self, rows: np.ndarray) -> np.ndarray:
        values = np.asarray(self._explainer.shap_values(rows))
        if values.ndim == 3:  # one slice per class: explain the positive class
            values = values[..., -1] if values.shape[-1] == 2 else values[-1]
        return values

    def explain(self, X: pd.DataFrame) -> list[Explanation]:
        if list(X.columns) != self.features:
            raise ExplanationError(
                "The rows to explain must have the reference set's columns, in the same order."
            )
        values = self._values(X.to_numpy(dtype=float))
        reference = {
            "name": self.reference.name,
            "version": self.reference.version,
            "digest": self.reference.digest,
        }
        out = []
        for row, contributions in zip(X.itertuples(index=False), values, strict=True):
            output = self._baseline + float(contributions.sum())
            out.append(
                Explanation(
                    method=self.method,
                    baseline=self._baseline,
                    output=output,
                    contributions={
                        f: float(c) for f, c in zip(self.features, contributions, strict=True)
                    },
                    reasons=self._reasons(
                        dict(zip(self.features, row, strict=True)), contributions, output
                    ),
                    reference=reference,
                    catalogue_version=self.catalogue.version,
                )
            )
        return out

    def _reasons(
        self, row: dict[str, Any], contributions: np.ndarray, output: float
    ) -> list[dict[str, Any]]:
        direction = 1.0 if output >= self._baseline else -1.0
        order = np.argsort(-direction * contributions)  # strongest towards the outcome first
        chosen = [i for i in order if direction * contributions[i] > 0][:MAX_REASONS]
        for i in np.argsort(-np.abs(contributions)):  # at least two, even if one pushed back
            if len(chosen) >= MIN_REASONS:
                break
            if i not in chosen:
                chosen.append(i)
        reasons = []
        for i in chosen:
            feature, value = self.features[i], row[self.features[i]]
            text = self.catalogue.reasons[feature]
            up = contributions[i] > 0
            reasons.append(
                {
                    "feature": feature,
                    "contribution": float(contributions[i]),
                    "text": _format(text.raises if up else text.lowers, value),
                    "citizen_text": _format(
                        text.citizen_raises if up else text.citizen_lowers, value
                    ),
                }
            )
        return reasons


def reasons(
    model: Any, X: pd.DataFrame, *, reference: ReferenceSet, catalogue: Catalogue
) -> list[Explanation]:
    """Explain each row of X (a convenience for one-off use; reuse an Explainer in loops)."""
    return Explainer(model, reference, catalogue).explain(X)
