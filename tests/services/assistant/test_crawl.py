"""The polite crawler, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine, func, select

from conftest import make_settings
from townhall.core.db import transaction
from townhall.services.assistant.crawl import USER_AGENT, CrawlError, Failed, Fetched, crawl
from townhall.services.assistant.ingest import ingest
from townhall.services.assistant.models import Chunk, Document
from townhall.services.assistant.sources import Page, SourceError, read

HTML = "text/html; charset=utf-8"


@dataclass
class Site:
    """A website: path -> (status, content type, body); every request is logged."""

    pages: dict[str, tuple[int, str, str | bytes]] = field(default_factory=dict)
    log: list[tuple[str, float, str]] = field(default_factory=list)  # path, time, user agent
    url: str = ""

    def page(self, path: str, body: str, status: int = 200, kind: str = HTML) -> None:
        self.pages[path] = (status, kind, body)

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.log]


def html(title: str, body: str = "", links: tuple[str, ...] = ()) -> str:
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    return (
        f"<html lang='en'><head><title>{title} - Council</title></head><body>"
        f"<header><nav>{anchors}</nav></header><main><h1>{title}</h1>"
        f"<p>{body or 'About ' + title.lower() + ' in the borough.'}</p></main></body></html>"
    )


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[ThreadingHTTPServer] = []

    def start(site: Site) -> Site:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.log.append((self.path, time.monotonic(), self.headers.get("User-Agent", "")))
                status, kind, body = site.pages.get(self.path, (404, "text/plain", "not found"))
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", kind)
                if status in (301, 302):
                    self.send_header("Location", str(body))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        site.url = f"http://127.0.0.1:{server.server_address[1]}"
        return site

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def fetched(items: list[Fetched | Failed]) -> list[str]:
    return [item.url for item in items if isinstance(item, Fetched)]


def test_robots_disallow_the_host_boundary_and_sitemaps_are_obeyed(serve) -> None:  # type: ignore[no-untyped-def]
    elsewhere = serve(Site())
    elsewhere.page("/offsite", html("Offsite"))
    site = serve(Site())
    base = site.url
    site.page(
        "/robots.txt",
        "User-agent: *\nDisallow: /private/\n\nSitemap: " + base + "/sitemaps/index.xml\n",
        kind="text/plain",
    )
    links = (
        "/bins",
        "/private/secret",
        elsewhere.url + "/offsite",
        "/leaflet.pdf",
        "/data",
        "/missing",
        "/big",
        "/moved",
        "mailto:help@council.example",
        "#content",
    )
    site.page("/", html("Home", links=links))
    site.page("/bins", html("Bins", links=("/", "/bins#when", "/bins")))
    site.page("/private/secret", html("Secret"))
    site.page("/data", '{"not": "html"}', kind="application/json")
    site.page("/big", html("Big", "word " * 5000))
    site.page("/moved", "/council-tax", status=301)
    site.page("/council-tax", html("Council tax"))
    site.page(
        "/sitemaps/index.xml",
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemaps/pages.xml</loc></sitemap></sitemapindex>",
        kind="application/xml",
    )
    site.page(
        "/sitemaps/pages.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/orphan</loc></url><url><loc>{base}/private/listed</loc></url>"
        f"<url><loc>{elsewhere.url}/offsite</loc></url></urlset>",
        kind="application/xml",
    )
    site.page("/orphan", html("Orphan", "Only the sitemap links to this page."))

    items = list(crawl(base, delay=0.01, max_pages=50, max_bytes=8000))

    assert sorted(fetched(items)) == sorted(
        f"{base}{path}" for path in ("/", "/bins", "/council-tax", "/orphan")
    )
    assert [(i.url, i.reason) for i in items if isinstance(i, Failed)] == [
        (f"{base}/big", "could not be fetched (too large)")
    ]
    requested = site.paths()
    assert requested[0] == "/robots.txt"
    assert not [path for path in requested if path.startswith("/private/")]
    assert "/leaflet.pdf" not in requested  # not a page: never fetched
    assert requested.count("/bins") == 1  # fragments and repeats are one page
    assert elsewhere.log == []  # another host is never visited
    assert {agent for _, _, agent in site.log} == {USER_AGENT}
    assert "Townhall" in USER_AGENT


def test_requests_are_spaced_by_the_delay_setting(serve) -> None:  # type: ignore[no-untyped-def]
    site = serve(Site())
    site.page("/", html("Home", links=("/a", "/b", "/c")))
    for path in ("/a", "/b", "/c"):
        site.page(path, html(path))
    assert len(fetched(list(crawl(site.url, delay=0.2, max_pages=10, max_bytes=10**6)))) == 4
    times = [at for _, at, _ in site.log]
    assert len(times) == 6  # robots.txt, /, /sitemap.xml (missing), /a, /b, /c
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.19


def test_crawl_delay_in_robots_txt_is_honoured(serve) -> None:  # type: ignore[no-untyped-def]
    site = serve(Site())
    site.page("/robots.txt", "User-agent: *\nCrawl-delay: 1\n", kind="text/plain")
    site.page("/", html("Home", links=("/a",)))
    site.page("/a", html("A"))
    list(crawl(site.url, delay=0.01, max_pages=10, max_bytes=10**6))
    times = [at for _, at, _ in site.log]
    assert len(times) == 4
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.95


def test_a_sitemap_source_is_the_complete_list_of_pages(serve) -> None:  # type: ignore[no-untyped-def]
    site = serve(Site())
    site.page("/", html("Home", links=("/not-listed",)))
    site.page("/listed", html("Listed", links=("/not-listed",)))
    site.page("/not-listed", html("Not listed"))
    site.page(
        "/sitemap.xml",
        f"<urlset><url><loc>{site.url}/listed</loc></url><url><loc>{site.url}/</loc></url></urlset>",
        kind="text/xml",
    )
    items = list(crawl(site.url + "/sitemap.xml", delay=0.01, max_pages=10, max_bytes=10**6))
    assert fetched(items) == [f"{site.url}/listed", f"{site.url}/"]
    assert "/not-listed" not in site.paths()


def test_the_page_cap_limits_the_crawl(serve) -> None:  # type: ignore[no-untyped-def]
    site = serve(Site())
    site.page("/", html("Home", links=tuple(f"/p{i}" for i in range(20))))
    for i in range(20):
        site.page(f"/p{i}", html(f"Page {i}"))
    assert len(fetched(list(crawl(site.url, delay=0.0, max_pages=5, max_bytes=10**6)))) == 5


def test_noindex_pages_are_not_taken_and_nofollow_links_not_followed(serve) -> None:  # type: ignore[no-untyped-def]
    site = serve(Site())
    site.page(
        "/",
        '<html><head><meta name="robots" content="noindex"></head><body>'
        '<a href="/a">a</a> <a rel="nofollow" href="/b">b</a></body></html>',
    )
    site.page("/a", html("A"))
    site.page("/b", html("B"))
    assert fetched(list(crawl(site.url, delay=0.0, max_pages=10, max_bytes=10**6))) == [
        f"{site.url}/a"
    ]
    assert "/b" not in site.paths()


def test_a_site_that_forbids_townhall_or_cannot_be_reached_fails_whole(serve) -> None:  # type: ignore[no-untyped-def]
    site = serve(Site())
    site.page("/robots.txt", "User-agent: Townhall\nDisallow: /\n", kind="text/plain")
    site.page("/", html("Home"))
    with pytest.raises(CrawlError, match=r"robots\.txt does not allow"):
        list(crawl(site.url, delay=0.0, max_pages=10, max_bytes=10**6))
    assert site.paths() == ["/robots.txt"]

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings("sqlite://", assistant_crawl_delay_seconds=0.0)
    with pytest.raises(SourceError, match="cannot be reached"):
        list(read(f"http://127.0.0.1:{port}/", settings))


def test_crawled_pages_become_pages_with_their_language(serve) -> None:  # type: ignore[no-untyped-def]
    site = serve(Site())
    site.page("/", html("Home", links=("/cy",)))
    site.page(
        "/cy",
        "<html lang='cy'><body><main><h1>Biniau</h1><h2>Casgliadau</h2>"
        "<p>Rydym yn casglu biniau bob wythnos.</p></main></body></html>",
    )
    settings = make_settings("sqlite://", assistant_crawl_delay_seconds=0.0)
    pages = [item for item in read(site.url, settings) if isinstance(item, Page)]
    welsh = next(page for page in pages if page.url.endswith("/cy"))
    assert (welsh.title, welsh.locale) == ("Biniau", "cy")
    assert [(s.heading, s.text) for s in welsh.sections] == [
        ("Casgliadau", "Rydym yn casglu biniau bob wythnos.")
    ]


def test_a_website_is_ingested_and_a_page_gone_from_it_leaves_the_index(  # type: ignore[no-untyped-def]
    serve, engine: Engine, database_url: str
) -> None:
    site = serve(Site())
    site.page(
        "/", html("Home", "Welcome to the council website.", links=("/bins", "/tax", "/flaky"))
    )
    site.page("/bins", html("Bins", "Bins are collected every Monday morning."))
    site.page("/tax", html("Council tax", "Pay your council tax by direct debit."))
    site.page("/flaky", html("Flaky", "This page is sometimes down."))
    settings = make_settings(database_url, assistant_crawl_delay_seconds=0.0)

    with transaction(engine) as session:
        first = ingest(session, [site.url], settings=settings)
    assert (first.added, first.skipped) == (4, [])

    site.page("/tax", "gone", status=404, kind="text/plain")
    site.page("/flaky", "down", status=503, kind="text/plain")
    with transaction(engine) as session:
        second = ingest(session, [site.url], settings=settings)
    assert (second.added, second.updated, second.unchanged, second.removed) == (0, 0, 2, 1)
    assert second.skipped == [(f"{site.url}/flaky", "the server answered 503")]
    with transaction(engine) as session:
        urls = set(session.scalars(select(Document.url)))
        orphans = session.scalar(
            select(func.count())
            .select_from(Chunk)
            .where(Chunk.document_id.not_in(select(Document.id)))
        )
    # The page that is gone is removed; the one that failed keeps its last good version.
    assert urls == {f"{site.url}/", f"{site.url}/bins", f"{site.url}/flaky"}
    assert orphans == 0
