"""Pages into sections under their headings, and sections into chunks small enough to embed.

A section is the text under one heading, with the path of headings above it ("Apply > Who can
apply"), so a passage can be cited to the exact place on the page. Site chrome (navigation,
cookie banners, breadcrumbs, footers) and anything executable are dropped before text is taken.
Tables become one line per row ("Header: value; Header: value"), which reads well on its own when
a chunk boundary falls inside a table. Chunks are at most ~180 words so that BM25 and citations
stay on point; the embedding model reads the first 128 tokens of each (townhall.core.embeddings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag

MAX_WORDS = 180
MIN_WORDS = 40  # a trailing chunk shorter than this is merged into (or balanced with) the last

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}

# Never text: executable, embedded or interactive.
_DROPPED = (
    "script style noscript template nav form button input select textarea iframe object embed "
    "svg canvas dialog footer"
)
DROP_TAGS = _DROPPED.split()

# Site chrome, by class or role. GOV.UK's design system and its publishing "gem" components first.
CHROME = ", ".join(
    [
        ".govuk-header",
        ".govuk-footer",
        ".govuk-breadcrumbs",
        ".gem-c-breadcrumbs",
        ".govuk-skip-link",
        ".gem-c-skip-link",
        ".govuk-cookie-banner",
        ".gem-c-cookie-banner",
        "#global-cookie-message",
        ".cookie-banner",
        "#cookie-banner",
        ".govuk-phase-banner",
        ".gem-c-phase-banner",
        ".govuk-back-link",
        ".govuk-pagination",
        ".gem-c-pagination",
        ".gem-c-contextual-sidebar",
        ".gem-c-related-navigation",
        ".gem-c-contextual-footer",
        ".gem-c-contents-list",
        ".gem-c-print-link",
        ".gem-c-feedback",
        ".gem-c-share-links",
        ".gem-c-layout-super-navigation-header",
        ".gem-c-single-page-notification-button",
        ".app-c-back-to-top",
        ".govuk-visually-hidden-focusable",
        # Attachment furniture around embedded documents on GOV.UK: thumbnails and the
        # "This file may not be suitable for users of assistive technology" heading.
        ".attachment-thumb",
        ".accessibility-warning",
        # Footnote back-links ("↩") and reference marks glued to words ("rate1").
        "a.reversefootnote",
        "a.footnote",
        "sup[id^=fnref]",
        "[role=navigation]",
        "[role=banner]",
        "[role=contentinfo]",
        "[role=search]",
        "[aria-hidden=true]",
        "[hidden]",
    ]
)

_BLOCKS = (
    "address article aside blockquote body caption center dd details dialog div dl dt fieldset "
    "figcaption figure footer h1 h2 h3 h4 h5 h6 header hgroup hr html li main ol p pre section "
    "summary table tbody td tfoot th thead tr ul"
)
BLOCK_TAGS = frozenset(_BLOCKS.split())

_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
# Full stops and question marks, including CJK, Arabic and Urdu ones.
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\u061f\u06d4])\s+")


@dataclass(frozen=True)
class Section:
    heading: str  # the heading path, "Apply > Who can apply"; "" before the first heading
    text: str  # paragraphs, list items and table rows, one a line


@dataclass(frozen=True)
class ParsedHtml:
    title: str | None  # the page's h1, else its <title>
    sections: list[Section]
    lang: str | None = None  # the lang attribute of the content or the page, as written


def clean(text: str) -> str:
    """Collapse runs of spaces; keep line breaks (addresses, list items)."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    return " ".join(text.split())


def word_count(text: str) -> int:
    return len(text.split())


