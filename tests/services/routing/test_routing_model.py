"""The routers as scikit-learn estimators, their abstention, and the evidence they give."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from townhall.services.routing.data import RoutingDataError
from townhall.services.routing.hybrid import HybridRouter
from townhall.services.routing.model import Route
from townhall.services.routing.tfidf import TfidfRouter

TEXTS = [
    "my bin was not collected",
    "the recycling bin was missed again",
    "bins not emptied on our street",
    "can I get a new wheelie bin",
    "I got a parking ticket",
    "appeal a parking fine",
    "parking permit for residents",
    "penalty charge notice for parking",
]
TEAMS = ["waste"] * 4 + ["parking"] * 4

pytest_plugins = ("routing_fixtures",)


def test_fit_predict_and_probabilities_have_the_shapes_scikit_learn_expects(
    demo_messages, demo_router
) -> None:
    texts = demo_messages.texts[:40]
    proba = demo_router.predict_proba(texts)
    assert proba.shape == (40, len(demo_router.classes_))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(demo_router.classes_) == sorted(set(demo_messages.teams))
    predicted = demo_router.predict(texts)
    assert predicted.shape == (40,)
    assert set(predicted) <= set(demo_router.classes_)
    assert (predicted == demo_router.classes_[proba.argmax(axis=1)]).all()
    assert demo_router.score(texts, demo_messages.teams[:40]) > 0.9


def test_routers_clone_and_expose_their_parameters() -> None:
    for router in (TfidfRouter(C=0.3, target_precision=0.9), HybridRouter(n_neighbors=5)):
        params = router.get_params()
        copy = clone(router)
        assert copy.get_params() == params and copy is not router
        copy.set_params(max_false_triage=0.05)
        assert copy.max_false_triage == 0.05 and router.max_false_triage != 0.05
        assert not hasattr(copy, "classes_")  # nothing learned before fit


def test_fit_returns_the_router_and_leaves_parameters_alone() -> None:
    router = TfidfRouter(validation_fraction=0.25)
    before = router.get_params()
    assert router.fit(TEXTS * 2, TEAMS * 2) is router
    assert router.get_params() == before
    assert router.n_training_ == 16


def test_an_unfitted_router_says_so() -> None:
    with pytest.raises(NotFittedError):
        TfidfRouter().predict(["hello"])
    with pytest.raises(NotFittedError):
        TfidfRouter().route("hello")


def test_input_must_be_a_sequence_of_texts(demo_router) -> None:
    with pytest.raises(TypeError, match="single string"):
        demo_router.predict("my bin")
    with pytest.raises(TypeError, match="must be a string"):
        demo_router.predict([1, 2])


def test_a_team_with_one_example_is_refused() -> None:
    with pytest.raises(RoutingDataError, match="too few for planning"):
        TfidfRouter().fit([*TEXTS, "extension"], [*TEAMS, "planning"])


def test_fitting_is_deterministic(demo_messages) -> None:
    a = TfidfRouter().fit(demo_messages.texts[:400], demo_messages.teams[:400])
    b = TfidfRouter().fit(demo_messages.texts[:400], demo_messages.teams[:400])
    assert a.threshold_ == b.threshold_
    assert np.array_equal(
        a.predict_proba(demo_messages.texts[400:450]), b.predict_proba(demo_messages.texts[400:450])
    )


def test_route_gives_the_team_confidence_reason_and_evidence(demo_router) -> None:
    route = demo_router.route(
        "My bin wasn't collected again this week, the recycling is overflowing"
    )
    assert isinstance(route, Route)
    assert route.team == "waste" and route.reason == "confident"
    assert route.confidence >= demo_router.threshold_
    assert {"bin", "collected", "recycling"} & set(route.evidence)
    assert route.as_dict()["triage"] is False


def test_evidence_terms_are_the_largest_coefficient_times_tfidf_terms(demo_router) -> None:
    text = "parking ticket appeal"
    row = demo_router._tfidf([text])
    column = list(demo_router.classes_).index("parking")
    contribution = row.data * demo_router.coef_[column, row.indices]
    names = np.r_[demo_router.word_names_, demo_router.char_names_][row.indices]
    words = [
        n
        for n, c in sorted(zip(names, contribution), key=lambda p: -p[1])
        if " " in n or n.isalpha()
    ]
    evidence = demo_router.route(text).evidence
    assert evidence[0] == next(w for w in words if len(w) >= 3)
    assert "parking" in evidence


def test_a_message_below_the_threshold_goes_to_triage(demo_router) -> None:
    text = "I need to talk to someone about my bill"
    decided = demo_router.decide([text])
    confidence = float(decided.confidence[0])
    saved = demo_router.threshold_, demo_router.scope_threshold_
    try:
        demo_router.scope_threshold_ = None  # only the confidence threshold in play
        demo_router.threshold_ = confidence + 1e-9
        below = demo_router.route(text)
        demo_router.threshold_ = confidence
        at = demo_router.route(text)
    finally:
        demo_router.threshold_, demo_router.scope_threshold_ = saved
    assert below.team is None and below.reason == "low_confidence"
    assert below.suggested_team == at.team and at.reason == "confident"


def test_messages_like_the_triage_examples_go_to_people(demo_router) -> None:
    for text in ("my broadband is down again", "how do I renew my passport"):
        route = demo_router.route(text)
        assert route.team is None and route.reason == "out_of_scope"


def test_retune_moves_the_thresholds_without_retraining(demo_messages) -> None:
    router = TfidfRouter().fit(demo_messages.texts, demo_messages.teams)
    coef = router.coef_.copy()
    strict = router.retune(target_precision=0.999).threshold_
    loose = router.retune(target_precision=0.6, max_false_triage=0.0).threshold_
    assert loose <= strict and router.scope_threshold_ is None
    assert router.validation_["target_precision"] == 0.6
    assert np.array_equal(coef, router.coef_)


def test_fast_tfidf_matches_the_vectorisers(demo_router) -> None:
    texts = ["ÉCOLE café naïve", "", "zzzz qqqq", "Council tax bill!!", "bin  bin bin"]
    fast = demo_router._tfidf(texts)
    slow = sp.hstack(
        [demo_router.word_.transform(texts), demo_router.char_.transform(texts)], format="csr"
    )
    assert fast.shape == slow.shape
    assert abs(fast - slow).max() < 1e-12


def test_batch_and_single_message_routes_agree(demo_messages, demo_router) -> None:
    texts = demo_messages.texts[:60]
    batch = demo_router.route_many(texts)
    assert batch == [demo_router.route(t) for t in texts]


def test_two_teams_work(demo_messages) -> None:
    router = TfidfRouter().fit(TEXTS * 3, TEAMS * 3)
    assert router.coef_.shape[0] == 2
    assert router.route("missed bin collection").suggested_team == "waste"
    assert router.route("parking fine appeal").suggested_team == "parking"


def test_the_hybrid_routes_with_embeddings_and_neighbours(demo_messages, hashed_minilm) -> None:
    router = HybridRouter().fit(demo_messages.texts, demo_messages.teams)
    assert len(router.weights_) == 2 and (router.weights_ > 0).all()
    assert router.memory_.shape == (len(demo_messages.texts), 384)
    route = router.route("My bin wasn't collected yesterday on Station Road")
    assert route.team == "waste" and "bin" in route.evidence
    assert router.route("what is the weather tomorrow").team is None
    assert router.score(demo_messages.texts[:200], demo_messages.teams[:200]) > 0.9
    assert router.embedding_version_ == "hashed-test"


def test_the_cascade_embeds_only_what_tfidf_is_unsure_of(
    demo_messages, hashed_minilm, monkeypatch: pytest.MonkeyPatch
) -> None:
    from townhall.services.routing import hybrid

    router = HybridRouter(fast_confidence=0.99).fit(demo_messages.texts, demo_messages.teams)
    assert router.kind == "cascade" and router.fast_ is not None
    embedded: list[str] = []
    real = hybrid.embed
    monkeypatch.setattr(hybrid, "embed", lambda texts: embedded.extend(texts) or real(texts))
    sure = "Can I get a new green bin, mine has been stolen?"
    unsure = "what is the weather tomorrow"
    decided = router.decide([sure, unsure])
    assert embedded == [unsure]
    quick = router.fast_.decide([sure])
    assert decided.confidence[0] == quick.confidence[0] and decided.routed[0]
    assert not decided.routed[1]
    assert router.route(sure).team == "waste"
    assert np.allclose(router.predict_proba([sure, unsure]).sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "router", [TfidfRouter(), HybridRouter(), HybridRouter(fast_confidence=0.99)]
)
def test_routers_pass_scikit_learns_checks_that_need_no_numeric_data(router) -> None:
    # parametrize_with_checks skips estimators of text (their tags say so); these two apply.
    from sklearn.utils.estimator_checks import (
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
    )

    name = type(router).__name__
    check_no_attributes_set_in_init(name, router)
    check_parameters_default_constructible(name, router)
    assert router.__sklearn_tags__().input_tags.string
