"""The one interface both answer composers meet: passages in, sentences that each cite one out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from townhall.services.assistant.passages import Passage


@dataclass(frozen=True)
class CitedSentence:
    text: str
    source: int  # index into the passages the draft was composed from


@dataclass(frozen=True)
class Draft:
    sentences: tuple[CitedSentence, ...]
    composer: str  # "extractive" or "generative"
    model_version: str  # what produced it: a composer version, or the endpoint's model id

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


class Composer(Protocol):
    name: str

    @property
    def version(self) -> str: ...

    def compose(
        self, question: str, passages: Sequence[Passage], history: Sequence[str] = ()
    ) -> Draft:
        """A draft answer from `passages` only; may be empty when nothing fits."""
        ...
