"""The `townhall` command: serve, demo, database, users and audit, plus each service's group."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Annotated

import typer

from townhall.settings import SettingsError, get_settings

app = typer.Typer(help="Townhall: responsible AI for public services.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts and API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
app.add_typer(models_app, name="models")
retention_app = typer.Typer(help="Retention rules and purges.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")
rights_app = typer.Typer(help="Subject access and erasure.", no_args_is_help=True)
app.add_typer(rights_app, name="data-rights")
jobs_app = typer.Typer(help="Background and scheduled jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def _settings():  # type: ignore[no-untyped-def]
    try:
        return get_settings()
    except SettingsError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    except Exception as exc:  # pydantic's ValidationError for a malformed value
        typer.secho(f"error: the settings are not valid:\n{exc}", err=True, fg="red")
        raise typer.Exit(2) from None


def _engine():  # type: ignore[no-untyped-def]
    from townhall.core.db import get_engine

    settings = _settings()
    return get_engine(settings.database_url, settings.database_echo)


def _hasher():  # type: ignore[no-untyped-def]
    from townhall.core.auth import password_hasher

    settings = _settings()
    return password_hasher(settings.password_time_cost, settings.password_memory_kib)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the web service and API (run `townhall db upgrade` first).

    Unless `jobs_worker` is "external", scheduled and background jobs run in this process too.
    """
    import uvicorn

    settings = _settings()
    consumer = None
    if settings.jobs_worker == "in-process":
        consumer = _queue().consumer(workers=settings.jobs_threads)
        consumer.start()
    try:
        _uvicorn(uvicorn, settings, host, port, workers)
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


