"""Save and load a trained router: a joblib file and a JSON sidecar that describes it.

The sidecar (`<file>.json`) records what the registry and a reviewer need without unpickling
anything: the router's kind and parameters, its teams, thresholds, the SHA-256 of the training
data and of the model file itself, validation metrics, versions and the date. `load` checks the
file's digest against the sidecar *before* unpickling it, so a changed or swapped file is
refused rather than run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import joblib
import sklearn

import townhall
from townhall.core.errors import InvalidInput
from townhall.services.routing.model import Router

FORMAT = 1


class RoutingModelError(InvalidInput):
    """A saved router is missing, changed since it was saved, or not a router."""


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(router: Router) -> dict[str, Any]:
    """What a trained router is, as plain data (no file digest: see `save`)."""
    return {
        "kind": router.kind,
        "estimator": type(router).__name__,
        "params": router.get_params(),
        "classes": [str(c) for c in router.classes_],
        "threshold": float(router.threshold_),
        "scope_threshold": router.scope_threshold_,
        "calibration_weights": [float(w) for w in router.weights_],
        "training_messages": int(router.n_training_),
        "validation": router.validation_,
        "embedding_model": getattr(router, "embedding_version_", None),
    }


def save(
    router: Router,
    path: str | Path,
    *,
    training_data_digest: str,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the model and its sidecar; return the sidecar's contents."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(router, file, compress=3)
    meta = {
        "format": FORMAT,
        **describe(router),
        "training_data_sha256": training_data_digest,
        "metrics": metrics or {},
        **(extra or {}),
        "artifact_sha256": file_digest(file),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "townhall_version": townhall.__version__,
        "sklearn_version": sklearn.__version__,
    }
    sidecar(file).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def read_metadata(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        meta = json.loads(sidecar(file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoutingModelError(
            f"{file}: no metadata file {sidecar(file).name} beside it; save models with "
            "`townhall routing train`."
        ) from None
    except (OSError, ValueError) as exc:
        raise RoutingModelError(f"{sidecar(file)}: cannot read the metadata ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RoutingModelError(f"{sidecar(file)}: not routing model metadata this version reads.")
    return meta


def load(path: str | Path) -> tuple[Router, dict[str, Any]]:
    """The router saved at `path` and its metadata, after checking the file's SHA-256."""
    file = Path(path)
    if not file.is_file():
        raise RoutingModelError(f"{file}: no such model file.")
    meta = read_metadata(file)
    if file_digest(file) != meta.get("artifact_sha256"):
        raise RoutingModelError(
            f"{file}: the file's SHA-256 does not match its metadata; it has changed since it "
            "was saved and will not be loaded."
        )
    # Unpickle only bytes whose digest matches the record (the registry keeps it too).
    router = joblib.load(file)
    if not isinstance(router, Router):
        raise RoutingModelError(f"{file}: not a routing model.")
    return router, meta
