"""`townhall privacy ...`: scan files for PII without ever printing a raw value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from townhall.governance.privacy import PrivacyScanError, scan_file

app = typer.Typer(help="Find personal data (UK identifiers) in files.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Keep `scan` a named sub-command even while it is the only one."""


@app.command()
def scan(
    file: Annotated[Path, typer.Argument(help="A .csv, .jsonl or .txt file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Count PII per type and per column/field; snippets are shown redacted."""
    try:
        report = scan_file(file)
    except (PrivacyScanError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(f"{report.path} ({report.format}, {report.records} records): {report.total} found")
    for entity, count in sorted(report.counts.items()):
        typer.echo(f"  {entity:<22}{count:>6}")
    for name, counts in sorted(report.by_field.items()):
        summary = ", ".join(f"{e} {n}" for e, n in sorted(counts.items()))
        typer.echo(f"  field {name}: {summary}")
    for hit in report.hits:
        typer.echo(f"  line {hit.line} {hit.field} {hit.entity}: {hit.snippet}")
