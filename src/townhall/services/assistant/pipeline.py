"""The answer pipeline: explicit, ordered steps, each recording its verdict.

1. input       length cap, Unicode clean-up, prompt-injection heuristics, PII redaction
2. scope       requests plainly not about public services (poems, homework, politics)
3. retrieval   hybrid search (with the conversation's context for follow-ups) and the evidence
               bar: too weak, and the assistant says it cannot answer from the guidance
4. composition the composer's draft; a draft from any composer other than the extractive one
               is kept only if it passes the output checks, else the extractive answer is used
5. output      every sentence grounded in the passage it cites, nothing addressed to an AI, no
               leaked prompt or canary, links only to ingested pages

A refusal stops the pipeline at the step that refused, so `steps` ends there. Only the redacted
question leaves step 1: it is what retrieval, composers and the records see.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from townhall.services.assistant import followups, guards, injection, scope
from townhall.services.assistant.composer import Composer, Draft
from townhall.services.assistant.extractive import ExtractiveComposer
from townhall.services.assistant.passages import Passage
from townhall.services.assistant.retrieval import Index
from townhall.services.assistant.sentences import term_set
from townhall.settings import Settings, get_settings

log = logging.getLogger(__name__)

ANSWERED = "answered"
OUT_OF_SCOPE = "out_of_scope"
WEAK_EVIDENCE = "weak_evidence"
UNGROUNDED_FALLBACK = "generative_ungrounded_fallback"
ERROR_FALLBACK = "generative_error_fallback"
OUTPUT_CHECK = "output_check"
# The passages an answer cites must cover ON_POINT of the question's words, or at least
# ON_POINT_SHARE of what the best passage covers. Answers to the GOV.UK calibration questions
# cite passages at >= 0.33 coverage; answers that drift to a neighbouring topic when a poisoned
# passage's only sentence is skipped cite passages at <= 0.27 and under half the best coverage.
ON_POINT = 0.3
ON_POINT_SHARE = 0.5


@dataclass(frozen=True)
class StepVerdict:
    step: str  # "input", "scope", "retrieval", "composition", "output"
    passed: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citation: int  # 1-based number of the passage in `Answer.citations`


@dataclass(frozen=True)
class Answer:
    text: str  # one sentence a line, each ending with its citation mark "[1]"
    sentences: list[AnswerSentence]
    citations: list[Passage]  # only the passages cited, in citation-number order
    refused: bool
    reason: str  # "answered", "generative_ungrounded_fallback", or why it refused
    steps: list[StepVerdict]
    confidence: float  # 0-1: confidence in this reply (the answer, or the refusal)
    composer: str
    model_version: str
    redacted_question: str
    handoff_offered: bool


def _passage_data(p: Passage) -> dict[str, Any]:
    return {
        "chunk_id": p.chunk_id,
        "url": p.url,
        "title": p.title,
        "heading": p.heading,
        "score": round(p.score, 6),
        "dense": round(p.dense, 4),
    }


class Pipeline:
    def __init__(
        self,
        index_provider: Callable[[], Index],
        composer: Composer | None = None,
        fallback: Composer | Callable[[], Composer] = ExtractiveComposer,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.index_provider = index_provider
        # A composer, or a factory of one (the default is the ExtractiveComposer class).
        factory = isinstance(fallback, type) or not hasattr(fallback, "compose")
        made = fallback() if factory else fallback  # type: ignore[operator]
        self.fallback: Composer = made  # type: ignore[assignment]
        if factory and isinstance(self.fallback, ExtractiveComposer):
            self.fallback.max_sentences = self.settings.assistant_max_sentences
        self.composer: Composer = composer or self.fallback
        self._derived: tuple[tuple[int, int, int], guards.Links, scope.Vocabulary] | None = None

    @property
    def max_question_chars(self) -> int:
        return self.settings.assistant_max_question_chars

    # --- pieces also used on their own ---------------------------------------------------

    def retrieve(
        self, question: str, locale: str | None = None, history: Sequence[str] = ()
    ) -> list[Passage]:
        """The passages retrieval would answer `question` from (for routing hand-offs)."""
        index = self.index_provider()
        if not len(index) or not question.strip():
            return []
        tried = self.search(index, search_text(question), history, locale)
        return max(tried, key=lambda t: t[0].score)[2]

    def search(
        self, index: Index, question: str, history: Sequence[str], locale: str | None
    ) -> list[tuple[scope.Evidence, str, list[Passage]]]:
        """Each query worth trying (see followups.py) with its passages and their evidence."""
        _, vocabulary = self.derived(index)
        tried = []
        for query in followups.queries(question, history):
            found = index.search(query, k=self.settings.assistant_passages, locale=locale)
            found_evidence = scope.evidence(
                query, found, self.settings.assistant_min_evidence, vocabulary
            )
            tried.append((found_evidence, query, found))
        return tried

    def derived(self, index: Index) -> tuple[guards.Links, scope.Vocabulary]:
        """What the checks need from the whole index, rebuilt when the index changes."""
        key = (id(index), index.generation, len(index))
        if self._derived is None or self._derived[0] != key:
            urls = {p.url for p in index.passages}
            self._derived = (key, guards.Links(urls), scope.Vocabulary(index.passages))
        return self._derived[1], self._derived[2]

    # --- the pipeline --------------------------------------------------------------------

    def answer(
        self, question: str, history: Sequence[str] = (), locale: str | None = None
    ) -> Answer:
        run = _Run(self, locale)
        return run.go(question, history)


class _Run:
    """One question through the steps; collects verdicts as it goes."""

    def __init__(self, pipeline: Pipeline, locale: str | None) -> None:
        self.p = pipeline
        self.s = pipeline.settings
        self.locale = locale
        self.steps: list[StepVerdict] = []
        self.redacted = ""
        self.checked: tuple[Draft, guards.OutputVerdict] | None = None  # the last output check

    def step(self, name: str, passed: bool, detail: str, **data: Any) -> None:
        self.steps.append(StepVerdict(name, passed, detail, data))

    def go(self, question: str, history: Sequence[str]) -> Answer:
        checked = guards.check_input(question, self.s.assistant_max_question_chars)
        self.redacted = checked.text
        self.step(
            "input",
            checked.passed,
            checked.detail,
            categories=list(checked.categories),
            pii=list(checked.pii),
            invisible=checked.invisible,
            chars=len(checked.text),
        )
        if not checked.passed:
            return self.refuse(checked.reason, 1.0)
        kind = scope.off_topic(checked.text)
        self.step("scope", kind is None, f"not guidance: {kind}" if kind else "ok", kind=kind)
        if kind:
            return self.refuse(OUT_OF_SCOPE, 0.9)
        earlier = self.clean_history(history) if followups.is_follow_up(checked.text) else []
        return self.retrieve_and_answer(checked.text, earlier)

    def clean_history(self, history: Sequence[str]) -> list[str]:
        """Earlier questions, cleaned and redacted; any that carried an injection are dropped
        (they were refused, and must not reach retrieval or a model through a follow-up)."""
        from townhall.governance import privacy

        kept = []
        for previous in list(history)[-followups.MAX_CONTEXT :]:
            if not isinstance(previous, str):
                continue
            cleaned, _ = guards.clean(previous[: self.s.assistant_max_question_chars])
            if cleaned and not injection.categories(cleaned):
                kept.append(privacy.redact(cleaned))
        return kept

    def retrieve_and_answer(self, question: str, history: list[str]) -> Answer:
        index = self.p.index_provider()
        searched = search_text(question)
        tried = self.p.search(index, searched, history, self.locale) if len(index) else []
        if not tried:
            self.step("retrieval", False, "nothing has been ingested", passages=[])
            return self.refuse(WEAK_EVIDENCE, 1.0)
        evidence, query, passages = max(tried, key=lambda t: t[0].score)
        weak = scope.weak(
            evidence,
            self.s.assistant_min_evidence,
            self.s.assistant_min_overlap,
        )
        self.step(
            "retrieval",
            not weak,
            "evidence too weak to answer from" if weak else "ok",
            query=query,
            follow_up=query != searched,
            passages=[_passage_data(p) for p in passages],
            evidence=evidence.as_dict(),
        )
        if weak:
            return self.refuse(WEAK_EVIDENCE, 1.0 - evidence.strength)
        follow_up = query != searched
        return self.compose(
            question, history if follow_up else [], passages, evidence, index, query
        )

    def compose(
        self,
        question: str,
        history: list[str],
        passages: list[Passage],
        evidence: scope.Evidence,
        index: Index,
        query: str,
    ) -> Answer:
        links, vocabulary = self.p.derived(index)
        composer, reason = self.p.composer, ANSWERED
        data: dict[str, Any] = {"composer": composer.name}
        try:
            draft = composer.compose(question, passages, history)
        except Exception as exc:  # a model endpoint down must not stop the answer
            if composer is self.p.fallback:
                raise
            log.warning("composer %s failed: %s", composer.name, exc)
            draft, reason = Draft((), composer.name, ""), ERROR_FALLBACK
            data["error"] = type(exc).__name__
        if composer is not self.p.fallback and composer.name != "extractive" and reason == ANSWERED:
            verdict = self.check(draft, passages, links, composer)
            data["generative_check"] = {
                "passed": verdict.passed,
                "problems": list(verdict.problems),
                "failed": verdict.failed,
            }
            if not verdict.passed:
                reason = UNGROUNDED_FALLBACK
        if reason != ANSWERED:
            data["fallback_reason"] = reason
            draft = self.p.fallback.compose(question, passages, history)
            composer = self.p.fallback
        # The sentences chosen must come from passages about the question, not merely near it
        # (a poisoned passage's only sentence is skipped; its neighbours may be off the point).
        wanted = term_set(query)
        cited = {s.source for s in draft.sentences if 0 <= s.source < len(passages)}
        covered = max((vocabulary.coverage(wanted, passages[i]) for i in cited), default=0.0)
        on_point = bool(draft.sentences) and (
            covered >= ON_POINT or covered >= ON_POINT_SHARE * evidence.overlap
        )
        data.update(
            used=draft.composer,
            version=draft.model_version,
            sentences=len(draft.sentences),
            coverage=round(covered, 4),
        )
        if on_point:
            detail = "ok" if reason == ANSWERED else "fell back to the extractive answer: " + reason
        elif draft.sentences:
            detail = "the sentences found are about something else"
        else:
            detail = "no sentence of the guidance answers the question"
        self.step("composition", on_point, detail, **data)
        if not on_point:
            return self.refuse(WEAK_EVIDENCE, 1.0 - evidence.strength, draft)
        return self.finish(draft, passages, links, composer, evidence, reason)

    def check(
        self, draft: Draft, passages: list[Passage], links: guards.Links, composer: Composer
    ) -> guards.OutputVerdict:
        if self.checked is not None and self.checked[0] is draft:
            return self.checked[1]  # a generative draft checked once already
        prompt = getattr(composer, "system_prompt", "")
        verdict = guards.check_output(
            draft,
            passages,
            links,
            prompts=[prompt] if isinstance(prompt, str) and prompt else [],
            min_overlap=self.s.assistant_grounding_min_overlap,
            min_similarity=self.s.assistant_grounding_min_similarity,
        )
        self.checked = (draft, verdict)
        return verdict

    def finish(
        self,
        draft: Draft,
        passages: list[Passage],
        links: guards.Links,
        composer: Composer,
        evidence: scope.Evidence,
        reason: str,
    ) -> Answer:
        verdict = self.check(draft, passages, links, composer)
        failed = set(verdict.failed)
        kept = tuple(s for i, s in enumerate(draft.sentences) if i not in failed)
        self.step(
            "output",
            verdict.passed,
            "ok" if verdict.passed else "removed sentences: " + ", ".join(verdict.problems),
            checked=len(draft.sentences),
            removed=sorted(failed),
            problems=list(verdict.problems),
            links=list(verdict.links),
            grounding=[
                {"reason": c.support.reason, "overlap": round(c.support.overlap, 3),
                 "similarity": round(c.support.similarity, 3)}
                if c.support else None
                for c in verdict.sentences
            ],
        )  # fmt: skip
        if not kept:
            return self.refuse(OUTPUT_CHECK, 1.0 - evidence.strength, draft)
        return self.reply(replace(draft, sentences=kept), passages, evidence, reason)

    def reply(
        self, draft: Draft, passages: list[Passage], evidence: scope.Evidence, reason: str
    ) -> Answer:
        numbers: dict[int, int] = {}
        for s in draft.sentences:
            numbers.setdefault(s.source, len(numbers) + 1)
        # Shown as a reader will see them: no invisible characters carried over from a page.
        sentences = [
            AnswerSentence(guards.clean(s.text)[0], numbers[s.source]) for s in draft.sentences
        ]
        return Answer(
            text="\n".join(f"{s.text} [{s.citation}]" for s in sentences),
            sentences=sentences,
            citations=[passages[i] for i in numbers],
            refused=False,
            reason=reason,
            steps=self.steps,
            confidence=evidence.strength,
            composer=draft.composer,
            model_version=draft.model_version,
            redacted_question=self.redacted,
            handoff_offered=False,
        )

    def refuse(self, reason: str, confidence: float, draft: Draft | None = None) -> Answer:
        text, handoff = refusal(reason, self.s)
        composer = draft.composer if draft else self.p.composer.name
        version = draft.model_version if draft and draft.model_version else self.p.composer.version
        return Answer(
            text=text,
            sentences=[],
            citations=[],
            refused=True,
            reason=reason,
            steps=self.steps,
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            composer=composer,
            model_version=version,
            redacted_question=self.redacted,
            handoff_offered=handoff,
        )


# A redaction mark, with the words that introduce it ("my name is", "I live at", "call me on").
_PLACEHOLDER = re.compile(
    r"(?:\b(?:i|i'm|my|our|we|me|his|her|their)\b(?:\W+[\w']+){0,3}?\W+)?\[[A-Z_]+\]",
    re.IGNORECASE,
)


def search_text(redacted: str) -> str:
    """The redacted question as retrieval sees it: "[UK_POSTCODE]" and "my name is [PERSON]"
    say nothing about the topic and would only add noise."""
    return re.sub(r"\s+", " ", _PLACEHOLDER.sub(" ", redacted)).strip() or redacted


def refusal(reason: str, settings: Settings) -> tuple[str, bool]:
    """What the assistant says when it does not answer, and whether it offers a person."""
    org = settings.organisation_name
    cannot = f"I can't answer that from {org}'s published guidance."
    person = " I can pass your question to a person who can help."
    if reason == guards.EMPTY:
        return f"Type a question about {org}'s services and I will look in its guidance.", False
    if reason == guards.TOO_LONG:
        limit = settings.assistant_max_question_chars
        return (
            f"Your question is too long for me to answer: keep it under {limit} characters."
            + person
        ), True
    if reason == guards.INJECTION:
        return f"{cannot} I can only answer questions about {org}'s services.", False
    if reason == OUT_OF_SCOPE:
        return f"{cannot} I can only answer questions about {org}'s services.", False
    return f"{cannot} I won't guess.{person}", True
