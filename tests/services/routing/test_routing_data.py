"""Loading labelled messages (CSV, JSON lines) and clear refusals of files that cannot be used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from townhall.services.routing.data import RoutingDataError, load_messages, messages_from


def _csv(tmp_path: Path, body: str, name: str = "m.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_csv_is_read_with_its_digest_and_counts(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "text,team\nbin not emptied,waste\n parking ticket ,parking\nbins,waste\nfine,parking\n",
    )
    messages = load_messages(path)
    assert messages.texts[1] == "parking ticket"  # surrounding space is dropped
    assert messages.counts() == {"parking": 2, "waste": 2}
    assert len(messages.digest) == 64


def test_json_lines_are_read(tmp_path: Path) -> None:
    lines = [
        {"text": t, "team": team} for t, team in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")]
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    assert load_messages(path).teams == ["x", "x", "y", "y"]


def test_other_column_names_can_be_chosen(tmp_path: Path) -> None:
    path = _csv(tmp_path, "text,category\na,x\nb,x\nc,y\nd,y\n")
    assert load_messages(path, team_column="category").counts() == {"x": 2, "y": 2}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty"),
        ("text,department\na,x\n", "missing column 'team'"),
        ("words,team\na,x\n", "missing column 'text'"),
        ("text,team\n", "no messages"),
        ("text,team\na,x\nb,x\nc,y\n", "at least 2 example messages; too few for y"),
        ("text,team\na,x\nb,x\n", "at least two teams"),
        ("text,team\na,x\n,x\nc,y\nd,y\n", "line 3: no text"),
        ("text,team\na,x\nb,\nc,y\nd,y\n", "line 3: no team"),
    ],
)
def test_unusable_csv_is_refused_with_the_reason(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(RoutingDataError, match=message):
        load_messages(_csv(tmp_path, body))


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,team\ncafé bill,x\nb,x\nc,y\nd,y\n".encode("latin-1"))
    with pytest.raises(RoutingDataError, match="not UTF-8"):
        load_messages(path)


def test_bad_json_lines_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"text": "a", "team": "x"}\nnot json\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(RoutingDataError, match=r"line 2: not JSON.*line 3: expected an object"):
        load_messages(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RoutingDataError, match="no such file"):
        load_messages(tmp_path / "nope.csv")


def test_messages_built_in_code_get_a_digest_of_texts_and_labels() -> None:
    a = messages_from(["a", "b", "c", "d"], ["x", "x", "y", "y"])
    b = messages_from(["a", "b", "c", "d"], ["x", "y", "x", "y"])
    assert a.digest != b.digest
