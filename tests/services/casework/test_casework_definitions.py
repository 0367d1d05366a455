"""Forms and rules as data: the shipped definitions load, their YAML rule tests pass, a broken
definition is refused with a message naming the place, and answers get GOV.UK-style messages."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from casework_fixtures import VALID, blue_badge, council_tax_reduction, missed_bin

from townhall.core.parameters import MissingPolicy
from townhall.services.casework import flow
from townhall.services.casework.rules import RulesError, load_rules, triage
from townhall.services.casework.ruletests import run_all, suites
from townhall.services.casework.schema import DEFINITIONS, FormError, load_library, parse_form
from townhall.services.casework.validation import validate

LIBRARY = load_library()
OUTCOMES = run_all(LIBRARY)


def test_the_four_demo_forms_and_the_enquiry_form_load_with_their_rules() -> None:
    assert set(LIBRARY.forms) == {
        "blue-badge",
        "council-tax-reduction",
        "missed-bin",
        "parking-permit",
        "enquiry",
    }
    prefixes = {form.reference_prefix for form in LIBRARY.forms.values()}
    assert len(prefixes) == 5
    for form in LIBRARY.forms.values():
        rules = load_rules(form, LIBRARY.folder)
        assert all(entry.policy for entry in rules.entries)
        assert all(len(page.fields) >= 1 for page in form.pages)


def test_every_form_has_rule_tests_covering_recommendations() -> None:
    covered = {suite.form for suite in suites(LIBRARY)}
    assert covered == set(LIBRARY.forms)
    assert len(OUTCOMES) >= 35


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: f"{o.form}: {o.name}")
def test_rule_case(outcome: object) -> None:
    assert outcome.passed, outcome.problems  # type: ignore[attr-defined]


def test_a_broken_rule_test_is_reported_not_passed(tmp_path: Path) -> None:
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, folder)
    path = folder / "rule_tests" / "parking-permit.yaml"
    path.write_text(
        path.read_text().replace(
            "expect: {recommendation: approve}", "expect: {recommendation: refuse}"
        )
    )
    failed = [o for o in run_all(load_library(folder)) if not o.passed]
    assert [o.name for o in failed] == ["a second permit is still within the limit"]
    assert "recommendation: expected 'refuse', got 'approve'" in failed[0].problems[0]


FORM = """
id: test-form
version: "1"
title: Test
reference_prefix: TF
team: waste
verifier_fields: [postcode]
review_rights: Ask us again.
outcomes: {approve: Approved, refuse: Refused, refer: Passed on}
pages:
  - id: first
    title: First
    fields:
      - {name: postcode, type: postcode, label: Postcode}
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("type: postcode, label", "type: postcde, label"),
            "pages[0] (first).fields[0] (postcode).type",
        ),
        (
            ("verifier_fields: [postcode]", "verifier_fields: [email]"),
            "verifier_fields: email must",
        ),
        (("reference_prefix: TF", "reference_prefix: tf"), "reference_prefix"),
        (("title: Test\n", "title: Test\n  bad: [\n"), "is not valid YAML at line"),
        (
            ("label: Postcode}", "label: Postcode, show_if: {field: later, equals: 1}}"),
            "show_if reads later, which is not asked before it",
        ),
        (("label: Postcode}", "label: Postcode, min: 3}"), "min, max and integer are for number"),
        (
            ("label: Postcode}", "label: Postcode, show_if: {field: postcode, bigger: 1}}"),
            "give exactly one test of 'postcode'",
        ),
        (
            ("label: Postcode}", "label: Postcode, errors: {requird: Enter it}}"),
            "unknown error message requird",
        ),
    ],
)
def test_a_broken_form_definition_is_refused_with_where_and_why(
    change: tuple[str, str], message: str
) -> None:
    text = FORM.replace(*change)
    assert text != FORM
    with pytest.raises(FormError) as caught:
        parse_form(text, source="test-form.yaml")
    assert caught.value.message.startswith("test-form.yaml: ")
    assert message in caught.value.message, caught.value.message


def test_a_valid_definition_parses() -> None:
    assert parse_form(FORM).fields["postcode"].type == "postcode"


