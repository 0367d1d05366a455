"""SHAP reason codes: exact additivity, catalogue text, no protected characteristics."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from townhall.governance.explain import (
    Catalogue,
    Explainer,
    ExplanationError,
    Reason,
    ReferenceSet,
    reasons,
)

FEATURES = ["claims_last_year", "days_since_change", "amount", "shared_bank_account"]


def _reason(name: str) -> Reason:
    return Reason(
        raises=f"{name} ({{value}}) raised the score",
        lowers=f"{name} ({{value}}) lowered the score",
        citizen_raises=f"Your {name.replace('_', ' ')} made a check more likely",
        citizen_lowers=f"Your {name.replace('_', ' ')} made a check less likely",
    )


CATALOGUE = Catalogue(version="2026-11", reasons={f: _reason(f) for f in FEATURES})


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "claims_last_year": rng.poisson(2, 2000),
            "days_since_change": rng.integers(0, 700, 2000),
            "amount": rng.gamma(2.0, 300.0, 2000),
            "shared_bank_account": rng.integers(0, 2, 2000),
        }
    )
    logit = 0.6 * X.claims_last_year - 0.003 * X.days_since_change + 1.5 * X.shared_bank_account
    y = (rng.random(2000) < 1 / (1 + np.exp(-(logit - 1.5)))).astype(int)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def reference(data: tuple[pd.DataFrame, np.ndarray]) -> ReferenceSet:
    return ReferenceSet("claims-reference", "2026-11-01", data[0].iloc[:200])


def _raw(model: object, X: pd.DataFrame) -> np.ndarray:
    if isinstance(model, lgb.LGBMClassifier):
        return model.predict(X, raw_score=True)
    if isinstance(model, RandomForestClassifier):
        return model.predict_proba(X)[:, 1]
    return model.decision_function(X)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["lightgbm", "forest", "logistic"])
def test_contributions_plus_baseline_equal_the_model_output(
    kind: str, data: tuple[pd.DataFrame, np.ndarray], reference: ReferenceSet
) -> None:
    X, y = data
    model = {
        "lightgbm": lambda: lgb.LGBMClassifier(n_estimators=40, verbose=-1),
        "forest": lambda: RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0),
        "logistic": lambda: LogisticRegression(max_iter=1000),
    }[kind]().fit(X, y)
    rows = X.iloc[-50:]
    explanations = Explainer(model, reference, CATALOGUE).explain(rows)
    for explanation, raw in zip(explanations, _raw(model, rows), strict=True):
        total = explanation.baseline + sum(explanation.contributions.values())
        assert abs(total - explanation.output) < 1e-9
        assert abs(explanation.output - raw) < 1e-6
        assert explanation.method.startswith("shap.")


def test_reasons_come_from_the_catalogue_in_both_voices(
    data: tuple[pd.DataFrame, np.ndarray], reference: ReferenceSet
) -> None:
    X, y = data
    model = lgb.LGBMClassifier(n_estimators=40, verbose=-1).fit(X, y)
    (explanation,) = reasons(model, X.iloc[[5]], reference=reference, catalogue=CATALOGUE)
    assert 2 <= len(explanation.reasons) <= 4
    for reason in explanation.reasons:
        assert reason["feature"] in FEATURES
        value = X.iloc[5][reason["feature"]]
        assert f"({value:g})" in reason["text"]
        assert reason["citizen_text"].startswith("Your ")
    # Reasons are ranked by how strongly they pushed towards the outcome.
    pushes = [
        abs(r["contribution"])
        for r in explanation.reasons
        if np.sign(r["contribution"]) == np.sign(explanation.output - explanation.baseline)
    ]
    assert pushes == sorted(pushes, reverse=True)


def test_the_record_names_the_reference_set_by_digest(
    data: tuple[pd.DataFrame, np.ndarray], reference: ReferenceSet
) -> None:
    X, y = data
    model = LogisticRegression(max_iter=1000).fit(X, y)
    record = Explainer(model, reference, CATALOGUE).explain(X.iloc[[0]])[0].to_record()
    assert record["reference"] == {
        "name": "claims-reference",
        "version": "2026-11-01",
        "digest": reference.digest,
    }
    assert record["catalogue_version"] == "2026-11"
    same = ReferenceSet("claims-reference", "2026-11-01", X.iloc[:200].copy())
    changed = ReferenceSet("claims-reference", "2026-11-01", X.iloc[1:201])
    assert same.digest == reference.digest != changed.digest


def test_protected_characteristics_are_refused_as_features(
    data: tuple[pd.DataFrame, np.ndarray],
) -> None:
    X, y = data
    with_sex = X.assign(sex=np.arange(len(X)) % 2)
    model = LogisticRegression(max_iter=1000).fit(with_sex, y)
    catalogue = Catalogue("x", {**CATALOGUE.reasons, "sex": _reason("sex")})
    with pytest.raises(ExplanationError, match=r"Protected characteristics.*sex"):
        Explainer(model, ReferenceSet("r", "1", with_sex.iloc[:50]), catalogue)


def test_missing_catalogue_text_and_unsupported_models_are_clear_errors(
    data: tuple[pd.DataFrame, np.ndarray], reference: ReferenceSet
) -> None:
    X, y = data
    model = LogisticRegression(max_iter=1000).fit(X, y)
    partial = Catalogue("x", {f: _reason(f) for f in FEATURES[:2]})
    with pytest.raises(ExplanationError, match="no text for: amount, shared_bank_account"):
        Explainer(model, reference, partial)
    with pytest.raises(ExplanationError, match="neither a tree nor a linear"):
        Explainer(KNeighborsClassifier().fit(X, y), reference, CATALOGUE)
    with pytest.raises(ExplanationError, match="same order"):
        Explainer(model, reference, CATALOGUE).explain(X[FEATURES[::-1]])
    with pytest.raises(ExplanationError, match="empty"):
        ReferenceSet("r", "1", X.iloc[:0])
