"""`townhall casework ...`: forms and their rule tests, bulk and document intake, cases and queues.

The command line runs with the database's own access, so it sees every team's cases; what it
changes is audited as "cli". Every command prints the same data as the API with --json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(help="Forms, applications and caseworkers' queues.", no_args_is_help=True)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ACTOR = "cli"


def _context() -> tuple[Any, Any]:
    from townhall.core.db import get_engine
    from townhall.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        _fail(str(exc), 2)
    return settings, get_engine(settings.database_url, settings.database_echo)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg="red")
    raise typer.Exit(code)


def _catalogue(settings: Any) -> Any:
    from townhall.core.errors import TownhallError
    from townhall.services.casework.catalogue import catalogue

    try:
        return catalogue(settings)
    except TownhallError as exc:
        _fail(exc.message)


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _run(work: Any) -> Any:
    """Run `work(session, settings, catalogue)` in one transaction; domain errors are printed."""
    from sqlalchemy.exc import OperationalError

    from townhall.core.db import transaction
    from townhall.core.errors import TownhallError

    settings, engine = _context()
    cat = _catalogue(settings)
    try:
        with transaction(engine) as session:
            return work(session, settings, cat)
    except TownhallError as exc:
        details = "".join(f"\n  {d.get('field', '')}: {d.get('message', '')}" for d in exc.details)
        _fail(exc.message + details)
    except OperationalError:
        _fail("the database is unavailable, so nothing was saved; try again shortly")


@app.command()
def forms(as_json: AsJson = False) -> None:
    """The forms this council takes, with their reference prefixes and owning teams."""
    settings, _ = _context()
    cat = _catalogue(settings)
    rows = [
        {
            "id": form.id,
            "title": form.title,
            "version": form.version,
            "prefix": form.reference_prefix,
            "team": form.team,
            "pages": len(form.pages),
            "questions": len(form.fields),
            "rules_in_force_from": cat.rules[form.id].entries[-1].effective_from.isoformat(),
        }
        for form in cat.library.forms.values()
    ]
    if as_json:
        _print(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['id']:<24}{row['prefix']:<5}{row['team']:<20}{row['questions']:>3} questions  "
            f"{row['title']}"
        )


@app.command()
def check(as_json: AsJson = False) -> None:
    """Load every form and rules file and run the rule tests; exits 1 if any fails."""
    from townhall.services.casework.ruletests import run_all

    settings, _ = _context()
    cat = _catalogue(settings)
    outcomes = run_all(cat.library)
    failed = [o for o in outcomes if not o.passed]
    if as_json:
        _print(
            {
                "forms": len(cat.library.forms),
                "cases": len(outcomes),
                "failed": [o.__dict__ | {"passed": False} for o in failed],
            }
        )
    else:
        for outcome in outcomes:
            mark = "ok  " if outcome.passed else "FAIL"
            typer.echo(f"{mark} {outcome.form}: {outcome.name}")
            for problem in outcome.problems:
                typer.echo(f"       {problem}")
        typer.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="CSV: a header of question names, a row a case.")],
    form: Annotated[
        str | None, typer.Option(help="The form of every row (else a `form` column).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Submit a CSV file of cases: valid rows are triaged, invalid rows kept as drafts."""
    from townhall.services.casework.channels import submit_csv

    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"{file}: {exc.strerror or exc}")
    report = _run(lambda s, st, cat: submit_csv(s, cat, st, data, form_id=form, actor=ACTOR))
    summary = report.as_dict()
    if as_json:
        _print(summary)
        return
    for row in report.rows:
        typer.echo(f"row {row.row:<6}{row.status:<11}{row.reference or '-'}")
        for error in row.errors:
            typer.echo(f"          {error.get('field', '')}: {error.get('message', '')}")
    typer.echo(
        f"{summary['submitted']} submitted, {summary['drafts']} kept as drafts, "
        f"{summary['refused']} refused"
    )


@app.command()
def read(
    file: Annotated[Path, typer.Argument(help="A PDF (fillable or text) or a scan (JPG, PNG).")],
    form: Annotated[str, typer.Option(help="The form the document is.")],
    as_json: AsJson = False,
) -> None:
    """Make a case from a document; answers read from it wait for a caseworker to confirm."""
    from townhall.services.casework.channels import submit_document

    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"{file}: {exc.strerror or exc}")

    def work(session: Any, settings: Any, cat: Any) -> dict[str, Any]:
        made, found = submit_document(
            session, cat, settings, form_id=form, data=data, filename=file.name, actor=ACTOR
        )
        return {
            "reference": made.case.reference,
            "status": made.case.status,
            "method": found.method,
            "pages": found.pages,
            "seconds": round(found.seconds, 3),
            "fields": found.fields,
            "errors": [error.as_dict() for error in made.errors],
        }

    result = _run(work)
    if as_json:
        _print(result)
        return
    typer.echo(f"{result['reference']} ({result['status']}), read by {result['method']}")
    for name, item in result["fields"].items():
        typer.echo(f"  {name:<28}{item['confidence']:>5.2f}  {item['value']}")
    for error in result["errors"]:
        typer.echo(f"  ! {error['field']}: {error['message']}")


