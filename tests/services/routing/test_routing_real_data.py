"""On real public data: a CLINC150 subset routed to its 10 domains, out-of-scope queries to
people. Small enough to run in the suite (under a minute); benchmarks/routing.py runs it whole."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import SHARED_DATA
from townhall.services.routing.data import TRIAGE, Messages, messages_from
from townhall.services.routing.datasets import load_clinc150
from townhall.services.routing.evaluate import evaluate
from townhall.services.routing.hybrid import HybridRouter
from townhall.services.routing.tfidf import TfidfRouter

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "clinc150" / "train_val.json").is_file(),
    reason=f"CLINC150 is not in {SHARED_DATA} (the shared data folder beside the repository)",
)


def _subset(messages: Messages, per_team: int) -> Messages:
    rng = np.random.default_rng(0)
    teams = np.array(messages.teams)
    keep = sorted(
        i
        for team in sorted(set(messages.teams))
        for i in rng.choice(np.flatnonzero(teams == team), per_team, replace=False)
    )
    return messages_from([messages.texts[i] for i in keep], [messages.teams[i] for i in keep])


def test_clinc150_subset_routes_domains_and_sends_out_of_scope_to_people() -> None:
    clinc = load_clinc150(SHARED_DATA)
    train = _subset(clinc.train, 60)  # 60 per domain and 60 of the 100 oos_train
    evaluation = _subset(clinc.evaluation(), 30)  # 30 per domain and 30 of oos_val
    assert sum(t == TRIAGE for t in evaluation.teams) == 30
    started = time.perf_counter()
    results = {}
    for router in (TfidfRouter(), HybridRouter()):
        router.fit(train.texts, train.teams)
        results[router.kind] = evaluate(router, evaluation.texts, evaluation.teams)
    assert time.perf_counter() - started < 120
    tfidf, hybrid = results["tfidf"], results["hybrid"]
    assert hybrid.accuracy is not None and tfidf.accuracy is not None
    assert hybrid.accuracy >= 0.85 and hybrid.accuracy > tfidf.accuracy
    assert hybrid.out_of_scope_recall is not None and hybrid.out_of_scope_recall >= 0.6
    assert hybrid.routed_precision is not None and hybrid.routed_precision >= 0.85
