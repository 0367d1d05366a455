"""The privacy scan page: upload a CSV, JSON-lines or text file and see what personal data it holds.

The file is scanned from a temporary copy that is deleted at once; only counts and redacted
snippets are shown, never the values found.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from townhall.core import audit
from townhall.core.auth import User
from townhall.core.permissions import PRIVACY_SCAN
from townhall.core.web import SessionDep, requires, templates
from townhall.governance import privacy

router = APIRouter(
    prefix="/privacy-scan", default_response_class=HTMLResponse, include_in_schema=False
)
Scanner = Annotated[User, requires(PRIVACY_SCAN)]
SUFFIXES = {".csv", ".jsonl", ".ndjson", ".txt"}
SHOWN_HITS = 50


def _page(
    request: Request,
    *,
    report: privacy.ScanReport | None = None,
    name: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "privacy/scan.html",
        {
            "title": "Scan a file for personal data",
            "report": report,
            "name": name,
            "errors": {"file": error} if error else {},
            "error_title": bool(error),
            "shown_hits": SHOWN_HITS,
        },
        status_code=status,
    )


@router.get("")
def scan_form(request: Request, _user: Scanner) -> Response:
    return _page(request)


@router.post("")
async def scan_upload(
    request: Request,
    session: SessionDep,
    user: Scanner,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if file is None or not file.filename:
        return _page(request, error="Select a file to scan", status=422)
    name = Path(file.filename).name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        return _page(request, error="The file must be a CSV, JSON-lines or text file", status=422)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / f"upload{suffix}"
        copy.write_bytes(await file.read())
        try:
            report = privacy.scan_file(copy)
        except privacy.PrivacyScanError as exc:
            message = str(exc).replace(str(copy), name)
            return _page(request, error=f"The file could not be scanned: {message}", status=422)
    audit.log(
        session,
        f"user:{user.id}",
        "privacy.scanned",
        "upload",
        {"format": report.format, "records": report.records, "found": report.total},
    )
    return _page(request, report=report, name=name)
