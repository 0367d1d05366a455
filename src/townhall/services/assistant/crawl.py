"""A polite crawler for a public body's own website.

Politeness is the point: robots.txt is read first and obeyed (Disallow, Crawl-delay,
Request-rate), requests are spaced by at least the configured delay, only the starting host is
visited, every request names Townhall in its User-Agent, and page size, page count and time are
capped. Pages come from the links on the site and from its sitemaps (sitemap indexes too); a
sitemap given as the start is taken as the complete list of pages.
"""

from __future__ import annotations

import gzip
import io
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup

from townhall import __version__
from townhall.services.assistant.chunking import soup_of

USER_AGENT = (
    f"Townhall/{__version__} (citizen-assistant guidance crawler for a UK public body; "
    "obeys robots.txt)"
)
HTML_TYPES = ("text/html", "application/xhtml+xml")
TIMEOUT_SECONDS = 15.0
MAX_ROBOTS_DELAY = 60.0  # a larger Crawl-delay would stall an ingest for hours; use the cap
MAX_SITEMAPS = 50
REDIRECTS = {301, 302, 303, 307, 308}
GONE = {404, 410}  # the page was removed: it leaves the index
# Links to these are files, not pages: they are not fetched at all.
_FILE_EXTENSIONS = (
    "pdf doc docx odt xls xlsx ods csv zip gz jpg jpeg png gif svg webp ico mp3 mp4 avi mov "
    "css js json ics xml rss atom txt rtf ppt pptx"
)
NOT_PAGES = frozenset(_FILE_EXTENSIONS.split())


class CrawlError(Exception):
    """The site cannot be crawled at all (unreachable, or its start page is missing)."""


@dataclass(frozen=True)
class Fetched:
    url: str
    body: bytes


@dataclass(frozen=True)
class Failed:
    url: str
    reason: str


@dataclass
class _Response:
    status: int
    url: str
    headers: httpx.Headers
    body: bytes = b""
    wanted: bool = True  # False when the content type was not one asked for


class _TooLarge(Exception):
    pass


