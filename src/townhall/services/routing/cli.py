"""`townhall routing ...`: train a router on labelled messages, evaluate it, route a message.

Any problem with the input (a missing column, an empty file, a team with one example, text that
is not UTF-8) is one line on stderr, exit status 1, and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from townhall.core.errors import TownhallError

app = typer.Typer(
    help="Route citizens' messages to teams, with abstention to human triage.",
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ModelPath = Annotated[
    Path | None,
    typer.Option(
        "--model", help="The saved router (default: settings.routing_model_path, var/models/...)."
    ),
]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg="red")
    raise typer.Exit(code)


def _setting(name: str) -> Any:
    """A routing setting (TOWNHALL_* variables, townhall.toml or its default). Training and trying
    a router on this machine needs no secret key, so a missing one is not an error here."""
    from pydantic import ValidationError

    from townhall.settings import Settings, SettingsError, get_settings

    try:
        try:
            return getattr(get_settings(), name)
        except SettingsError:
            return getattr(Settings(demo_mode=True), name)
    except (SettingsError, ValidationError) as exc:
        _fail(f"the settings are not valid: {' '.join(str(exc).split())}", 2)


def _default_model() -> Path:
    path: Path = _setting("routing_model_path")
    return path


@app.command()
def train(
    data: Annotated[
        Path, typer.Argument(help="Labelled messages: CSV or JSON lines with text, team.")
    ],
    out: Annotated[Path | None, typer.Option(help="Where to save the router.")] = None,
    model: Annotated[
        str, typer.Option("--model", help="tfidf (fast), hybrid (MiniLM) or cascade (both).")
    ] = "tfidf",
    target_precision: Annotated[
        float | None,
        typer.Option(
            help="Precision the routed messages must reach on validation data "
            "(default: settings.routing_target_precision, 0.97)."
        ),
    ] = None,
    cv: Annotated[int, typer.Option(help="Also cross-validate with this many folds (0: no).")] = 0,
    with_reroutes: Annotated[
        bool,
        typer.Option(
            "--with-reroutes",
            help="Also learn from caseworkers' re-routes recorded in the database.",
        ),
    ] = False,
    register: Annotated[
        str | None, typer.Option(help="Register the router in the model registry under this name.")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="The registered version (default: date.digest).")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Username of the person registering it.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Train a router on DATA, choose its abstention threshold, save it (and register it)."""
    from townhall.services.routing.persist import sidecar
    from townhall.services.routing.service import train_router

    if model not in ("tfidf", "hybrid", "cascade"):
        _fail(f"unknown model {model!r}: choose tfidf, hybrid or cascade")
    if (register is None) != (by is None):
        _fail("--register and --by go together: name the model and the person registering it")
    if register is not None and by is not None:
        _check_registration(register, version, by)
    target = out or _default_model()
    precision = target_precision or _setting("routing_target_precision")
    extra = _reroutes() if with_reroutes else []
    try:
        meta = train_router(
            data,
            out=target,
            kind=model,  # type: ignore[arg-type]
            target_precision=precision,
            folds=cv,
            extra=extra,
        )
    except TownhallError as exc:
        _fail(exc.message)
    if register is not None and by is not None:
        chosen = version or f"{meta['created_at'][:10]}.{meta['artifact_sha256'][:8]}"
        try:
            meta["registered"] = _register(target, register, chosen, by)
        except TownhallError as exc:
            target.unlink(missing_ok=True)
            sidecar(target).unlink(missing_ok=True)
            _fail(exc.message)
    if as_json:
        typer.echo(json.dumps({**meta, "path": str(target)}, indent=2))
        return
    validation = meta["validation"]
    typer.echo(f"saved      {target} ({meta['kind']}, {len(meta['classes'])} classes)")
    typer.echo(f"threshold  {meta['threshold']:.3f} (target precision {precision})")
    if with_reroutes:
        added = meta.get("extra_examples", {"found": 0, "used": 0})
        typer.echo(f"re-routes  {added['used']} of {added['found']} learned from")
    typer.echo(
        f"validation coverage {validation['coverage']:.3f}, "
        f"routed precision {validation['routed_precision'] or 0:.3f}"
    )
    if not validation["target_reached"]:
        typer.secho(
            "warning: no threshold reached the target precision on validation data; "
            "every message will go to people.",
            fg="yellow",
        )
    if "registered" in meta:
        typer.echo(f"registered {meta['registered']['name']} {meta['registered']['version']}")


def _reroutes() -> list[tuple[str, str]]:
    from townhall.core.registry_cli import transaction
    from townhall.services.routing.reroutes import reroutes

    with transaction() as session:
        return reroutes(session)


