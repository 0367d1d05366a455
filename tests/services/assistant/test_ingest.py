"""Ingesting guidance into the knowledge base: incremental, atomic, and honest about bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from conftest import make_settings
from townhall.core.db import transaction
from townhall.core.embeddings import DIMENSIONS, encoder
from townhall.services.assistant import retrieval
from townhall.services.assistant.ingest import IngestReport, ingest, remove
from townhall.services.assistant.models import Chunk, Document
from townhall.settings import Settings

BINS = """<html lang="en"><head><title>Bins - Exampleshire</title>
<script>var tracking = "SCRIPT-SECRET";</script></head><body>
<div class="govuk-cookie-banner">We use cookies</div>
<main><h1>Bin collections</h1>
<h2>Missed collections</h2><p>Report a missed bin within two working days of your collection.</p>
<h2>Bulky waste</h2><p>We collect sofas, fridges and beds for a fee of £35 for three items.</p>
<script>document.write("INLINE-SCRIPT")</script></main></body></html>"""

GARDEN = """---
title: Garden waste permits
team: waste-services
updated: 2024-04-01
---
## Buying a permit

A garden waste permit costs £45 a year and covers one brown bin emptied every fortnight.
"""

WELSH = """# Casgliadau biniau

Rydym yn casglu gwastraff cartref bob wythnos ac ailgylchu bob pythefnos. Rhowch eich biniau
allan erbyn saith o'r gloch y bore ar y diwrnod casglu.
"""


@pytest.fixture
def guidance(tmp_path: Path) -> Path:
    folder = tmp_path / "guidance"
    (folder / "waste").mkdir(parents=True)
    (folder / "bins.html").write_text(BINS)
    (folder / "waste" / "garden.md").write_text(GARDEN)
    (folder / "waste" / "biniau.md").write_text(WELSH)
    return folder


def run(engine: Engine, sources: list[str], settings: Settings, **kwargs: object) -> IngestReport:
    with transaction(engine) as session:
        return ingest(session, sources, settings=settings, **kwargs)  # type: ignore[arg-type]


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(Document)) or 0,
            session.scalar(select(func.count()).select_from(Chunk)) or 0,
            retrieval.current_generation(session),
        )


def test_a_folder_is_ingested_embedded_and_searchable(
    engine: Engine, settings: Settings, guidance: Path
) -> None:
    seen: list[tuple[int, int | None, str]] = []
    report = run(engine, [str(guidance)], settings, progress=lambda *a: seen.append(a))
    assert (report.added, report.updated, report.removed, report.skipped) == (3, 0, 0, [])
    assert report.chunks == 4
    assert seen == [
        (1, 3, "bins.html"),
        (2, 3, "waste/biniau.md"),
        (3, 3, "waste/garden.md"),
        (3, 3, "Embedding 4 passages"),
        (3, 3, "Done"),
    ]

    with Session(engine) as session:
        documents = {d.url: d for d in session.scalars(select(Document))}
        chunks = session.scalars(select(Chunk).order_by(Chunk.id)).all()
        index = retrieval.load(session)
    assert set(documents) == {"file:bins.html", "file:waste/garden.md", "file:waste/biniau.md"}
    garden = documents["file:waste/garden.md"]
    assert (garden.title, garden.owner_team, garden.locale) == (
        "Garden waste permits",
        "waste-services",
        "en",
    )
    assert garden.public_updated_at is not None and garden.public_updated_at.year == 2024
    assert documents["file:waste/biniau.md"].locale == "cy"  # detected: nothing declared it
    assert {d.source for d in documents.values()} == {str(guidance.resolve())}
    assert [c.heading for c in chunks if c.document_id == documents["file:bins.html"].id] == [
        "Missed collections",
        "Bulky waste",
    ]
    for chunk in chunks:
        vector = np.frombuffer(chunk.embedding, dtype="<f4")
        assert vector.shape == (DIMENSIONS,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
        assert chunk.embedding_model == encoder().version
        assert "SCRIPT" not in chunk.text and "cookies" not in chunk.text
    assert counts(engine)[2] == 1

    best = index.search("How much does a garden waste permit cost?", k=1)[0]
    assert (best.url, best.heading) == ("file:waste/garden.md", "Buying a permit")
    best = index.search("sofa collection fee", k=1)[0]
    assert (best.url, best.heading) == ("file:bins.html", "Bulky waste")


def test_re_ingesting_unchanged_guidance_changes_nothing(
    engine: Engine, settings: Settings, guidance: Path
) -> None:
    run(engine, [str(guidance)], settings)
    with Session(engine) as session:
        before = session.execute(select(Chunk.id, Chunk.embedding)).all()
    report = run(engine, [str(guidance) + "/"], settings)
    assert (report.added, report.updated, report.unchanged, report.removed, report.chunks) == (
        0,
        0,
        3,
        0,
        0,
    )
    with Session(engine) as session:
        assert session.execute(select(Chunk.id, Chunk.embedding)).all() == before
    assert counts(engine)[2] == 1  # the index generation did not move


def test_an_edited_page_is_updated_and_its_chunks_replaced(
    engine: Engine, settings: Settings, guidance: Path
) -> None:
    run(engine, [str(guidance)], settings)
    (guidance / "waste" / "garden.md").write_text(GARDEN.replace("£45", "£52"))
    report = run(engine, [str(guidance)], settings)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 2, 0)
    assert report.chunks == 1
    with Session(engine) as session:
        texts = session.scalars(select(Chunk.text)).all()
    assert any("£52" in text for text in texts)
    assert not any("£45" in text for text in texts)
    assert counts(engine) == (3, 4, 2)


def test_a_page_removed_from_its_source_leaves_the_index(
    engine: Engine, settings: Settings, guidance: Path
) -> None:
    run(engine, [str(guidance)], settings)
    with Session(engine) as session:
        bins_id = session.scalar(select(Document.id).where(Document.url == "file:bins.html"))
    (guidance / "bins.html").unlink()
    report = run(engine, [str(guidance)], settings)
    assert (report.removed, report.unchanged) == (1, 2)
    with Session(engine) as session:
        assert session.get(Document, bins_id) is None
        assert session.scalar(select(func.count()).where(Chunk.document_id == bins_id)) == 0
    assert counts(engine) == (2, 2, 2)


def test_other_sources_are_left_alone_on_re_ingest(
    engine: Engine, settings: Settings, guidance: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "parking.md").write_text("# Parking\n\nResident permits cost £30 a year.\n")
    run(engine, [str(guidance), str(other)], settings)
    shutil.rmtree(guidance / "waste")
    report = run(engine, [str(guidance)], settings)
    assert report.removed == 2
    with Session(engine) as session:
        assert set(session.scalars(select(Document.url))) == {"file:bins.html", "file:parking.md"}


def crash_on_call(number: int):  # type: ignore[no-untyped-def]
    calls = []

    def progress(done: int, total: int | None, message: str) -> None:
        calls.append(message)
        if len(calls) == number:
            raise RuntimeError("the worker was stopped")

    return progress


def test_a_crash_part_way_leaves_nothing_half_written(
    engine: Engine, settings: Settings, guidance: Path
) -> None:
    # Calls: three files read, "Embedding 4 passages", then "Done" after every write (and the
    # generation bump) has been flushed to the database.
    for call in (3, 4, 5):
        with pytest.raises(RuntimeError):
            run(engine, [str(guidance)], settings, progress=crash_on_call(call))
        assert counts(engine) == (0, 0, 0)

    run(engine, [str(guidance)], settings)
    (guidance / "waste" / "garden.md").write_text(GARDEN.replace("£45", "£52"))
    (guidance / "bins.html").unlink()
    with pytest.raises(RuntimeError):
        run(engine, [str(guidance)], settings, progress=crash_on_call(4))  # at "Done"
    with Session(engine) as session:
        texts = session.scalars(select(Chunk.text)).all()
    assert any("£45" in text for text in texts) and counts(engine) == (3, 4, 1)


def test_bad_files_are_skipped_by_name_and_keep_their_last_good_version(
    engine: Engine, database_url: str, guidance: Path
) -> None:
    settings = make_settings(database_url, assistant_max_file_bytes=4096)
    (guidance / "leaflet.pdf").write_bytes(b"%PDF-1.7\n% a download that stopped half way")
    (guidance / "huge.html").write_text("<p>" + "word " * 1000 + "</p>")
    report = run(engine, [str(guidance)], settings)
    assert report.added == 3
    assert sorted(name for name, _ in report.skipped) == ["huge.html", "leaflet.pdf"]

    (guidance / "waste" / "garden.md").write_bytes(b"\x00\x01binary\x00junk")
    report = run(engine, [str(guidance)], settings)
    assert ("waste/garden.md", "this is a binary file, not text") in report.skipped
    assert (report.removed, report.unchanged) == (0, 2)
    with Session(engine) as session:
        assert session.scalar(
            select(Document.title).where(Document.url == "file:waste/garden.md")
        ) == ("Garden waste permits")


def test_a_source_that_cannot_be_read_at_all_removes_nothing(
    engine: Engine, settings: Settings, guidance: Path
) -> None:
    run(engine, [str(guidance)], settings)
    moved = guidance.with_name("moved")
    guidance.rename(moved)
    report = run(engine, [str(guidance)], settings)
    assert report.skipped == [(str(guidance), "there is no such file or folder")]
    assert report.removed == 0 and counts(engine)[0] == 3


def test_duplicates_and_placeholders_are_reported_not_stored(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    body = " ".join(f"Rule {i}: bins on street {i} go out on day {i % 5 + 1}." for i in range(40))
    rows = [
        {"url": "https://council.example/bins", "title": "Bins", "body_html": f"<p>{body}</p>"},
        {
            "url": "https://council.example/bins-copy",
            "title": "Bins",
            "body_html": f"<p>{body}</p>",
        },
        {
            "url": "https://council.example/bins-old",
            "title": "Bins (old)",
            "body_html": f"<p>{body.replace('street 7 ', 'road 7 ')}</p>",
        },
        {
            "url": "https://council.example/test",
            "title": "Test page",
            "body_html": "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
            "eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>",
        },
        {
            "url": "https://council.example/bins",
            "title": "Again",
            "body_html": "<p>Other text.</p>",
        },
    ]
    source = tmp_path / "pages.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n{broken\n")
    report = run(engine, [str(source)], settings)
    assert report.added == 1
    assert report.duplicates == [
        ("https://council.example/bins-copy", "https://council.example/bins"),
        ("https://council.example/bins-old", "https://council.example/bins"),
    ]
    assert [name for name, _ in report.skipped] == [
        "pages.jsonl:4",
        "pages.jsonl:5",
        "pages.jsonl:6",
    ]
    assert "lorem ipsum" in report.skipped[0][1]
    assert "already read from pages.jsonl:1" in report.skipped[1][1]
    assert report.as_dict()["duplicates"][0] == (
        "https://council.example/bins-copy",
        "https://council.example/bins",
    )
    json.dumps(report.as_dict())  # the job page keeps it as JSON


def test_remove_takes_one_page_and_its_chunks_out(
    engine: Engine, settings: Settings, guidance: Path
) -> None:
    run(engine, [str(guidance)], settings)
    with transaction(engine) as session:
        assert remove(session, "file:bins.html") is True
        assert remove(session, "file:bins.html") is False
    assert counts(engine) == (2, 2, 2)
