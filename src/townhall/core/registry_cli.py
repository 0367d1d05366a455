"""`townhall models ...`: register a model and take it through its lifecycle.

Every change names the person making it (`--by USERNAME`), who must be an active user allowed to
manage models, as on the web. The registry enforces the rules (evidence before promotion, four
eyes) and audits each change; these commands read files, call it and print the result. Any error
is one line on stderr, exit status 1, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from townhall.core import registry
from townhall.core.auth import User
from townhall.core.errors import Forbidden, InvalidInput, NotFound, TownhallError
from townhall.core.permissions import MODELS_MANAGE

Name = Annotated[str, typer.Argument(help="The model's name, e.g. triage.")]
Version = Annotated[str, typer.Argument(help="The version, e.g. 1.0.")]
By = Annotated[str, typer.Option("--by", help="Username of the person doing this.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg="red")
    raise typer.Exit(code)


def engine() -> Engine:
    from townhall.core.db import get_engine
    from townhall.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        fail(str(exc), 2)
    except Exception as exc:  # pydantic's ValidationError for a malformed value
        fail(f"the settings are not valid: {' '.join(str(exc).split())}", 2)
    return get_engine(settings.database_url, settings.database_echo)


@contextmanager
def transaction() -> Iterator[Session]:
    """A transaction on the configured database; a domain error rolls it back and is reported."""
    from townhall.core.db import transaction as begin

    try:
        with begin(engine()) as session:
            yield session
    except TownhallError as exc:
        fail(exc.message)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}.") from None
    return digest.hexdigest()


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a file; NaN and Infinity are refused (PostgreSQL's JSON has neither)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except OSError as exc:
        raise InvalidInput(f"Cannot read the {what} file {path}: {exc.strerror or exc}.") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidInput(f"The {what} file {path} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or not data:
        raise InvalidInput(f"The {what} file {path} must hold a non-empty JSON object.")
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):  # YAML reads an unquoted 2026-11-01 as a date
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} values cannot be stored")


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML mapping from a file, as JSON-ready data (dates become ISO text)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"Cannot read the {what} file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"The {what} file {path} is not UTF-8 text: {exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise InvalidInput(f"The {what} file {path} is not valid YAML: {problem}{where}.") from None
    if not isinstance(data, dict) or not data or not all(isinstance(k, str) for k in data):
        raise InvalidInput(f"The {what} file {path} must hold a YAML mapping of named fields.")
    try:
        return dict(json.loads(json.dumps(data, default=_plain, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The {what} file {path} holds a value JSON cannot: {exc}.") from None


def person(session: Session, username: str) -> User:
    """The active user called USERNAME, who must be allowed to manage models."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user called {username!r}.")
    if not user.active:
        raise Forbidden(f"{user.username} is not an active user.")
    if not user.can(MODELS_MANAGE):
        raise Forbidden(f"{user.username} ({user.role}) is not allowed to manage models.")
    return user


