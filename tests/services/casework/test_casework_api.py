"""The casework API on SQLite and PostgreSQL: a citizen submits and follows a case, a caseworker
works it; bad input (wrong types, missing answers, injection strings, a 50 MB upload, a PDF that
is not a PDF, a zip bomb, a database that goes away mid-write) gets a clear error and loses
nothing."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from casework_fixtures import blue_badge, counts, make_teams, missed_bin, parking_permit, token_for
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.orm import Session

from conftest import make_settings
from townhall.core import audit, auth
from townhall.core.decisions import DecisionRecord
from townhall.services.casework.catalogue import catalogue
from townhall.services.casework.models import Case
from townhall.services.casework.pdf_forms import fill, fillable_pdf, printed_pdf
from townhall.settings import Settings

API = "/api/v1/casework"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, casework_evidence_dir=tmp_path / "evidence")


@pytest.fixture
def staff(
    app: FastAPI, engine: Engine, make_user: Callable[..., auth.User]
) -> dict[str, dict[str, str]]:
    make_teams(engine)
    return {
        "parking": token_for(app, engine, make_user, "pat", "caseworker", ("parking",)),
        "waste": token_for(app, engine, make_user, "robin", "caseworker", ("waste",)),
        "analyst": token_for(app, engine, make_user, "ana", "analyst"),
    }


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert body["error"]["message"].strip()
    return dict(body["error"])


def post(client: TestClient, form: str, answers: dict[str, Any], **extra: Any) -> Any:
    return client.post(f"{API}/forms/{form}/submissions", json={"answers": answers, **extra})


def test_a_citizen_submits_a_form_and_follows_it_to_a_decision(
    client: TestClient, engine: Engine, staff: dict[str, dict[str, str]]
) -> None:
    forms = client.get(f"{API}/forms").json()
    assert {f["id"] for f in forms} >= {
        "blue-badge",
        "council-tax-reduction",
        "missed-bin",
        "parking-permit",
    }
    definition = client.get(f"{API}/forms/blue-badge").json()
    assert definition["pages"][0]["fields"][0]["name"] == "full_name"
    made = post(client, "blue-badge", blue_badge())
    assert made.status_code == 201, made.text
    body = made.json()
    ref = body["reference"]
    assert body["status"] == "triaged" and body["reply_by"]
    assert body["evidence_needed"] == [
        "A recent photo of your face",
        "Proof of identity",
        "Proof of address",
        "Your benefit or award letter",
    ]
    status = client.get(f"{API}/status/{ref}").json()
    assert status["status"] == "Received" and status["verified"] is False
    assert client.get(f"{API}/status/{ref.lower()}").status_code == 200

    queue = client.get(f"{API}/queue", headers=staff["parking"]).json()
    assert [item["reference"] for item in queue["items"]] == [ref]
    assert client.get(f"{API}/queue", headers=staff["waste"]).json()["total"] == 0
    error_of(client.get(f"{API}/cases/{ref}", headers=staff["waste"]), 404)
    case = client.get(f"{API}/cases/{ref}", headers=staff["parking"]).json()
    assert case["proposal"]["outcome"] == "approve" and case["proposal"]["reasons"]
    assert (
        client.post(f"{API}/cases/{ref}/assign", json={}, headers=staff["parking"]).json()["status"]
        == "in_review"
    )
    decided = client.post(
        f"{API}/cases/{ref}/decide",
        headers=staff["parking"],
        json={"outcome": "refuse", "reason": "The award letter is for someone else."},
    )
    assert decided.status_code == 200, decided.text
    seen = client.post(f"{API}/status/{ref}", json={"verifier": "SN11AA"}).json()
    assert seen["verified"] and seen["decision_reason"] == "The award letter is for someone else."
    assert "refused" in seen["outcome"] and "28 days" in seen["review_rights"]
    review = client.post(
        f"{API}/status/{ref}/review",
        json={"verifier": "morgan@example.com", "reason": "It is my letter."},
    )
    assert review.status_code == 201, review.text
    assert review.json()["review_case"].startswith("BB-")
    error_of(client.post(f"{API}/status/{ref}", json={"verifier": "SN9 9ZZ"}), 404)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert audit.verify(session).ok


def test_invalid_answers_are_a_422_per_field_and_kept_as_a_draft(
    client: TestClient, engine: Engine, staff: Any
) -> None:
    before = counts(engine)
    response = post(
        client,
        "parking-permit",
        parking_permit(
            postcode="nowhere", registered_keeper="perhaps", permit_start=20250101, full_name=None
        ),
    )
    error = error_of(response, 422)
    fields = [d["field"] for d in error["details"]]
    assert fields == ["full_name", "postcode", "registered_keeper", "permit_start", "draft"]
    messages = {d["field"]: d["message"] for d in error["details"]}
    assert messages["postcode"] == "Enter a real postcode, like SN1 1AA"
    assert (
        messages["registered_keeper"]
        == "Select yes if the vehicle is registered to you at this address"
    )
    draft = error["details"][-1]
    assert draft["draft"].startswith("PP-") and draft["resume_token"]
    assert "nothing is lost" in error["message"]
    after = counts(engine)
    assert after["casework_cases"] == before["casework_cases"] + 1
    assert after["decision_records"] == before["decision_records"]  # no triage of a draft
    fixed = post(
        client,
        "parking-permit",
        parking_permit(),
        draft=draft["draft"],
        resume_token=draft["resume_token"],
    )
    assert fixed.status_code == 201 and fixed.json()["reference"] == draft["draft"]
    error_of(
        post(
            client,
            "parking-permit",
            parking_permit(),
            draft=draft["draft"],
            resume_token=draft["resume_token"],
        ),
        409,
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"answers": "a string"}, 422),
        ({"answers": ["a", "list"]}, 422),
        ({"answers": {}, "colour": "red"}, 422),
        ({}, 422),
    ],
)
def test_malformed_bodies_are_refused_before_anything_is_kept(
    client: TestClient, engine: Engine, body: dict[str, Any], status: int
) -> None:
    before = counts(engine)
    error_of(client.post(f"{API}/forms/missed-bin/submissions", json=body), status)
    assert counts(engine) == before


def test_wrong_forms_and_references_are_clear_404s(client: TestClient) -> None:
    error = error_of(post(client, "dog-licence", {}), 404)
    assert "no form called 'dog-licence'" in error["message"] and "blue-badge" in error["message"]
    error_of(client.get(f"{API}/status/BB-999999"), 404)
    error_of(client.get(f"{API}/status/not-a-reference"), 422)
    error_of(
        client.post(
            f"{API}/forms/missed-bin/submissions",
            content=b"answers=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        415,
    )


def test_injection_strings_are_stored_verbatim_and_returned_as_data(
    client: TestClient, engine: Engine, staff: dict[str, dict[str, str]]
) -> None:
    hostile = "x'); DELETE FROM casework_cases; -- <img src=x onerror=alert(1)> {{7*7}} ${jndi:x}"
    made = post(
        client, "missed-bin", missed_bin(details=hostile, address_line_1="1 <b>Bold</b> Street")
    )
    assert made.status_code == 201, made.text
    ref = made.json()["reference"]
    case = client.get(f"{API}/cases/{ref}", headers=staff["waste"]).json()
    assert case["answers"]["details"] == hostile
    with Session(engine) as session:
        assert session.scalar(select(Case.id).where(Case.reference == ref)) is not None
    nul = post(client, "missed-bin", missed_bin(details="before\x00after"))
    error = error_of(nul, 422)
    assert error["details"][0] == {
        "field": "details",
        "message": "Other details must not include hidden characters like tabs or line breaks",
    }


def _upload(
    client: TestClient,
    ref: str,
    data: bytes,
    name: str,
    kind: str = "photo",
    verifier: str = "SN3 3BD",
) -> Any:
    return client.post(
        f"{API}/status/{ref}/evidence",
        params={"kind": kind, "filename": name},
        content=data,
        headers={"content-type": "application/octet-stream", "x-verifier": verifier},
    )


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (200 * 1024 * 1024))
    return buffer.getvalue()


def test_uploads_are_checked_by_content_and_kept_outside_the_web_root(
    client: TestClient, engine: Engine, settings: Settings, staff: dict[str, dict[str, str]]
) -> None:
    ref = post(client, "missed-bin", missed_bin()).json()["reference"]
    form = catalogue(settings).form("missed-bin")
    real_pdf = printed_pdf(form, {"postcode": "SN3 3BD"})
    ok = _upload(client, ref, real_pdf, "../../etc/photo.pdf")
    assert ok.status_code == 201, ok.text
    assert ok.json()["media_type"] == "application/pdf" and ok.json()["filename"] == "photo.pdf"
    stored = list((settings.casework_evidence_dir).iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == real_pdf
    assert "photo" not in stored[0].name  # a random name, not the one sent
    download = client.get(f"{API}/cases/{ref}/evidence/{ok.json()['id']}", headers=staff["waste"])
    assert download.content == real_pdf and download.headers["content-disposition"].startswith(
        "attachment"
    )

    before = counts(engine)
    fake = error_of(_upload(client, ref, b"MZ\x90\x00 this is a program" * 10, "invoice.pdf"), 422)
    assert "is not a real PDF" in fake["message"]
    broken = error_of(_upload(client, ref, b"%PDF-1.7\nnot really\n%%EOF", "letter.pdf"), 422)
    assert "not a real PDF, or it is damaged" in broken["message"]
    bomb = error_of(_upload(client, ref, _zip_bomb(), "statement.docx"), 422)
    assert "zip bomb" in bomb["message"]
    error_of(_upload(client, ref, b"PK\x03\x04 junk", "x.docx"), 422)
    wrong_kind = error_of(_upload(client, ref, real_pdf, "a.pdf", kind="passport"), 422)
    assert wrong_kind["details"][0]["field"] == "kind"
    error_of(_upload(client, ref, real_pdf, "a.pdf", verifier="SN9 9ZZ"), 404)
    big = client.post(
        f"{API}/status/{ref}/evidence",
        params={"kind": "photo"},
        content=b"%PDF-" + b"0" * (50 * 1024 * 1024),
        headers={"content-type": "application/octet-stream", "x-verifier": "SN3 3BD"},
    )
    too_large = error_of(big, 413)
    assert "larger than" in too_large["message"]
    assert counts(engine) == before
    assert len(list(settings.casework_evidence_dir.iterdir())) == 1


def test_the_domain_limit_refuses_a_50_mb_file_even_without_the_http_limit(
    engine: Engine, settings: Settings, staff: Any
) -> None:
    from townhall.core.db import transaction
    from townhall.services.casework.evidence import UploadRefused, store
    from townhall.services.casework.intake import submit

    with transaction(engine) as session:
        case = submit(
            session,
            catalogue(settings),
            settings,
            form_id="missed-bin",
            answers=missed_bin(),
            channel="api",
            actor="t",
        ).case
        with pytest.raises(UploadRefused, match="must be smaller than 10 MB"):
            store(
                session,
                catalogue(settings),
                settings,
                case,
                kind="photo",
                filename="big.pdf",
                data=b"%PDF-" + b"0" * (50 * 1024 * 1024),
                actor="t",
            )


def test_a_csv_upload_submits_valid_rows_and_keeps_the_rest_as_drafts(
    client: TestClient, engine: Engine, staff: dict[str, dict[str, str]]
) -> None:
    rows = [
        "address_line_1,postcode,bin_type,collection_date,bin_out_by_7am,assisted_collection",
        f"1 High Street,SN1 1AA,general,{missed_bin()['collection_date']},yes,no",
        f"2 High Street,SN1 1AA,ocean,{missed_bin()['collection_date']},yes,no",
        "3 High Street,,recycling,yesterday,perhaps,no",
    ]
    before = counts(engine)
    checked = client.post(
        f"{API}/forms/missed-bin/bulk",
        params={"dry_run": "true"},
        content="\n".join(rows).encode(),
        headers={**staff["waste"], "content-type": "text/csv"},
    ).json()
    assert (checked["dry_run"], checked["submitted"], checked["drafts"]) == (True, 1, 2)
    assert {row["reference"] for row in checked["rows"]} == {None}
    assert counts(engine) == before  # a dry run keeps nothing
    response = client.post(
        f"{API}/forms/missed-bin/bulk",
        content="\n".join(rows).encode(),
        headers={**staff["waste"], "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["submitted"], report["drafts"]) == (1, 2)
    assert [r["status"] for r in report["rows"]] == ["submitted", "draft", "draft"]
    assert [e["field"] for e in report["rows"][2]["errors"]] == [
        "postcode",
        "collection_date",
        "bin_out_by_7am",
    ]
    error_of(
        client.post(
            f"{API}/forms/missed-bin/bulk", content=b"x", headers={"content-type": "text/csv"}
        ),
        401,
    )


def test_a_filled_pdf_form_becomes_a_case_field_by_field(
    client: TestClient, settings: Settings, staff: dict[str, dict[str, str]]
) -> None:
    form = catalogue(settings).form("parking-permit")
    answers = {
        k: ("yes" if v is True else "no" if v is False else str(v))
        for k, v in parking_permit().items()
    }
    pdf = fill(fillable_pdf(form), answers)
    response = client.post(
        f"{API}/forms/parking-permit/documents",
        params={"filename": "permit.pdf"},
        content=pdf,
        headers={**staff["parking"], "content-type": "application/pdf"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["method"] == "acroform" and body["status"] == "triaged" and body["errors"] == []
    assert body["fields"]["vehicle_registration"] == {
        "value": "CU57 ABC",
        "confidence": 1.0,
        "source": "PDF form field vehicle_registration",
        "confirmed": False,
    }
    case = client.get(f"{API}/cases/{body['reference']}", headers=staff["parking"]).json()
    assert case["channel"] == "document" and case["evidence"][0]["kind"] == "application_form"


def test_a_text_pdf_is_held_for_the_caseworker_to_confirm(
    client: TestClient, settings: Settings, staff: dict[str, dict[str, str]]
) -> None:
    form = catalogue(settings).form("missed-bin")
    answers = {
        k: ("yes" if v is True else "no" if v is False else str(v)) for k, v in missed_bin().items()
    }
    answers["postcode"] = "SN3 3XX"  # a misreading the caseworker corrects
    response = client.post(
        f"{API}/forms/missed-bin/documents",
        content=printed_pdf(form, answers),
        headers={**staff["waste"], "content-type": "application/pdf"},
    )
    body = response.json()
    assert response.status_code == 201, body
    assert body["method"] == "text" and body["status"] == "draft"
    assert body["fields"]["bin_type"]["confidence"] == 0.95
    ref = body["reference"]
    confirmed = client.post(
        f"{API}/cases/{ref}/confirm",
        json={"corrections": {"postcode": "SN3 3BD"}},
        headers=staff["waste"],
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "triaged"
    case = client.get(f"{API}/cases/{ref}", headers=staff["waste"]).json()
    assert case["answers"]["postcode"] == "SN3 3BD"
    assert case["extraction"]["postcode"]["corrected"] is True
    assert all(item["confirmed"] for item in case["extraction"].values())


def test_staff_routes_need_their_permissions(
    client: TestClient, staff: dict[str, dict[str, str]]
) -> None:
    error_of(client.get(f"{API}/queue"), 401)
    error_of(client.get(f"{API}/queue", headers=staff["analyst"]), 403)
    assert client.get(f"{API}/dashboard", headers=staff["analyst"]).status_code == 200
    error_of(client.get(f"{API}/extract", headers=staff["parking"]), 403)
    for n in range(6):
        post(client, "missed-bin", missed_bin(address_line_1=f"{n} Mill Lane"))
    extract = client.get(f"{API}/extract", params={"k": 2}, headers=staff["analyst"])
    assert extract.status_code == 200, extract.text
    assert extract.headers["content-type"].startswith("text/csv")
    assert "k=" in extract.headers["x-anonymity"] and "Mill Lane" not in extract.text


# --- the database goes away in the middle of a write ---------------------------------------


class DatabaseOutage:
    """The app's next write fails as if the database went away (as in tests/api): SQLite is
    locked by another connection with a short busy timeout; PostgreSQL has the app's server
    process terminated just before it inserts the case."""

    def __init__(self, engine: Engine, table: str = "CASEWORK_CASES") -> None:
        self.engine = engine
        self.insert = f"INSERT INTO {table}"
        self.killed: list[int] = []
        self._locker: sqlite3.Connection | None = None

    def _short_busy_timeout(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    def _terminate(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(self.insert) or self.killed:
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        admin = create_engine(self.engine.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as other:
                assert other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        finally:
            admin.dispose()
        self.killed.append(pid)

    def __enter__(self) -> DatabaseOutage:
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", self._short_busy_timeout)
            self.engine.dispose()
            self._locker = sqlite3.connect(self.engine.url.database or "", isolation_level=None)
            self._locker.execute("BEGIN IMMEDIATE")
        else:
            event.listen(self.engine, "before_cursor_execute", self._terminate)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._locker is not None:
            self._locker.execute("ROLLBACK")
            self._locker.close()
            event.remove(self.engine, "connect", self._short_busy_timeout)
        else:
            event.remove(self.engine, "before_cursor_execute", self._terminate)
        self.engine.dispose()


def test_a_database_going_away_mid_submission_is_a_503_and_nothing_is_half_written(
    client: TestClient, engine: Engine, settings: Settings, staff: Any
) -> None:
    before = counts(engine)
    with DatabaseOutage(engine) as outage:
        response = post(client, "blue-badge", blue_badge())
        error = error_of(response, 503)
        assert "nothing was saved" in error["message"]
        assert response.headers["retry-after"] == "30"
    if engine.dialect.name == "postgresql":
        assert len(outage.killed) == 1
    assert counts(engine) == before
    retry = post(client, "blue-badge", blue_badge())
    assert retry.status_code == 201, retry.text
    assert retry.json()["reference"] == "BB-000001"  # the lost attempt used up no number
    with Session(engine) as session:
        assert audit.verify(session).ok
        assert session.scalar(select(DecisionRecord.id)) is not None


def test_a_database_going_away_mid_upload_leaves_no_file_behind(
    client: TestClient, engine: Engine, settings: Settings, staff: Any
) -> None:
    ref = post(client, "missed-bin", missed_bin()).json()["reference"]
    pdf = printed_pdf(catalogue(settings).form("missed-bin"), {"postcode": "SN3 3BD"})
    before = counts(engine)
    with DatabaseOutage(engine, "CASEWORK_EVIDENCE"):
        error_of(_upload(client, ref, pdf, "photo.pdf"), 503)
    assert counts(engine) == before
    folder = settings.casework_evidence_dir
    assert not folder.exists() or list(folder.iterdir()) == []  # the written file was removed
    assert _upload(client, ref, pdf, "photo.pdf").status_code == 201
    assert len(list(folder.iterdir())) == 1
