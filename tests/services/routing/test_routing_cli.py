"""`townhall routing train / evaluate / route`, and refusals of bad data that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from townhall.services.routing.cli import app
from townhall.services.routing.demo_data import OUT as DEMO

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "router.joblib"
    result = runner.invoke(app, ["train", str(DEMO), "--out", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return path


def test_train_saves_a_router_and_reports_it(trained: Path) -> None:
    assert trained.is_file() and trained.with_name(trained.name + ".json").is_file()
    meta = json.loads(trained.with_name(trained.name + ".json").read_text())
    assert meta["kind"] == "tfidf" and "waste" in meta["classes"]
    assert meta["validation"]["target_reached"] is True
    assert meta["team_counts"]["triage"] == 62


def test_route_prints_team_confidence_and_evidence(trained: Path) -> None:
    result = runner.invoke(
        app, ["route", "My green bin wasn't emptied on Tuesday", "--model", str(trained), "--json"]
    )
    assert result.exit_code == 0, result.output
    route = json.loads(result.output)
    assert route["team"] == "waste" and route["reason"] == "confident"
    assert "bin" in " ".join(route["evidence"])
    text = runner.invoke(app, ["route", "how do I renew my passport", "--model", str(trained)])
    assert text.exit_code == 0 and text.output.startswith("triage")


def test_evaluate_a_saved_model_on_a_file(trained: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(DEMO), "--model", str(trained), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in (
        "accuracy",
        "macro_f1",
        "per_team",
        "confusion",
        "by_threshold",
        "out_of_scope_recall",
    ):
        assert key in report
    assert report["per_team"]["waste"]["recall"] > 0.9


def test_evaluate_cross_validates_without_a_model(tmp_path: Path) -> None:
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    small = tmp_path / "small.csv"
    small.write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(small), "--cv", "3"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "<- mean of the folds' thresholds" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (
            b"text,department\nbins,waste\nbins,waste\nfine,parking\nfine,parking\n",
            "missing column",
        ),
        (b"text,team\nbins,waste\nbins,waste\nfine,parking\n", "too few for parking"),
        (
            "text,team\ncaf\u00e9,waste\nbins,waste\nfine,parking\nfine,parking\n".encode(
                "latin-1"
            ),
            "not UTF-8",
        ),
    ],
)
def test_bad_training_data_fails_clearly_and_writes_nothing(
    tmp_path: Path, content: bytes, message: str
) -> None:
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    out = tmp_path / "out" / "router.joblib"
    result = runner.invoke(app, ["train", str(data), "--out", str(out)])
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists() and not list(tmp_path.glob("out/*"))


def test_route_without_a_model_or_with_an_empty_message_fails_clearly(
    tmp_path: Path, trained: Path
) -> None:
    missing = runner.invoke(app, ["route", "hello", "--model", str(tmp_path / "none.joblib")])
    assert missing.exit_code == 1 and "no such model file" in missing.output
    empty = runner.invoke(app, ["route", "   ", "--model", str(trained)])
    assert empty.exit_code == 1 and "empty" in empty.output


def test_register_needs_a_person(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", str(DEMO), "--out", str(tmp_path / "r.joblib"), "--register", "routing"]
    )
    assert result.exit_code == 1 and "--by" in result.output
    assert not (tmp_path / "r.joblib").exists()


def test_cross_validation_needs_enough_messages_per_team(tmp_path: Path) -> None:
    data = tmp_path / "few.csv"
    data.write_text("text,team\nbins,waste\nbin,waste\nfine,parking\nticket,parking\n")
    result = runner.invoke(app, ["evaluate", str(data), "--cv", "3"])
    assert result.exit_code == 1 and "at least 3 messages" in result.output
    trained = runner.invoke(app, ["train", str(data), "--cv", "5", "--out", str(tmp_path / "m")])
    assert trained.exit_code == 1 and not (tmp_path / "m").exists()


def test_postcode_names_the_local_authority_and_whether_it_is_ours(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from townhall.settings import get_settings

    monkeypatch.setenv("TOWNHALL_ROUTING_POSTCODE_INDEX", str(tmp_path / "postcodes.sqlite"))
    monkeypatch.setenv("TOWNHALL_ROUTING_LOCAL_AUTHORITIES", '["E06000054"]')
    monkeypatch.delenv("TOWNHALL_SECRET_KEY", raising=False)  # not needed to look one up
    get_settings.cache_clear()
    try:
        ours = runner.invoke(app, ["postcode", "ba14 8jn", "--json"])
        assert ours.exit_code == 0, ours.output
        assert json.loads(ours.output) == {
            "postcode": "BA14 8JN",
            "local_authority": {"code": "E06000054", "name": "Wiltshire"},
            "ours": True,
        }
        elsewhere = runner.invoke(app, ["postcode", "BA1 1LA"])
        assert elsewhere.exit_code == 0 and "Bath and North East Somerset" in elsewhere.output
        assert elsewhere.output.rstrip().endswith("elsewhere")
        unknown = runner.invoke(app, ["postcode", "BA14 9ZZ"])
        assert unknown.exit_code == 1 and "not in the UK postcode register" in unknown.output
        malformed = runner.invoke(app, ["postcode", "Trowbridge"])
        assert malformed.exit_code == 1 and "not a UK postcode" in malformed.output
    finally:
        get_settings.cache_clear()


def test_train_takes_its_default_target_precision_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from townhall.settings import get_settings

    monkeypatch.setenv("TOWNHALL_ROUTING_TARGET_PRECISION", "0.9")
    monkeypatch.setenv("TOWNHALL_ROUTING_MODEL_PATH", str(tmp_path / "default.joblib"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["train", str(DEMO), "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    meta = json.loads(result.output)
    assert meta["params"]["target_precision"] == 0.9
    assert meta["path"] == str(tmp_path / "default.joblib")
