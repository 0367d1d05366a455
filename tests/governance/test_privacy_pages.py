"""The privacy scan page: counts and redacted context, never the values; bad files refused."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from conftest import csrf_from, sign_in
from townhall.core import auth
from townhall.core.audit import AuditEntry

CSV = (
    "ref,note\n"
    "1,Call Mrs Jane Smith on 07700 900123 about NI number JG103759A\n"
    "2,Order 48213 shipped at 10:30\n"
)


def _upload(client: TestClient, name: str, body: bytes):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/privacy-scan").text)
    return client.post(
        "/privacy-scan",
        data={"csrf_token": token},
        files={"file": (name, body, "application/octet-stream")},
    )


def test_scan_shows_counts_not_values(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("ana", "analyst")
    sign_in(client, "ana")
    page = _upload(client, "contacts.csv", CSV.encode())
    assert page.status_code == 200, page.text
    assert "contacts.csv" in page.text and "Ni number" in page.text
    for raw in ("07700 900123", "JG103759A", "Jane Smith"):
        assert raw not in page.text
    with Session(engine) as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert entry is not None and entry.action == "privacy.scanned"
        assert entry.detail["found"] >= 3


def test_bad_files_are_refused_with_clear_messages(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    make_user("ana", "analyst")
    sign_in(client, "ana")
    wrong_type = _upload(client, "payload.exe", b"MZ")
    assert wrong_type.status_code == 422 and "must be a CSV, JSON-lines or text" in wrong_type.text
    broken = _upload(client, "lines.jsonl", b'{"a": 1}\n{not json\n')
    assert broken.status_code == 422 and "lines.jsonl" in broken.text
    assert "/tmp" not in broken.text and "upload.jsonl" not in broken.text
    binary = _upload(client, "notes.txt", b"ok\n\xff\xfe\xfa")
    assert binary.status_code == 422 and "UTF-8" in binary.text
    too_big = _upload(client, "big.txt", b"x" * (client.app.state.settings.max_upload_bytes + 1))  # type: ignore[attr-defined]
    assert too_big.status_code == 413


def test_only_permitted_roles_can_scan(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    sign_in(client, "casey")
    assert client.get("/privacy-scan", follow_redirects=False).status_code == 403