def _uvicorn(uvicorn, settings, host, port, workers) -> None:  # type: ignore[no-untyped-def]
    uvicorn.run(
        "townhall.app:asgi",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_config=None,
    )


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server after loading.")
    ] = True,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Migrate, load the fictional Exampleshire Council, print staff logins and serve it."""
    os.environ["TOWNHALL_DEMO_MODE"] = "true"
    # Sessions are signed with a fresh key each run unless one is set: demo logins change anyway.
    os.environ.setdefault("TOWNHALL_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("TOWNHALL_LOG_JSON", "false")  # a person is reading this terminal
    get_settings.cache_clear()
    settings = _settings()
    from townhall.core.db import transaction
    from townhall.core.demo import load_demo
    from townhall.core.migrate import upgrade

    upgrade(settings.database_url)
    from townhall.app import load_service_demos

    with transaction(_engine()) as session:
        logins = load_demo(session, _hasher())
        loaded = load_service_demos(session, settings)
    where = f"http://{host or settings.host}:{port or settings.port}"
    typer.echo(f"\n{settings.organisation_name} (fictional demo) is ready at {where}\n")
    for line in loaded:
        typer.echo(f"  {line}")
    typer.echo("")
    typer.echo("Staff sign-in (passwords are new each time `townhall demo` runs):")
    typer.echo(f"  {'username':<16}{'password':<20}{'role':<14}team")
    for login in logins:
        typer.echo(f"  {login.username:<16}{login.password:<20}{login.role:<14}{login.team}")
    typer.echo("")
    sys.stdout.flush()
    if serve_after:
        serve(host=host, port=port)


def _queue():  # type: ignore[no-untyped-def]
    from townhall.app import platform_jobs
    from townhall.core.jobs import Queue

    return Queue(_settings(), platform_jobs())


@jobs_app.command("worker")
def jobs_worker(
    threads: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
) -> None:
    """Run queued and scheduled jobs until stopped (when `jobs_worker` is "external")."""
    settings = _settings()
    consumer = _queue().consumer(workers=threads or settings.jobs_threads, embedded=False)
    typer.echo(f"Running jobs with {consumer.workers} thread(s); stop with Ctrl+C.")
    consumer.run()


@jobs_app.command("list")
def jobs_list(
    limit: Annotated[int, typer.Option(help="How many recent runs to show.")] = 20,
) -> None:
    """The jobs there are, their schedules, and the most recent runs."""
    from townhall.core import jobs
    from townhall.core.db import transaction

    queue = _queue()
    for job in queue.jobs.values():
        schedule = jobs.schedule_of(job, queue.settings)
        typer.echo(f"{job.name:<24}{schedule or 'on request':<18}{job.description}")
    with transaction(_engine()) as session:
        runs = jobs.recent_runs(session, limit=limit)
    if runs:
        typer.echo("")
    for run in runs:
        finished = run.finished_at.isoformat(timespec="seconds") if run.finished_at else "-"
        typer.echo(f"{run.id}  {run.job:<24}{run.status:<9}{finished}  {run.error or ''}")


@jobs_app.command("run")
def jobs_run(name: Annotated[str, typer.Argument(help="The job, e.g. retention.purge.")]) -> None:
    """Run a job now, in this process, recorded like a scheduled run."""
    from townhall.core.errors import TownhallError

    try:
        run = _queue().run_now(name, by="cli")
    except TownhallError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"{run.job}: {run.status} {run.result or run.error or ''}")
    if run.status != "done":
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from townhall.core.migrate import upgrade

    upgrade(_settings().database_url, revision)
    typer.echo(f"database upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision.")]) -> None:
    """Undo migrations down to REVISION ('base' removes every table)."""
    from townhall.core.migrate import downgrade

    downgrade(_settings().database_url, revision)
    typer.echo(f"database downgraded to {revision}")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Argument(help="What the migration changes.")],
) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command

    from townhall.core.migrate import alembic_config, upgrade

    url = _settings().database_url
    upgrade(url)
    command.revision(alembic_config(url), message=message, autogenerate=True)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Lower-case login name.")],
    role: Annotated[str, typer.Option(help="caseworker, investigator, analyst, auditor or admin.")],
    team: Annotated[list[str] | None, typer.Option(help="Team slug; repeat for several.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="TOWNHALL_NEW_USER_PASSWORD",
            help="Prompted for if not given.",
        ),
    ] = "",
) -> None:
    """Create a staff user."""
    from townhall.core import audit, auth
    from townhall.core.db import transaction
    from townhall.core.errors import TownhallError

    try:
        with transaction(_engine()) as session:
            teams = [auth.team_by_slug(session, slug) for slug in team or []]
            user = auth.create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=name,
                teams=teams,
                hasher=_hasher(),
            )
            audit.log(session, "cli", "user.created", f"user:{user.id}", {"role": user.role})
    except TownhallError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"created {user.username} ({user.role})")


@users_app.command("list")
def users_list() -> None:
    """List staff users with their roles and teams."""
    from sqlalchemy import select

    from townhall.core.auth import User
    from townhall.core.db import transaction

    with transaction(_engine()) as session:
        for user in session.scalars(select(User).order_by(User.username)):
            teams = ",".join(t.slug for t in user.teams) or "-"
            state = "" if user.active else " (inactive)"
            typer.echo(f"{user.username:<20}{user.role:<14}{teams}{state}")


@users_app.command("token")
def users_token(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for.")],
) -> None:
    """Issue an API token for USERNAME; it is printed once and never stored in plain text."""
    from sqlalchemy import select

    from townhall.core import audit, auth
    from townhall.core.db import transaction

    with transaction(_engine()) as session:
        user = session.scalar(select(auth.User).where(auth.User.username == username))
        if user is None:
            typer.secho(f"error: no user called {username!r}", err=True, fg="red")
            raise typer.Exit(1)
        token, plain = auth.issue_token(session, user, name)
        audit.log(session, "cli", "token.issued", f"token:{token.id}")
    typer.echo(plain)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every link of the audit chain; exit 1 and name the first bad entry if broken."""
    from townhall.core import audit
    from townhall.core.db import transaction

    with transaction(_engine()) as session:
        result = audit.verify(session)
    if not result.ok:
        typer.secho(result.describe(), err=True, fg="red")
        raise typer.Exit(1)
    typer.echo(result.describe())


