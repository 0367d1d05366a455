"""What can be ingested, read into pages: folders, files, JSON-lines exports and websites.

`read(source)` yields a `Page` for every page it can read and a `Problem` for every file (or
JSON line, or web page) it cannot, so one bad file is reported by name and the rest go in.
A source that cannot be read at all (no such folder, site unreachable) raises `SourceError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from townhall.core.errors import TownhallError
from townhall.services.assistant import crawl
from townhall.services.assistant.chunking import one_line
from townhall.services.assistant.crawl import normalise_url
from townhall.services.assistant.formats import (
    BadFile,
    Page,
    docx_page,
    html_page,
    markdown_page,
    parse_date,
    pdf_page,
)
from townhall.settings import Settings

HTML_SUFFIXES = {".html", ".htm"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
SUFFIXES = HTML_SUFFIXES | MARKDOWN_SUFFIXES | {".pdf", ".docx", ".jsonl"}
REQUIRED_FIELDS = ("url", "title", "body_html")


class SourceError(TownhallError):
    """A whole source cannot be read: nothing from it is added or removed."""


@dataclass
class Problem:
    name: str
    reason: str
    url: str | None = None  # the page this would have been, if known: its old version is kept


@dataclass
class Context:
    root: Path
    settings: Settings


def is_url(source: str) -> bool:
    return source.strip().lower().startswith(("http://", "https://"))


def normalise_source(source: str) -> str:
    """What is stored as Document.source: an absolute path, or a normalised URL."""
    if is_url(source):
        return normalise_url(source)
    return str(Path(source).expanduser().resolve())


def count(source: str) -> int | None:
    """How many pages (files, JSON lines) a source holds, when that is known before reading."""
    if is_url(source):
        return None
    path = Path(source).expanduser()
    if path.is_file():
        return _lines(path) if path.suffix.lower() == ".jsonl" else 1
    if path.is_dir():
        return sum(_lines(f) if f.suffix.lower() == ".jsonl" else 1 for f in _files(path))
    return None


def _lines(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def _files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def read(source: str, settings: Settings) -> Iterator[Page | Problem]:
    if is_url(source):
        yield from _read_site(source, settings)
        return
    path = Path(source).expanduser()
    if path.is_dir():
        context = Context(path, settings)
        for file in _files(path):
            yield from _read_file(file, context)
    elif path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            kinds = ", ".join(sorted(SUFFIXES))
            raise SourceError(f"{source}: not a file type that can be ingested ({kinds})")
        yield from _read_file(path, Context(path.parent, settings))
    else:
        raise SourceError(f"{source}: there is no such file or folder")


def file_url(path: Path, context: Context) -> str:
    relative = path.relative_to(context.root).as_posix()
    base = context.settings.assistant_base_url
    if base:
        return base.rstrip("/") + "/" + quote(relative)
    return "file:" + relative


def _read_file(path: Path, context: Context) -> Iterator[Page | Problem]:
    name = path.relative_to(context.root).as_posix()
    suffix = path.suffix.lower()
    limit = context.settings.assistant_max_file_bytes
    if suffix == ".jsonl":
        yield from _read_jsonl(path, name, limit)
        return
    url = file_url(path, context)
    try:
        size = path.stat().st_size
        if size > limit:
            raise BadFile(
                f"the file is {_megabytes(size)}, over the limit of {_megabytes(limit)} "
                "(setting assistant_max_file_bytes)"
            )
        data = path.read_bytes()
        if suffix in HTML_SUFFIXES:
            page = html_page(data, url, fallback_title=_title_from_name(path))
        elif suffix in MARKDOWN_SUFFIXES:
            page = markdown_page(data, url, fallback_title=_title_from_name(path))
        elif suffix == ".pdf":
            page = pdf_page(data, url, fallback_title=_title_from_name(path))
        else:
            page = docx_page(data, url, fallback_title=_title_from_name(path))
    except BadFile as error:
        yield Problem(name, str(error), url)
        return
    except OSError as error:
        yield Problem(name, f"cannot be read: {error.strerror or error}", url)
        return
    page.name = name
    yield page


def _megabytes(size: int) -> str:
    if size < 1_048_576:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1_048_576:.1f} MB"


def _title_from_name(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


# JSON lines -----------------------------------------------------------------------------------


def _read_jsonl(path: Path, name: str, limit: int) -> Iterator[Page | Problem]:
    """One page a line, as GOV.UK's content exports: url, title, body_html; locale, dates."""
    try:
        lines = path.open("rb")
    except OSError as error:
        yield Problem(name, f"cannot be read: {error.strerror or error}")
        return
    with lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            where = f"{name}:{number}"
            try:
                page = _jsonl_page(raw, limit)
            except BadFile as error:
                yield Problem(where, str(error), error.url)
                continue
            page.name = where
            yield page


def _jsonl_page(raw: bytes, limit: int) -> Page:
    if len(raw) > limit:
        raise BadFile(
            f"the line is {_megabytes(len(raw))}, over the limit of {_megabytes(limit)} "
            "(setting assistant_max_file_bytes)"
        )
    try:
        row = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadFile(f"not valid JSON ({error})") from None
    if not isinstance(row, dict):
        raise BadFile("not a JSON object")
    missing = [key for key in REQUIRED_FIELDS if not isinstance(row.get(key), str) or not row[key]]
    if missing:
        raise BadFile("missing required field " + ", ".join(f"`{key}`" for key in missing))
    url = row["url"].strip()
    if len(url) > 2000:
        raise BadFile("the url is longer than 2,000 characters")
    team = row.get("team") or row.get("owner_team")
    locale = row.get("locale")
    try:
        page = html_page(
            row["body_html"], url, fallback_title=row["title"], title=one_line(row["title"])
        )
        page.public_updated_at = parse_date(row.get("public_updated_at"), "public_updated_at")
    except BadFile as error:
        raise BadFile(str(error), url) from None  # its last good version is kept
    page.locale = locale if isinstance(locale, str) else page.locale
    page.owner_team = str(team)[:64] if team else None
    return page


# Websites -------------------------------------------------------------------------------------


def _read_site(source: str, settings: Settings) -> Iterator[Page | Problem]:
    pages = crawl.crawl(
        source,
        delay=settings.assistant_crawl_delay_seconds,
        max_pages=settings.assistant_crawl_max_pages,
        max_bytes=settings.assistant_max_file_bytes,
    )
    try:
        for item in pages:
            if isinstance(item, crawl.Failed):
                yield Problem(item.url, item.reason, item.url)
                continue
            try:
                page = html_page(item.body, item.url, fallback_title=item.url)
            except BadFile as error:
                yield Problem(item.url, str(error), item.url)
                continue
            page.name = item.url
            yield page
    except crawl.CrawlError as error:
        raise SourceError(str(error)) from None