def _username(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user is not None else f"user:{user_id}"


def _when(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def describe(session: Session, model: registry.RegisteredModel) -> dict[str, Any]:
    """Everything the registry holds about one version, as JSON-ready data."""
    try:
        artifact_sha256: str | None = registry.artifact_location(model)[1]
    except InvalidInput:
        artifact_sha256 = None
    return {
        "name": model.name,
        "version": model.version,
        "status": model.status,
        "registered_by": _username(session, model.registered_by),
        "registered_at": _when(model.registered_at),
        "training_data_digest": model.training_data_digest,
        "artifact_uri": model.artifact_uri,
        "artifact_sha256": artifact_sha256,
        "metrics": model.metrics,
        "fairness": model.fairness,
        "model_card": model.model_card,
        "promotion_requested_by": _username(session, model.promotion_requested_by),
        "approved_by": _username(session, model.approved_by),
        "live_since": _when(model.live_since),
        "retired_at": _when(model.retired_at),
        "withdrawn_reason": model.withdrawn_reason,
        "promotion_blockers": registry.promotion_blockers(model),
        "agreement": registry.agreement(session, model),
    }


def render(info: dict[str, Any]) -> str:
    verdict = (info["fairness"] or {}).get("verdict")
    agreement = info["agreement"]
    lines = [
        f"{info['name']} version {info['version']}: {info['status']}",
        f"  registered      {info['registered_at']} by {info['registered_by'] or '-'}",
        f"  training data   sha256 {info['training_data_digest']}",
        f"  artifact        {info['artifact_uri'] or '-'}",
        "  metrics         " + ", ".join(f"{k}={v}" for k, v in info["metrics"].items()),
        f"  fairness        {verdict or 'not run'}",
    ]
    for key, value in (info["model_card"] or {}).items():
        lines.append(f"  card {key:<10} {value}")
    if info["promotion_requested_by"]:
        lines.append(f"  promotion       asked for by {info['promotion_requested_by']}")
    if info["approved_by"]:
        lines.append(f"  approved by     {info['approved_by']}, live since {info['live_since']}")
    if info["retired_at"]:
        lines.append(f"  retired         {info['retired_at']}")
    if info["withdrawn_reason"]:
        lines.append(f"  withdrawn       {info['withdrawn_reason']}")
    if info["status"] in ("candidate", "shadow"):
        blockers = info["promotion_blockers"]
        lines.append(f"  blockers        {'; '.join(blockers) if blockers else 'none'}")
    if agreement["compared"]:
        rate = 100 * agreement["agreement_rate"]
        lines.append(f"  shadow          agreed {rate:.1f}% of {agreement['compared']} compared")
    return "\n".join(lines)


def _echo(info: dict[str, Any], as_json: bool, line: str) -> None:
    """After a change: the whole record as JSON, or one line and its promotion blockers."""
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(line)
    if info["promotion_blockers"]:
        typer.echo("before it can go live: " + "; ".join(info["promotion_blockers"]))


def register(
    name: Name,
    version: Version,
    artifact: Annotated[
        Path, typer.Option(help="The trained model file; the SHA-256 of its bytes is recorded.")
    ],
    training_data: Annotated[
        Path, typer.Option(help="The training data file; the SHA-256 of its bytes is recorded.")
    ],
    metrics: Annotated[Path, typer.Option(help="A JSON object of evaluation metrics.")],
    by: By,
    card: Annotated[
        Path | None,
        typer.Option(help="Model card YAML: purpose, owner, training_data, limitations, ..."),
    ] = None,
    fairness: Annotated[
        Path | None,
        typer.Option(help="Fairness audit JSON, e.g. `townhall fairness audit --json`."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Register NAME VERSION as a candidate, with its evidence and file digests."""
    try:
        evidence = _evidence(card, fairness)
        values = {
            "metrics": read_json_object(metrics, "metrics"),
            "training_data_digest": sha256_file(training_data),
            "artifact_uri": registry.file_artifact_uri(artifact, sha256_file(artifact)),
            **evidence,
        }
    except InvalidInput as exc:
        fail(exc.message)
    with transaction() as session:
        user = person(session, by)
        model = registry.register(session, name=name, version=version, by=user, **values)
        info = describe(session, model)
    _echo(info, as_json, f"registered {name} {version} as a candidate")


def _evidence(card: Path | None, fairness: Path | None) -> dict[str, Any]:
    evidence: dict[str, Any] = {}
    if card is not None:
        evidence["model_card"] = read_yaml_mapping(card, "model card")
    if fairness is not None:
        report = read_json_object(fairness, "fairness")
        if not isinstance(report.get("verdict"), str):
            raise InvalidInput(
                f"The fairness file {fairness} has no verdict; "
                "use the output of `townhall fairness audit --json`."
            )
        evidence["fairness"] = report
    return evidence


def evidence(
    name: Name,
    version: Version,
    by: By,
    card: Annotated[Path | None, typer.Option(help="Model card YAML to record.")] = None,
    fairness: Annotated[Path | None, typer.Option(help="Fairness audit JSON to record.")] = None,
    as_json: AsJson = False,
) -> None:
    """Attach a model card and/or a fairness audit to a candidate or shadow version."""
    if card is None and fairness is None:
        fail("give --card, --fairness or both")
    try:
        values = _evidence(card, fairness)
    except InvalidInput as exc:
        fail(exc.message)
    with transaction() as session:
        user = person(session, by)
        model = registry.get(session, name, version)
        registry.attach_evidence(session, model, by=user, **values)
        info = describe(session, model)
    _echo(info, as_json, f"recorded evidence for {name} {version}")


def show(
    name: Name,
    version: Annotated[
        str | None, typer.Argument(help="The version; default: the live one.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show one version with its evidence, promotion blockers and shadow agreement."""
    with transaction() as session:
        if version is not None:
            model = registry.get(session, name, version)
        else:
            found = registry.live(session, name)
            if found is None:
                known = [m.version for m in registry.versions(session, name)]
                if not known:
                    raise NotFound(f"No model called {name}.")
                raise NotFound(f"{name} has no live version; name one of: {', '.join(known)}.")
            model = found
        info = describe(session, model)
    typer.echo(json.dumps(info, indent=2) if as_json else render(info))


def shadow(name: Name, version: Version, by: By) -> None:
    """Run a candidate in shadow: its outputs are stored beside the live model's, never used."""
    with transaction() as session:
        model = registry.get(session, name, version)
        registry.start_shadow(session, model, by=person(session, by))
    typer.echo(f"{name} {version} is running in shadow")


def request_promotion(name: Name, version: Version, by: By) -> None:
    """Ask for NAME VERSION to go live; another person must approve."""
    with transaction() as session:
        model = registry.get(session, name, version)
        registry.request_promotion(session, model, by=person(session, by))
    typer.echo(f"asked for {name} {version} to go live; another person must approve")


def approve(name: Name, version: Version, by: By) -> None:
    """Approve a promotion someone else asked for (four eyes); the live version retires."""
    with transaction() as session:
        model = registry.get(session, name, version)
        previous = registry.live(session, name)
        registry.approve_promotion(session, model, by=person(session, by))
    retired = f"; version {previous.version} retired" if previous is not None else ""
    typer.echo(f"{name} {version} is live{retired}")


def withdraw(
    name: Name,
    version: Version,
    by: By,
    reason: Annotated[str, typer.Option(help="Why it is withdrawn (kept with the model).")],
) -> None:
    """The stop switch: retire NAME VERSION at once, whatever its status."""
    with transaction() as session:
        model = registry.get(session, name, version)
        registry.withdraw(session, model, by=person(session, by), reason=reason)
    typer.echo(f"{name} {version} is withdrawn")


def agreement(name: Name, version: Version, as_json: AsJson = False) -> None:
    """How often a shadow version's outcome matched the live model's."""
    with transaction() as session:
        report = registry.agreement(session, registry.get(session, name, version))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    rate = report["agreement_rate"]
    shown = f"{100 * rate:.1f}%" if rate is not None else "-"
    typer.echo(
        f"{name} {version}: {report['outputs']} shadow outputs, {report['compared']} compared "
        f"with the live model, {report['agreed']} agreed ({shown})"
    )


def add_commands(group: typer.Typer) -> None:
    """Add these commands to the `townhall models` group."""
    for command in (
        register,
        evidence,
        show,
        shadow,
        request_promotion,
        approve,
        withdraw,
        agreement,
    ):
        group.command(command.__name__.replace("_", "-"))(command)