def _rules_folder(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, folder)
    path = folder / "rules" / "parking-permit.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    ("old", "new", "error", "message"),
    [
        (
            "{field: registered_keeper, equals: false}",
            "{field: keeper, equals: false}",
            RulesError,
            "tests keeper, which the form does not ask",
        ),
        ("gte: $household_limit", "gte: $household_cap", RulesError, "uses $household_cap"),
        ("  policy: >-", "  note: >-", MissingPolicy, "needs a policy reference"),
        (
            "the limit is\n        {household_limit}",
            "the limit is {limit}",
            RulesError,
            "the reason names limit",
        ),
    ],
)
def test_a_broken_rules_file_is_refused_clearly(
    tmp_path: Path, old: str, new: str, error: type[Exception], message: str
) -> None:
    folder = _rules_folder(tmp_path, old, new)
    library = load_library(folder)
    with pytest.raises(error) as caught:
        load_rules(library.get("parking-permit"), folder)
    assert message in str(caught.value), str(caught.value)


def test_rules_in_force_follow_their_dates() -> None:
    form = LIBRARY.get("council-tax-reduction")
    rules = load_rules(form, LIBRARY.folder)
    answers = validate(form, council_tax_reduction(), today=dt.date(2025, 6, 2)).answers
    before = triage(form, rules, answers, on=dt.date(2025, 3, 31))
    after = triage(form, rules, answers, on=dt.date(2025, 4, 1))
    assert (before.version, after.version) == ("2024-04-01", "2025-04-01")
    assert "Scheme 2024/25" in before.policy and "Scheme 2025/26" in after.policy
    assert (
        before.derived["estimated_weekly_reduction"] > after.derived["estimated_weekly_reduction"]
    )


# --- validation -----------------------------------------------------------------------------


def errors(
    form_id: str, answers: dict[str, object], today: dt.date | None = None
) -> dict[str, str]:
    result = validate(LIBRARY.get(form_id), answers, today=today)
    return {error.field: error.message for error in result.errors}


def test_every_valid_answer_set_passes_and_is_typed() -> None:
    for form_id, make in VALID.items():
        result = validate(LIBRARY.get(form_id), make())
        assert result.ok, (form_id, result.errors)
    typed = validate(LIBRARY.get("council-tax-reduction"), council_tax_reduction()).answers
    assert typed["ni_number"] == "AB123456C"
    assert typed["date_of_birth"] == dt.date(1980, 5, 1)
    assert typed["children"] == 1 and typed["annual_council_tax"] == 1800


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("full_name", ["Sam"], "Enter full name as text"),
        ("full_name", "", "Enter your full name"),
        ("full_name", "x" * 101, "Full name must be 100 characters or less"),
        ("full_name", "Sam\x00Example", "Full name must not include hidden characters"),
        ("date_of_birth", "31/02/1980", "Date of birth must be a real date"),
        ("date_of_birth", 19800501, "Date of birth must be a real date"),
        ("date_of_birth", {"day": "1", "month": "5", "year": "2020"}, "You must be 16 or over"),
        ("ni_number", "QQ123456C", "Enter a National Insurance number in the correct format"),
        ("postcode", "SW1A 1ZZZ", "Enter a real postcode, like SN1 1AA"),
        ("email", "sam@", "Enter an email address in the correct format, like name@example.com"),
        ("phone", "call me", "Enter a telephone number, like 01632 960 001"),
        ("annual_council_tax", "£1,800.505", "must be an amount of money, like 150 or 150.50"),
        ("annual_council_tax", True, "must be an amount of money"),
        ("annual_council_tax", "NaN", "must be an amount of money"),
        ("annual_council_tax", "25000", "Council tax bill must be £20,000 or less"),
        ("children", "1.5", "Number of children must be a whole number"),
        ("children", "-1", "Children must be 0 or more"),
        ("lives_with_partner", "maybe", "Select yes if you live with a partner"),
        ("passport_benefit", "lottery", "Select the benefit you get, or select 'None of these'"),
        ("received_summons", None, "Select yes if you have received a court summons"),
    ],
)
def test_a_wrong_answer_gets_one_govuk_style_message(
    field: str, value: object, message: str
) -> None:
    got = errors("council-tax-reduction", council_tax_reduction(**{field: value}))
    assert list(got) == [field], got
    assert got[field].startswith(message) or message in got[field], got[field]


