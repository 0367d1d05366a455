"""Anonymised exports: generalise and suppress quasi-identifiers until k and l are reached.

Each quasi-identifier has a hierarchy of ever coarser values (an age, then 5-year bands, 10-year
bands, then "*"; a postcode, then its district, area, then "*"). The search is Datafly's greedy
one: while some equivalence class (rows sharing every quasi-identifier value) has fewer than k rows
or fewer than l distinct sensitive values, either suppress those rows, if they are few enough, or
generalise the quasi-identifier with the most distinct values by one level. The export states the
k and l it achieved, measured on the data it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from townhall.core.errors import InvalidInput

TOP = "*"


class AnonymisationError(InvalidInput):
    """The export cannot reach the requested k or l, or its request is malformed."""


@dataclass(frozen=True)
class Hierarchy:
    """Level 0 is the raw value; ``levels`` maps a value to each coarser level; the last is '*'."""

    levels: Sequence[Callable[[Any], Any]]

    @property
    def depth(self) -> int:
        return len(self.levels) + 1  # plus the raw level

    def apply(self, values: pd.Series, level: int) -> pd.Series:
        if level == 0:
            return values
        if level >= self.depth:
            return pd.Series(TOP, index=values.index)
        return values.map(self.levels[level - 1])


def numeric_bands(*widths: int) -> Hierarchy:
    """Numbers into bands of each width in turn, e.g. numeric_bands(5, 10, 20) for ages."""

    def band(width: int) -> Callable[[Any], Any]:
        def to_band(value: Any) -> Any:
            if pd.isna(value):
                return TOP
            low = int(value // width * width)
            return f"{low}-{low + width - 1}"

        return to_band

    return Hierarchy([band(w) for w in widths])


def truncate(*lengths: int) -> Hierarchy:
    """Strings cut to each length in turn: a postcode to its outward code, area and so on."""

    def cut(length: int) -> Callable[[Any], Any]:
        return lambda value: TOP if pd.isna(value) else str(value).replace(" ", "")[:length]

    return Hierarchy([cut(n) for n in lengths])


def uk_postcode() -> Hierarchy:
    """Full postcode -> outward code (district) -> postcode area (its letters) -> '*'."""

    def district(value: Any) -> Any:
        text = str(value).strip().upper()
        return text.split()[0] if " " in text else text[:-3] or TOP

    def area(value: Any) -> Any:
        letters = ""
        for char in str(value).strip().upper():
            if not char.isalpha():
                break
            letters += char
        return letters or TOP

    return Hierarchy([district, area])


def categories(*mappings: dict[Any, Any]) -> Hierarchy:
    """Explicit mappings per level, e.g. ethnicity -> the five broad groups; unmapped -> '*'."""

    def level(mapping: dict[Any, Any]) -> Callable[[Any], Any]:
        return lambda value: mapping.get(value, TOP)

    return Hierarchy([level(m) for m in mappings])


def measure(frame: pd.DataFrame, quasi: Sequence[str], sensitive: Sequence[str]) -> tuple[int, int]:
    """The k and l a frame achieves: smallest class size; fewest distinct sensitive values."""
    if frame.empty:
        return 0, 0
    groups = frame.groupby(list(quasi), dropna=False, observed=True)
    k = int(groups.size().min())
    l_value = int(min(groups[s].nunique(dropna=False).min() for s in sensitive)) if sensitive else k
    return k, l_value


@dataclass(frozen=True)
class AnonymisedExport:
    frame: pd.DataFrame
    k: int
    l: int  # noqa: E741 - the standard name
    levels: dict[str, int]
    suppressed_rows: int

    def summary(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "l": self.l,
            "levels": self.levels,
            "suppressed_rows": self.suppressed_rows,
            "rows": len(self.frame),
        }


def anonymise(
    frame: pd.DataFrame,
    *,
    quasi_identifiers: dict[str, Hierarchy],
    sensitive: Sequence[str] = (),
    k: int,
    l: int = 1,  # noqa: E741 - the standard name
    drop: Sequence[str] = (),
    max_suppression: float = 0.05,
) -> AnonymisedExport:
    """A copy of ``frame`` that is k-anonymous and l-diverse, or an AnonymisationError."""
    missing = [c for c in [*quasi_identifiers, *sensitive, *drop] if c not in frame.columns]
    if missing:
        raise AnonymisationError(f"Columns not in the data: {', '.join(missing)}.")
    if k < 1 or l < 1:
        raise AnonymisationError("k and l must be at least 1.")
    if k > len(frame):
        raise AnonymisationError(f"k={k} is impossible: the data has only {len(frame)} rows.")
    for column in sensitive:
        distinct = frame[column].nunique(dropna=False)
        if l > distinct:
            raise AnonymisationError(
                f"l={l} is impossible: {column!r} has only {distinct} distinct values."
            )
    if not 0 <= max_suppression < 1:
        raise AnonymisationError("max_suppression must be a fraction between 0 and 1.")

    source = frame.drop(columns=list(drop))
    quasi = list(quasi_identifiers)
    levels = dict.fromkeys(quasi, 0)
    budget = int(max_suppression * len(frame))
    while True:
        current = source.copy()
        for column, hierarchy in quasi_identifiers.items():
            current[column] = hierarchy.apply(source[column], levels[column]).astype(str)
        groups = current.groupby(quasi, dropna=False, observed=True)
        sizes = groups[quasi[0]].transform("size")
        diverse = pd.Series(True, index=current.index)
        for column in sensitive:
            diverse &= groups[column].transform(lambda s: s.nunique(dropna=False)) >= l
        failing = (sizes < k) | ~diverse
        if not failing.any():
            kept = current
            break
        if int(failing.sum()) <= budget:
            kept = current[~failing]
            break
        # Generalise the quasi-identifier with the most distinct values that can still go up.
        candidates = [c for c in quasi if levels[c] < quasi_identifiers[c].depth]
        if not candidates:
            raise AnonymisationError(
                f"k={k}, l={l} cannot be reached even with every quasi-identifier fully "
                "generalised and the suppression limit; raise max_suppression or lower k or l."
            )
        widest = max(candidates, key=lambda c: current[c].nunique())
        levels[widest] += 1
    achieved_k, achieved_l = measure(kept, quasi, sensitive)
    if kept.empty or achieved_k < k or achieved_l < l:
        raise AnonymisationError("The requested k and l could not be reached.")
    return AnonymisedExport(
        kept.reset_index(drop=True), achieved_k, achieved_l, levels, len(frame) - len(kept)
    )
