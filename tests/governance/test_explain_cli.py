"""`townhall models explain`: reasons from a registered model, loaded only if its digest matches."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import Result
from sklearn.linear_model import LogisticRegression
from sqlalchemy import Engine
from typer.testing import CliRunner

from townhall.cli import app as cli
from townhall.core import auth, registry
from townhall.core.db import transaction
from townhall.governance.explain import ReferenceSet
from townhall.settings import get_settings

FEATURES = ["claims_last_year", "days_since_change", "amount", "shared_bank_account"]
CATALOGUE = {
    "version": "2026-11",
    "reasons": {
        f: {
            "raises": f"{f} ({{value}}) raised the score",
            "lowers": f"{f} ({{value}}) lowered the score",
            "citizen_raises": f"Your {f.replace('_', ' ')} made a check more likely",
            "citizen_lowers": f"Your {f.replace('_', ' ')} made a check less likely",
        }
        for f in FEATURES
    },
}

Run = Callable[..., Result]


class _Trap:
    """A pickle that creates a file when loaded: proof of whether anything was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def claims() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(11)
    X = pd.DataFrame(
        {
            "claims_last_year": rng.poisson(2, 1000),
            "days_since_change": rng.integers(0, 700, 1000),
            "amount": rng.gamma(2.0, 300.0, 1000).round(2),
            "shared_bank_account": rng.integers(0, 2, 1000),
        }
    )
    logit = 0.6 * X.claims_last_year - 0.003 * X.days_since_change + 1.5 * X.shared_bank_account
    y = (rng.random(1000) < 1 / (1 + np.exp(-(logit - 1.5)))).astype(int)
    return X, y.to_numpy()


@pytest.fixture
def run(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "k" * 32)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, [str(a) for a in args])
    get_settings.cache_clear()


