"""A small council's guidance, indexed with the real encoder, for the answer-pipeline tests.

Imported by the pipeline tests (test_guards, test_grounding, test_extractive, test_pipeline,
test_redteam). Building the index takes about a second, so it is cached per process.
"""

from __future__ import annotations

from functools import lru_cache

from townhall.core.embeddings import encoder
from townhall.services.assistant.passages import Passage, search_text
from townhall.services.assistant.retrieval import Index
from townhall.settings import Settings

SITE = "https://www.exampleshire.gov.uk"

# (path, title, heading, text)
PAGES: list[tuple[str, str, str, str]] = [
    ("/bins/collection-days", "Bin collection days", "When your bins are collected",
     "General waste and recycling are collected on alternate weeks. Your collection day is the "
     "same every week and is shown on your bin calendar. Put your bin out by 7am on your "
     "collection day, with the lid closed. Bring your bin back in by 8pm on the day it was "
     "emptied."),
    ("/bins/collection-days", "Bin collection days", "Bank holidays",
     "Collections after a bank holiday are one day later than usual for the rest of that week. "
     "There are no collections on Christmas Day or Boxing Day; the revised dates are posted in "
     "December."),
    ("/bins/missed-collection", "Report a missed bin collection", "Report a missed bin",
     "You can report a missed bin up to 2 working days after your collection day. We will "
     "return to empty it within 3 working days of your report. We cannot return if the bin "
     "was not out by 7am or the lid was not closed."),
    ("/bins/garden-waste", "Garden waste collections", "Subscribe to garden waste",
     "Garden waste is collected every two weeks from March to November. The garden waste "
     "subscription costs £45 a year for one brown bin. You can subscribe online at any time "
     "of year and the cost is not reduced for late subscriptions."),
    ("/bins/garden-waste", "Garden waste collections", "What goes in the brown bin",
     "Put grass cuttings, hedge trimmings, leaves, flowers and small branches in your brown "
     "bin. Do not put food waste, soil, rubble or plastic bags in the brown bin."),
    ("/bins/recycling", "What goes in your recycling bin", "Blue bin",
     "Your blue recycling bin is for paper, cardboard, glass bottles and jars, food tins, "
     "drinks cans and plastic bottles. Rinse containers before you recycle them. Plastic film, "
     "crisp packets and nappies cannot be recycled and go in your general waste bin."),
    ("/bins/food-waste", "Food waste caddy", "Food waste",
     "Food waste is collected every week in your green food caddy. You can line the caddy "
     "with compostable liners or newspaper. Cooked and uncooked food, tea bags and coffee "
     "grounds can all go in the caddy."),
    ("/bins/bulky-waste", "Bulky waste collection", "Book a bulky waste collection",
     "We collect large household items such as furniture, mattresses and fridges. A bulky "
     "waste collection costs £30 for up to three items, and £10 for each extra item. Book "
     "online and we will give you a collection date within 10 working days."),
    ("/bins/new-bin", "Order a new or replacement bin", "Replacement bins",
     "You can order a replacement bin if yours is lost, stolen or damaged. A replacement "
     "general waste or recycling bin costs £25 including delivery. Delivery takes up to 15 "
     "working days."),
    ("/recycling-centres", "Household recycling centres", "Opening times",
     "Household recycling centres are open from 8am to 6pm in summer and 8am to 4pm in "
     "winter. You must book a visit online before you go. Vans and trailers need a permit."),
    ("/council-tax/bands", "Council tax bands", "How bands are set",
     "Your council tax band depends on the value of your home on 1 April 1991. Bands are set "
     "by the Valuation Office Agency, not by the council. You can challenge your band with "
     "the Valuation Office Agency if you think it is wrong."),
    ("/council-tax/bands", "Council tax bands", "Charges for 2024 to 2025",
     "Band A: £1,412 a year. Band B: £1,647 a year. Band C: £1,883 a year. Band D: £2,118 a "
     "year. Band E: £2,589 a year."),
    ("/council-tax/pay", "Pay your council tax", "Ways to pay",
     "You can pay your council tax by direct debit, online by debit card, or by phone. "
     "Direct debit payments can be taken on the 1st, 15th or 28th of the month. You can "
     "spread your payments over 10 or 12 monthly instalments."),
    ("/council-tax/single-person-discount", "Single person discount",
     "Who can get the discount",
     "If you are the only adult living in your home you can get a 25% discount on your "
     "council tax. Children under 18 and full-time students are not counted as adults. You "
     "must tell us within 21 days if another adult moves in."),
    ("/council-tax/reduction", "Council tax reduction", "Help paying council tax",
     "Council tax reduction helps people on low incomes pay their council tax. You can get "
     "up to 100% off your bill if you are of pension age and on pension credit. Working-age "
     "residents can get up to 80% off, depending on income and savings."),
    ("/council-tax/students", "Council tax for students", "Student exemption",
     "Homes where everyone is a full-time student do not pay council tax. You need to send us "
     "a student certificate from your university or college to claim the exemption."),
    ("/council-tax/arrears", "If you cannot pay your council tax", "Missed payments",
     "If you miss a payment we will send you a reminder notice. If you do not pay within 7 "
     "days of the reminder you lose the right to pay in instalments. Contact us as soon as "
     "possible if you are struggling to pay, so we can agree a payment plan."),
    ("/parking/residents-permits", "Residents' parking permits", "Apply for a permit",
     "You can apply for a residents' parking permit if you live in a controlled parking zone. "
     "A first permit costs £60 a year and a second permit costs £120 a year. You need your "
     "vehicle registration document and proof of address."),
    ("/parking/visitor-permits", "Visitor parking permits", "Visitor permits",
     "Residents in a controlled parking zone can buy visitor permits for their guests. Each "
     "visitor permit is valid for one day and costs £3. You can buy up to 50 visitor permits "
     "a year."),
    ("/parking/penalty-charge-notices", "Penalty charge notices", "Pay a parking fine",
     "A penalty charge notice for parking costs £70. If you pay within 14 days it is reduced "
     "to £35. You can pay online, by phone or by post."),
    ("/parking/penalty-charge-notices", "Penalty charge notices", "Challenge a parking fine",
     "You can challenge a penalty charge notice if you think it was issued unfairly. Make "
     "your challenge within 28 days and include photos or other evidence. The reduced rate is "
     "held open while we consider your challenge."),
    ("/parking/blue-badge", "Blue Badge scheme", "Who can get a Blue Badge",
     "A Blue Badge lets disabled people park closer to where they need to go. You may get "
     "a badge automatically if you get the higher rate of the mobility component of Personal "
     "Independence Payment. A Blue Badge costs £10 and lasts for up to 3 years. Apply for a Blue "
     "Badge online; a decision takes up to 12 weeks."),
    ("/parking/car-parks", "Council car parks", "Charges and opening hours",
     "Council car parks in the town centre cost £1.50 an hour, up to a maximum of £8 a day. "
     "Parking is free after 6pm and on Sundays. Blue Badge holders park free in all council "
     "car parks."),
    ("/parking/dropped-kerbs", "Apply for a dropped kerb", "Dropped kerbs",
     "You need permission from the council to lower a kerb so you can park on your driveway. "
     "The application fee is £150 and is not refunded if your application is refused. It "
     "is an offence to drive over a footpath without a dropped kerb."),
    ("/libraries/joining", "Join the library", "Library membership",
     "Library membership is free for anyone who lives, works or studies in Exampleshire. "
     "Bring proof of address to any library to join. You can borrow up to 12 books at a time "
     "for 3 weeks."),
    ("/libraries/opening-times", "Library opening times", "Opening hours",
     "Central Library is open Monday to Saturday, 9am to 7pm. Branch libraries are open "
     "Tuesday to Saturday, 10am to 5pm. All libraries are closed on bank holidays."),
    ("/housing/homeless", "If you are homeless or about to be", "Get help now",
     "Contact the housing options team if you are homeless or at risk of losing your home "
     "within 56 days. Outside office hours call the emergency out of hours line. We will "
     "assess your situation and explain what help we can give."),
    ("/housing/repairs", "Council housing repairs", "Report a repair",
     "Council tenants should report repairs online or by phone. Emergency repairs, such as "
     "a gas leak or a flood, are attended within 24 hours. Routine repairs are completed "
     "within 28 days."),
    ("/planning/permission", "Do you need planning permission", "Permitted development",
     "Many small extensions and loft conversions do not need planning permission because "
     "they are permitted development. Flats, listed buildings and homes in conservation areas "
     "have fewer permitted development rights. You can apply for a lawful development "
     "certificate to be sure."),
    ("/planning/apply", "Apply for planning permission", "Fees and decisions",
     "A householder planning application costs £258. We aim to decide householder "
     "applications within 8 weeks. Neighbours are told about your application and have 21 "
     "days to comment."),
    ("/environment/fly-tipping", "Report fly-tipping", "Fly-tipping",
     "Fly-tipping is the illegal dumping of waste on land or in the street. Report it online "
     "with the location and a photo if it is safe to take one. Do not touch the waste or "
     "approach anyone you see dumping it."),
    ("/environment/noise", "Report a noise nuisance", "Noise complaints",
     "You can report noise from neighbours, businesses or alarms. Keep a diary of the noise "
     "for 14 days before you report it. An officer may visit or install recording equipment."),
    ("/registration/births", "Register a birth", "Registering a birth",
     "You must register a birth within 42 days at the register office. Make an appointment "
     "online before you visit. Parents who are not married must both attend if both names "
     "are to go on the certificate."),
    ("/schools/admissions", "School admissions", "Apply for a primary school place",
     "Apply for a primary school place by 15 January for children starting school in "
     "September. You can name up to 3 preferred schools. Offers are sent on 16 April."),
    ("/contact", "Contact the council", "Contact us",
     "Our customer services team is open Monday to Friday, 9am to 5pm. You can also visit us "
     "at the Civic Centre. For emergencies outside office hours, call the out of hours line."),
]  # fmt: skip


def passages() -> list[Passage]:
    return [
        Passage(i + 1, SITE + path, title, heading, text, "en")
        for i, (path, title, heading, text) in enumerate(PAGES)
    ]


def build(extra: list[Passage] | None = None) -> Index:
    """An index of the council's pages, plus any `extra` passages (say, poisoned ones)."""
    found = passages() + list(extra or [])
    vectors = encoder().encode([search_text(p.title, p.heading, p.text) for p in found])
    return Index.build(found, vectors)


@lru_cache(maxsize=1)
def council_index() -> Index:
    return build()


def settings(**overrides: object) -> Settings:
    return Settings(
        secret_key="test-secret-key-that-is-long-enough-" + "x" * 16,
        environment="test",
        **overrides,  # type: ignore[arg-type]
    )