def _check_registration(name: str, version: str | None, by: str) -> None:
    from townhall.core import registry
    from townhall.core.errors import NotFound
    from townhall.core.registry_cli import person, transaction

    with transaction() as session:
        person(session, by)
        if version is not None:
            try:
                registry.get(session, name, version)
            except NotFound:
                return
            _fail(f"{name} version {version} is already registered")


def _register(model: Path, name: str, version: str, by: str) -> dict[str, Any]:
    from townhall.core.db import transaction as begin
    from townhall.core.registry_cli import engine, person
    from townhall.services.routing.service import register_router

    with begin(engine()) as session:
        return register_router(
            session, model=model, name=name, version=version, by=person(session, by)
        )


@app.command()
def evaluate(
    data: Annotated[
        Path, typer.Argument(help="Labelled messages: CSV or JSON lines with text, team.")
    ],
    model: ModelPath = None,
    kind: Annotated[
        str, typer.Option("--kind", help="Without --model: the router to cross-validate.")
    ] = "tfidf",
    cv: Annotated[int, typer.Option(help="Without --model: cross-validation folds.")] = 5,
    as_json: AsJson = False,
) -> None:
    """Measure a saved router on DATA, or cross-validate a new one on it."""
    from townhall.services.routing.service import evaluate_file

    if kind not in ("tfidf", "hybrid", "cascade"):
        _fail(f"unknown router {kind!r}: choose tfidf, hybrid or cascade")
    try:
        result = evaluate_file(data, model=model, kind=kind, folds=cv)  # type: ignore[arg-type]
    except TownhallError as exc:
        _fail(exc.message)
    report = result.as_dict()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for key, value in result.summary().items():
        if key != "folds":
            typer.echo(f"{key:<27}{value}")
    typer.echo("\nthreshold  coverage  accuracy  out-of-scope recall")
    for row in report["by_threshold"]:
        mark = ""
        if row["chosen"]:
            mark = "  <- mean of the folds' thresholds" if "folds" in report else "  <- chosen"
        typer.echo(
            f"{row['threshold']:<11}{_figure(row['coverage']):<10}{_figure(row['accuracy']):<10}"
            f"{_figure(row['out_of_scope_recall'])}{mark}"
        )
    typer.echo("\nteam                        precision  recall  support")
    for team, figures in report["per_team"].items():
        typer.echo(
            f"{team:<28}{figures['precision']:<11}{figures['recall']:<8}{figures['support']}"
        )


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command()
def route(
    text: Annotated[str, typer.Argument(help="The message, in quotes.")],
    model: ModelPath = None,
    as_json: AsJson = False,
) -> None:
    """Where one message would go, how sure the router is, and the words that decided it."""
    from townhall.services.routing.service import route_message

    try:
        result = route_message(text, model=model or _default_model())
    except TownhallError as exc:
        _fail(exc.message)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    if result.team is None:
        why = "out of scope" if result.reason == "out_of_scope" else "not confident enough"
        typer.echo(f"triage     (people decide: {why}; best guess {result.suggested_team})")
    else:
        typer.echo(f"team       {result.team}")
    typer.echo(f"confidence {result.confidence:.3f}")
    if result.evidence:
        typer.echo("evidence   " + ", ".join(result.evidence))


@app.command()
def postcode(
    value: Annotated[str, typer.Argument(help="A UK postcode, e.g. 'SW1A 1AA'.")],
    as_json: AsJson = False,
) -> None:
    """The local authority a postcode is in, and whether it is the council's own."""
    from townhall.services.routing.place import register_at

    ours = set(_setting("routing_local_authorities"))
    try:
        found = register_at(_setting("routing_postcode_index")).lookup(value)
    except TownhallError as exc:
        _fail(exc.message)
    if found is None:
        _fail(f"{value.strip()} is not in the UK postcode register")
    authority = found.authority
    report = {
        "postcode": found.postcode,
        "local_authority": authority.as_dict() if authority else None,
        "ours": bool(authority and authority.code in ours) if ours else None,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    where = f"{authority.name} ({authority.code})" if authority else "no local authority"
    ours_note = "" if report["ours"] is None else (" - ours" if report["ours"] else " - elsewhere")
    typer.echo(f"{found.postcode}  {where}{ours_note}")


@app.command()
def postcodes(as_json: AsJson = False) -> None:
    """Copy the whole postcode register into its index now (else each letter on first use)."""
    from townhall.services.routing.place import register_at

    report = register_at(_setting("routing_postcode_index")).build()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{report['postcodes']:,} postcodes from {report['source']} in {report['index']}")
