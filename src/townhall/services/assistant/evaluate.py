"""Evaluation as code: retrieval and answer quality on a file of questions, with 95% intervals.

A questions file is JSON lines. Each line has `question` and either `expected_urls` (the pages
that answer it; finding any of them counts) or `"answerable": false` (the assistant should
refuse). Optional: `locale` (search only pages in that language), `split` ("dev" or "test": tune
on one, report both) and `category` (e.g. "out_of_scope", "not_covered", "adversarial").

Everything is measured through callables, so the same code scores a plain BM25 baseline, the
hybrid index and the full answer pipeline:

- `evaluate_retrieval(questions, search)` where `search(question, locale)` returns page URLs,
  best first (duplicates allowed: a page counts at the rank of its first passage);
- `evaluate_answers(questions, answer, grounded=...)` where `answer(question, locale)` returns
  anything with `refused`, `citations` (objects with `.url`) and `sentences` (objects with
  `.text` and `.citation`, the 1-based number of the citation the sentence rests on).

Each figure comes with a percentile bootstrap interval over questions (1,000 resamples, fixed
seed), because a few hundred questions leave several points of uncertainty either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from townhall.core.errors import InvalidInput
from townhall.services.assistant.baseline import BM25Baseline

RESAMPLES = 1000
SEED = 0
CONFIDENCE = 0.95
SEARCH_DEPTH = 30  # passages asked of a search; several share a page, ranks are per page
DATA = Path(__file__).resolve().parent / "data"
GOVUK_QUESTIONS = DATA / "govuk_questions.jsonl"


class QuestionsError(InvalidInput):
    """A questions file that cannot be evaluated; the message names the line."""


@dataclass(frozen=True)
class Question:
    question: str
    expected_urls: tuple[str, ...] = ()  # empty: the question should be refused
    locale: str | None = None
    split: str | None = None
    category: str | None = None
    line: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.expected_urls)


# --- loading ------------------------------------------------------------------------------


def parse_questions(lines: Iterable[str], name: str = "questions") -> list[Question]:
    """Questions from JSON lines (blank lines skipped); QuestionsError names the bad line."""
    questions = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            questions.append(_question(line, number, name))
    if not questions:
        raise QuestionsError(f"{name}: no questions")
    return questions


def load_questions(path: str | Path = GOVUK_QUESTIONS) -> list[Question]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionsError(f"{path}: cannot read ({exc})") from None
    return parse_questions(text.split("\n"), str(path))


def _question(line: str, number: int, name: str) -> Question:
    where = f"{name} line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QuestionsError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise QuestionsError(f"{where}: expected a JSON object")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionsError(f"{where}: 'question' must be a non-empty string")
    if "answerable" in row and not isinstance(row["answerable"], bool):
        raise QuestionsError(f"{where}: 'answerable' must be true or false")
    has_urls = "expected_urls" in row
    unanswerable = row.get("answerable", True) is False
    if has_urls and unanswerable:
        raise QuestionsError(
            f"{where}: give either 'expected_urls' or \"answerable\": false, not both"
        )
    if not has_urls and not unanswerable:
        raise QuestionsError(f"{where}: give 'expected_urls' or \"answerable\": false")
    urls = row.get("expected_urls", [])
    if has_urls and (
        not isinstance(urls, list)
        or not urls
        or not all(isinstance(u, str) and u.strip() for u in urls)
    ):
        raise QuestionsError(f"{where}: 'expected_urls' must be a non-empty list of URLs")
    for key in ("locale", "split", "category"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise QuestionsError(f"{where}: '{key}' must be a string")
    return Question(
        question=question.strip(),
        expected_urls=tuple(u.strip() for u in urls),
        locale=row.get("locale") or None,
        split=row.get("split") or None,
        category=row.get("category") or None,
        line=number,
    )


def in_split(questions: Sequence[Question], split: str | None) -> list[Question]:
    """The questions of one split (all of them for None)."""
    return [q for q in questions if split is None or q.split == split]


# --- intervals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    value: float | None  # None when no question counts towards the figure
    low: float | None
    high: float | None
    n: int  # how many questions it rests on

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"value": r(self.value), "low": r(self.low), "high": r(self.high), "n": self.n}


def bootstrap(
    values: Sequence[float],
    weights: Sequence[float] | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The (weighted) mean of per-question `values` with a percentile bootstrap interval.

    With `weights`, the figure is sum(values) / sum(weights): a pooled rate, such as grounded
    sentences over all sentences, resampled by question so that an answer's sentences move
    together.
    """
    num = np.asarray(values, dtype=float)
    den = np.ones_like(num) if weights is None else np.asarray(weights, dtype=float)
    if num.shape != den.shape:
        raise ValueError("one weight per value")
    n = len(num)
    if n == 0 or den.sum() <= 0:
        return Interval(None, None, None, n)
    value = float(num.sum() / den.sum())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    totals = den[picks].sum(axis=1)
    stats = num[picks].sum(axis=1)[totals > 0] / totals[totals > 0]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return Interval(value, float(low), float(high), n)


