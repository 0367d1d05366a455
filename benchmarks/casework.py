"""Casework benchmark: intake throughput through the HTTP API, and document reading per page.

1. Intake: the app under uvicorn on a free loopback port (a thread of this process), on a
   throwaway SQLite database (or --database-url). Applications across the four demo forms are
   POSTed to /api/v1/casework/forms/{form}/submissions by concurrent httpx clients; each is
   validated, triaged by the dated rules and recorded (case, events, decision record, audit
   entries) before the 201, or kept as a draft with a 422 (one in ten is made invalid on
   purpose). Reported: applications per second, latency p50/p95, and what became of them.
2. Documents: time to read one page of a form's answers from a fillable PDF (AcroForm fields),
   a text PDF ("Label: answer" lines) and, when Tesseract is installed, a scanned PNG (OCR).

--quick is a smoke run (a few dozen applications, one repeat per document), not figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import emit  # the sibling module; scripts run with this folder on sys.path
from servers import live_server

from townhall.core import auth
from townhall.core.db import get_engine, transaction
from townhall.core.migrate import upgrade
from townhall.services.casework.catalogue import catalogue
from townhall.services.casework.documents import extract, ocr_available
from townhall.services.casework.pdf_forms import fill, fillable_pdf, printed_pdf
from townhall.settings import Settings

TEAMS = ("parking", "council-tax", "waste", "customer-services")
CLIENTS = 4
INVALID_EVERY = 10


def make_settings(database_url: str, folder: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        environment="development",  # derives the pseudonym key from the throwaway secret
        log_level="WARNING",
        log_json=True,
        metrics_enabled=True,
        casework_evidence_dir=folder / "evidence",
    )


def _date(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def application(n: int) -> tuple[str, dict[str, Any]]:
    """The n-th application: the four forms in turn, each at its own address."""
    street = f"{n} Benchmark Road"
    kind = n % 4
    if kind == 0:
        answers: dict[str, Any] = {
            "full_name": f"Applicant {n}",
            "date_of_birth": "1950-01-01",
            "address_line_1": street,
            "town": "Exampleton",
            "postcode": "SN1 1AA",
            "email": f"a{n}@example.com",
            "qualifying_benefits": ["pip_moving_around_8"] if n % 8 else ["none"],
            "terminal_illness": False,
            "walking_distance": "under_50m",
            "condition_description": "Arthritis in both knees.",
        }
        if n % 8:
            answers.pop("walking_distance")
            answers.pop("condition_description")
        form = "blue-badge"
    elif kind == 1:
        form = "council-tax-reduction"
        answers = {
            "full_name": f"Applicant {n}",
            "date_of_birth": "1980-05-01",
            "ni_number": "AB123456C",
            "address_line_1": street,
            "town": "Exampleton",
            "postcode": "SN2 2BB",
            "email": f"a{n}@example.com",
            "account_number": f"{40000000 + n}",
            "annual_council_tax": 1800,
            "lives_with_partner": n % 3 == 0,
            "children": n % 4,
            "passport_benefit": "none" if n % 5 else "universal_credit",
            "weekly_income": 150 + n % 300,
            "capital": 1000 + n % 20000,
            "received_summons": n % 17 == 0,
        }
        if not n % 5:
            answers.pop("weekly_income")
    elif kind == 2:
        form = "missed-bin"
        answers = {
            "address_line_1": street,
            "postcode": "SN3 3BD",
            "bin_type": ("general", "recycling", "food", "garden", "clinical")[n % 5],
            "collection_date": _date(-(n % 3)),
            "bin_out_by_7am": n % 11 != 0,
            "assisted_collection": n % 13 == 0,
        }
    else:
        form = "parking-permit"
        answers = {
            "full_name": f"Applicant {n}",
            "address_line_1": street,
            "town": "Exampleton",
            "postcode": "SN1 4DD",
            "email": f"a{n}@example.com",
            "zone": "ABC"[n % 3],
            "vehicle_registration": "CU57 ABC",
            "registered_keeper": True,
            "electric_vehicle": False,
            "blue_badge_holder": n % 7 == 0,
            "permit_start": _date(7),
        }
    if n % INVALID_EVERY == INVALID_EVERY - 1:
        answers["postcode"] = "not a postcode"  # kept as a draft: validation's error path
    return form, answers


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def intake(settings: Settings, applications: int, clients: int) -> dict[str, Any]:
    engine = get_engine(settings.database_url)
    with transaction(engine) as session:
        for slug in TEAMS:
            session.add(auth.Team(slug=slug, name=slug.title()))
    local = threading.local()
    opened: list[httpx.Client] = []

    with live_server(settings) as base:

        def send(n: int) -> tuple[float, int]:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=base, timeout=60)
                opened.append(local.client)
            form, answers = application(n)
            started = time.perf_counter()
            response = local.client.post(
                f"/api/v1/casework/forms/{form}/submissions", json={"answers": answers}
            )
            return time.perf_counter() - started, response.status_code

        send(-4)  # the first request loads the forms, rules and pseudonym key
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(send, range(applications)))
        elapsed = time.perf_counter() - started
        for client in opened:
            client.close()
    latencies = [seconds for seconds, _ in results]
    statuses = Counter(status for _, status in results)
    return {
        "intake.applications": applications,
        "intake.clients": clients,
        "intake.seconds": round(elapsed, 2),
        "intake.applications_per_second": round(applications / elapsed, 1),
        "intake.latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "intake.latency_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "intake.submitted_201": statuses.get(201, 0),
        "intake.kept_as_draft_422": statuses.get(422, 0),
        "intake.other_statuses": {str(k): v for k, v in statuses.items() if k not in (201, 422)},
        "intake.database": settings.database_url.split(":", 1)[0],
        "intake.note": (
            "each 201 is validated, triaged by the rules in force and written with its events, "
            "decision record and audit entries before the reply; uvicorn serves from a thread of "
            "this process and the httpx clients share its CPUs"
        ),
    }


def _scan_png(lines: list[str]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=30)
    image = Image.new("L", (1654, 2339), 255)  # A4 at 200 dpi
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((120, 150 + row * 70), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def documents(settings: Settings, repeats: int) -> dict[str, Any]:
    cat = catalogue(settings)
    form = cat.form("council-tax-reduction")
    _, answers = application(1)
    text = {k: "yes" if v is True else "no" if v is False else str(v) for k, v in answers.items()}
    samples = {
        "acroform": fill(fillable_pdf(form), text),
        "text_pdf": printed_pdf(form, text),
    }
    if ocr_available():
        lines = [form.title] + [f"{form.fields[k].short_label}: {v}" for k, v in text.items()]
        samples["ocr_png"] = _scan_png(lines)
    out: dict[str, Any] = {"documents.form": form.id, "documents.repeats": repeats}
    for name, data in samples.items():
        per_page = []
        found = None
        for _ in range(repeats):
            found = extract(form, data)
            per_page.append(found.seconds / max(found.pages, 1))
        assert found is not None
        out[f"documents.{name}.pages"] = found.pages
        out[f"documents.{name}.ms_per_page"] = round(statistics.median(per_page) * 1000, 2)
        out[f"documents.{name}.fields_read"] = len(found.answers)
        out[f"documents.{name}.fields_expected"] = len(text)
        if found.fields:
            out[f"documents.{name}.lowest_confidence"] = found.lowest_confidence
    if "ocr_png" not in samples:
        out["documents.ocr"] = (
            "skipped: Tesseract (Debian tesseract-ocr and the [ocr] extra) not installed"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="a smoke run, not figures")
    parser.add_argument("--applications", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--repeats", type=int, default=5, help="reads of each document")
    parser.add_argument(
        "--database-url", default="", help="run intake on this (empty) database instead"
    )
    args = parser.parse_args(argv)
    applications = 40 if args.quick else args.applications
    repeats = 1 if args.quick else args.repeats
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract: one core, as a worker would
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/casework.db"
        upgrade(url)
        settings = make_settings(url, Path(folder))
        figures = intake(settings, applications, args.clients)
        figures |= documents(settings, repeats)
        get_engine.cache_clear()
    figures["quick"] = args.quick
    emit(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
