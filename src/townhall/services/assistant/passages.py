"""What retrieval hands to the answer pipeline: a passage of guidance and where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    url: str
    title: str
    heading: str  # the heading path within the page, "Apply > Who can apply"
    text: str
    locale: str
    score: float = 0.0  # fused retrieval score; higher is better
    dense: float = 0.0  # cosine similarity of query and passage, for evidence thresholds


def search_text(title: str, heading: str, text: str) -> str:
    """What is indexed and embedded for a chunk: its title and headings say what it is about."""
    return " \n".join(part for part in (title, heading.replace(" > ", ". "), text) if part)
