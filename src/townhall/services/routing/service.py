"""What the CLI and the API call: train, evaluate, route one message, register a model.

Plain functions over paths and plain data; the side effects (files, the registry) are here at
the edge, not in the estimators.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
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
) -> dict[str, Any]:
    """Fit a router on a labelled file and save it; return the saved metadata.

    With `folds`, the metrics also hold a `folds`-fold cross-validation on the same file. The
    model file appears only once everything has succeeded.
    """
    if not 0.5 <= target_precision < 1.0:
        raise InvalidInput("The target precision must be at least 0.5 and below 1.")
    messages = load_messages(data)
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
            extra={"training_data": str(data), "team_counts": messages.counts()},
        )
        persist.sidecar(staged).replace(persist.sidecar(out))
        staged.replace(out)
    finally:
        staged.unlink(missing_ok=True)
        persist.sidecar(staged).unlink(missing_ok=True)
    _load.cache_clear()
    return meta


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


def record_route(
    session: Session,
    *,
    text: str,
    route: Route,
    subject_ref: str,
    model_name: str,
    model_version: str,
    team_id: int | None = None,
) -> Any:
    """Write a route as a proposed decision record (the message is digested, never stored).

    `subject_ref` must already be pseudonymised; `team_id` is the team's row, if it has one.
    """
    from townhall.core import decisions

    if route.team is None:
        why = "out of scope" if route.reason == "out_of_scope" else "not confident enough"
        summary = f"Sent to human triage ({why}); best guess {route.suggested_team}"
    else:
        summary = f"Routed to {route.team}"
    reasons = [{"text": f"Confidence {route.confidence:.2f}: {route.reason.replace('_', ' ')}"}]
    if route.evidence:
        reasons.append(
            {"text": f"Words pointing to {route.suggested_team}: " + ", ".join(route.evidence)}
        )
    return decisions.record(
        session,
        service="routing",
        decision_type=ROUTE_DECISION,
        subject_ref=subject_ref,
        model_name=model_name,
        model_version=model_version,
        inputs={"text": text},
        output=route.as_dict(),
        confidence=route.confidence,
        explanation={"reasons": reasons},
        summary=summary,
        team_id=team_id,
    )
