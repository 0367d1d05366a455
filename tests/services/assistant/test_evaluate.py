"""Evaluation as code: exact metrics on tiny hand-worked cases, deterministic intervals, clear
errors for bad question files, and a shipped GOV.UK question set that is valid and honest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from townhall.services.assistant import evaluate as ev
from townhall.services.assistant.baseline import BM25Baseline
from townhall.services.assistant.evaluate import Question, QuestionsError
from townhall.services.assistant.passages import Passage

GOVUK_PAGES = SHARED_DATA / "govuk" / "pages.jsonl"


def q(text: str, *urls: str, locale: str | None = None, category: str | None = None) -> Question:
    return Question(text, tuple(urls), locale=locale, category=category)


@dataclass
class Cited:
    url: str


@dataclass
class Said:
    text: str
    citation: int


@dataclass
class Reply:
    refused: bool
    citations: list[Cited] = field(default_factory=list)
    sentences: list[Said] = field(default_factory=list)


# --- retrieval ----------------------------------------------------------------------------


def test_rank_counts_each_page_once_however_many_of_its_passages_come_first() -> None:
    assert ev.first_rank(["a", "a", "b", "a", "c"], ["c"]) == 3
    assert ev.first_rank(["a", "b"], ["b", "a"]) == 1
    assert ev.first_rank(["a", "b"], ["z"]) is None
    assert ev.first_rank([], ["z"]) is None


def test_retrieval_metrics_match_hand_computed_values() -> None:
    retrieved = {
        "first": ["x", "x", "y"],  # rank 1
        "second": ["y", "y", "x"],  # rank 2 (y counted once)
        "missing": ["y", "z"],  # not found
        "fifth": ["a", "b", "c", "c", "d", "x"],  # rank 5
    }
    questions = [q(text, "x") for text in retrieved] + [q("refuse me")]
    asked: list[tuple[str, str | None]] = []

    def search(question: str, locale: str | None) -> list[str]:
        asked.append((question, locale))
        return retrieved[question]

    report = ev.evaluate_retrieval(questions, search)
    assert [r.rank for r in report.ranked] == [1, 2, None, 5]
    assert report.recall_at_1.value == pytest.approx(0.25)
    assert report.recall_at_5.value == pytest.approx(0.75)
    assert report.mrr.value == pytest.approx((1 + 0.5 + 0 + 0.2) / 4)
    assert report.recall_at_1.n == 4
    assert ("refuse me", None) not in asked  # unanswerable questions are not searched
    figures = report.as_dict(misses=True)
    assert figures["questions"] == 4
    assert [m["rank"] for m in figures["misses"]] == [2, None, 5]


def test_a_question_with_a_locale_is_searched_in_that_locale() -> None:
    seen = []

    def search(question: str, locale: str | None) -> list[str]:
        seen.append(locale)
        return ["x"]

    ev.evaluate_retrieval([q("Beth?", "x", locale="cy"), q("What?", "x")], search)
    assert seen == ["cy", None]


# --- answers ------------------------------------------------------------------------------


def answers_case() -> tuple[list[Question], dict[str, Reply]]:
    questions = [
        q("one", "a"),
        q("two", "c"),
        q("three", category="out_of_scope"),
        q("four", category="adversarial"),
        q("five", "e"),
    ]
    replies = {
        "one": Reply(False, [Cited("a"), Cited("b")], [Said("A is so.", 1), Said("B.", 2)]),
        "two": Reply(True),
        "three": Reply(True),
        "four": Reply(False, [Cited("d")], [Said("D is not so.", 1), Said("Dangling.", 5)]),
        "five": Reply(False, [Cited("e"), Cited("e")], [Said("E.", 1)]),
    }
    return questions, replies


def test_answer_metrics_match_hand_computed_values() -> None:
    questions, replies = answers_case()
    report = ev.evaluate_answers(questions, lambda text, locale: replies[text])
    # Cited pages on answered, answerable questions: one {a, b} -> 1/2, five {e} -> 1.
    assert report.citation_precision.value == pytest.approx(0.75)
    # Refused: two (answerable, wrong) and three (unanswerable, right).
    assert report.refusal_precision.value == pytest.approx(0.5)
    # Unanswerable: three refused, four answered.
    assert report.refusal_recall.value == pytest.approx(0.5)
    assert report.answer_rate.value == pytest.approx(2 / 3)
    # Sentences: one 2/2, four 1/2 (citation 5 does not exist), five 1/1.
    assert report.grounded_sentence_rate.value == pytest.approx(4 / 5)
    by_category = {k: v.value for k, v in report.refusal_recall_by_category.items()}
    assert by_category == {"adversarial": 0.0, "out_of_scope": 1.0}
    assert report.as_dict()["questions"] == 5


def test_grounded_sentences_use_the_check_given_with_the_cited_passage() -> None:
    questions, replies = answers_case()
    checked: list[tuple[str, str]] = []

    def grounded(sentence: str, cited: Cited) -> bool:
        checked.append((sentence, cited.url))
        return "not" not in sentence

    report = ev.evaluate_answers(questions, lambda t, _: replies[t], grounded=grounded)
    # one 2/2, four 0/2 ("not", and a citation that resolves to nothing), five 1/1.
    assert report.grounded_sentence_rate.value == pytest.approx(3 / 5)
    assert ("B.", "b") in checked and ("D is not so.", "d") in checked
    assert all(s != "Dangling." for s, _ in checked)


def test_figures_with_no_questions_behind_them_are_none_not_zero() -> None:
    report = ev.evaluate_answers([q("one", "a")], lambda t, _: Reply(True))
    assert report.refusal_recall.value is None and report.refusal_recall.n == 0
    assert report.citation_precision.as_dict() == {
        "value": None,
        "low": None,
        "high": None,
        "n": 0,
    }
    assert report.refusal_precision.value == 0.0


# --- intervals ----------------------------------------------------------------------------


def test_bootstrap_interval_contains_the_estimate_and_repeats_with_the_seed() -> None:
    values = [1.0] * 37 + [0.0] * 13
    first = ev.bootstrap(values)
    assert first.value == pytest.approx(0.74)
    assert first.low is not None and first.high is not None
    assert first.low <= first.value <= first.high
    assert first.low < first.high
    assert ev.bootstrap(values) == first
    assert first.n == 50
    spread = [(i * 37 % 101) / 100 for i in range(60)]
    assert ev.bootstrap(spread, seed=7) == ev.bootstrap(spread, seed=7)
    assert ev.bootstrap(spread, seed=7) != ev.bootstrap(spread, seed=8)


def test_bootstrap_of_a_pooled_rate_weights_by_the_denominators() -> None:
    interval = ev.bootstrap([2.0, 0.0, 3.0], [2.0, 2.0, 4.0])
    assert interval.value == pytest.approx(5 / 8)
    assert interval.low is not None and interval.high is not None
    assert interval.low <= 5 / 8 <= interval.high


def test_bootstrap_of_constant_values_is_a_point_and_of_nothing_is_none() -> None:
    assert ev.bootstrap([1.0, 1.0, 1.0]) == ev.Interval(1.0, 1.0, 1.0, 3)
    assert ev.bootstrap([]) == ev.Interval(None, None, None, 0)
    with pytest.raises(ValueError):
        ev.bootstrap([1.0], [1.0, 2.0])


# --- question files -----------------------------------------------------------------------


def test_a_valid_file_loads_with_locale_split_and_category(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"question": " Where? ", "expected_urls": ["https://x/a", "https://x/b"], '
        '"locale": "cy", "split": "test"}\n'
        "\n"
        '{"question": "A poem?", "answerable": false, "category": "out_of_scope"}\n'
        '{"question": "Why?", "expected_urls": ["https://x/c"], "answerable": true}\n'
    )
    first, second, third = ev.load_questions(path)
    assert first == Question("Where?", ("https://x/a", "https://x/b"), "cy", "test", None, 1)
    assert first.answerable and not second.answerable and third.answerable
    assert (second.category, second.line) == ("out_of_scope", 3)
    assert [x.question for x in ev.in_split([first, second], "test")] == ["Where?"]
    assert len(ev.in_split([first, second], None)) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"question": "x", "expected_urls": ["u"]', "line 2: not valid JSON"),
        ('["question"]', "line 2: expected a JSON object"),
        ('{"expected_urls": ["u"]}', "line 2: 'question' must be a non-empty string"),
        ('{"question": "  ", "expected_urls": ["u"]}', "line 2: 'question' must be a non-empty"),
        (
            '{"question": "x", "expected_urls": ["u"], "answerable": false}',
            "line 2: give either 'expected_urls' or \"answerable\": false, not both",
        ),
        ('{"question": "x"}', "line 2: give 'expected_urls' or \"answerable\": false"),
        ('{"question": "x", "answerable": true}', "line 2: give 'expected_urls' or"),
        ('{"question": "x", "answerable": "no"}', "line 2: 'answerable' must be true or false"),
        ('{"question": "x", "expected_urls": []}', "line 2: 'expected_urls' must be a non-empty"),
        ('{"question": "x", "expected_urls": "u"}', "line 2: 'expected_urls' must be a non-empty"),
        ('{"question": "x", "expected_urls": ["u"], "locale": 1}', "line 2: 'locale' must be"),
    ],
)
def test_a_bad_line_is_reported_with_its_number(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "fine", "expected_urls": ["u"]}\n' + line + "\n")
    with pytest.raises(QuestionsError) as caught:
        ev.load_questions(path)
    assert caught.value.message.startswith(f"{path} line 2: ")
    assert message in caught.value.message


def test_an_empty_or_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(QuestionsError, match="no questions"):
        ev.load_questions(empty)
    with pytest.raises(QuestionsError, match="cannot read"):
        ev.load_questions(tmp_path / "absent.jsonl")


# --- the BM25 baseline and the whole evaluation ---------------------------------------------


def passage(i: int, url: str, text: str, locale: str = "en") -> Passage:
    return Passage(i, url, url.title(), "", text, locale)


PASSAGES = [
    passage(0, "passport", "Renew your passport online for 75 pounds 50."),
    passage(1, "cattle", "Report lost or stolen cattle to the police and to BCMS."),
    passage(2, "cattle", "Cattle passports must be sent back within 7 days."),
    passage(3, "gwartheg", "Rhowch wybod am wartheg wedi eu dwyn i'r heddlu.", "cy"),
]


def test_the_bm25_baseline_ranks_by_shared_words_and_filters_by_locale() -> None:
    bm25 = BM25Baseline(PASSAGES)
    assert bm25.search("stolen cattle", k=5)[0].url == "cattle"
    assert [p.chunk_id for p in bm25.search("PASSPORT!", k=1)] == [0]
    assert bm25.search("wartheg heddlu", locale="cy")[0].url == "gwartheg"
    assert bm25.search("wartheg heddlu", locale="en") == []
    assert bm25.search("  ?!") == []
    assert BM25Baseline([]).search("cattle") == []


def test_evaluate_reports_hybrid_beside_bm25_and_answers_for_each_split() -> None:
    from townhall.core.embeddings import encoder
    from townhall.services.assistant.passages import search_text
    from townhall.services.assistant.retrieval import Index

    texts = [search_text(p.title, p.heading, p.text) for p in PASSAGES]
    index = Index.build(PASSAGES, encoder().encode(texts))
    questions = [
        Question("How much to renew a passport?", ("passport",), split="dev"),
        Question("My cows were stolen", ("cattle",), split="test"),
        Question("Write a poem", (), split="test", category="out_of_scope"),
    ]

    def answer(text: str, locale: str | None) -> Reply:
        if text == "Write a poem":
            return Reply(True)
        url = "passport" if "passport" in text else "cattle"
        return Reply(False, [Cited(url)], [Said("Said.", 1)])

    report = ev.evaluate(questions, index=index, answer=answer)
    assert list(report["splits"]) == ["all", "dev", "test"]
    everything = report["splits"]["all"]
    assert (everything["answerable"], everything["unanswerable"]) == (2, 1)
    assert set(everything["retrieval"]) == {"hybrid", "bm25_baseline"}
    assert everything["retrieval"]["hybrid"]["recall_at_1"]["value"] == 1.0
    assert everything["answers"]["refusal_recall"]["value"] == 1.0
    assert report["splits"]["dev"]["retrieval"]["hybrid"]["questions"] == 1
    json.dumps(report)  # plain data all the way down
    alone = ev.evaluate(questions, index=index, baseline=False)
    assert set(alone["splits"]["all"]["retrieval"]) == {"hybrid"}
    assert "answers" not in alone["splits"]["all"]


# --- the shipped GOV.UK questions -----------------------------------------------------------


def test_the_shipped_govuk_questions_are_valid_and_point_at_real_pages() -> None:
    if not GOVUK_PAGES.exists():
        pytest.skip(f"the shared GOV.UK pages are not at {GOVUK_PAGES}")
    questions = ev.load_questions(ev.GOVUK_QUESTIONS)
    pages = {
        row["url"]: row
        for row in map(json.loads, GOVUK_PAGES.read_text().strip().split("\n"))
        if row.get("url")
    }
    answerable = [x for x in questions if x.answerable]
    unanswerable = [x for x in questions if not x.answerable]
    assert len(answerable) >= 150
    assert len(unanswerable) >= 40
    missing = {u for x in answerable for u in x.expected_urls if u not in pages}
    assert not missing
    # Spread over many pages, not a handful; Welsh questions for the Welsh pages.
    assert len({x.expected_urls[0] for x in answerable}) >= 80
    welsh = [x for x in answerable if x.locale == "cy"]
    assert welsh and all(pages[u]["locale"] == "cy" for x in welsh for u in x.expected_urls)
    assert {x.category for x in unanswerable} == {"out_of_scope", "not_covered", "adversarial"}
    # No placeholder page is the answer to anything.
    assert not any(
        "lorem ipsum" in pages[u]["body_html"].lower() for x in answerable for u in x.expected_urls
    )
    # A held-out test split of roughly 30%, in both kinds of question.
    test = [x for x in questions if x.split == "test"]
    assert {x.split for x in questions} == {"dev", "test"}
    assert 0.2 < len(test) / len(questions) < 0.4
    assert any(not x.answerable for x in test)
    assert len({x.question for x in questions}) == len(questions)