def soup_of(html: str | bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def main_content(soup: BeautifulSoup) -> Tag:
    """The page's main content when it marks it, else the whole document."""
    for selector in ("main", "[role=main]", "#main-content", "#content", ".govuk-main-wrapper"):
        found = soup.select_one(selector)
        if found is not None:
            return found
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


def strip_chrome(root: Tag) -> None:
    """Remove navigation, banners, forms and scripts in place."""
    for tag in root.find_all(DROP_TAGS):
        tag.decompose()
    # A <header> inside the content holds the page's own title; elsewhere it is the site's.
    for tag in root.find_all("header"):
        if tag.find_parent(["main", "article", "section"]) is None:
            tag.decompose()
    # Sidebars go, except GOV.UK's "stat headline" callouts, which are content.
    for tag in root.find_all("aside"):
        if "stat-headline" not in (tag.get("class") or []):
            tag.decompose()
    for tag in root.select(CHROME):
        if not tag.decomposed:
            tag.decompose()


def title_of(soup: BeautifulSoup, content: Tag | None = None) -> str | None:
    for scope in (content, soup):
        if scope is not None:
            h1 = scope.find("h1")
            if isinstance(h1, Tag) and one_line(h1.get_text(" ")):
                return one_line(h1.get_text(" "))
    if soup.title is not None and one_line(soup.title.get_text(" ")):
        return one_line(soup.title.get_text(" "))
    return None


def parse_html(html: str | bytes, title: str | None = None) -> ParsedHtml:
    """A page (or a fragment such as GOV.UK's body_html) into sections under its headings."""
    soup = soup_of(html)
    content = main_content(soup)
    found_title = title_of(soup, content)
    lang = _lang_of(content)
    strip_chrome(content)
    page_title = title or found_title
    builder = _Builder(page_title)
    builder.walk(content)
    return ParsedHtml(found_title, builder.finish(), lang)


def _lang_of(content: Tag) -> str | None:
    for tag in (content, *content.parents):
        if isinstance(tag, Tag) and tag.get("lang"):
            return str(tag.get("lang")).strip() or None
    return None


def html_sections(html: str | bytes, title: str | None = None) -> list[Section]:
    return parse_html(html, title).sections


class _Builder:
    """Walks the DOM in reading order, cutting a new section at every h1-h4."""

    def __init__(self, title: str | None) -> None:
        self.title = one_line(title).casefold() if title else None
        self.path: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.inline: list[str] = []
        self.sections: list[Section] = []

    def finish(self) -> list[Section]:
        self._close()
        return self.sections

    def _flush_inline(self) -> None:
        if self.inline:
            self._block("".join(self.inline))
            self.inline = []

    def _block(self, text: str) -> None:
        text = clean(text)
        if text:
            self.blocks.append(text)

    def _close(self) -> None:
        self._flush_inline()
        if self.blocks:
            heading = " > ".join(text for _, text in self.path)
            self.sections.append(Section(heading, "\n".join(self.blocks)))
        self.blocks = []

    def _heading(self, level: int, text: str) -> None:
        self._close()
        text = one_line(text)
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        # The page's own title is already shown with every passage; keep it out of the path.
        if not text or (level == 1 and not self.path and text.casefold() == self.title):
            return
        self.path.append((level, text))

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not comments, CDATA or doctypes
                    self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in HEADINGS:
                self._heading(HEADINGS[name], child.get_text(" "))
            elif name == "br":
                self.inline.append("\n")
            elif name in ("h5", "h6", "pre"):
                self._flush_inline()
                self._block(child.get_text(" " if name != "pre" else ""))
            elif name == "table":
                self._flush_inline()
                for line in table_lines(child):
                    self._block(line)
            elif name in ("ul", "ol"):
                self._flush_inline()
                for line in list_lines(child):
                    self._block(line)
            elif name in BLOCK_TAGS or child.find(BLOCK_TAGS) is not None:
                self._flush_inline()
                self.walk(child)
                self._flush_inline()
            else:
                self.inline.append(child.get_text())


def _direct(tag: Tag, names: list[str], parent: str) -> list[Tag]:
    """Descendants named `names` whose nearest `parent` ancestor is `tag` (not a nested one)."""
    return [t for t in tag.find_all(names) if t.find_parent(parent) is tag]


def _cells(row: Tag) -> tuple[list[str], bool]:
    texts: list[str] = []
    all_headers = True
    for cell in _direct(row, ["td", "th"], "tr"):
        all_headers = all_headers and cell.name == "th"
        text = one_line(cell.get_text(" "))
        try:
            span = max(1, min(int(str(cell.get("colspan") or 1)), 50))
        except ValueError:
            span = 1
        texts.extend([text] + [""] * (span - 1))
    return texts, all_headers


def table_lines(table: Tag) -> list[str]:
    """One line per row, each value labelled with its column header when there is one."""
    lines: list[str] = []
    caption = table.find("caption")
    if isinstance(caption, Tag) and one_line(caption.get_text(" ")):
        lines.append(one_line(caption.get_text(" ")))
    header: list[str] | None = None
    rows = 0
    for row in _direct(table, ["tr"], "table"):
        texts, all_headers = _cells(row)
        if not any(texts):
            continue
        if rows == 0 and (all_headers or row.find_parent("thead") is not None):
            # Header rows before any data; a second one refines the first, column by column.
            if header is not None and len(header) == len(texts):
                header = [
                    one_line(f"{a} {b}") if a != b else a
                    for a, b in zip(header, texts, strict=True)
                ]
            else:
                header = texts
            continue
        rows += 1
        if header is not None and len(header) == len(texts):
            parts = [
                f"{name}: {value}" if name and name != value else value
                for name, value in zip(header, texts, strict=True)
                if value
            ]
        else:
            parts = [value for value in texts if value]
        lines.append("; ".join(parts))
    if header is not None and rows == 0:
        lines.append("; ".join(h for h in header if h))
    return lines


def list_lines(tag: Tag) -> list[str]:
    """ "- item" (or "3. item") per list item; nested lists follow their item."""
    lines: list[str] = []
    ordered = tag.name == "ol"
    try:
        number = int(str(tag.get("start") or 1))
    except ValueError:
        number = 1
    for item in _direct(tag, ["li"], tag.name):
        nested: list[Tag] = []
        parts: list[str] = []
        for child in item.children:
            if (isinstance(child, Tag) and child.name in ("ul", "ol")) or (
                isinstance(child, Tag) and child.name == "table"
            ):
                nested.append(child)
            elif isinstance(child, Tag):
                parts.append(child.get_text(" "))
            elif type(child) is NavigableString:
                parts.append(str(child))
        text = one_line(" ".join(parts))
        if text:
            lines.append(f"{number}. {text}" if ordered else f"- {text}")
        number += 1
        for inner in nested:
            lines.extend(table_lines(inner) if inner.name == "table" else list_lines(inner))
    return lines


# Splitting long sections ------------------------------------------------------------------------


def _units(text: str, max_words: int) -> list[tuple[str, str]]:
    """(glue, piece) pairs: lines, or sentences of over-long lines, or word windows of those."""
    units: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if word_count(line) <= max_words:
            units.append(("\n", line))
            continue
        glue = "\n"
        for sentence in _SENTENCE_END.split(line):
            words = sentence.split()
            for start in range(0, len(words), max_words):
                units.append((glue, " ".join(words[start : start + max_words])))
                glue = " "
    return units


def _join(units: list[tuple[str, str]]) -> str:
    return "".join(glue + piece if i else piece for i, (glue, piece) in enumerate(units))


def split_text(text: str, max_words: int = MAX_WORDS, min_words: int = MIN_WORDS) -> list[str]:
    """Pieces of at most `max_words`, cut between lines, else between sentences."""
    groups: list[list[tuple[str, str]]] = [[]]
    size = 0
    for unit in _units(text, max_words):
        words = word_count(unit[1])
        if groups[-1] and size + words > max_words:
            groups.append([])
            size = 0
        groups[-1].append(unit)
        size += words
    if len(groups) > 1:
        _merge_tail(groups, max_words, min_words)
    return [_join(group) for group in groups if group]


def _merge_tail(groups: list[list[tuple[str, str]]], max_words: int, min_words: int) -> None:
    """Balance a short last chunk with the one before it, or fold it in if only a little over."""
    last, previous = groups[-1], groups[-2]
    last_words = sum(word_count(p) for _, p in last)
    while last_words < min_words and len(previous) > 1:
        moved = word_count(previous[-1][1])
        if last_words + moved > max_words:
            break
        last.insert(0, previous.pop())
        last_words += moved
    previous_words = sum(word_count(p) for _, p in previous)
    if last_words < min_words and previous_words + last_words <= max_words + min_words // 2:
        previous.extend(groups.pop())


def split_long(sections: list[Section], max_words: int = MAX_WORDS) -> list[Section]:
    """Each section as one or more chunks of at most `max_words`, keeping its heading."""
    return [
        Section(section.heading, piece)
        for section in sections
        for piece in split_text(section.text, max_words)
    ]


def chunk_html(html: str | bytes, title: str | None = None) -> list[Section]:
    return split_long(html_sections(html, title))
