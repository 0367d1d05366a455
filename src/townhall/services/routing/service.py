"""What the CLI and the API call: train, evaluate, route one message, register a model.

Plain functions over paths and plain data; the side effects (files, the registry) are here at
the edge, not in the estimators.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from townhall.core.errors import InvalidInput
from townhall.services.routing import persist
from townhall.services.routing.data import Messages, load_messages
from townhall.services.routing.evaluate import Evaluation, cross_validate, evaluate
from townhall.services.routing.model import Route, Router
from townhall.services.routing.tfidf import TfidfRouter

ROUTE_DECISION = "routing.route"
Kind = Literal["tfidf", "hybrid", "cascade"]
CASCADE_CONFIDENCE = 0.99  # TF-IDF answers alone at this calibrated confidence
DEFAULT_MODEL = Path("var/models/routing.joblib")
MAX_MESSAGE_CHARS = 10_000


def make_router(kind: Kind, **params: Any) -> Router:
    if kind == "tfidf":
        return TfidfRouter(**params)
    if kind in ("hybrid", "cascade"):
        from townhall.services.routing.hybrid import HybridRouter

        if kind == "cascade":
            params.setdefault("fast_confidence", CASCADE_CONFIDENCE)
        return HybridRouter(**params)
    raise InvalidInput(f"Unknown router {kind!r}: choose tfidf, hybrid or cascade.")


def train_router(
    data: Path,
    *,
    out: Path = DEFAULT_MODEL,
    kind: Kind = "tfidf",
    target_precision: float = 0.97,
    folds: int = 0,
    progress: Callable[[int, int], None] | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Fit a router on a labelled file and save it; return the saved metadata.

    `extra` are more labelled messages (text, team), such as caseworkers' re-routes; those for a
    team the file does not have are left out, since a team needs examples enough to be learned
    and its own abstention threshold. With `folds`, the metrics also hold a `folds`-fold
    cross-validation. The model file appears only once everything has succeeded.
    """
    if not 0.5 <= target_precision < 1.0:
        raise InvalidInput("The target precision must be at least 0.5 and below 1.")
    messages = load_messages(data)
    added: dict[str, Any] = {}
    if extra:
        messages, added = _with_examples(messages, extra)
    router = make_router(kind, target_precision=target_precision)
    metrics: dict[str, Any] = {}
    if folds:
        _check_folds(messages, folds)
        metrics["cross_validation"] = cross_validate(
            router, messages.texts, messages.teams, folds=folds, progress=progress
        ).summary()
    router.fit(messages.texts, messages.teams)
    metrics["validation"] = router.validation_
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".routing-", suffix=".joblib")
    os.close(handle)
    staged = Path(temporary)
    try:
        meta = persist.save(
            router,
            staged,
            training_data_digest=messages.digest,
            metrics=metrics,
            extra={
                "training_data": str(data),
                "team_counts": messages.counts(),
                **({"extra_examples": added} if extra else {}),
            },
        )
        persist.sidecar(staged).replace(persist.sidecar(out))
        staged.replace(out)
    finally:
        staged.unlink(missing_ok=True)
        persist.sidecar(staged).unlink(missing_ok=True)
    _load.cache_clear()
    return meta


def _with_examples(
    messages: Messages, examples: Sequence[tuple[str, str]]
) -> tuple[Messages, dict[str, Any]]:
    known = set(messages.teams)
    usable = [(text, team) for text, team in examples if text.strip() and team in known]
    skipped = sorted({team for _, team in examples if team not in known})
    # The recorded digest covers the file and the added examples, so it names what was learned.
    body = json.dumps([messages.digest, usable], ensure_ascii=False, separators=(",", ":"))
    combined = Messages(
        texts=[*messages.texts, *(text for text, _ in usable)],
        teams=[*messages.teams, *(team for _, team in usable)],
        digest=hashlib.sha256(body.encode("utf-8")).hexdigest(),
        source=messages.source,
    )
    return combined, {
        "found": len(examples),
        "used": len(usable),
        "teams_not_in_training_data": skipped,
    }


