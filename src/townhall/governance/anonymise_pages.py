"""The anonymised export page: upload a CSV, choose how to generalise it, download the result.

The result is kept in the exports folder for an hour, downloadable only by the person who made
it; the page states the k and l it achieved. Export and download are both audited.
"""

from __future__ import annotations

import io
import json
import secrets
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response

from townhall.core import audit
from townhall.core.auth import User
from townhall.core.errors import NotFound
from townhall.core.permissions import PRIVACY_SCAN
from townhall.core.web import SessionDep, requires, templates
from townhall.governance.anonymise import AnonymisationError, Hierarchy, anonymise
from townhall.governance.anonymise_cli import parse_quasi

router = APIRouter(prefix="/exports", default_response_class=HTMLResponse, include_in_schema=False)
Exporter = Annotated[User, requires(PRIVACY_SCAN)]
KEEP_SECONDS = 3600
PREVIEW_ROWS = 10


def _folder(request: Request) -> Path:
    folder = Path(request.app.state.settings.exports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):  # expired exports go on every visit
        if time.time() - old.stat().st_mtime > KEEP_SECONDS:
            old.unlink(missing_ok=True)
    return folder


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    result: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "exports/anonymise.html",
        {
            "title": "Make an anonymised export",
            "form": form or {},
            "errors": errors or {},
            "error_title": bool(errors),
            "result": result,
        },
        status_code=status,
    )


@router.get("")
def export_form(request: Request, _user: Exporter) -> Response:
    return _page(
        request, form={"quasi": "age:bands=5,10,20\npostcode:postcode", "k": "10", "l": "1"}
    )


@router.post("")
async def export_submit(
    request: Request,
    session: SessionDep,
    user: Exporter,
    file: Annotated[UploadFile | None, File()] = None,
    quasi: Annotated[str, Form(max_length=2000)] = "",
    sensitive: Annotated[str, Form(max_length=500)] = "",
    drop: Annotated[str, Form(max_length=500)] = "",
    k: Annotated[str, Form(max_length=6)] = "",
    l: Annotated[str, Form(max_length=6)] = "1",  # noqa: E741 - the standard name
) -> Response:
    form = {"quasi": quasi, "sensitive": sensitive, "drop": drop, "k": k, "l": l}
    errors: dict[str, str] = {}
    if file is None or not file.filename:
        errors["file"] = "Select a CSV file"
    if not k.strip().isdigit():
        errors["k"] = "Enter k as a whole number, such as 10"
    if not l.strip().isdigit():
        errors["l"] = "Enter l as a whole number, such as 2"
    rules: dict[str, Hierarchy] = {}
    try:
        rules = dict(parse_quasi(line.strip()) for line in quasi.splitlines() if line.strip())
    except (typer.BadParameter, ValueError):
        errors["quasi"] = "Write one rule a line, such as age:bands=5,10,20 or postcode:postcode"
    if not rules and "quasi" not in errors:
        errors["quasi"] = "Enter at least one quasi-identifier"
    if errors or file is None:
        return _page(request, form=form, errors=errors, status=422)
    try:
        frame = pd.read_csv(io.BytesIO(await file.read()))
        export = anonymise(
            frame,
            quasi_identifiers=rules,
            sensitive=_columns(sensitive),
            k=int(k),
            l=int(l),
            drop=_columns(drop),
        )
    except AnonymisationError as exc:
        return _page(request, form=form, errors={"k": exc.message}, status=422)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return _page(
            request,
            form=form,
            status=422,
            errors={"file": f"The file is not a readable CSV file: {exc}"},
        )
    token = secrets.token_urlsafe(16)
    export.frame.to_csv(_folder(request) / f"{token}.csv", index=False)
    summary = {
        **export.summary(),
        "source_rows": len(frame),
        "requested": {"k": int(k), "l": int(l)},
    }
    (_folder(request) / f"{token}.json").write_text(json.dumps({"owner": user.id, **summary}))
    audit.log(session, f"user:{user.id}", "export.anonymised", f"export:{token[:8]}", summary)
    preview = export.frame.head(PREVIEW_ROWS)
    return _page(
        request,
        form=form,
        result={
            **summary,
            "token": token,
            "columns": list(preview.columns),
            "rows": preview.astype(str).values.tolist(),
        },
    )


@router.get("/{token}.csv")
def export_download(request: Request, session: SessionDep, user: Exporter, token: str) -> Response:
    folder = _folder(request)
    data, meta = folder / f"{token}.csv", folder / f"{token}.json"
    if not token.replace("-", "").replace("_", "").isalnum() or not data.exists():
        raise NotFound("This export does not exist or has expired: make it again.")
    if json.loads(meta.read_text()).get("owner") != user.id:
        raise NotFound("This export does not exist or has expired: make it again.")
    audit.log(session, f"user:{user.id}", "export.downloaded", f"export:{token[:8]}")
    return FileResponse(data, media_type="text/csv", filename="anonymised-export.csv")