def test_unknown_questions_are_named_and_nothing_else_is_blamed() -> None:
    got = errors("missed-bin", missed_bin(bin_colour="green"))
    assert got == {"bin_colour": "This form has no question called 'bin_colour'"}


def test_answers_are_read_from_text_as_a_web_form_or_csv_sends_them() -> None:
    text = {key: str(value) for key, value in council_tax_reduction().items()}
    text.update(annual_council_tax="£1,800.00", lives_with_partner="No", date_of_birth="1/5/1980")
    result = validate(LIBRARY.get("council-tax-reduction"), text)
    assert result.ok, result.errors
    assert result.answers["annual_council_tax"] == 1800
    assert result.answers["lives_with_partner"] is False
    assert result.answers["date_of_birth"] == dt.date(1980, 5, 1)


def test_injection_strings_are_kept_as_text_not_refused() -> None:
    hostile = 'Robert\'); DROP TABLE casework_cases;-- <script>alert(1)</script> =HYPERLINK("x")'
    result = validate(LIBRARY.get("missed-bin"), missed_bin(details=hostile))
    assert result.ok
    assert result.answers["details"] == hostile


def test_hidden_questions_are_not_asked_and_their_answers_are_dropped() -> None:
    form = LIBRARY.get("blue-badge")
    answers = blue_badge(walking_distance="over_100m")  # not asked: a qualifying award
    result = validate(form, answers)
    assert result.ok and result.dropped == ["walking_distance"]
    assert "walking_distance" not in result.answers
    asked = validate(form, blue_badge(qualifying_benefits=["none"]))
    assert set(e.field for e in asked.errors) == {"walking_distance", "condition_description"}


def test_a_date_range_is_relative_to_the_day_of_checking() -> None:
    today = dt.date(2026, 3, 4)
    assert errors("missed-bin", missed_bin(collection_date="2026-02-04"), today) == {}
    assert errors("missed-bin", missed_bin(collection_date="2026-02-03"), today) == {
        "collection_date": "Report a missed bin within 4 weeks of the collection day"
    }
    assert errors("missed-bin", missed_bin(collection_date="2026-03-05"), today) == {
        "collection_date": "Collection day must be today or in the past"
    }


# --- walking a form page by page ----------------------------------------------------------


def test_pages_follow_the_answers_so_far() -> None:
    form = LIBRARY.get("blue-badge")
    start = flow.next_page(form, {}, None)
    assert start is not None and start.id == "name"
    typed = validate(form, blue_badge()).answers
    shown = [page.id for page in flow.visible_pages(form, typed)]
    assert "walking" not in shown and "condition" not in shown
    assert flow.next_page(form, typed, "terminal-illness") is None  # then: check answers
    none = validate(form, blue_badge(qualifying_benefits=["none"])).answers
    after = flow.next_page(form, none, "terminal-illness")
    assert after is not None and after.id == "walking"


def test_a_page_reports_only_its_own_errors() -> None:
    form = LIBRARY.get("council-tax-reduction")
    got = flow.page_errors(form, "address", {"postcode": "nope", "address_line_1": "1 A Road"})
    assert [(e.field, e.message) for e in got] == [
        ("town", "Enter town or city"),
        ("postcode", "Enter a real postcode, like SN1 1AA"),
    ]
    assert flow.page_errors(form, "name", {"full_name": "Sam"}) == []


def test_check_answers_rows_read_as_a_person_would() -> None:
    form = LIBRARY.get("council-tax-reduction")
    typed = validate(form, council_tax_reduction()).answers
    rows = {row.field: row for row in flow.summary(form, typed)}
    assert rows["date_of_birth"].value == "1 May 1980"
    assert rows["annual_council_tax"].value == "£1,800.00"
    assert rows["passport_benefit"].value == "None of these"
    assert rows["lives_with_partner"].value == "No"
    assert rows["weekly_income"].page == "income"
    needed = [item.kind for item in flow.evidence_needed(form, typed)]
    assert needed == ["proof_of_income"]
    resume = flow.first_unanswered(form, {"full_name": "Sam"})
    assert resume is not None and resume.id == "date-of-birth"
