"""Cases on SQLite and PostgreSQL: intake and triage as decision records in the team's queue,
drafts that lose nothing, the caseworker's actions with service level clocks, reviews of
refusals, what a citizen may see, dashboards, extracts and assistant hand-offs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from casework_fixtures import (
    blue_badge,
    council_tax_reduction,
    counts,
    make_teams,
    missed_bin,
    parking_permit,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from conftest import make_settings
from townhall.core import audit, auth, decisions, review
from townhall.core.db import transaction, utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from townhall.governance.anonymise import measure
from townhall.services.casework import actions, views
from townhall.services.casework.catalogue import TRIAGE, catalogue
from townhall.services.casework.channels import import_handoffs, submit_csv
from townhall.services.casework.extract import anonymised_extract, to_csv
from townhall.services.casework.intake import Submission, submit
from townhall.services.casework.models import Case, CaseEvent
from townhall.settings import Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, casework_evidence_dir=tmp_path / "evidence")


@pytest.fixture
def world(engine: Engine, make_user: Callable[..., auth.User]) -> dict[str, auth.User]:
    make_teams(engine)
    return {
        "parking": make_user("pat", "caseworker", ("parking",)),
        "parking2": make_user("pip", "caseworker", ("parking",)),
        "ctax": make_user("casey", "caseworker", ("council-tax",)),
        "waste": make_user("robin", "caseworker", ("waste",)),
        "admin": make_user("ada", "admin"),
    }


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with transaction(engine) as open_session:
        yield open_session


def send(
    session: Session, settings: Settings, form: str, answers: dict[str, Any], **kw: Any
) -> Submission:
    return submit(
        session,
        catalogue(settings),
        settings,
        form_id=form,
        answers=answers,
        channel=kw.pop("channel", "api"),
        actor="citizen",
        **kw,
    )


def user(session: Session, found: auth.User) -> auth.User:
    return session.merge(found)


def test_a_valid_application_is_triaged_into_its_teams_review_queue(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    made = send(session, settings, "blue-badge", blue_badge())
    case = made.case
    assert made.submitted and case.reference == "BB-000001"
    assert (case.status, case.priority, case.recommendation) == ("triaged", "routine", "approve")
    assert case.sla_due_at is not None and case.sla_due_at > case.submitted_at  # type: ignore[operator]
    decision = session.get(DecisionRecord, case.triage_decision_id)
    assert decision is not None and decision.decision_type == TRIAGE
    assert decision.output["outcome"] == "approve" and decision.output["case"] == "BB-000001"
    assert decision.subject_ref.startswith("pseud_") and "BB-" not in decision.subject_ref
    reasons = decision.explanation["reasons"]
    assert reasons[0]["rule"] == "eligible-without-assessment"
    assert "without further assessment" in reasons[0]["text"]
    assert "regulation 4(2)" in decision.explanation["policy"]
    parking = review.queue(session, user(session, world["parking"]))
    assert [d.id for d in parking.items] == [decision.id]
    assert review.queue(session, user(session, world["waste"])).total == 0
    assert send(session, settings, "blue-badge", blue_badge()).case.reference == "BB-000002"
    assert send(session, settings, "missed-bin", missed_bin()).case.reference == "MB-000001"
    assert audit.verify(session).ok


def test_invalid_answers_are_kept_as_a_draft_and_can_be_corrected(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    answers = council_tax_reduction(ni_number="not an NI number", children="two", capital=None)
    made = send(session, settings, "council-tax-reduction", answers)
    assert not made.submitted and made.resume_token
    assert [e.field for e in made.errors] == ["ni_number", "children", "capital"]
    case = made.case
    assert case.status == "draft" and case.triage_decision_id is None
    assert case.answers["ni_number"] == "not an NI number" and case.answers["children"] == "two"
    assert case.errors[1] == {"field": "children", "message": "Children must be a number"}
    with pytest.raises(NotFound):
        send(
            session,
            settings,
            "council-tax-reduction",
            council_tax_reduction(),
            draft=case.reference,
            resume_token="wrong",
        )
    fixed = send(
        session,
        settings,
        "council-tax-reduction",
        council_tax_reduction(),
        draft=case.reference,
        resume_token=made.resume_token,
    )
    assert fixed.submitted and fixed.case.id == case.id and fixed.case.status == "triaged"
    with pytest.raises(Conflict):
        send(
            session,
            settings,
            "council-tax-reduction",
            council_tax_reduction(),
            draft=case.reference,
            resume_token=made.resume_token,
        )


def test_a_draft_keeps_even_answers_that_cannot_be_stored_as_sent(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    made = send(
        session,
        settings,
        "missed-bin",
        missed_bin(details="a\x00b", bin_type=float("inf"), extra={"nested": [1, 2]}),
    )
    assert not made.submitted
    session.flush()
    session.expire_all()
    case = session.get(Case, made.case.id)
    assert case is not None
    assert case.answers["details"] == "ab" and case.answers["bin_type"] is None
    assert case.answers["extra"] == {"nested": [1, 2]}


def test_the_caseworker_journey_with_the_service_level_clock(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    cat = catalogue(settings)
    casey = user(session, world["ctax"])
    ref = send(session, settings, "council-tax-reduction", council_tax_reduction()).case.reference
    with pytest.raises(NotFound):  # another team's case is not even there for them
        actions.assign(session, user(session, world["parking"]), ref)
    with pytest.raises(InvalidInput, match="not in this case's team"):
        actions.assign(session, casey, ref, assignee="pat")
    case = actions.assign(session, casey, ref)
    assert (case.status, case.assignee_id) == ("in_review", casey.id)
    due = case.sla_due_at
    assert due is not None
    case = actions.request_information(session, casey, ref, message="Send your payslips.")
    assert case.status == "more_info_requested" and case.sla_paused_at is not None
    case.sla_paused_at = case.sla_paused_at - dt.timedelta(days=3)  # three days pass
    assert views.citizen_status(session, cat, ref)["reply_by"] is None  # clock stopped
    with pytest.raises(NotFound):
        actions.reply(session, cat, ref, message="attached", verifier="SN9 9ZZ")
    case = actions.reply(session, cat, ref, message="Payslips attached.", verifier="sn2 2bb")
    assert case.status == "in_review" and case.sla_paused_at is None
    assert case.sla_due_at is not None and case.sla_due_at - due >= dt.timedelta(days=3)
    with pytest.raises(InvalidInput, match="reason"):
        actions.decide(session, casey, ref, outcome="approve", reason="  ")
    with pytest.raises(InvalidInput):
        actions.decide(session, casey, ref, outcome="maybe", reason="x")
    case = actions.decide(session, casey, ref, outcome="approve", reason="Income checked.")
    assert (case.status, case.outcome) == ("decided", "approve")
    proposal = session.get(DecisionRecord, case.triage_decision_id)
    assert proposal is not None and proposal.status == "accepted"  # matched the rules
    with pytest.raises(Conflict):
        actions.decide(session, casey, ref, outcome="refuse", reason="again")
    events = [
        e.action
        for e in session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    ]
    assert events == [
        "submitted",
        "triaged",
        "assigned",
        "information_requested",
        "information_received",
        "decided",
    ]
    assert audit.verify(session).ok


def test_deciding_against_the_rules_overrides_their_proposal_with_the_reason(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    ref = send(session, settings, "parking-permit", parking_permit()).case.reference
    case = actions.decide(
        session,
        user(session, world["parking"]),
        ref,
        outcome="refuse",
        reason="The vehicle is a commercial van, which zone A permits exclude.",
    )
    proposal = session.get(DecisionRecord, case.triage_decision_id)
    assert proposal is not None and proposal.status == "overridden"
    assert proposal.output["outcome"] == "approve"  # what the rules said is kept
    assert proposal.final_output is not None and proposal.final_output["outcome"] == "refuse"
    assert proposal.review_reason and "commercial van" in proposal.review_reason


def test_a_triage_overridden_from_the_review_queue_is_noted_on_the_case(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    case = send(session, settings, "missed-bin", missed_bin()).case
    robin = user(session, world["waste"])
    with pytest.raises(InvalidInput, match="approve, refuse or refer"):
        review.override_outcome(
            session, robin, case.triage_decision_id or "", outcome="urgent", reason="x"
        )
    review.override_outcome(
        session,
        robin,
        case.triage_decision_id or "",
        outcome="refer",
        reason="Third miss this month: the supervisor should call.",
    )
    actions_taken = [
        e.action for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
    ]
    assert "proposal_overridden" in actions_taken
    assert case.status == "triaged"  # a caseworker still decides the case itself
    decided = actions.decide(session, robin, case.reference, outcome="refer", reason="Passed on.")
    assert decided.outcome == "refer"


def test_a_refusal_can_be_reviewed_by_someone_else_as_a_linked_case(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    cat = catalogue(settings)
    pat, pip = user(session, world["parking"]), user(session, world["parking2"])
    ref = send(
        session,
        settings,
        "blue-badge",
        blue_badge(
            qualifying_benefits=["none"],
            walking_distance="over_100m",
            condition_description="Asthma.",
        ),
    ).case.reference
    with pytest.raises(Conflict, match="Only a refusal"):
        actions.appeal(session, cat, settings, ref, reason="x", verifier="SN1 1AA")
    actions.decide(session, pat, ref, outcome="refuse", reason="You can walk over 100 metres.")
    view = views.citizen_status(session, cat, ref)
    assert view["status"] == "Decision made" and "refused" in view["outcome"]
    assert view["review_rights"] and "28 days" in view["review_rights"]
    assert "decision_reason" not in view  # not without the postcode or email
    made = actions.appeal(
        session, cat, settings, ref, reason="It is worse in winter.", verifier="morgan@example.com"
    )
    review_case = made.case
    assert review_case.appeal_of_id is not None and review_case.channel == "appeal"
    assert (review_case.status, review_case.priority) == ("triaged", "high")
    proposal = session.get(DecisionRecord, review_case.triage_decision_id)
    assert proposal is not None
    assert proposal.explanation["reasons"][0]["rule"] == "review-requested"
    with pytest.raises(Conflict):
        actions.appeal(session, cat, settings, ref, reason="again", verifier="SN1 1AA")
    with pytest.raises(Forbidden, match="someone other than"):
        actions.decide(session, pat, review_case.reference, outcome="approve", reason="x")
    actions.decide(session, pip, review_case.reference, outcome="approve", reason="On review, yes.")
    verified = views.citizen_status(session, cat, ref, verified=True)
    assert verified["status"] == "Review requested"
    assert verified["review_case"] == review_case.reference
    assert verified["decision_reason"] == "You can walk over 100 metres."


def test_a_citizen_sees_only_what_is_theirs_to_see(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    cat = catalogue(settings)
    ref = send(session, settings, "council-tax-reduction", council_tax_reduction()).case.reference
    actions.request_information(
        session, user(session, world["ctax"]), ref, message="Send payslips."
    )
    public = views.citizen_status(session, cat, ref)
    assert public["status"] == "We need more information from you"
    assert set(public) == {
        "reference",
        "form",
        "status",
        "submitted_on",
        "reply_by",
        "outcome",
        "decided_on",
        "review_rights",
        "verified",
    }
    for wrong in ("SN9 9ZZ", "someone@example.com", ""):
        with pytest.raises(NotFound, match="could not find a case"):
            actions.citizen_case(cat, session, ref, wrong)
    with pytest.raises(NotFound, match="could not find a case"):
        actions.citizen_case(cat, session, "CTR-999999", "SN2 2BB")
    assert actions.citizen_case(cat, session, ref, "SAM@example.com").reference == ref
    shown = views.citizen_status(session, cat, ref, verified=True)
    assert shown["information_requested"] == "Send payslips."
    assert shown["evidence_outstanding"] == ["Proof of income for the last 2 months"]
    assert all("actor" not in item for item in shown["history"])
    draft = send(session, settings, "missed-bin", {"postcode": "SN3 3BD"}).case
    with pytest.raises(NotFound):
        views.citizen_status(session, cat, draft.reference)


def test_household_limits_count_earlier_permits_at_the_same_address(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    first = send(session, settings, "parking-permit", parking_permit())
    second = send(
        session, settings, "parking-permit", parking_permit(vehicle_registration="EX21 TWO")
    )
    elsewhere = send(
        session, settings, "parking-permit", parking_permit(address_line_1="5 Church Street")
    )
    third = send(
        session, settings, "parking-permit", parking_permit(vehicle_registration="EX21 THR")
    )
    recommendations = [m.case.recommendation for m in (first, second, elsewhere, third)]
    assert recommendations == ["approve", "approve", "approve", "refuse"]
    assert third.triage is not None
    assert "already has 2 permits" in third.triage.fired[0].reason
    assert first.case.household_key and first.case.household_key.startswith("pseud_")
    assert "Church" not in first.case.household_key


def test_queue_and_dashboard_show_urgency_ages_and_breaches(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    robin = user(session, world["waste"])
    old = send(
        session,
        settings,
        "missed-bin",
        missed_bin(collection_date=(dt.date.today() - dt.timedelta(days=9)).isoformat()),
        now=utcnow() - dt.timedelta(days=9),
    ).case
    urgent = send(
        session,
        settings,
        "missed-bin",
        missed_bin(assisted_collection=True, address_line_1="9 Orchard Close"),
    ).case
    send(session, settings, "blue-badge", blue_badge())
    page = views.queue(session, robin)
    assert [item["reference"] for item in page["items"]] == [urgent.reference, old.reference]
    assert page["items"][1]["sla"]["breached"] is True
    assert page["items"][1]["age_days"] >= 9
    board = views.dashboard(session, robin)
    assert [(row["team"], row["form"], row["open"], row["breached"]) for row in board["rows"]] == [
        ("waste", "missed-bin", 2, 1)
    ]
    everyone = views.dashboard(session, user(session, world["admin"]))
    assert everyone["totals"]["open"] == 3
    with pytest.raises(NotFound):
        views.queue(session, robin, team="no-such-team")


def test_case_detail_gives_the_caseworker_everything_on_one_case(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    cat = catalogue(settings)
    ref = send(
        session, settings, "council-tax-reduction", council_tax_reduction(capital=20000)
    ).case.reference
    detail = views.case_detail(session, cat, user(session, world["ctax"]), ref)
    assert detail["proposal"]["outcome"] == "refuse"
    assert detail["proposal"]["rules_from"] in ("2024-04-01", "2025-04-01")
    assert detail["evidence_outstanding"] == [
        "Proof of income for the last 2 months",
        "Bank statements for the last 2 months",
    ]
    assert {row["label"] for row in detail["summary"]} >= {"Savings and investments", "Full name"}
    assert detail["sla"]["due"] is not None


def test_the_anonymised_extract_is_k_anonymous_and_carries_no_identifiers(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    for n in range(12):
        send(
            session,
            settings,
            "council-tax-reduction",
            council_tax_reduction(
                date_of_birth=f"19{60 + n}-0{1 + n % 9}-11",
                full_name=f"Person {n}",
                postcode=("SN2 2BB", "SN2 3CD", "SN5 1EF")[n % 3],
                email=f"p{n}@example.com",
            ),
        )
    send(session, settings, "missed-bin", missed_bin(details='=HYPERLINK("http://x")'))
    made = anonymised_extract(session, k=3)
    assert made.k >= 3
    csv_text = to_csv(made)
    for secret in ("Person", "@example.com", "AB123456C", "Station Road", "HYPERLINK", "CTR-"):
        assert secret not in csv_text
    k, _ = measure(made.frame, ["age", "postcode", "submitted_month"], [])
    assert k >= 3
    assert set(made.frame["form"]) <= {"council-tax-reduction", "missed-bin"}


def test_assistant_handoffs_become_enquiry_cases_once(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    waste = session.scalar(select(auth.Team).where(auth.Team.slug == "waste"))
    assert waste is not None
    handoff = decisions.record(
        session,
        service="assistant",
        decision_type="assistant.handoff",
        subject_ref="conversation:none",
        model_name="assistant-handoff",
        model_version="1",
        inputs={"question": "x"},
        output={"team": "waste", "question": "Why was my bin not emptied?", "reason": "no answer"},
        explanation={"team_from": "router"},
        team_id=waste.id,
    )
    made = import_handoffs(session, catalogue(settings), settings)
    assert len(made) == 1 and import_handoffs(session, catalogue(settings), settings) == []
    case = made[0]
    assert (case.form, case.channel, case.source_decision_id) == (
        "enquiry",
        "assistant",
        handoff.id,
    )
    assert case.team_id == waste.id and case.answers == {"question": "Why was my bin not emptied?"}
    robin = user(session, world["waste"])
    actions.decide(session, robin, case.reference, outcome="approve", reason="Answered by phone.")
    assert handoff.status == "accepted"  # the hand-off's routing was right


def test_csv_rows_are_submitted_or_kept_as_drafts_row_by_row(
    session: Session, settings: Settings, world: dict[str, auth.User]
) -> None:
    good = missed_bin()
    header = ",".join(good)
    rows = [
        ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in good.values()),
        ",".join(str(v) for v in {**good, "postcode": "nowhere", "bin_type": "ocean"}.values()),
        "",
    ]
    report = submit_csv(
        session,
        catalogue(settings),
        settings,
        "\n".join([header, *rows]),
        form_id="missed-bin",
        actor="tests",
    )
    summary = report.as_dict()
    assert (summary["submitted"], summary["drafts"]) == (1, 1)
    draft = summary["rows"][1]
    assert draft["row"] == 3 and draft["status"] == "draft"
    assert [e["field"] for e in draft["errors"]] == ["postcode", "bin_type"]
    kept = session.scalar(select(Case).where(Case.reference == draft["reference"]))
    assert kept is not None and kept.answers["bin_type"] == "ocean"
    with pytest.raises(InvalidInput, match="not questions on the form: colour"):
        submit_csv(
            session,
            catalogue(settings),
            settings,
            "postcode,colour\nSN1 1AA,red",
            form_id="missed-bin",
            actor="tests",
        )
    with pytest.raises(InvalidInput, match="UTF-8"):
        submit_csv(
            session,
            catalogue(settings),
            settings,
            "postcode\n\xff".encode("latin-1"),
            form_id="missed-bin",
            actor="tests",
        )


def test_demo_cases_load_once_in_every_state(
    engine: Engine,
    settings: Settings,
    world: dict[str, auth.User],
    make_user: Callable[..., auth.User],
) -> None:
    from townhall.services.casework.demo import load_demo

    make_user("admin", "admin")
    make_user("caseworker", "caseworker", ("council-tax",))
    make_user("waste.officer", "caseworker", ("waste",))
    with transaction(engine) as session:
        first = load_demo(session, settings)
    with transaction(engine) as session:
        again = load_demo(session, settings)
        statuses = {c.status for c in session.scalars(select(Case))}
        assert audit.verify(session).ok
    assert "demo cases" in first and "already loaded" in again
    assert statuses == {
        "draft",
        "triaged",
        "in_review",
        "more_info_requested",
        "decided",
        "appealed",
    }
    assert counts(engine)["casework_evidence"] == 1
