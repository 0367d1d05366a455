"""A few of the demo council's guidance pages, ingested for the answer, API and page tests.

Every database test starts from an empty database, so the pages are ingested into each one. The
real encoder embeds every passage, but only once per process: its vectors are kept by text, so
the second and later ingests cost a fraction of a second instead of several.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sqlalchemy import Engine, select

from townhall.core import auth
from townhall.core.db import transaction
from townhall.core.embeddings import DIMENSIONS, Encoder, encoder
from townhall.services.assistant import DEMO_GUIDANCE
from townhall.services.assistant.ingest import IngestReport, ingest
from townhall.settings import Settings

# file name -> (url from its front matter, owning team)
PAGES: dict[str, tuple[str, str]] = {
    "bin-collection-days": (
        "https://www.exampleshire.gov.uk/bins-and-recycling/collection-days",
        "waste",
    ),
    "missed-bins": ("https://www.exampleshire.gov.uk/bins-and-recycling/missed-bins", "waste"),
    "garden-waste": ("https://www.exampleshire.gov.uk/bins-and-recycling/garden-waste", "waste"),
    "council-tax-bands": (
        "https://www.exampleshire.gov.uk/council-tax/bands-and-charges",
        "council-tax",
    ),
    "single-person-discount": (
        "https://www.exampleshire.gov.uk/council-tax/single-person-discount",
        "council-tax",
    ),
    "blue-badge": ("https://www.exampleshire.gov.uk/parking/blue-badge", "parking"),
}
URLS = {url for url, _ in PAGES.values()}
TEAMS = {
    "waste": "Waste and Recycling",
    "council-tax": "Council Tax",
    "parking": "Parking",
    "customer-services": "Customer Services",
}
DEFAULT_TEAM = "customer-services"


class RememberingEncoder:
    """The real encoder, remembering each text's vector for the rest of the process."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.version = inner.version
        self.seen: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self.seen))
        if new:
            for text, vector in zip(new, self.inner.encode(new, batch_size), strict=True):
                self.seen[text] = vector
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self.seen[t] for t in texts])


@lru_cache(maxsize=1)
def remembering_encoder() -> RememberingEncoder:
    return RememberingEncoder(encoder())


def make_teams(engine: Engine) -> dict[str, int]:
    """The teams that own the pages, and the default team; slug -> id."""
    with transaction(engine) as session:
        ids = {}
        for slug, name in TEAMS.items():
            team = session.scalar(select(auth.Team).where(auth.Team.slug == slug))
            if team is None:
                team = auth.Team(slug=slug, name=name)
                session.add(team)
                session.flush()
            ids[slug] = team.id
        return ids


def seed(engine: Engine, settings: Settings) -> IngestReport:
    """Ingest the pages and make their teams, committed, as the running service would have."""
    make_teams(engine)
    files = [str(DEMO_GUIDANCE / f"{name}.md") for name in PAGES]
    with transaction(engine) as session:
        report = ingest(
            session,
            files,
            settings=settings,
            embed=remembering_encoder(),  # type: ignore[arg-type]
        )
    assert report.added == len(PAGES) and not report.skipped, report.as_dict()
    return report
