"""The real GOV.UK sample (108 pages: long budgets, Welsh, Arabic, Urdu, Spanish, near-duplicates
and placeholder pages) goes in whole, and a second ingest of it changes nothing."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from conftest import SHARED_DATA
from townhall.core.db import transaction
from townhall.services.assistant import retrieval
from townhall.services.assistant.chunking import MAX_WORDS, MIN_WORDS
from townhall.services.assistant.ingest import ingest
from townhall.services.assistant.models import Chunk, Document
from townhall.settings import Settings

GOVUK = SHARED_DATA / "govuk" / "pages.jsonl"
GOV = "https://www.gov.uk"


# One backend: embedding 2,000 chunks takes over a minute here, and the SQL is the same as
# the small ingest tests, which run on both.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_govuk_sample_is_ingested_whole_then_unchanged(
    engine: Engine, settings: Settings
) -> None:
    if not GOVUK.exists():
        pytest.skip(f"the GOV.UK sample is not at {GOVUK}")
    rows = [json.loads(line) for line in GOVUK.read_text().split("\n") if line.strip()]

    started = time.perf_counter()
    with transaction(engine) as session:
        report = ingest(session, [str(GOVUK)], settings=settings)
    seconds = time.perf_counter() - started
    print(f"\nGOV.UK sample: {len(rows)} pages, {report.chunks} chunks in {seconds:.1f} s")

    duplicates = dict(report.duplicates)
    assert duplicates[f"{GOV}/national-curriculum-with-related-link-overrides"] == (
        f"{GOV}/national-curriculum"
    )
    assert duplicates[
        f"{GOV}/government/news/christmas-2016-prime-ministers-message-from-azerbaijan"
    ] == (f"{GOV}/government/news/christmas-2016-prime-ministers-message")
    # Near, not exact: the two permit pages differ by a couple of characters.
    permit = (
        f"{GOV}/government/publications/tr4-8ee-mr-derek-mears-environmental-permit-application"
        "-advertisement/tr4-8ee-mr-derek-mears-environmental-permit-application"
    )
    assert duplicates[permit + "--1"] == permit
    assert len(report.duplicates) == 9
    placeholders = [name for name, reason in report.skipped if "lorem ipsum" in reason]
    assert len(placeholders) == 3 and len(report.skipped) == 3
    assert report.added == len(rows) - 9 - 3
    assert report.chunks > 1500

    with Session(engine) as session:
        locales = dict(
            session.execute(select(Document.locale, func.count()).group_by(Document.locale)).all()
        )
        assert locales == {"en": 90, "cy": 2, "ar": 2, "ur": 1, "es": 1}
        assert session.scalar(select(func.count()).select_from(Chunk)) == report.chunks
        assert session.scalar(select(func.max(func.length(Chunk.heading)))) <= 1000
        words = [len(text.split()) for text in session.scalars(select(Chunk.text))]
        assert max(words) <= MAX_WORDS + MIN_WORDS // 2
        budget = session.scalars(
            select(Chunk.heading)
            .join(Document)
            .where(Document.title == "Spring Budget 2017")
            .order_by(Chunk.position)
        ).all()
        assert any(h.startswith("1. Economic context and public finances > ") for h in budget)
        index = retrieval.load(session)
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-3)
    found = index.search("How do I renew my adult passport?", k=3)
    assert found[0].url == f"{GOV}/renew-adult-passport"
    welsh = index.search("gwasanaethau ar-lein Cymraeg", k=1, locale="cy")
    assert welsh[0].locale == "cy"

    with transaction(engine) as session:
        again = ingest(session, [str(GOVUK)], settings=settings)
    assert (again.added, again.updated, again.removed, again.chunks) == (0, 0, 0, 0)
    assert again.unchanged == report.added