class Crawler:
    def __init__(
        self,
        start: str,
        *,
        delay: float,
        max_pages: int,
        max_bytes: int,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.start = normalise_url(start)
        parts = urlsplit(self.start)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.delay = delay
        self.max_pages = max_pages
        self.max_bytes = max_bytes
        self.robots = RobotFileParser()
        self.requests = 0
        self.sitemaps = 0
        self.last: float | None = None  # when the last response ended (monotonic clock)
        self.client = httpx.Client(
            headers={"User-Agent": USER_AGENT}, timeout=timeout, follow_redirects=False
        )
        self.queue: deque[str] = deque()
        self.seen: set[str] = set()

    def close(self) -> None:
        self.client.close()

    # Requests ------------------------------------------------------------------------------

    @contextmanager
    def _polite(self) -> Iterator[None]:
        """Wait until `delay` has passed since the last response ended, then make a request."""
        if self.last is not None:
            pause = self.last + self.delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self.requests += 1
        try:
            yield
        finally:
            self.last = time.monotonic()

    def fetch(self, url: str, types: tuple[str, ...] | None = None) -> _Response:
        """GET with the politeness delay and the size cap; the body only if 200 and wanted."""
        with self._polite(), self.client.stream("GET", url) as response:
            result = _Response(response.status_code, str(response.url), response.headers)
            if response.status_code != 200:
                return result
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if types is not None and content_type not in types:
                result.wanted = False
                return result
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise _TooLarge
            body = bytearray()
            for piece in response.iter_bytes():
                body.extend(piece)
                if len(body) > self.max_bytes:
                    raise _TooLarge
            result.body = bytes(body)
            return result

    def same_host(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" == (
            self.origin
        )

    def allowed(self, url: str) -> bool:
        return self.same_host(url) and self.robots.can_fetch(USER_AGENT, url)

    def enqueue(self, url: str) -> None:
        url = normalise_url(url)
        if url not in self.seen and self.allowed(url) and not _not_a_page(url):
            self.seen.add(url)
            self.queue.append(url)

    # robots.txt and sitemaps ---------------------------------------------------------------

    def read_robots(self) -> None:
        url = self.origin + "/robots.txt"
        try:
            with self._polite():
                # robots.txt may redirect (RFC 9309 allows following up to five).
                response = self.client.get(url, follow_redirects=True)
        except httpx.HTTPError as error:
            raise CrawlError(f"{self.origin} cannot be reached ({_describe(error)})") from None
        if response.status_code in (401, 403) or response.status_code >= 500:
            # RFC 9309: an unreadable robots.txt (server error) means "crawl nothing" for now.
            self.robots.parse(["User-agent: *", "Disallow: /"])
        elif response.status_code >= 400:
            self.robots.parse([])  # no robots.txt: everything is allowed
        else:
            self.robots.parse(response.text[: self.max_bytes].splitlines())
        asked = self.robots.crawl_delay(USER_AGENT)
        rate = self.robots.request_rate(USER_AGENT)
        wanted = max(float(asked or 0), rate.seconds / rate.requests if rate else 0.0)
        self.delay = max(self.delay, min(wanted, MAX_ROBOTS_DELAY))

    def sitemap_pages(self, url: str, depth: int = 0) -> list[str]:
        """Page addresses listed in a sitemap, following sitemap indexes (to a limit)."""
        if depth > 3 or not self.allowed(url) or self.sitemaps >= MAX_SITEMAPS:
            return []
        self.sitemaps += 1
        try:
            response = self.fetch(url)
        except (httpx.HTTPError, _TooLarge):
            if depth == 0 and url == self.start:
                raise
            return []
        if response.status != 200:
            if depth == 0 and url == self.start:
                raise CrawlError(f"{url}: the server answered {response.status}")
            return []
        kind, locations = _parse_sitemap(response.body, self.max_bytes)
        if kind == "index":
            found: list[str] = []
            for location in locations:
                found.extend(self.sitemap_pages(urljoin(url, location), depth + 1))
            return found
        return [urljoin(url, location) for location in locations]

    # The crawl ------------------------------------------------------------------------------

    def pages(self) -> Iterator[Fetched | Failed]:
        self.read_robots()
        if not self.allowed(self.start):
            raise CrawlError(f"{self.start}: robots.txt does not allow Townhall to read it")
        if urlsplit(self.start).path.lower().endswith((".xml", ".xml.gz")):
            # A sitemap given as the source is the complete list of its pages.
            try:
                listed = self.sitemap_pages(self.start)
            except (httpx.HTTPError, _TooLarge) as error:
                raise CrawlError(f"{self.start} cannot be read ({_describe(error)})") from None
            for page in listed:
                self.enqueue(page)
            if not self.queue:
                raise CrawlError(f"{self.start}: the sitemap lists no pages on this site")
            yield from self._crawl(follow_links=False)
            return
        self.enqueue(self.start)
        yield from self._crawl(follow_links=True)

    def _crawl(self, *, follow_links: bool) -> Iterator[Fetched | Failed]:
        fetched = 0
        yielded: set[str] = set()
        sitemaps_read = not follow_links
        while self.queue and fetched < self.max_pages:
            url = self.queue.popleft()
            fetched += 1
            first = url == self.start
            try:
                response = self.fetch(url, HTML_TYPES)
            except (_TooLarge, httpx.HTTPError) as error:
                if first:
                    raise CrawlError(f"{url} cannot be read ({_describe(error)})") from None
                yield Failed(url, f"could not be fetched ({_describe(error)})")
                continue
            if response.status in REDIRECTS:
                target = normalise_url(urljoin(url, response.headers.get("location", "")))
                if first and not self.same_host(target):
                    # Typically http -> https or a new domain: crawling nothing would look like
                    # every page had gone, and remove them all.
                    raise CrawlError(f"{url} redirects to {target}: ingest that address instead")
                self.enqueue(target)
                if first:
                    self.start = target
                continue
            if response.status != 200:
                if first:
                    raise CrawlError(f"{url}: the server answered {response.status}")
                if response.status not in GONE:
                    yield Failed(url, f"the server answered {response.status}")
                continue
            if response.wanted:
                soup = soup_of(response.body)
                directives = _robots_directives(soup, response.headers)
                if follow_links and "nofollow" not in directives:
                    for link in _links(soup, url):
                        self.enqueue(link)
                address = _canonical(soup, url) or url
                if not self.same_host(address):
                    address = url
                if "noindex" not in directives and address not in yielded:
                    yielded.add(address)
                    self.seen.add(address)
                    yield Fetched(address, response.body)
            if not sitemaps_read:
                sitemaps_read = True
                for sitemap in self.robots.site_maps() or [self.origin + "/sitemap.xml"]:
                    for page in self.sitemap_pages(sitemap, depth=1):
                        self.enqueue(page)
        if not yielded:
            raise CrawlError(f"{self.start}: no pages could be read from the site")


def crawl(
    start: str,
    *,
    delay: float,
    max_pages: int,
    max_bytes: int,
    timeout: float = TIMEOUT_SECONDS,
) -> Iterator[Fetched | Failed]:
    """Pages of the site at `start` (or listed by the sitemap at `start`), politely."""
    crawler = Crawler(start, delay=delay, max_pages=max_pages, max_bytes=max_bytes, timeout=timeout)
    try:
        yield from crawler.pages()
    finally:
        crawler.close()


def normalise_url(url: str) -> str:
    """Scheme and host lower case, no fragment, no default port, "/" for an empty path."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def _describe(error: BaseException) -> str:
    if isinstance(error, _TooLarge):
        return "too large"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return type(error).__name__


def _not_a_page(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return "." in path.rsplit("/", 1)[-1] and path.rsplit(".", 1)[-1] in NOT_PAGES


def _links(soup: BeautifulSoup, base: str) -> Iterator[str]:
    tag = soup.find("base", href=True)
    if tag is not None:
        base = urljoin(base, str(tag.get("href")))
    for anchor in soup.find_all("a", href=True):
        if "nofollow" in (anchor.get("rel") or []):
            continue
        href = str(anchor.get("href")).strip()
        if href and not href.startswith(("#", "mailto:", "tel:", "javascript:")):
            yield urljoin(base, href)


def _canonical(soup: BeautifulSoup, base: str) -> str | None:
    for link in soup.find_all("link", href=True):
        if "canonical" in (link.get("rel") or []):
            return normalise_url(urljoin(base, str(link.get("href"))))
    return None


def _robots_directives(soup: BeautifulSoup, headers: httpx.Headers) -> set[str]:
    """`noindex` / `nofollow` from <meta name="robots"> (or "townhall") and X-Robots-Tag."""
    values = [headers.get("x-robots-tag", "")]
    for meta in soup.find_all("meta", attrs={"name": True, "content": True}):
        if str(meta.get("name")).lower() in ("robots", "townhall"):
            values.append(str(meta.get("content")))
    words = {w.strip().lower() for value in values for w in value.split(",")}
    if "none" in words:
        words |= {"noindex", "nofollow"}
    return words


def _parse_sitemap(body: bytes, max_bytes: int) -> tuple[str, list[str]]:
    """("index" | "urls", locations) from an XML sitemap, gzipped or not, or a text sitemap."""
    from lxml import etree

    if body[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as unzipped:
            body = unzipped.read(max_bytes + 1)[:max_bytes]
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"<"):
        lines = stripped.decode("utf-8", "replace").splitlines()
        return "urls", [line.strip() for line in lines if line.strip().startswith("http")]
    # No entities, no DTDs, no network: a sitemap is untrusted input.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(stripped, parser)
    except etree.XMLSyntaxError:
        return "urls", []
    kind = "index" if etree.QName(root).localname == "sitemapindex" else "urls"
    locations = [
        (element.text or "").strip()
        for element in root.iter()
        if isinstance(element.tag, str) and etree.QName(element).localname == "loc"
    ]
    return kind, [location for location in locations if location]