# --- retrieval ----------------------------------------------------------------------------

Search = Callable[[str, str | None], Sequence[str]]


def first_rank(retrieved: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first expected page among the distinct retrieved pages."""
    wanted = set(expected)
    seen: set[str] = set()
    for url in retrieved:
        if url in seen:
            continue
        seen.add(url)
        if url in wanted:
            return len(seen)
    return None


def _distinct(urls: Sequence[str], k: int) -> list[str]:
    return list(dict.fromkeys(urls))[:k]


@dataclass(frozen=True)
class Ranked:
    question: Question
    rank: int | None
    top: list[str]  # the first five distinct pages retrieved


@dataclass
class RetrievalReport:
    recall_at_1: Interval
    recall_at_5: Interval
    mrr: Interval
    ranked: list[Ranked] = field(repr=False)

    def as_dict(self, misses: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "questions": len(self.ranked),
            "recall_at_1": self.recall_at_1.as_dict(),
            "recall_at_5": self.recall_at_5.as_dict(),
            "mrr": self.mrr.as_dict(),
        }
        if misses:
            out["misses"] = [
                {"question": r.question.question, "rank": r.rank, "top": r.top}
                for r in self.ranked
                if r.rank != 1
            ]
        return out


def evaluate_retrieval(
    questions: Sequence[Question],
    search: Search,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> RetrievalReport:
    """Recall@1, recall@5 and MRR of `search` over the answerable questions."""
    ranked = []
    for q in questions:
        if q.answerable:
            retrieved = list(search(q.question, q.locale))
            rank = first_rank(retrieved, q.expected_urls)
            ranked.append(Ranked(q, rank, _distinct(retrieved, 5)))
    ranks = [r.rank for r in ranked]

    def interval(values: list[float]) -> Interval:
        return bootstrap(values, resamples=resamples, seed=seed)

    return RetrievalReport(
        recall_at_1=interval([float(r == 1) for r in ranks]),
        recall_at_5=interval([float(r is not None and r <= 5) for r in ranks]),
        mrr=interval([1.0 / r if r else 0.0 for r in ranks]),
        ranked=ranked,
    )


# --- answers ------------------------------------------------------------------------------


class AnswerLike(Protocol):
    """What `answer` returns: the pipeline's Answer, or anything shaped like it."""

    @property
    def refused(self) -> bool: ...

    @property
    def citations(self) -> Sequence[Any]: ...  # each with `.url`

    @property
    def sentences(self) -> Sequence[Any]: ...  # each with `.text` and `.citation` (1-based)


Answerer = Callable[[str, str | None], AnswerLike]
# grounded(sentence, cited) -> is the sentence supported by the citation it rests on?
Grounded = Callable[[str, Any], bool]


def pipeline_grounding(
    min_overlap: float | None = None, min_similarity: float | None = None
) -> Grounded:
    """The answer pipeline's own check: content words, numbers, similarity and negation
    (pass the settings' assistant_grounding_* thresholds to match a deployment)."""
    from townhall.services.assistant import grounding

    overlap = grounding.MIN_OVERLAP if min_overlap is None else min_overlap
    similarity = grounding.MIN_SIMILARITY if min_similarity is None else min_similarity

    def grounded(sentence: str, passage: Any) -> bool:
        return grounding.support(sentence, passage, overlap, similarity).supported

    return grounded


@dataclass(frozen=True)
class Answered:
    question: Question
    refused: bool
    cited: list[str]  # distinct cited URLs, in citation order
    sentences: int
    grounded: int


@dataclass
class AnswerReport:
    citation_precision: Interval  # answered, answerable questions: share of cited pages expected
    refusal_precision: Interval  # refusals that were of unanswerable questions
    refusal_recall: Interval  # unanswerable questions that were refused
    answer_rate: Interval  # answerable questions that were answered (not refused)
    grounded_sentence_rate: Interval  # sentences of all answers supported by their citation
    refusal_recall_by_category: dict[str, Interval]
    answered: list[Answered] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "questions": len(self.answered),
            "citation_precision": self.citation_precision.as_dict(),
            "refusal_precision": self.refusal_precision.as_dict(),
            "refusal_recall": self.refusal_recall.as_dict(),
            "answer_rate": self.answer_rate.as_dict(),
            "grounded_sentence_rate": self.grounded_sentence_rate.as_dict(),
            "refusal_recall_by_category": {
                k: v.as_dict() for k, v in sorted(self.refusal_recall_by_category.items())
            },
        }