@pytest.fixture
def files(
    tmp_path: Path,
    claims: tuple[pd.DataFrame, np.ndarray],
    run: Run,
    make_user: Callable[..., auth.User],
) -> dict[str, Path]:
    """Claims data, a catalogue, and registered models: 1.0 (LightGBM, joblib), 1.1 (logistic,
    plain pickle) and 6.6 (a trap that marks any attempt to load it)."""
    X, y = claims
    make_user("ana", "analyst")
    paths = {
        "reference": tmp_path / "claims-reference.csv",
        "rows": tmp_path / "rows.csv",
        "catalogue": tmp_path / "catalogue.yaml",
        "metrics": tmp_path / "metrics.json",
        "training": tmp_path / "training.csv",
        "lightgbm": tmp_path / "fraud-1.0.joblib",
        "logistic": tmp_path / "fraud-1.1.pkl",
        "trap": tmp_path / "fraud-6.6.joblib",
        "marker": tmp_path / "UNPICKLED",
    }
    X.iloc[:150].to_csv(paths["reference"], index=False)
    X.iloc[-5:].assign(claim_ref=[f"C-{i}" for i in range(5)]).to_csv(paths["rows"], index=False)
    paths["catalogue"].write_text(yaml.safe_dump(CATALOGUE))
    paths["metrics"].write_text(json.dumps({"auc": 0.8}))
    X.assign(y=y).to_csv(paths["training"], index=False)
    joblib.dump(lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(X, y), paths["lightgbm"])
    with paths["logistic"].open("wb") as handle:
        pickle.dump(LogisticRegression(max_iter=1000).fit(X, y), handle)
    with paths["trap"].open("wb") as handle:
        pickle.dump(_Trap(paths["marker"]), handle)
    for version, artifact in (("1.0", "lightgbm"), ("1.1", "logistic"), ("6.6", "trap")):
        result = run(
            "models", "register", "fraud", version, "--artifact", paths[artifact],
            "--training-data", paths["training"], "--metrics", paths["metrics"], "--by", "ana",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return paths


def _explain(run: Run, files: dict[str, Path], version: str, *extra: object) -> Result:
    return run(
        "models", "explain", "fraud", version, files["rows"], "--reference", files["reference"],
        "--catalogue", files["catalogue"], *extra,
    )  # fmt: skip


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(("version", "kind"), [("1.0", "lightgbm"), ("1.1", "logistic")])
def test_explains_each_row_with_reasons_that_add_up_to_the_model_output(
    run: Run,
    files: dict[str, Path],
    claims: tuple[pd.DataFrame, np.ndarray],
    version: str,
    kind: str,
) -> None:
    result = _explain(run, files, version, "--id", "claim_ref", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    model = joblib.load(files[kind])
    rows = claims[0].iloc[-5:]
    raw = (
        model.predict(rows, raw_score=True) if kind == "lightgbm" else model.decision_function(rows)
    )
    digest = hashlib.sha256(files[kind].read_bytes()).hexdigest()
    assert report["name"] == "fraud" and report["artifact_sha256"] == digest
    reference = ReferenceSet("claims-reference", version, pd.read_csv(files["reference"]))
    assert [e["id"] for e in report["explanations"]] == [f"C-{i}" for i in range(5)]
    for explanation, output in zip(report["explanations"], raw, strict=True):
        total = explanation["baseline"] + sum(explanation["contributions"].values())
        assert abs(total - explanation["output"]) < 1e-9
        assert abs(explanation["output"] - output) < 1e-6
        assert 2 <= len(explanation["reasons"]) <= 4
        assert all(r["feature"] in FEATURES for r in explanation["reasons"])
        assert explanation["catalogue_version"] == "2026-11"
        assert explanation["reference"] == {
            "name": "claims-reference",
            "version": version,
            "digest": reference.digest,
        }


def test_text_output_shows_baseline_contributions_and_both_voices(
    run: Run, files: dict[str, Path], claims: tuple[pd.DataFrame, np.ndarray]
) -> None:
    result = _explain(run, files, "1.0", "--reference-version", "2026-11-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fraud 1.0: 5 row(s), shap.tree.interventional against reference")
    assert "claims-reference 2026-11-01" in lines[0] and "catalogue 2026-11" in lines[0]
    assert sum(line.startswith("row ") for line in lines) == 5
    assert " = baseline " in lines[1]
    first = claims[0].iloc[-5]
    reason = lines[2].split(maxsplit=1)
    assert float(reason[0]) != 0 and reason[1].split(" (")[0] in FEATURES
    feature = reason[1].split(" (")[0]
    assert f"({first[feature]:g})" in reason[1]
    assert lines[3].strip().startswith("citizen: Your ")


def test_a_changed_model_file_is_refused_and_never_loaded(run: Run, files: dict[str, Path]) -> None:
    # Swap the registered LightGBM file for the trap: same path, different bytes.
    files["lightgbm"].write_bytes(files["trap"].read_bytes())
    _refused(_explain(run, files, "1.0"), "Refusing to load")
    # A copy given with --artifact is held to the same digest.
    _refused(_explain(run, files, "1.1", "--artifact", files["trap"]), "Refusing to load")
    assert not files["marker"].exists()


def test_a_copy_with_the_recorded_digest_may_be_used(
    run: Run, files: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere.pkl"
    copy.write_bytes(files["logistic"].read_bytes())
    files["logistic"].unlink()
    _refused(_explain(run, files, "1.1"), "Cannot read the model file")
    result = _explain(run, files, "1.1", "--artifact", copy, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["explanations"][0]["method"] == "shap.linear.exact"


def test_a_version_without_a_recorded_digest_is_refused(
    run: Run, files: dict[str, Path], engine: Engine
) -> None:
    with transaction(engine) as session:
        registry.register(
            session,
            name="fraud",
            version="0.9",
            training_data_digest="0" * 64,
            metrics={"auc": 0.7},
            artifact_uri=files["lightgbm"].resolve().as_uri(),
        )
    _refused(_explain(run, files, "0.9"), "no artifact file with a SHA-256 digest recorded")
    _refused(_explain(run, files, "9.9"), "No model fraud version 9.9")


def test_a_model_trained_on_other_features_is_refused(
    run: Run, files: dict[str, Path], claims: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    X, y = claims
    renamed = X.set_axis(["a", "b", "c", "d"], axis=1)
    other = tmp_path / "other.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(renamed, y), other)
    result = run(
        "models", "register", "fraud", "2.0", "--artifact", other, "--training-data",
        files["training"], "--metrics", files["metrics"], "--by", "ana",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _refused(_explain(run, files, "2.0"), "The model was trained on the features a, b, c, d")


def _write(path: Path, content: str | dict[str, object]) -> None:
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))


BROKEN_CATALOGUE = {**CATALOGUE, "reasons": dict(list(CATALOGUE["reasons"].items())[:2])}
MISSPELT = {"version": "1", "reason": CATALOGUE["reasons"]}
ONE_SENTENCE = {
    "version": "1",
    "reasons": {**CATALOGUE["reasons"], "amount": {"raises": "Amount {value}"}},
}
WITH_SEX = {
    "version": "1",
    "reasons": {**CATALOGUE["reasons"], "sex": CATALOGUE["reasons"]["amount"]},
}


@pytest.mark.parametrize(
    ("target", "content", "message"),
    [
        ("catalogue", "reasons: [unclosed\n", "is not valid YAML"),
        ("catalogue", MISSPELT, "exactly two keys: version and reasons"),
        ("catalogue", BROKEN_CATALOGUE, "no text for: amount, shared_bank_account"),
        ("catalogue", ONE_SENTENCE, "entry for amount must have exactly"),
        ("rows", "claims_last_year,amount\n1,2\n", "lacks the column(s): days_since_change"),
        ("rows", "a,b\n1,2\n3,4,5,6\n", "not a readable CSV file"),
        ("rows", ",".join(FEATURES) + "\n", "has no rows"),
        ("rows", ",".join(FEATURES) + "\n1,2,lots,0\n", "Column amount of the rows"),
        ("rows", ",".join(FEATURES) + "\n1,2,3,0\n1,,3,0\n", "Row 2 of the rows file"),
        ("reference", 'amount,"days\n1,2\n', "EOF inside string"),
        ("missing", "", "Cannot read the rows file"),
    ],
)
def test_bad_input_is_a_one_line_error_and_nothing_is_unpickled(
    run: Run,
    files: dict[str, Path],
    target: str,
    content: str | dict[str, object],
    message: str,
) -> None:
    if target == "missing":
        files["rows"].unlink()
    else:
        _write(files[target], content)
    _refused(_explain(run, files, "6.6"), message)
    assert not files["marker"].exists()


def test_a_protected_characteristic_is_refused_before_the_model_is_loaded(
    run: Run, files: dict[str, Path], claims: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X = claims[0]
    X.iloc[:150].assign(sex=np.arange(150) % 2).to_csv(files["reference"], index=False)
    X.iloc[-5:].assign(sex=1).to_csv(files["rows"], index=False)
    _write(files["catalogue"], WITH_SEX)
    _refused(
        _explain(run, files, "6.6"), "Protected characteristics must not be model features: sex."
    )
    assert not files["marker"].exists()


def test_a_matching_digest_is_what_permits_loading(run: Run, files: dict[str, Path]) -> None:
    """The trap's digest was recorded, so valid input loads it: the check is the digest alone."""
    result = _explain(run, files, "6.6")
    assert result.exit_code == 1
    assert files["marker"].exists()
    assert "neither a tree nor a linear model" in result.stderr
