"""Evidence uploads: checked by what the bytes are, not what the name says, and kept off the web.

Accepted: PDF, JPEG, PNG and Word (.docx). A file is refused if it is over the size limit, if its
content is none of those (a "PDF" that does not start like one and open as one), if it is a
password-protected PDF, or if it is a zip container (as .docx is) that would expand to far more
than it is: a zip bomb. Images are checked for sizes that would exhaust memory when opened.
Files are stored under random names in settings.casework_evidence_dir; if the transaction that
records one rolls back, the file is removed, so a failed upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import zipfile
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from townhall.core import audit
from townhall.core.db import utcnow
from townhall.core.errors import InvalidInput, NotFound
from townhall.services.casework.catalogue import Catalogue
from townhall.services.casework.intake import event
from townhall.services.casework.models import Case, Evidence, Status
from townhall.settings import Settings

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
KINDS = {PDF: "PDF", JPEG: "JPG", PNG: "PNG", DOCX: "Word document"}
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", DOCX: ".docx"}
ACCEPTED = "a PDF, JPG, PNG or Word document"
MAX_EXPANDED_BYTES = 100 * 1024 * 1024  # what a .docx may expand to
MAX_EXPANSION_RATIO = 100  # text compresses about 10:1; a bomb, thousands to one
MAX_ZIP_MEMBERS = 2000
MAX_IMAGE_PIXELS = 60_000_000  # a 60-megapixel scan is already generous
NAME_SAFE = re.compile(r"[^A-Za-z0-9 ._()-]+")


class UploadRefused(InvalidInput):
    """The file is not accepted; the message says why in words the uploader can act on."""


def _size_text(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def sniff(data: bytes) -> str | None:
    """The media type the content is, or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"PK\x03\x04"):
        return "application/zip"
    return None


def check_zip(data: bytes, label: str) -> zipfile.ZipFile:
    """Open a zip container, refusing one that would expand to too much (headers are not
    trusted: every member is read, and reading stops at the limit)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRefused(f"{label} is damaged and cannot be opened.", field="file") from None
    bomb = UploadRefused(
        f"{label} expands to far more than its size, so it is refused as a possible zip bomb.",
        field="file",
    )
    if len(members) > MAX_ZIP_MEMBERS:
        raise bomb
    declared = sum(member.file_size for member in members)
    if declared > MAX_EXPANDED_BYTES or declared > MAX_EXPANSION_RATIO * max(len(data), 1):
        raise bomb
    budget = min(MAX_EXPANDED_BYTES, MAX_EXPANSION_RATIO * max(len(data), 1))
    read = 0
    try:
        for member in members:
            with archive.open(member) as stream:
                while chunk := stream.read(1 << 16):
                    read += len(chunk)
                    if read > budget:
                        raise bomb
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise UploadRefused(f"{label} is damaged and cannot be opened.", field="file") from None
    except RuntimeError:  # an encrypted member
        raise UploadRefused(f"{label} must not be password protected.", field="file") from None
    return archive


def _check_pdf(data: bytes, label: str) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UploadRefused(f"{label} must not be password protected.", field="file")
        if len(reader.pages) < 1:
            raise UploadRefused(f"{label} has no pages.", field="file")
    except UploadRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise UploadRefused(
            f"{label} is not a real PDF, or it is damaged. Save it as a PDF again and upload it.",
            field="file",
        ) from None


def check_image(data: bytes, label: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise UploadRefused(f"{label} is damaged and cannot be opened.", field="file") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise UploadRefused(
            f"{label} is {width} by {height} pixels, too large to open safely; "
            "scan it at a lower resolution.",
            field="file",
        )


def check_upload(data: bytes, filename: str, limit: int) -> str:
    """The media type of an acceptable file, or UploadRefused saying why it is not."""
    label = f"The file '{clean_filename(filename)}'" if filename else "The file"
    if len(data) == 0:
        raise UploadRefused(f"{label} is empty.", field="file")
    if len(data) > limit:
        raise UploadRefused(f"{label} must be smaller than {_size_text(limit)}.", field="file")
    kind = sniff(data)
    claimed = Path(filename or "").suffix.lower()
    if kind == "application/zip":
        archive = check_zip(data, label)
        if (
            "[Content_Types].xml" in archive.namelist()
            and "word/document.xml" in archive.namelist()
        ):
            return DOCX
        raise UploadRefused(f"{label} must be {ACCEPTED}, not a zip file.", field="file")
    if kind is None:
        if claimed == ".pdf":
            raise UploadRefused(
                f"{label} is not a real PDF. Save it as a PDF again and upload it.", field="file"
            )
        raise UploadRefused(f"{label} must be {ACCEPTED}.", field="file")
    if kind == PDF:
        _check_pdf(data, label)
    else:
        check_image(data, label)
    return kind


def clean_filename(name: str) -> str:
    """A name safe to show and to offer in a download: no paths, no odd characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = NAME_SAFE.sub("_", base).strip(" .")[:120]
    return cleaned or "upload"


FILES_WRITTEN = "casework.files_written"  # session.info: files this transaction wrote


def _forget_files(session: Session) -> None:
    session.info.pop(FILES_WRITTEN, None)


def _remove_files(session: Session) -> None:
    for path in session.info.pop(FILES_WRITTEN, []):
        path.unlink(missing_ok=True)


def _remove_on_rollback(session: Session, path: Path) -> None:
    """Delete `path` if this transaction rolls back; keep it once it commits."""
    written = session.info.setdefault(FILES_WRITTEN, [])
    written.append(path)
    if not sa_event.contains(session, "after_rollback", _remove_files):
        sa_event.listen(session, "after_rollback", _remove_files)
        sa_event.listen(session, "after_commit", _forget_files)


def store(
    session: Session,
    catalogue: Catalogue,
    settings: Settings,
    case: Case,
    *,
    kind: str,
    filename: str,
    data: bytes,
    actor: str,
) -> Evidence:
    """Check and keep one file as evidence of `kind` for the case."""
    form = catalogue.form(case.form)
    kinds = {item.kind for item in form.evidence} | {"application_form", "other"}
    if kind not in kinds:
        raise InvalidInput(
            f"This form takes evidence of these kinds: {', '.join(sorted(kinds))}.", field="kind"
        )
    if case.status in (Status.DECIDED.value, Status.APPEALED.value):
        raise InvalidInput(
            f"{case.reference} has been decided, so no more evidence can be added.", field="file"
        )
    media_type = check_upload(data, filename, settings.casework_max_upload_bytes)
    folder = Path(settings.casework_evidence_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    storage_name = secrets.token_hex(20) + EXTENSIONS[media_type]
    path = folder / storage_name
    path.write_bytes(data)
    _remove_on_rollback(session, path)
    item = Evidence(
        case_id=case.id,
        kind=kind,
        filename=clean_filename(filename),
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_name=storage_name,
        uploaded_by=actor[:100],
        uploaded_at=utcnow(),
    )
    session.add(item)
    session.flush()
    event(session, case, actor, "evidence_added", {"kind": kind, "file": item.filename})
    audit.log(
        session,
        actor,
        "casework.evidence_added",
        f"case:{case.reference}",
        {"kind": kind, "sha256": item.sha256, "size": item.size},
    )
    return item


def read(settings: Settings, item: Evidence) -> bytes:
    path = Path(settings.casework_evidence_dir) / item.storage_name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound("The file for this evidence is missing from storage.") from None
