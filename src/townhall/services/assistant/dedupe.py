"""Duplicate pages: the same text under another address, or nearly the same.

Exact duplicates are found by a SHA-256 of the normalised text; near duplicates (a changed date,
a corrected typo, the same page under two titles) by MinHash LSH over word shingles (Broder,
1997), which estimates Jaccard similarity without comparing every pair. The first page seen is
kept; later ones are reported as duplicates of it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

THRESHOLD = 0.9  # estimated Jaccard similarity of shingle sets
# LSH tuned to 0.9 itself misses a third of pairs at 0.94 (its bands trade misses for speed), so
# it is tuned lower to find candidates and each candidate is then checked against THRESHOLD.
CANDIDATE_THRESHOLD = 0.7
SHINGLE_WORDS = 5
NUM_PERM = 256  # the similarity estimate's standard error at 0.9 is about 0.02

_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    words = _WORD.findall(normalise(text))
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


class Deduper:
    """Remembers pages in order; `original_of` names the earlier page a new one duplicates."""

    def __init__(self, threshold: float = THRESHOLD, num_perm: int = NUM_PERM) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        self.lsh = MinHashLSH(threshold=min(threshold, CANDIDATE_THRESHOLD), num_perm=num_perm)
        self.exact: dict[str, str] = {}
        self.sketches: dict[str, Any] = {}
        self.order: dict[str, int] = {}

    def original_of(self, key: str, text: str) -> str | None:
        """The key of an earlier duplicate of `text`, or None (and `text` is remembered)."""
        from datasketch import MinHash

        digest = text_hash(text)
        if digest in self.exact:
            return self.exact[digest]
        sketch = MinHash(num_perm=self.num_perm)
        grams = shingles(text)
        if grams:
            sketch.update_batch([g.encode() for g in grams])
            candidates = [
                other
                for other in self.lsh.query(sketch)
                if sketch.jaccard(self.sketches[other]) >= self.threshold
            ]
            if candidates:
                return min(candidates, key=self.order.__getitem__)
        self.exact[digest] = key
        self.order[key] = len(self.order)
        if grams:
            self.lsh.insert(key, sketch)
            self.sketches[key] = sketch
        return None
