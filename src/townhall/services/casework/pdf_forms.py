"""A form as a PDF: a fillable one (AcroForm fields named after the form's fields), for people who
fill forms offline or in their own software, and a printed-style one with answers written in.

Both are made with pypdf alone. A fillable PDF sent back is read field by field (documents.py),
so its answers need no guessing; a printed one is read line by line as "Label: answer".
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    ContentStream,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from townhall.services.casework.schema import FieldSpec, FormSpec

PAGE_WIDTH, PAGE_HEIGHT = 595.0, 842.0  # A4 in points
MARGIN = 56.0
ROW = 46.0
ROWS_PER_PAGE = int((PAGE_HEIGHT - 2 * MARGIN - 40) // ROW)
FIELD_APPEARANCE = "/Helv 10 Tf 0 g"


def _font() -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )


def _literal(text: str) -> bytes:
    """A PDF string literal in the font's WinAnsi encoding (so pound signs print)."""
    raw = text.encode("cp1252", errors="replace")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped + b")"


def _text_ops(lines: Sequence[tuple[float, float, float, str]]) -> bytes:
    ops = []
    for x, y, size, text in lines:
        ops.append(b"BT /F1 %.1f Tf %.1f %.1f Td " % (size, x, y) + _literal(text) + b" Tj ET")
    return b"\n".join(ops)


def _page(writer: PdfWriter, lines: Sequence[tuple[float, float, float, str]]) -> Any:
    page = writer.add_blank_page(width=PAGE_WIDTH, height=PAGE_HEIGHT)
    page[NameObject("/Resources")] = DictionaryObject(
        {
            NameObject("/Font"): DictionaryObject(
                {NameObject("/F1"): _font(), NameObject("/Helv"): _font()}
            )
        }
    )
    stream = ContentStream(None, writer)
    stream.set_data(_text_ops(lines))
    page.replace_contents(stream)
    return page


def _hint(spec: FieldSpec) -> str:
    if spec.type in ("choice", "choices"):
        return "Write one of: " + ", ".join(c.value for c in spec.choices)
    if spec.type == "yes_no":
        return "Write yes or no"
    if spec.type == "date":
        return "For example, 27/03/1957"
    return spec.hint[:90]


def _chunks(items: list[FieldSpec], size: int) -> list[list[FieldSpec]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def fillable_pdf(form: FormSpec) -> bytes:
    """A blank fillable PDF of the form: one text field per question, named as in the form."""
    writer = PdfWriter()
    fields: list[Any] = []
    specs = list(form.fields.values())
    for number, chunk in enumerate(_chunks(specs, ROWS_PER_PAGE)):
        top = PAGE_HEIGHT - MARGIN
        lines = [(MARGIN, top, 16, form.title)] if number == 0 else []
        lines.append((MARGIN, top - 20, 9, f"{form.title}, version {form.version}"))
        boxes = []
        for row, spec in enumerate(chunk):
            y = top - 50 - row * ROW
            optional = "" if spec.required else " (optional)"
            lines.append((MARGIN, y, 10, spec.short_label + optional))
            hint = _hint(spec)
            if hint:
                lines.append((MARGIN + 250, y, 7, hint))
            boxes.append((spec, y - 22))
        page = _page(writer, lines)
        page_number = len(writer.pages) - 1
        for spec, y in boxes:
            widget = DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Annot"),
                    NameObject("/Subtype"): NameObject("/Widget"),
                    NameObject("/FT"): NameObject("/Tx"),
                    NameObject("/T"): TextStringObject(spec.name),
                    NameObject("/TU"): TextStringObject(spec.short_label),
                    NameObject("/Rect"): ArrayObject(
                        [
                            FloatObject(MARGIN),
                            FloatObject(y),
                            FloatObject(PAGE_WIDTH - MARGIN),
                            FloatObject(y + 18),
                        ]
                    ),
                    NameObject("/F"): NumberObject(4),
                    NameObject("/DA"): TextStringObject(FIELD_APPEARANCE),
                    NameObject("/V"): TextStringObject(""),
                }
            )
            if spec.type == "textarea":
                widget[NameObject("/Ff")] = NumberObject(4096)  # multiline
            fields.append(writer.add_annotation(page_number, widget).indirect_reference)
        del page
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject(
        {
            NameObject("/Fields"): ArrayObject(fields),
            NameObject("/NeedAppearances"): BooleanObject(True),
            NameObject("/DA"): TextStringObject(FIELD_APPEARANCE),
            NameObject("/DR"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/Helv"): _font()})}
            ),
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def fill(pdf: bytes, values: Mapping[str, str]) -> bytes:
    """Fill a fillable PDF's fields, as a citizen's PDF software would."""
    from pypdf import PdfReader

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for page in writer.pages:
        writer.update_page_form_field_values(page, dict(values), auto_regenerate=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def printed_pdf(form: FormSpec, answers: Mapping[str, str]) -> bytes:
    """A text PDF with each question and its answer on a line, as a letter or a printed form
    saved to PDF would have them."""
    writer = PdfWriter()
    items = [(spec, answers[spec.name]) for spec in form.fields.values() if spec.name in answers]
    per_page = int((PAGE_HEIGHT - 2 * MARGIN - 40) // 18)
    for number in range(0, max(len(items), 1), per_page):
        top = PAGE_HEIGHT - MARGIN
        lines = [(MARGIN, top, 16, form.title)]
        for row, (spec, value) in enumerate(items[number : number + per_page]):
            lines.append((MARGIN, top - 36 - row * 18, 11, f"{spec.short_label}: {value}"))
        _page(writer, lines)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
