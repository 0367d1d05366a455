"""Adding guidance to the knowledge base: read, clean, de-duplicate, chunk, embed, store.

Re-ingesting is incremental: each page's content hash (of everything stored for it, with the
chunking rules and the embedding model's version) says whether it changed, so an unchanged page
costs no embedding. Pages that came from a source earlier but are no longer in it are removed.
All writes go through the caller's session: the caller's transaction commits them all or, if
anything fails part-way, none of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from townhall.core.db import utcnow
from townhall.core.embeddings import Encoder, encoder
from townhall.services.assistant import retrieval
from townhall.services.assistant.chunking import MAX_WORDS, Section, split_long
from townhall.services.assistant.dedupe import Deduper
from townhall.services.assistant.language import detect, locale_for
from townhall.services.assistant.models import Chunk, Document
from townhall.services.assistant.passages import search_text
from townhall.services.assistant.sources import (
    Page,
    Problem,
    SourceError,
    count,
    normalise_source,
    read,
)
from townhall.settings import Settings

log = logging.getLogger("townhall.assistant.ingest")

# Bump when chunking changes what is stored, so every page is re-chunked on the next ingest.
CHUNKING_VERSION = "1"
EMBED_BATCH = 256  # chunks embedded together (sorted by length inside, so padding stays small)
# Texts per model call. On a 2-core machine small batches are much faster than the encoder's
# default of 32 (measured: 4 -> 28 chunks/s, 32 -> 17 chunks/s), as they stay in cache.
MODEL_BATCH = 4

Progress = Callable[[int, int | None, str], None]


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks embedded and written by this ingest (0 when nothing changed)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (url, duplicate of url)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, line or url; reason)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Prepared:
    page: Page
    source: str
    locale: str
    chunks: list[Section]
    content_hash: str


class _Run:
    """One ingest: the pages seen, the ones waiting to be embedded, and the report so far."""

    def __init__(
        self, session: Session, embed: Encoder, report: IngestReport, progress: Progress
    ) -> None:
        self.session = session
        self.embed = embed
        self.report = report
        self.progress = progress
        self.done = 0  # pages and bad files read so far
        self.total: int | None = None
        self.deduper = Deduper()
        self.pending: list[_Prepared] = []
        self.pending_chunks = 0
        self.kept: dict[str, set[str]] = {}  # source -> urls present in it this time
        self.claimed: dict[str, str] = {}  # url -> name of the item that supplied it
        self.existing: dict[str, tuple[int, str, str]] = {
            url: (id_, content_hash, source)
            for id_, url, content_hash, source in session.execute(
                select(Document.id, Document.url, Document.content_hash, Document.source)
            )
        }

    def take(self, page: Page, source: str) -> None:
        if page.url in self.claimed:
            self.report.skipped.append(
                (page.name, f"{page.url} was already read from {self.claimed[page.url]}")
            )
            return
        if len(page.url) > 2000:
            self.report.skipped.append((page.name, "the address is longer than 2,000 characters"))
            return
        body = "\n".join(f"{s.heading}\n{s.text}" for s in page.sections)
        if detect(body, default="") == "la":
            # Latin here is "lorem ipsum": a template or test page nobody should be answered from.
            self.report.skipped.append((page.name, "placeholder text (lorem ipsum), not guidance"))
            return
        original = self.deduper.original_of(page.url, body)
        if original is not None:
            self.report.duplicates.append((page.url, original))
            return
        self.claimed[page.url] = page.name
        self.kept.setdefault(source, set()).add(page.url)
        locale = locale_for(page.locale, f"{page.title}\n{body}")
        chunks = split_long(page.sections, MAX_WORDS)
        digest = _content_hash(page, locale, chunks, self.embed.version)
        known = self.existing.get(page.url)
        if known is not None and known[1] == digest:
            self.report.unchanged += 1
            if known[2] != source:  # the same page, now named by another source
                document = self.session.get(Document, known[0])
                if document is not None:
                    document.source = source
            return
        self.pending.append(_Prepared(page, source, locale, chunks, digest))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= EMBED_BATCH:
            self.flush()

    def flush(self) -> None:
        """Embed the waiting pages' chunks and write them (in the caller's transaction)."""
        if not self.pending:
            return
        plural = "" if self.pending_chunks == 1 else "s"
        self.progress(self.done, self.total, f"Embedding {self.pending_chunks} passage{plural}")
        texts = [
            search_text(item.page.title, chunk.heading, chunk.text)
            for item in self.pending
            for chunk in item.chunks
        ]
        vectors = self.embed.encode(texts, batch_size=MODEL_BATCH)
        row = 0
        now = utcnow()
        for item in self.pending:
            page = item.page
            known = self.existing.get(page.url)
            document = self.session.get(Document, known[0]) if known else None
            if document is None:
                document = Document(url=page.url)
                self.session.add(document)
                self.report.added += 1
            else:
                self.session.execute(delete(Chunk).where(Chunk.document_id == document.id))
                self.report.updated += 1
            document.title = page.title[:500]
            document.locale = item.locale
            document.source = item.source
            document.content_hash = item.content_hash
            document.owner_team = page.owner_team
            document.public_updated_at = page.public_updated_at
            document.ingested_at = now
            self.session.flush()
            for position, chunk in enumerate(item.chunks):
                self.session.add(
                    Chunk(
                        document_id=document.id,
                        position=position,
                        heading=chunk.heading[:1000],
                        text=chunk.text,
                        locale=item.locale,
                        embedding=vectors[row].astype("<f4").tobytes(),
                        embedding_model=self.embed.version,
                    )
                )
                row += 1
            self.existing[page.url] = (document.id, item.content_hash, item.source)
            self.report.chunks += len(item.chunks)
        self.session.flush()
        self.pending = []
        self.pending_chunks = 0

    def remove_missing(self, source: str, protected: set[str]) -> None:
        """Delete the pages this source gave before but not now (its chunks go with them)."""
        keep = self.kept.get(source, set()) | protected
        gone = [
            (id_, url)
            for id_, url in self.session.execute(
                select(Document.id, Document.url).where(Document.source == source)
            )
            if url not in keep
        ]
        for start in range(0, len(gone), 500):
            ids = [id_ for id_, _ in gone[start : start + 500]]
            self.session.execute(delete(Chunk).where(Chunk.document_id.in_(ids)))
            self.session.execute(delete(Document).where(Document.id.in_(ids)))
        for _, url in gone:
            self.existing.pop(url, None)
        self.report.removed += len(gone)


def ingest(
    session: Session,
    sources: list[str],
    *,
    settings: Settings,
    embed: Encoder | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Add, update and remove guidance from `sources` (folders, files, JSON-lines, sites).

    `progress(done, total, message)` is called for every page or bad file read; `total` is None
    while it is unknown (a website). Duplicates are found among the pages of one ingest.
    """
    names = list(sources)
    report = IngestReport()
    run = _Run(session, embed or encoder(), report, progress or _no_progress)
    totals = [count(name) for name in names]
    run.total = None if any(t is None for t in totals) else sum(t or 0 for t in totals)
    for name in names:
        source = normalise_source(name)
        protected: set[str] = set()
        read_any = failed_any = False
        try:
            for item in read(name, settings):
                run.done += 1
                run.progress(run.done, run.total, item.name)
                if isinstance(item, Problem):
                    report.skipped.append((item.name, item.reason))
                    failed_any = True
                    if item.url:
                        protected.add(item.url)
                    continue
                read_any = True
                run.take(item, source)
        except SourceError as error:
            report.skipped.append((name, error.message.removeprefix(f"{name}: ")))
            continue
        run.flush()
        # A source that yielded nothing but errors is broken, not empty: keep what it gave before.
        if read_any or not failed_any:
            run.remove_missing(source, protected)
    run.flush()
    if report.changed:
        retrieval.bump_generation(session)
        session.flush()
    run.progress(run.done, run.total if run.total is not None else run.done, "Done")
    log.info(
        "assistant ingest",
        extra={k: v for k, v in report.as_dict().items() if isinstance(v, int)},
    )
    return report


def _no_progress(done: int, total: int | None, message: str) -> None:
    pass


def remove(session: Session, url: str) -> bool:
    """Take one page (and its chunks) out of the knowledge base; False if it was not there."""
    document = session.scalar(select(Document).where(Document.url == url))
    if document is None:
        return False
    session.execute(delete(Chunk).where(Chunk.document_id == document.id))
    session.delete(document)
    retrieval.bump_generation(session)
    session.flush()
    return True


def _content_hash(page: Page, locale: str, chunks: list[Section], model: str) -> str:
    stored = [
        CHUNKING_VERSION,
        model,
        page.title,
        locale,
        page.owner_team,
        page.public_updated_at.isoformat() if page.public_updated_at else None,
        [[chunk.heading, chunk.text] for chunk in chunks],
    ]
    return hashlib.sha256(json.dumps(stored, ensure_ascii=False).encode()).hexdigest()
