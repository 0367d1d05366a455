"""Reading answers from documents: fillable PDFs (made and filled with pypdf here), text PDFs,
scans through Tesseract when it is installed, and documents that must be refused."""

from __future__ import annotations

import io
import zlib

import pytest
from casework_fixtures import council_tax_reduction, missed_bin
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from townhall.services.casework.documents import (
    OcrUnavailable,
    extract,
    ocr_available,
)
from townhall.services.casework.evidence import UploadRefused
from townhall.services.casework.pdf_forms import fill, fillable_pdf, printed_pdf
from townhall.services.casework.schema import load_library
from townhall.services.casework.validation import validate

LIBRARY = load_library()


def as_text(answers: dict[str, object]) -> dict[str, str]:
    return {k: "yes" if v is True else "no" if v is False else str(v) for k, v in answers.items()}


def test_a_fillable_pdf_has_one_named_field_per_question() -> None:
    from pypdf import PdfReader

    form = LIBRARY.get("council-tax-reduction")
    reader = PdfReader(io.BytesIO(fillable_pdf(form)))
    assert set(reader.get_fields() or {}) == set(form.fields)
    assert len(reader.pages) == 2  # 16 questions do not fit on one page


def test_a_filled_pdf_is_read_back_exactly_with_full_confidence() -> None:
    form = LIBRARY.get("council-tax-reduction")
    answers = as_text(council_tax_reduction(annual_council_tax="£1,800.00"))
    found = extract(form, fill(fillable_pdf(form), answers))
    assert found.method == "acroform" and found.pages == 2
    assert found.answers == answers
    assert found.lowest_confidence == 1.0
    assert validate(form, found.answers).ok


def test_a_text_pdf_is_read_line_by_line_with_lower_confidence() -> None:
    form = LIBRARY.get("missed-bin")
    answers = as_text(missed_bin(details="Left by the gate.\nThe lid was open."))
    found = extract(form, printed_pdf(form, answers))
    assert found.method == "text"
    assert found.answers["postcode"] == "SN3 3BD"
    assert found.answers["details"].startswith("Left by the gate.")
    assert {item["confidence"] for item in found.fields.values()} == {0.95}


def test_a_pdf_that_expands_enormously_is_refused_as_a_bomb() -> None:
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    compressor = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    packed = b"".join(compressor.compress(chunk) for _ in range(100)) + compressor.flush()
    stream = DecodedStreamObject()
    stream._data = packed  # already deflated: 100 MB of spaces in about 100 KB
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    assert len(data) < 1_000_000
    with pytest.raises(UploadRefused, match="decompression bomb"):
        extract(LIBRARY.get("missed-bin"), data)


def test_a_document_that_is_neither_pdf_nor_image_is_refused() -> None:
    with pytest.raises(UploadRefused, match="must be a PDF, JPG or PNG"):
        extract(LIBRARY.get("missed-bin"), b"GIF89a not accepted")
    with pytest.raises(UploadRefused, match="damaged"):
        extract(LIBRARY.get("missed-bin"), b"%PDF-1.4 garbage")


def _scan(lines: list[str]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=30)
    image = Image.new("L", (1400, 70 * len(lines) + 80), 255)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((60, 40 + row * 70), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


SCANNED = [
    "Report a missed bin collection",
    "Address line 1: 7 Orchard Close",
    "Postcode: SN3 3BD",
    "Bin: recycling",
    "Bin out by 7am: yes",
    "Assisted collection: no",
]


@pytest.mark.skipif(
    not ocr_available(), reason="Tesseract OCR (tesseract-ocr, [ocr]) not installed"
)
def test_a_scan_is_read_by_ocr_with_the_engines_confidence() -> None:
    found = extract(LIBRARY.get("missed-bin"), _scan(SCANNED))
    assert found.method == "ocr" and found.pages == 1
    assert found.answers["postcode"] == "SN3 3BD"
    assert found.answers["bin_type"] == "recycling"
    assert found.answers["address_line_1"] == "7 Orchard Close"
    confidences = [item["confidence"] for item in found.fields.values()]
    assert all(0.5 < c < 1.0 for c in confidences), found.fields
    assert all(item["source"] == "OCR" for item in found.fields.values())


def test_without_tesseract_a_scan_is_refused_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert not ocr_available()
    with pytest.raises(OcrUnavailable) as caught:
        extract(LIBRARY.get("missed-bin"), _scan(SCANNED[:2]))
    assert "tesseract-ocr" in caught.value.message and "[ocr]" in caught.value.message
