"""Labelled messages: read a CSV or JSON-lines file of `text` and `team`, or fail clearly.

A file is checked whole before anything is trained on it: it must be UTF-8, have both columns,
hold at least two teams, and give every team at least two examples (one is too few to hold any
back for choosing the abstention threshold). Messages labelled `triage` are examples of what no
team handles; they teach the router what to send to people.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from townhall.core.errors import InvalidInput

TRIAGE = "triage"  # the label of messages no team handles (out of scope): people decide
MIN_EXAMPLES_PER_TEAM = 2
MAX_REPORTED_PROBLEMS = 5


class RoutingDataError(InvalidInput):
    """The training or evaluation file cannot be used as it is."""


@dataclass(frozen=True)
class Messages:
    texts: list[str]
    teams: list[str]
    digest: str  # SHA-256 of the file's bytes, recorded with any model trained on it
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.teams).items()))


def load_messages(
    path: str | Path, *, text_column: str = "text", team_column: str = "team"
) -> Messages:
    """Read and check a `.csv` or `.jsonl` file of labelled messages."""
    file = Path(path)
    if not file.is_file():
        raise RoutingDataError(f"{file}: no such file.")
    raw = file.read_bytes()
    try:
        body = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RoutingDataError(
            f"{file}: not UTF-8 text (byte {exc.start} cannot be read); save it as UTF-8."
        ) from None
    suffix = file.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = _json_lines(body, file, text_column, team_column)
    else:
        rows = _csv_rows(body, file, text_column, team_column)
    texts = [text for text, _ in rows]
    teams = [team for _, team in rows]
    check_labelled(texts, teams, source=str(file))
    return Messages(texts, teams, hashlib.sha256(raw).hexdigest(), str(file))


def messages_from(texts: list[str], teams: list[str], source: str = "") -> Messages:
    """Messages built in code (tests, benchmarks); the digest covers the texts and labels."""
    check_labelled(texts, teams, source=source or "messages")
    body = json.dumps([texts, teams], ensure_ascii=False, separators=(",", ":"))
    return Messages(list(texts), list(teams), hashlib.sha256(body.encode()).hexdigest(), source)


def check_labelled(texts: list[str], teams: list[str], *, source: str) -> None:
    if len(texts) != len(teams):
        raise RoutingDataError(f"{source}: {len(texts)} messages but {len(teams)} labels.")
    if not texts:
        raise RoutingDataError(f"{source}: no messages.")
    counts = Counter(t for t in teams if t != TRIAGE)
    if len(counts) < 2:
        raise RoutingDataError(f"{source}: a router needs messages for at least two teams.")
    few = sorted(team for team, n in Counter(teams).items() if n < MIN_EXAMPLES_PER_TEAM)
    if few:
        raise RoutingDataError(
            f"{source}: every team needs at least {MIN_EXAMPLES_PER_TEAM} example messages; "
            f"too few for {', '.join(few[:MAX_REPORTED_PROBLEMS])}"
            + (f" and {len(few) - MAX_REPORTED_PROBLEMS} more" if len(few) > 5 else "")
            + "."
        )


def _csv_rows(body: str, file: Path, text_column: str, team_column: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(body, newline=""))
    columns = reader.fieldnames or []
    if not columns:
        raise RoutingDataError(f"{file}: the file is empty.")
    missing = [c for c in (text_column, team_column) if c not in columns]
    if missing:
        raise RoutingDataError(
            f"{file}: missing column {' and '.join(repr(c) for c in missing)} "
            f"(the header has {', '.join(repr(c) for c in columns)})."
        )
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    try:
        for record in reader:
            _collect(
                record.get(text_column), record.get(team_column), reader.line_num, rows, problems
            )
    except csv.Error as exc:
        raise RoutingDataError(f"{file}, line {reader.line_num}: {exc}.") from None
    _raise_problems(file, problems)
    return rows


def _json_lines(body: str, file: Path, text_column: str, team_column: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            problems.append(
                f"line {number}: expected an object with {text_column!r} and {team_column!r}"
            )
            continue
        _collect(record.get(text_column), record.get(team_column), number, rows, problems)
    _raise_problems(file, problems)
    return rows


def _collect(
    text: object, team: object, line: int, rows: list[tuple[str, str]], problems: list[str]
) -> None:
    text_value = text.strip() if isinstance(text, str) else ""
    team_value = team.strip() if isinstance(team, str) else ""
    if not text_value or not team_value:
        problems.append(f"line {line}: {'no text' if not text_value else 'no team'}")
        return
    rows.append((text_value, team_value))


def _raise_problems(file: Path, problems: list[str]) -> None:
    if not problems:
        return
    shown = "; ".join(problems[:MAX_REPORTED_PROBLEMS])
    more = len(problems) - MAX_REPORTED_PROBLEMS
    raise RoutingDataError(
        f"{file}: {shown}" + (f"; and {more} more problems." if more > 0 else ".")
    )
