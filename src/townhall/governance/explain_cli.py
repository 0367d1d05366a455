"""`townhall models explain`: reason codes for rows of a CSV file from a registered model.

A model file is a pickle (joblib), and loading a pickle runs code from it. So the file is read
once, its SHA-256 checked against the digest the registry recorded for that name and version,
and only those same bytes are loaded: a file changed or swapped since registration is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from townhall.core import registry
from townhall.core.errors import InvalidInput, TownhallError
from townhall.core.registry_cli import AsJson, Name, Version, fail, transaction
from townhall.governance.explain import (
    Explainer,
    Explanation,
    ReferenceSet,
    check_features,
    load_catalogue,
)

# Typer keeps a docstring's line breaks, so the help is built from one-line paragraphs.
HELP = "\n\n".join(
    [
        "Explain each row of ROWS (CSV) with the registered model NAME VERSION.",
        "Prints two to four reasons per row, each with its SHAP contribution, and the baseline "
        "the contributions add to.",
        "The model file is a pickle, and loading a pickle can run code: only a file whose SHA-256 "
        "matches the digest recorded in the registry for NAME VERSION is loaded; any other file "
        "is refused.",
    ]
)


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except OSError as exc:
        raise InvalidInput(f"Cannot read the {what} file {path}: {exc.strerror or exc}.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problem = " ".join(str(exc).split())
        raise InvalidInput(
            f"The {what} file {path} is not a readable CSV file: {problem}"
        ) from None
    if frame.empty:
        raise InvalidInput(f"The {what} file {path} has no rows.")
    return frame


def _features(frame: pd.DataFrame, features: list[str], what: str) -> pd.DataFrame:
    """The feature columns in the reference set's order, all numeric and filled in."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise InvalidInput(f"The {what} file lacks the column(s): {', '.join(missing)}.")
    chosen = frame[features]
    for feature in features:
        column = chosen[feature]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            raise InvalidInput(f"Column {feature} of the {what} file is not numeric.")
        if column.isna().any():
            row = int(column.isna().to_numpy().argmax()) + 1
            raise InvalidInput(f"Row {row} of the {what} file has no value for {feature}.")
    return chosen


def load_verified(path: Path, digest: str) -> Any:
    """Unpickle the model file only if its bytes have the SHA-256 the registry recorded."""
    import joblib

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read the model file {path}: {exc.strerror or exc}.") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise InvalidInput(
            f"Refusing to load {path}: its SHA-256 is {actual[:12]}..., but the registry "
            f"recorded {digest[:12]}... for this version."
        )
    try:
        # Safe only because these exact bytes match the digest recorded at registration.
        return joblib.load(io.BytesIO(data))
    except Exception as exc:  # unpickling can raise almost anything
        raise InvalidInput(f"Cannot load the model file {path}: {exc}") from None


def _check_model_features(model: Any, features: list[str]) -> None:
    """SHAP is given bare arrays, so the model's own feature names must match the reference's."""
    names = getattr(model, "feature_names_in_", None)  # set when fitted on a data frame
    if names is not None and list(names) != features:
        raise InvalidInput(
            "The model was trained on the features "
            f"{', '.join(map(str, names))}, not the reference set's {', '.join(features)}."
        )
    count = getattr(model, "n_features_in_", None)
    if count is not None and count != len(features):
        raise InvalidInput(
            f"The model takes {count} features; the reference set has {len(features)}."
        )


def _label(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _render(explanations: list[dict[str, Any]], header: str) -> str:
    lines = [header]
    for item in explanations:
        label = f"row {item['row']}" + (f" ({item['id']})" if "id" in item else "")
        change = item["output"] - item["baseline"]
        lines.append(
            f"{label}: output {item['output']:.4f} = baseline {item['baseline']:.4f} "
            f"{'+' if change >= 0 else '-'} {abs(change):.4f}"
        )
        for reason in item["reasons"]:
            lines.append(f"  {reason['contribution']:+.4f}  {reason['text']}")
            lines.append(f"           citizen: {reason['citizen_text']}")
    return "\n".join(lines)


def explain(
    name: Name,
    version: Version,
    rows: Annotated[Path, typer.Argument(help="CSV of rows to explain, one per person.")],
    reference: Annotated[
        Path, typer.Option(help="CSV reference set; its columns are the model's features.")
    ],
    catalogue: Annotated[Path, typer.Option(help="Reason catalogue YAML (docs/governance.md).")],
    artifact: Annotated[
        Path | None,
        typer.Option(help="A copy of the model file; default: the file recorded at registration."),
    ] = None,
    reference_version: Annotated[
        str | None, typer.Option(help="The reference set's version; default: VERSION.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="A column of ROWS that labels each row.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Explain each row of ROWS (CSV) with the registered model NAME VERSION."""
    try:
        reasons = load_catalogue(catalogue)
        background = _read_csv(reference, "reference")
        features = [str(c) for c in background.columns]
        check_features(features, reasons)  # before anything is unpickled
        reference_set = ReferenceSet(
            reference.stem,
            reference_version or version,
            _features(background, features, "reference"),
        )
        table = _read_csv(rows, "rows")
        if id_column is not None and id_column not in table.columns:
            raise InvalidInput(f"The rows file has no column {id_column}.")
        X = _features(table, features, "rows")
    except TownhallError as exc:
        fail(exc.message)
    with transaction() as session:
        recorded, digest = registry.artifact_location(registry.get(session, name, version))
    try:
        model = load_verified(artifact or recorded, digest)
        _check_model_features(model, features)
        explained: list[Explanation] = Explainer(model, reference_set, reasons).explain(X)
    except TownhallError as exc:
        fail(exc.message)
    out = []
    for number, explanation in enumerate(explained, start=1):
        item: dict[str, Any] = {"row": number}
        if id_column is not None:
            item["id"] = _label(table[id_column].iloc[number - 1])
        out.append({**item, **explanation.to_record()})
    if as_json:
        report = {"name": name, "version": version, "artifact_sha256": digest, "explanations": out}
        typer.echo(json.dumps(report, indent=2))
        return
    first = explained[0]
    header = (
        f"{name} {version}: {len(out)} row(s), {first.method} against reference "
        f"{reference_set.name} {reference_set.version} (sha256 {reference_set.digest[:12]}...), "
        f"catalogue {reasons.version}; contributions are in the model's raw output units"
    )
    typer.echo(_render(out, header))


def add_commands(group: typer.Typer) -> None:
    """Add `explain` to the `townhall models` group."""
    group.command("explain", help=HELP)(explain)