@models_app.command("list")
def models_list(
    name: Annotated[str | None, typer.Option(help="Only this model's versions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered model versions with their status and fairness verdict."""
    import json

    from townhall.core import registry
    from townhall.core.db import transaction

    with transaction(_engine()) as session:
        rows = [
            {
                "name": m.name,
                "version": m.version,
                "status": m.status,
                "fairness": (m.fairness or {}).get("verdict"),
                "metrics": m.metrics,
                "agreement": registry.agreement(session, m)["agreement_rate"],
            }
            for m in registry.versions(session, name)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['name']:<24}{row['version']:<12}{row['status']:<11}"
            f"fairness={row['fairness'] or '-'}"
        )


@retention_app.command("purge")
def retention_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, remove nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove records past their retention period now (the scheduled job does this daily)."""
    import json

    import townhall.services  # noqa: F401 - services register their record types on import
    from townhall.core.db import transaction
    from townhall.governance import retention

    settings = _settings()
    with transaction(_engine()) as session:
        result = retention.purge(
            session, settings.retention_days, dry_run=dry_run, actor="cli:retention"
        )
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "removed": result.removed}))
        return
    verb = "would remove" if dry_run else "removed"
    for name, count in result.removed.items():
        typer.echo(f"{name:<20}{verb} {count} (older than {settings.retention_days[name]} days)")


@rights_app.command("export")
def rights_export(
    subject_ref: Annotated[str, typer.Argument(help="Pseudonymised reference.")],
) -> None:
    """Print everything held about SUBJECT_REF as JSON (a subject access request)."""
    import json

    from townhall.core.db import transaction
    from townhall.governance import retention

    with transaction(_engine()) as session:
        report = retention.subject_access(session, subject_ref, actor="cli")
    typer.echo(json.dumps(report, indent=2))


@rights_app.command("erase")
def rights_erase(
    subject_ref: Annotated[str, typer.Argument(help="Pseudonymised reference.")],
    reason: Annotated[str, typer.Option(help="The request's reference; no personal details.")],
) -> None:
    """Erase every record held about SUBJECT_REF; the audit log keeps the count and reason."""
    from townhall.core.db import transaction
    from townhall.core.errors import TownhallError
    from townhall.governance import retention

    try:
        with transaction(_engine()) as session:
            count = retention.erase(session, subject_ref, actor="cli", reason=reason)
    except TownhallError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"erased {count} records")


def fairness_audit(
    decision_type: Annotated[str, typer.Argument(help="The decision type to audit.")],
    by: Annotated[str, typer.Option(help="Characteristics, comma-separated: sex,age_band.")],
    positive: Annotated[str, typer.Option(help="The outcome that counts as selected.")],
    use: Annotated[str, typer.Option(help="punitive (judged on false positives) or assistive.")],
    min_group_size: Annotated[
        int | None,
        typer.Option(help="Smaller groups: insufficient evidence. Default: the policy's."),
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 1000,
    csv_out: Annotated[str | None, typer.Option("--csv", help="Also write the CSV here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    policy: Annotated[
        str | None,
        typer.Option(help="Fairness policy YAML. Default: the fairness_policy_file setting."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(help="Audit date, YYYY-MM-DD: judge by the policy then in force."),
    ] = None,
) -> None:
    """Audit reviewed decisions of DECISION_TYPE across protected characteristics."""
    import json
    from datetime import date
    from pathlib import Path

    from townhall.core.db import transaction
    from townhall.core.errors import TownhallError
    from townhall.governance.fairness_cli import render
    from townhall.governance.fairness_records import audit_decision_type

    if use not in ("punitive", "assistive"):
        typer.secho("error: --use must be punitive or assistive", err=True, fg="red")
        raise typer.Exit(2)
    columns = [c.strip() for c in by.split(",") if c.strip()]
    try:
        day = date.fromisoformat(on) if on else date.today()
    except ValueError:
        typer.secho("error: --on must be a date written YYYY-MM-DD", err=True, fg="red")
        raise typer.Exit(2) from None
    policy_file = Path(policy) if policy else _settings().fairness_policy_file
    try:
        with transaction(_engine()) as session:
            report = audit_decision_type(
                session,
                decision_type,
                by=columns,
                positive_outcome=positive,
                use=use,  # type: ignore[arg-type]
                actor="cli",
                policy_file=policy_file,
                on=day,
                min_group_size=min_group_size,
                n_bootstrap=bootstrap,
            )
    except TownhallError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        raise typer.Exit(2) from None
    if csv_out:
        Path(csv_out).write_text(report.to_csv())
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else render(report, decision_type))


def _add_model_commands() -> None:
    from townhall.core import registry_cli
    from townhall.governance import explain_cli

    registry_cli.add_commands(models_app)
    explain_cli.add_commands(models_app)


def _add_governance_commands() -> None:
    from townhall.governance import anonymise_cli, fairness_cli, privacy_cli

    app.add_typer(anonymise_cli.app, name="export")
    app.add_typer(privacy_cli.app, name="privacy")
    fairness_cli.app.command("audit")(fairness_audit)
    app.add_typer(fairness_cli.app, name="fairness")


def _add_service_commands() -> None:
    from townhall.services import SERVICES

    for service in SERVICES:
        if service.cli is not None:
            app.add_typer(service.cli, name=service.name)


_add_model_commands()
_add_governance_commands()
_add_service_commands()
