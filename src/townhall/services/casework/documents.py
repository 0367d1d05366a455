"""Answers read from documents: fillable PDFs, text PDFs and scanned images (Tesseract OCR).

Each answer read carries a confidence and where it came from, for a caseworker to confirm before
the case goes on: 1.0 for a fillable PDF's named field (the citizen typed into it), less for a
"Label: answer" line of a text PDF, and for OCR the engine's own word confidences. OCR is the
optional `[ocr]` extra (pytesseract) over Debian's `tesseract-ocr`; without them a scan is
refused with a message saying what to install, and everything else still works.
"""

from __future__ import annotations

import io
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from townhall.core.errors import InvalidInput
from townhall.services.casework.evidence import PDF, UploadRefused, check_image, sniff
from townhall.services.casework.schema import FieldSpec, FormSpec

MAX_PAGES = 50
MAX_TEXT_CHARS = 1_000_000
ACROFORM_CONFIDENCE = 1.0
LABEL_CONFIDENCE = 0.95  # a text line whose label is the form's own
ALIAS_CONFIDENCE = 0.85  # a text line whose label is one of the field's other names
WORD = re.compile(r"[^a-z0-9]+")


class OcrUnavailable(InvalidInput):
    code = "ocr_unavailable"


@dataclass
class Extracted:
    """What was read: answers as text, and per field its confidence and source."""

    method: str  # acroform, text or ocr
    pages: int
    answers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def put(self, name: str, value: str, confidence: float, source: str) -> None:
        if name in self.answers or not value.strip():
            return
        self.answers[name] = value.strip()
        self.fields[name] = {
            "value": value.strip(),
            "confidence": round(max(0.0, min(1.0, confidence)), 2),
            "source": source,
            "confirmed": False,
        }

    @property
    def lowest_confidence(self) -> float:
        return min((f["confidence"] for f in self.fields.values()), default=0.0)


def ocr_available() -> bool:
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def _key(text: str) -> str:
    return WORD.sub(" ", text.casefold()).strip()


def label_index(form: FormSpec) -> dict[str, tuple[FieldSpec, float]]:
    """Normalised label -> (field, confidence of a match on it)."""
    index: dict[str, tuple[FieldSpec, float]] = {}
    for spec in form.fields.values():
        for label in (spec.short_label, spec.label):
            index.setdefault(_key(label), (spec, LABEL_CONFIDENCE))
        for label in (*spec.document_labels, spec.name.replace("_", " ")):
            index.setdefault(_key(label), (spec, ALIAS_CONFIDENCE))
    return index


def read_lines(
    form: FormSpec,
    lines: list[tuple[str, float]],
    found: Extracted,
    source: str,
) -> None:
    """'Label: answer' lines (with each line's confidence) into answers; lines after a
    long-answer label continue it until the next label."""
    index = label_index(form)
    current: FieldSpec | None = None
    for text, confidence in lines:
        label, colon, value = text.partition(":")
        match = index.get(_key(label)) if colon else None
        if match is not None:
            spec, label_confidence = match
            current = spec
            found.put(spec.name, value, label_confidence * confidence, source)
        elif current is not None and current.type == "textarea" and current.name in found.answers:
            item = found.fields[current.name]
            item["value"] = found.answers[current.name] = f"{item['value']}\n{text.strip()}"
        else:
            current = None


def _acroform(form: FormSpec, reader: Any, found: Extracted) -> None:
    fields = reader.get_fields() or {}
    index = label_index(form)
    for name, item in fields.items():
        value = item.get("/V")
        if value is None:
            continue
        text = str(value).lstrip("/")
        if text.casefold() in ("off", ""):
            continue
        spec = form.fields.get(str(name))
        if spec is None:
            match = index.get(_key(str(item.get("/TU") or name)))
            spec = match[0] if match else None
        if spec is not None:
            found.put(spec.name, text, ACROFORM_CONFIDENCE, f"PDF form field {name}")


def _refuse_pdf(exc: Exception) -> UploadRefused:
    from pypdf.errors import LimitReachedError

    if isinstance(exc, LimitReachedError):
        return UploadRefused(
            "The PDF expands to far more than its size, so it is refused as a possible "
            "decompression bomb.",
            field="file",
        )
    return UploadRefused(
        "The PDF is damaged and cannot be read. Save it as a PDF again and upload it.",
        field="file",
    )


def _pdf(form: FormSpec, data: bytes, found: Extracted, ocr: bool) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UploadRefused("The PDF must not be password protected.", field="file")
        pages = list(reader.pages)[:MAX_PAGES]
        found.pages = len(pages)
        _acroform(form, reader, found)
        if found.answers:
            found.method = "acroform"
            return
        lines: list[tuple[str, float]] = []
        chars = 0
        images: list[tuple[int, Any]] = []
        for number, page in enumerate(pages, 1):
            text = page.extract_text() or ""
            chars += len(text)
            if chars > MAX_TEXT_CHARS:
                break
            lines.extend((line, 1.0) for line in text.splitlines())
            if not text.strip() and ocr:
                images.extend((number, image.image) for image in page.images)
    except UploadRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise _refuse_pdf(exc) from None
    read_lines(form, lines, found, "PDF text")
    found.method = "text"
    if not found.answers and images:
        found.method = "ocr"
        for number, image in images:
            read_lines(form, ocr_lines(image), found, f"OCR of page {number}")


def ocr_lines(image: Any) -> list[tuple[str, float]]:
    """Lines of text in an image, each with Tesseract's mean word confidence (0-1)."""
    import pytesseract

    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    data = pytesseract.image_to_data(image, output_type=pytesseract.Output.DICT, timeout=60)
    lines: dict[tuple[int, int, int], list[tuple[str, float]]] = {}
    for i, word in enumerate(data["text"]):
        confidence = float(data["conf"][i])
        if not word.strip() or confidence < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append((word, confidence / 100))
    return [
        (" ".join(w for w, _ in words), sum(c for _, c in words) / len(words))
        for _, words in sorted(lines.items())
    ]


def _image(form: FormSpec, data: bytes, found: Extracted) -> None:
    from PIL import Image

    check_image(data, "The image")
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        found.pages = 1
        found.method = "ocr"
        read_lines(form, ocr_lines(image), found, "OCR")


def extract(form: FormSpec, data: bytes) -> Extracted:
    """Read a form's answers from a PDF or an image."""
    started = time.perf_counter()
    kind = sniff(data)
    found = Extracted(method="", pages=0)
    if kind == PDF:
        _pdf(form, data, found, ocr_available())
    elif kind in ("image/png", "image/jpeg"):
        if not ocr_available():
            raise OcrUnavailable(
                "Reading scanned images needs Tesseract OCR, which is not installed here. "
                "Install the Debian package tesseract-ocr and Townhall's [ocr] extra "
                "(pip install 'townhall[ocr]'), or type the answers in.",
                field="file",
            )
        _image(form, data, found)
    else:
        raise UploadRefused("The document must be a PDF, JPG or PNG.", field="file")
    found.seconds = time.perf_counter() - started
    return found