def _grade(q: Question, reply: AnswerLike, grounded: Grounded | None) -> Answered:
    citations = list(reply.citations)
    cited = list(dict.fromkeys(str(c.url) for c in citations))
    total = supported = 0
    if not reply.refused:
        for sentence in reply.sentences:
            total += 1
            number = sentence.citation
            if not isinstance(number, int) or not 1 <= number <= len(citations):
                continue
            if grounded is None or grounded(sentence.text, citations[number - 1]):
                supported += 1
    return Answered(q, bool(reply.refused), cited, total, supported)


def evaluate_answers(
    questions: Sequence[Question],
    answer: Answerer,
    *,
    grounded: Grounded | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> AnswerReport:
    """Citation precision, refusal precision and recall, and the grounded-sentence rate.

    Without `grounded`, a sentence counts as grounded when its citation resolves to a cited
    page; pass `pipeline_grounding()` to hold it to the pipeline's support check.
    """
    answered = [_grade(q, answer(q.question, q.locale), grounded) for q in questions]

    def interval(values: list[float], weights: list[float] | None = None) -> Interval:
        return bootstrap(values, weights, resamples=resamples, seed=seed)

    precision = [
        sum(url in a.question.expected_urls for url in a.cited) / len(a.cited)
        for a in answered
        if a.question.answerable and not a.refused and a.cited
    ]
    unanswerable = [a for a in answered if not a.question.answerable]
    by_category: dict[str, list[float]] = {}
    for a in unanswerable:
        by_category.setdefault(a.question.category or "uncategorised", []).append(float(a.refused))
    spoken = [a for a in answered if not a.refused and a.sentences]
    return AnswerReport(
        citation_precision=interval(precision),
        refusal_precision=interval(
            [float(not a.question.answerable) for a in answered if a.refused]
        ),
        refusal_recall=interval([float(a.refused) for a in unanswerable]),
        answer_rate=interval([float(not a.refused) for a in answered if a.question.answerable]),
        grounded_sentence_rate=interval(
            [float(a.grounded) for a in spoken], [float(a.sentences) for a in spoken]
        ),
        refusal_recall_by_category={k: interval(v) for k, v in by_category.items()},
        answered=answered,
    )


# --- the searches compared ----------------------------------------------------------------


def index_search(index: Any, depth: int = SEARCH_DEPTH) -> Search:
    """A `search` over a retrieval.Index (hybrid) or a BM25Baseline: page URLs, best first."""

    def search(question: str, locale: str | None) -> list[str]:
        return [p.url for p in index.search(question, k=depth, locale=locale)]

    return search


def _splits(questions: Sequence[Question]) -> list[str | None]:
    """None (all questions), then each named split; just the split when there is only one."""
    named = sorted({q.split for q in questions if q.split})
    if len(named) == 1 and all(q.split for q in questions):
        return [named[0]]
    return [None, *named]


def evaluate(
    questions: Sequence[Question],
    *,
    index: Any,
    answer: Answerer | None = None,
    grounded: Grounded | None = None,
    baseline: bool = True,
    misses: bool = False,
) -> dict[str, Any]:
    """Hybrid retrieval (beside plain BM25 over the same passages) and, given `answer`, answer
    quality: for all questions and for each split."""
    searches = {"hybrid": index_search(index)}
    if baseline:  # needs rank_bm25, from the [dev] extra
        searches["bm25_baseline"] = index_search(BM25Baseline(index.passages))
    replies: dict[tuple[str, str | None], AnswerLike] = {}
    if answer is not None:
        replies = {(q.question, q.locale): answer(q.question, q.locale) for q in questions}
    report: dict[str, Any] = {"questions": len(questions), "splits": {}}
    for split in _splits(questions):
        chosen = in_split(questions, split)
        part: dict[str, Any] = {
            "answerable": sum(q.answerable for q in chosen),
            "unanswerable": sum(not q.answerable for q in chosen),
            "retrieval": {
                name: evaluate_retrieval(chosen, search).as_dict(misses)
                for name, search in searches.items()
            },
        }
        if answer is not None:
            part["answers"] = evaluate_answers(
                chosen, lambda q, locale: replies[q, locale], grounded=grounded
            ).as_dict()
        report["splits"][split or "all"] = part
    return report
