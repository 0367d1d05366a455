"""`townhall export anonymise`: a k-anonymous, l-diverse copy of a CSV file, with its figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from townhall.governance.anonymise import (
    AnonymisationError,
    Hierarchy,
    anonymise,
    categories,
    numeric_bands,
    truncate,
    uk_postcode,
)

app = typer.Typer(help="Exports that leave the platform.", no_args_is_help=True)

QI_HELP = (
    "A quasi-identifier and how to generalise it, repeatable: 'age:bands=5,10,20', "
    "'postcode:postcode', 'ref:truncate=4,2' or 'sex:suppress'."
)


def parse_quasi(spec: str) -> tuple[str, Hierarchy]:
    column, _, rule = spec.partition(":")
    kind, _, args = rule.partition("=")
    numbers = [int(n) for n in args.split(",") if n.strip()] if args else []
    if kind == "bands" and numbers:
        return column, numeric_bands(*numbers)
    if kind == "truncate" and numbers:
        return column, truncate(*numbers)
    if kind == "postcode":
        return column, uk_postcode()
    if kind == "suppress":
        return column, categories()
    raise typer.BadParameter(f"cannot read {spec!r}; {QI_HELP}")


@app.command("anonymise")
def anonymise_csv(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV to export.")],
    out: Annotated[Path, typer.Option(help="Where to write the anonymised CSV.")],
    qi: Annotated[list[str], typer.Option(help=QI_HELP)],
    k: Annotated[int, typer.Option(help="Smallest group size allowed.")],
    l: Annotated[int, typer.Option(help="Fewest distinct sensitive values per group.")] = 1,  # noqa: E741
    sensitive: Annotated[list[str] | None, typer.Option(help="Sensitive column.")] = None,
    drop: Annotated[list[str] | None, typer.Option(help="Column to leave out.")] = None,
    max_suppression: Annotated[float, typer.Option(help="Largest share of rows to drop.")] = 0.05,
) -> None:
    """Write a k-anonymous, l-diverse copy of SOURCE, and a .json file with the k and l reached."""
    try:
        frame = pd.read_csv(source)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        typer.secho(f"error: {source} is not a readable CSV file: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    try:
        export = anonymise(
            frame,
            quasi_identifiers=dict(parse_quasi(s) for s in qi),
            sensitive=sensitive or [],
            k=k,
            l=l,
            drop=drop or [],
            max_suppression=max_suppression,
        )
    except AnonymisationError as exc:
        typer.secho(f"error: {exc.message} Nothing was written.", err=True, fg="red")
        raise typer.Exit(1) from None
    export.frame.to_csv(out, index=False)
    summary = {**export.summary(), "source_rows": len(frame), "requested": {"k": k, "l": l}}
    out.with_suffix(out.suffix + ".json").write_text(json.dumps(summary, indent=2))
    typer.echo(json.dumps(summary))