@app.command()
def show(reference: str, as_json: AsJson = False) -> None:
    """A case: answers, the rules' proposal and reasons, evidence and history."""
    from townhall.services.casework.views import case_detail

    detail = _run(lambda s, st, cat: case_detail(s, cat, None, reference))
    if as_json:
        _print(detail)
        return
    typer.echo(f"{detail['reference']}  {detail['form_title']}  [{detail['status']}]")
    typer.echo(
        f"team {detail['team'] or '-'}  priority {detail['priority'] or '-'}  "
        f"assignee {detail['assignee'] or '-'}  due {detail['sla']['due'] or '-'}"
        + ("  BREACHED" if detail["sla"]["breached"] else "")
    )
    for row in detail["summary"]:
        typer.echo(f"  {row['label'][:40]:<42}{row['value']}")
    for error in detail["errors"]:
        typer.echo(f"  ! {error['field']}: {error['message']}")
    proposal = detail["proposal"]
    if proposal:
        typer.echo(f"rules propose: {proposal['outcome']} ({proposal['status']})")
        for reason in proposal["reasons"]:
            typer.echo(f"  - {reason['text']}")
    if detail["outcome"]:
        typer.echo(f"decided: {detail['outcome']}: {detail['decision_reason']}")
    for event in detail["events"]:
        typer.echo(f"  {event['at'][:16]}  {event['actor']:<12}{event['action']}")


@app.command()
def queue(
    team: Annotated[str, typer.Argument(help="The team's slug, e.g. parking.")],
    status: Annotated[str | None, typer.Option(help="Only cases in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: AsJson = False,
) -> None:
    """A team's open cases, most urgent first, with their service level clocks."""
    from townhall.services.casework.views import queue as team_queue

    page = _run(lambda s, st, cat: team_queue(s, None, team=team, status=status, limit=limit))
    if as_json:
        _print(page)
        return
    for item in page["items"]:
        sla = item["sla"]
        clock = "paused" if sla["paused"] else f"{sla['working_days_left']} days"
        flag = " BREACHED" if sla["breached"] else ""
        typer.echo(
            f"{item['reference']:<12}{item['form']:<24}{item['priority'] or '-':<9}"
            f"{item['status']:<21}{item['assignee'] or '-':<16}{clock}{flag}"
        )
    typer.echo(f"{page['total']} open")


@app.command()
def dashboard(as_json: AsJson = False) -> None:
    """Open cases, ages and service level breaches per team and form."""
    from townhall.services.casework.views import dashboard as board

    data = _run(lambda s, st, cat: board(s, None))
    if as_json:
        _print(data)
        return
    typer.echo(f"{'team':<20}{'form':<24}{'open':>5}{'breached':>9}{'median age':>11}{'oldest':>8}")
    for row in data["rows"]:
        typer.echo(
            f"{row['team'] or '-':<20}{row['form']:<24}{row['open']:>5}{row['breached']:>9}"
            f"{row['median_age_days'] if row['median_age_days'] is not None else '-':>11}"
            f"{row['oldest_age_days'] if row['oldest_age_days'] is not None else '-':>8}"
        )
    totals = data["totals"]
    typer.echo(f"{totals['open']} open, {totals['breached']} breached, {totals['drafts']} drafts")


@app.command()
def status(
    reference: str,
    verifier: Annotated[
        str | None, typer.Option(help="The postcode or email address on the form.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """What the citizen sees of a case (with --verifier, the reasons too)."""
    from townhall.services.casework.actions import citizen_case
    from townhall.services.casework.views import citizen_status

    def work(session: Any, _settings: Any, cat: Any) -> dict[str, Any]:
        if verifier:
            citizen_case(cat, session, reference, verifier)
        return citizen_status(session, cat, reference, verified=bool(verifier))

    view = _run(work)
    if as_json:
        _print(view)
        return
    for key, value in view.items():
        if value not in (None, [], ""):
            typer.echo(f"{key:<24}{value}")


@app.command()
def extract(
    out: Annotated[Path, typer.Option(help="Write the CSV here.")],
    k: Annotated[
        int, typer.Option(min=2, help="Every row shares its quasi-identifiers with k-1 others.")
    ] = 5,
    l: Annotated[int, typer.Option(min=1, help="Each group shows l different outcomes.")] = 1,  # noqa: E741
    form: Annotated[str | None, typer.Option(help="Only this form's cases.")] = None,
) -> None:
    """An anonymised extract of cases for analysis (k-anonymous, l-diverse in outcome)."""
    from townhall.services.casework.extract import anonymised_extract, to_csv

    made = _run(lambda s, st, cat: anonymised_extract(s, k=k, l=l, form=form))
    out.write_text(to_csv(made), encoding="utf-8")
    typer.echo(
        f"{len(made.frame)} rows to {out}: k={made.k}, l={made.l}, "
        f"{made.suppressed_rows} suppressed, generalised {made.levels}"
    )


@app.command()
def handoffs(as_json: AsJson = False) -> None:
    """Make enquiry cases from hand-offs (questions other services passed to people)."""
    from townhall.services.casework.channels import import_handoffs

    made = _run(
        lambda s, st, cat: [
            {"reference": c.reference, "status": c.status} for c in import_handoffs(s, cat, st)
        ]
    )
    if as_json:
        _print(made)
        return
    for item in made:
        typer.echo(f"{item['reference']}  {item['status']}")
    typer.echo(f"{len(made)} hand-offs made into cases")


@app.command("form-pdf")
def form_pdf(
    form: Annotated[str, typer.Argument(help="The form's id, e.g. blue-badge.")],
    out: Annotated[Path, typer.Option(help="Write the PDF here.")],
) -> None:
    """A fillable PDF of a form, whose answers `casework read` takes back field by field."""
    from townhall.services.casework.pdf_forms import fillable_pdf

    settings, _ = _context()
    cat = _catalogue(settings)
    from townhall.core.errors import TownhallError

    try:
        spec = cat.form(form)
    except TownhallError as exc:
        _fail(exc.message)
    out.write_bytes(fillable_pdf(spec))
    typer.echo(f"{spec.title}: {len(spec.fields)} fields, written to {out}")
