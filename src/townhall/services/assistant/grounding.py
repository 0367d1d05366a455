"""Is a sentence of an answer supported by the passage it cites?

Two kinds of evidence must agree. Lexically, most of the sentence's content words must occur in
the passage, and every number in it (amounts, dates, deadlines, counts) must occur there too: a
paraphrase that changes "£25" to "£35" shares nearly every word with its source. Semantically,
the sentence must be close in embedding space to some sentence (or pair of adjacent sentences)
of the passage, and agree with it on negation ("can" versus "cannot").

A sentence copied from its passage (the extractive composer's) is supported without further work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from townhall.core.embeddings import Encoder, encoder
from townhall.services.assistant import sentences as text
from townhall.services.assistant.composer import CitedSentence
from townhall.services.assistant.passages import Passage

# Measured on 14 faithful paraphrases and 14 unfaithful sentences (a changed time or amount, a
# flipped "not", another fact) of council guidance, in tests/services/assistant/test_grounding.py:
# paraphrases keep >= 0.83 of their content words at a cosine >= 0.82 with a passage sentence;
# at 0.6 / 0.7 three unfaithful sentences passed, at 0.75 / 0.8 none do. The pipeline passes
# the settings' values (assistant_grounding_min_overlap, assistant_grounding_min_similarity).
MIN_OVERLAP = 0.75
MIN_SIMILARITY = 0.8


@dataclass(frozen=True)
class Support:
    supported: bool
    reason: str  # "verbatim", "supported", "no_content", "missing_numbers", "low_overlap",
    # "low_similarity" or "negation"
    overlap: float  # share of the sentence's content words found in the passage
    similarity: float  # best cosine between the sentence and a window of the passage
    missing_numbers: tuple[str, ...] = ()


def _windows(passage: str) -> list[str]:
    """The passage's sentences and each pair of adjacent sentences."""
    units = text.split(passage) or [passage]
    pairs = [f"{a} {b}" for a, b in pairwise(units)]
    return units + pairs


def _lexical(sentence: str, passage: Passage) -> Support | None:
    """A verdict when the words alone decide it, else None (similarity is needed)."""
    source = passage.text
    if text.contains_run(source, sentence):
        return Support(True, "verbatim", 1.0, 1.0)
    own = text.term_set(sentence)
    if not own:
        return Support(False, "no_content", 0.0, 0.0)
    context = f"{passage.title}\n{passage.heading}\n{source}"
    missing = tuple(sorted(text.numbers(sentence) - text.numbers(context)))
    overlap = len(own & text.term_set(context)) / len(own)
    if missing:
        return Support(False, "missing_numbers", overlap, 0.0, missing)
    return Support(True, "lexical", overlap, 0.0)


def _decide(
    sentence: str, lexical: Support, window: str, similarity: float, min_overlap: float,
    min_similarity: float,
) -> Support:  # fmt: skip
    if lexical.overlap < min_overlap:
        return Support(False, "low_overlap", lexical.overlap, similarity)
    if similarity < min_similarity:
        return Support(False, "low_similarity", lexical.overlap, similarity)
    if text.negated(sentence) != text.negated(window):
        return Support(False, "negation", lexical.overlap, similarity)
    return Support(True, "supported", lexical.overlap, similarity)


def check(
    cited: Sequence[CitedSentence],
    passages: Sequence[Passage],
    min_overlap: float = MIN_OVERLAP,
    min_similarity: float = MIN_SIMILARITY,
    embed: Encoder | None = None,
) -> list[Support | None]:
    """A verdict per sentence (None when its citation points at no passage).

    Sentences that need the embedding test are encoded in one batch with their passages' windows.
    """
    out: list[Support | None] = []
    pending: list[tuple[int, str, Support, list[str]]] = []
    for i, sentence in enumerate(cited):
        if not 0 <= sentence.source < len(passages):
            out.append(None)
            continue
        lexical = _lexical(sentence.text, passages[sentence.source])
        out.append(lexical)
        if lexical is not None and lexical.reason == "lexical":
            pending.append((i, sentence.text, lexical, _windows(passages[sentence.source].text)))
    if pending:
        flat = [s for _, s, _, _ in pending] + [w for *_, ws in pending for w in ws]
        vectors = (embed or encoder()).encode(flat)
        offset = len(pending)
        for k, (i, said, lexical, windows) in enumerate(pending):
            sims = vectors[offset : offset + len(windows)] @ vectors[k]
            offset += len(windows)
            best = int(np.argmax(sims))
            out[i] = _decide(
                said, lexical, windows[best], float(sims[best]), min_overlap, min_similarity
            )
    return out


def support(
    sentence: str,
    passage: Passage | str,
    min_overlap: float = MIN_OVERLAP,
    min_similarity: float = MIN_SIMILARITY,
    embed: Encoder | None = None,
) -> Support:
    """Is `sentence` supported by `passage` (a Passage or its text)?"""
    if isinstance(passage, str):
        passage = Passage(0, "", "", "", passage, "")
    (verdict,) = check([CitedSentence(sentence, 0)], [passage], min_overlap, min_similarity, embed)
    assert verdict is not None
    return verdict