def evaluate_file(
    data: Path, *, model: Path | None = None, kind: Kind = "tfidf", folds: int = 5
) -> Evaluation:
    """Measure a saved model on a labelled file, or (without one) cross-validate a new router."""
    messages = load_messages(data)
    if model is not None:
        router, _ = load_router(model)
        return evaluate(router, messages.texts, messages.teams)
    _check_folds(messages, folds)
    return cross_validate(make_router(kind), messages.texts, messages.teams, folds=folds)


def _check_folds(messages: Messages, folds: int) -> None:
    if folds < 2:
        raise InvalidInput("Cross-validation needs at least 2 folds.")
    smallest = min(messages.counts().values())
    if smallest < folds:
        raise InvalidInput(
            f"Every team needs at least {folds} messages for {folds}-fold cross-validation; "
            f"the smallest has {smallest}."
        )


def load_router(path: Path) -> tuple[Router, dict[str, Any]]:
    """A saved router, loaded once per process while its file is unchanged."""
    file = Path(path).resolve()
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        raise persist.RoutingModelError(
            f"{path}: no such model file; train one with `townhall routing train DATA`."
        ) from None
    return _load(file, stamp)


@lru_cache(maxsize=4)
def _load(file: Path, stamp: int) -> tuple[Router, dict[str, Any]]:
    return persist.load(file)


def route_message(text: str, *, model: Path = DEFAULT_MODEL) -> Route:
    """Where one citizen message should go (a team, or people), with the evidence."""
    message = text.strip()
    if not message:
        raise InvalidInput("The message is empty.")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"The message is longer than {MAX_MESSAGE_CHARS:,} characters.")
    router, _ = load_router(model)
    return router.route(message)


def register_router(
    session: Session, *, model: Path, name: str, version: str, by: Any
) -> dict[str, Any]:
    """Record a saved router in the model registry as a candidate, with its metrics."""
    from townhall.core import registry

    meta = persist.read_metadata(model)
    artifact = persist.file_digest(model)
    if artifact != meta["artifact_sha256"]:
        raise persist.RoutingModelError(f"{model}: the file does not match its metadata.")
    metrics = {
        "kind": meta["kind"],
        "classes": meta["classes"],
        "threshold": meta["threshold"],
        "target_precision": meta["params"]["target_precision"],
        **meta["metrics"],
    }
    registered = registry.register(
        session,
        name=name,
        version=version,
        training_data_digest=meta["training_data_sha256"],
        metrics=metrics,
        by=by,
        artifact_uri=registry.file_artifact_uri(model, artifact),
    )
    return {"name": registered.name, "version": registered.version, "status": registered.status}


@dataclass(frozen=True)
class CurrentRouter:
    """The router a deployment routes with, and what the model registry says of it."""

    router: Router | None  # None: people decide every message (`status` says why)
    version: str  # its registered version, or date.digest as `townhall routing train` names it
    status: str  # its registry status, "unregistered", or "no_model" / "withdrawn"

    @property
    def why_people(self) -> str:
        return "no_model" if self.status == "no_model" else "model_withdrawn"


def model_version(meta: dict[str, Any]) -> str:
    """The version a saved router is registered under unless another is given."""
    return f"{meta['created_at'][:10]}.{meta['artifact_sha256'][:8]}"


def registered_as(session: Session, *, name: str, digest: str) -> Any:
    """The registry's record of the model file with this SHA-256, or None."""
    from townhall.core import registry

    for model in reversed(registry.versions(session, name)):
        try:
            _, recorded = registry.artifact_location(model)
        except InvalidInput:
            continue
        if recorded == digest:
            return model
    return None


def current_router(session: Session, *, model: Path, name: str) -> CurrentRouter:
    """The saved router at `model`, with no router when there is none or when the registry has
    withdrawn it (the stop switch): then every message goes to people."""
    from townhall.core.registry import ModelStatus

    try:
        router, meta = load_router(model)
    except persist.RoutingModelError:
        return CurrentRouter(None, "none", "no_model")
    registered = registered_as(session, name=name, digest=meta["artifact_sha256"])
    if registered is None:
        return CurrentRouter(router, model_version(meta), "unregistered")
    if registered.status == ModelStatus.RETIRED.value:
        return CurrentRouter(None, registered.version, "withdrawn")
    return CurrentRouter(router, registered.version, registered.status)
