"""Make the demo council's labelled routing messages.

    python -m townhall.services.routing.demo_data

Writes `data/demo_messages.csv` (text, team) beside this file, the same every time (fixed seed).
Each team has hand-written requests, many with slots ({street}, {amount}, ...); a message is
one request, sometimes with a greeting, some context or a sign-off around it, and sometimes with
the typos and lower-case shorthand real messages have. Out-of-scope messages (things a council
does not handle) are labelled `triage`. All names, streets and references are invented.
"""

# ruff: noqa: E501 (the tables of hand-written requests read best one request a line)
from __future__ import annotations

import csv
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "demo_messages.csv"
SEED = 2026
PER_TEAM = 118

STREETS = [
    "Station Road",
    "Church Lane",
    "Victoria Street",
    "Mill Lane",
    "Park Avenue",
    "Queens Road",
    "the High Street",
    "Elm Grove",
    "Ashfield Close",
    "Brook Street",
    "Canal Walk",
    "Hill Rise",
    "Orchard Way",
    "St John's Terrace",
    "Kingsway",
    "Meadow Drive",
    "Fore Street",
    "Harbour Row",
]
AMOUNTS = ["£35", "£70", "£112.50", "£145", "£160.20", "£210", "£48.75", "£1,240", "£96", "£300"]
DATES = [
    "last Monday",
    "on the 3rd",
    "yesterday",
    "two weeks ago",
    "on Friday",
    "this morning",
    "since March",
    "last month",
    "on the 14th",
    "three times now",
]
PLATES = ["KX19 ABC", "LM68 TRV", "YR21 PQE", "BD15 WXZ", "GN70 HHS"]
SCHOOLS = [
    "Oakfield Primary",
    "St Mary's C of E",
    "Riverside Academy",
    "Hillcrest Infants",
    "Northgate High",
    "Brookside Juniors",
]

OPENERS = [
    "Hi,",
    "Hello,",
    "Good morning,",
    "Dear Sir/Madam,",
    "Hi there,",
    "To whom it may concern,",
    "Hello council,",
    "Morning,",
    "",
    "",
    "",
    "",
    "",
    "",
]
CLOSERS = [
    "Thanks.",
    "Thank you.",
    "Many thanks",
    "Cheers",
    "Please can someone get back to me.",
    "I'd appreciate a reply.",
    "Regards",
    "Thanks in advance!",
    "Kind regards, J. Okafor",
    "Thanks, Sam",
    "This is really urgent.",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
]

CONTEXT = [
    "I've tried phoning but couldn't get through.",
    "I've lived here for 12 years.",
    "This has been going on for ages.",
    "I'm writing on behalf of my elderly mother.",
    "English is not my first language, sorry.",
    "I emailed before but heard nothing back.",
    "I work nights so email is easiest.",
    "I'm disabled and can't come into the office.",
    "My reference number is on the letter but I can't find it.",
    "I'm really worried about this.",
    "I'm a single parent with two kids.",
    "My neighbour said I should contact you.",
]

TEAMS: dict[str, list[str]] = {
    "council-tax": [
        "I've just moved into {street} and need to set up council tax",
        "I'm moving out of my flat on {street} at the end of the month, how do I close my council tax account",
        "Why has my council tax gone up this year",
        "I live on my own, can I get the single person discount",
        "my son has turned 18 but he's still at college, does that affect my single person discount",
        "I've paid my council tax but got a reminder letter saying I owe {amount}",
        "Can I pay my council tax over 12 months instead of 10",
        "I think my house is in the wrong council tax band",
        "How do I set up a direct debit for council tax",
        "I got a summons for council tax arrears, I can't afford to pay it all at once",
        "Is there a council tax discount for people who are severely mentally impaired",
        "I'm a full time student, am I exempt from council tax",
        "the property on {street} has been empty since the tenant left, do I still pay council tax",
        "You've taken the council tax payment twice this month, please refund {amount}",
        "I need a copy of my council tax bill for a mortgage application",
        "Can you tell me my council tax account number, I've lost the letter",
        "council tax reduction - I've lost my job and can't keep up with payments",
        "I was charged the second homes premium but this is my only home",
        "Please change the name on the council tax account, my husband passed away {date}",
        "Why am I being charged council tax for a period when I didn't live there",
        "I want to appeal against my council tax band, the houses on my street are all band B",
        "the enforcement agents sent a letter about council tax, what are my options",
        "Can I get council tax support if I'm on universal credit",
        "I'm a carer for my mum who lives with me, do I get a council tax discount",
        "what date is my council tax instalment taken",
        "I haven't had a council tax bill for this year yet",
        "annex on my property is empty, can we get a council tax exemption",
        "my landlord says the council tax is included in the rent but I've had a bill",
        "can I pay council tax by card over the phone",
        "how much is council tax for a band D property",
    ],
    "housing-benefit": [
        "I've had a letter saying I was overpaid housing benefit by {amount}, I don't understand why",
        "How do I apply for housing benefit, I'm over pension age",
        "my housing benefit has stopped and I don't know why",
        "I need to report a change of circumstances for my housing benefit, my partner has moved in",
        "my hours at work have changed, does this affect my housing benefit",
        "Can I get a discretionary housing payment to help with my rent arrears",
        "my rent has gone up to {amount} a month, will my housing benefit go up too",
        "I want to appeal the decision on my housing benefit claim",
        "when will my housing benefit be paid, my landlord is chasing me",
        "Can housing benefit be paid straight to my landlord",
        "I'm in supported accommodation, do I claim housing benefit or universal credit",
        "the housing benefit letter says I have a bedroom tax deduction but my daughter is away at uni",
        "I sent in my payslips for my housing benefit claim {date} and haven't heard anything",
        "my housing benefit was reduced because of my savings but they are less than that now",
        "I'm being asked to repay a housing benefit overpayment but it was your mistake",
        "how long does a new housing benefit claim take to process",
        "my landlord hasn't received the housing benefit for this month",
        "I'm going into hospital for a few weeks, what happens to my housing benefit",
        "can I get help with rent if I'm on pension credit",
        "I need evidence of my housing benefit entitlement for the housing association",
        "I've started a new job, do I need to tell housing benefit",
        "Why has my housing benefit been suspended",
        "my son has moved out, do I need to tell housing benefit",
        "can I backdate my housing benefit claim, I didn't know I could apply",
        "the housing benefit calculation is wrong, you've counted my carers allowance twice",
        "the deduction for the non-dependant in my house is too high",
    ],
    "waste": [
        "My bin wasn't collected {date} on {street}",
        "the recycling wasn't emptied again, this is the third time",
        "How do I book a bulky waste collection for an old sofa",
        "Can I get a new green bin, mine has been stolen",
        "my wheelie bin is cracked and the lid has come off",
        "what day is my bin collection over the bank holiday",
        "someone has dumped a mattress and bags of rubbish on {street}",
        "fly tipping behind the shops on {street}, it's been there for a week",
        "how do I sign up for the garden waste collection",
        "the bin men left rubbish all over the road when they emptied the bins",
        "can I have a bigger bin, there are six of us in the house",
        "which bin do pizza boxes go in",
        "I need an assisted bin collection, I can't get my bin to the kerb since my operation",
        "the food waste caddy wasn't collected {date}",
        "when is the tip open on Sundays",
        "the litter bin on {street} is overflowing",
        "can I put glass in the blue recycling bin",
        "my garden waste subscription has expired, how do I renew it",
        "there's broken glass all over the pavement on {street}, can someone sweep it",
        "the collection crew keep missing our road, {street}",
        "I've moved in and there are no bins at the property",
        "how do I get rid of an old fridge freezer",
        "the bins at our block of flats are overflowing and there are rats",
        "clinical waste collection for my husband's needles",
        "the recycling lorry damaged my wall when it reversed",
        "dog fouling on the footpath by the school on {street}",
        "abandoned shopping trolleys and rubbish in the stream off {street}",
        "I put the wrong thing in the recycling and now you won't empty it",
        "the street hasn't been swept for months, leaves everywhere on {street}",
    ],
    "parking": [
        "I got a parking ticket on {street} but the signs were covered",
        "I want to appeal a penalty charge notice, I was loading",
        "how do I apply for a resident parking permit for {street}",
        "someone keeps parking across my dropped kerb",
        "my visitor parking permits haven't arrived",
        "I paid for parking on the app but still got a PCN {date}",
        "the pay and display machine in the car park on {street} is broken",
        "can I get a blue badge, I've just had a hip replacement",
        "my blue badge is due to expire, how do I renew it",
        "a car with registration {plate} has been parked on our street for weeks without moving",
        "cars parking on the double yellow lines outside the school every morning",
        "I was given a ticket while I was displaying my blue badge",
        "how much is a season ticket for the multi storey car park",
        "can I get a dropped kerb installed outside my house",
        "I've changed my car, how do I update the vehicle on my parking permit",
        "the parking bay markings on {street} have worn away",
        "my car was towed from {street}, where do I collect it",
        "I paid the parking fine of {amount} but I've had a letter saying it's unpaid",
        "can I park in a residents bay with a blue badge",
        "my PCN doubled because the appeal letter went to my old address",
        "is the car park free after 6pm",
        "vans parking on the pavement on {street} and blocking wheelchairs",
        "the civil enforcement officer was rude when giving me a ticket",
        "I need a parking suspension for a removal van next week",
        "my permit was stolen from my car, can I get a replacement",
        "how do I challenge a bus lane fine",
    ],
    "planning": [
        "Do I need planning permission for a single storey rear extension",
        "my neighbour is building an extension without planning permission",
        "how do I comment on the planning application for the houses on {street}",
        "I want to object to the plans to build flats behind {street}",
        "what's happening with my planning application, it's been eight weeks",
        "can I put a dormer window in my loft without planning permission",
        "is my house in a conservation area",
        "can I cut down a tree in my garden, I think it has a tree preservation order",
        "my neighbour's new fence is over two metres high, is that allowed",
        "I'd like pre-application advice for converting a barn into a house",
        "how much does a householder planning application cost",
        "the building site on {street} starts work at 6am every day",
        "do I need building regulations approval to knock through a wall",
        "they've put up a big advertising sign without permission on {street}",
        "I want to appeal the refusal of my planning application",
        "is a lawful development certificate needed for a garden room",
        "can I convert my garage into a bedroom",
        "the developers haven't built the play area they promised in the planning conditions",
        "my listed building needs new windows, what consent do I need",
        "someone is running a business from a house on {street}, is that allowed",
        "where can I see the local plan and the sites allocated for housing",
        "can I build a porch without planning permission",
        "I want to put solar panels on the roof of my listed building",
        "the planning notice on the lamppost on {street} has been taken down",
        "a new takeaway has opened on {street}, did it get planning permission",
    ],
    "housing": [
        "I'm going to be homeless at the end of the month, my landlord has given me notice",
        "how do I join the housing register",
        "there is damp and black mould in my council flat and my son has asthma",
        "my boiler has broken and I have no heating or hot water",
        "I've been on the housing waiting list for three years, what band am I in",
        "my neighbour is playing loud music every night until 3am",
        "I want to swap my council house for a bigger one, we're overcrowded",
        "the lift in our block on {street} has been broken for two weeks",
        "I'm fleeing domestic abuse and need somewhere safe to stay tonight",
        "my private landlord won't fix the leaking roof",
        "I need adaptations in my council home, I can't use the stairs any more",
        "how do I pay my council rent",
        "I'm in rent arrears on my council tenancy, can I set up a payment plan",
        "my temporary accommodation is infested with cockroaches",
        "can I apply for the right to buy my council house",
        "the window in my bedroom won't close properly, it's a council property",
        "I'm sleeping in my car, can you help me",
        "antisocial behaviour in the stairwell of our block, people smoking drugs",
        "my landlord is trying to evict me without a court order",
        "a rough sleeper has been in the doorway on {street} for a few nights, can someone help him",
        "I reported a repair {date} and nobody has come out",
        "I want to add my partner to my council tenancy",
        "how do I report a house in multiple occupation that's dangerously overcrowded",
        "our front door entry system at the flats doesn't work",
        "my housing officer hasn't returned my calls",
        "there's a gas smell in my council flat",
        "I'm being harassed by my landlord",
    ],
    "education": [
        "how do I apply for a primary school place for September",
        "my child didn't get into {school}, how do I appeal",
        "is my son eligible for free school meals",
        "how do I apply for school transport, we live more than three miles from school",
        "my daughter has special educational needs and I want to request an EHC needs assessment",
        "the school bus didn't turn up {date}",
        "we're moving to the area, how do I get an in-year school transfer",
        "when are the school holidays next year",
        "is {school} closed because of the snow",
        "my child's EHC plan hasn't been reviewed for over a year",
        "I want to home educate my child, what do I need to do",
        "how do I apply for a secondary school place",
        "my son has been excluded from {school}, what are my rights",
        "can I get help with the cost of school uniform",
        "do I qualify for 30 hours free childcare",
        "I can't find a nursery place for my two year old",
        "my child is being bullied and the school isn't doing anything",
        "I've been fined for taking my child on holiday in term time",
        "the SEN transport taxi keeps arriving late",
        "where is my child on the waiting list for {school}",
        "how do I get a work permit for my 14 year old to do a paper round",
        "my daughter needs a specialist school place, who decides",
        "can my son change school in year 10",
        "the admissions letter came to my old address and we missed the deadline",
        "which secondary schools are in our catchment area",
    ],
    "customer-services": [
        "how do I make a complaint about the council",
        "I want to make a freedom of information request",
        "what are your opening hours",
        "I can't log in to my council online account",
        "how do I register a death",
        "I'd like to book a wedding ceremony at the register office",
        "how do I get a copy of my birth certificate",
        "I've changed my name, how do I update it on all my council accounts",
        "I need to speak to someone but the phone line keeps cutting off",
        "where is the nearest council office to {street}",
        "how do I register to vote",
        "I've not received a reply to my email from {date}",
        "can I get this letter in large print",
        "I need an interpreter for my appointment, I speak Polish",
        "I want to make a subject access request for the data you hold on me",
        "who is my local councillor",
        "there's a pothole on {street} that damaged my tyre",
        "the street light outside my house on {street} has been out for a week",
        "when is the next full council meeting",
        "the public toilets in the park are locked",
        "how do I book a room at the community centre",
        "I want to compliment the staff at the library, they were so helpful",
        "the online form keeps crashing when I try to submit it",
        "I received a letter but I don't know which department sent it",
        "how do I report a noisy dog barking all day",
        "who do I contact about a dead fox in the road on {street}",
        "can I pay a council invoice by bank transfer",
    ],
    "counter-fraud": [
        "I want to report my neighbour, she claims single person discount but her boyfriend has lived there for years",
        "I think someone is subletting their council flat on {street}, different people come and go",
        "a man is using his dead mother's blue badge to park in town",
        "my neighbour works cash in hand as a builder but claims housing benefit",
        "I believe the tenant at {street} doesn't actually live there and rents it out on Airbnb",
        "someone is using a fake blue badge, the car is {plate}",
        "I want to report benefit fraud anonymously",
        "the couple at number 12 say they are separated to get more benefits but they live together",
        "I suspect a business on {street} is claiming small business rate relief it isn't entitled to",
        "I think someone applied for a council house using false documents",
        "a landlord on {street} is claiming the property is empty to avoid council tax but it's let",
        "my ex-partner is claiming council tax support and hasn't declared her income",
        "I've had an email pretending to be the council asking for my bank details",
        "someone phoned claiming to be from the council tax department and asked for a card payment",
        "I think a carer is falsely claiming for hours she doesn't work",
        "the person in the flat above has three council properties",
        "someone is claiming a student exemption but they finished university two years ago",
        "I want to report a tenant who has moved abroad but still has a council tenancy",
        "my neighbour has a blue badge but walks to the gym every day",
        "I think a school admissions application used a false address to get into {school}",
        "a contractor overcharged the council for repairs that were never done at {street}",
        "I suspect a council employee is taking bribes for housing priority",
    ],
}

TRIAGE = [
    "my broadband has been down since yesterday",
    "how do I renew my passport",
    "what's the weather going to be like tomorrow",
    "can you recommend a good plumber",
    "my GP surgery won't give me an appointment",
    "the 8.15 train to London was cancelled again",
    "I want to complain about how the police handled my case",
    "how do I apply for universal credit",
    "my electricity bill is far too high this quarter",
    "where can I buy a fishing licence",
    "how do I change the address on my driving licence",
    "my Amazon parcel hasn't arrived",
    "is the A&E at the hospital busy today",
    "can you tell me a joke",
    "what time does the football kick off on Saturday",
    "my mobile phone contract is up for renewal",
    "how do I get a refund from my airline",
    "I need a dentist who takes NHS patients",
    "who won the election in America",
    "my water is brown coming out of the tap",
    "my bank has frozen my account",
    "how do I apply for a national insurance number",
    "I want to complain about my energy supplier",
    "the motorway was closed last night, why",
    "can you help me with my tax return to HMRC",
    "my pension payment hasn't arrived from the DWP",
    "how do I get a visa to visit Canada",
    "my car insurance renewal has doubled",
    "what's the best recipe for a Victoria sponge",
    "asdfgh test test",
    "I'd like to order a pizza",
    "the Royal Mail postman keeps delivering to the wrong house",
    "my employer hasn't paid my wages",
    "how do I report a scam website to Action Fraud",
    "where is the nearest petrol station",
    "my neighbour's cat keeps coming into my garden",
    "can you recommend a good solicitor for my divorce",
    "my phone signal is terrible at home",
    "how much is a TV licence",
    "the hospital cancelled my operation",
    "I'm selling my car, are you interested",
    "is it going to snow at Christmas",
    "please stop sending me marketing emails",
    "congratulations you have won a prize click here",
    "my child benefit has stopped",
    "how do I apply for a job at the supermarket",
    "what are the symptoms of flu",
    "my gas supplier says I owe them money",
    "the bus company charged me twice on my contactless card",
    "how do I get a copy of my MOT certificate",
    "can you recommend a good restaurant in town for Saturday night",
    "my landline has a crackle on it",
    "who do I call about a leaking water main, the water company isn't answering",
    "I want to book a COVID vaccine",
    "how do I claim on my home insurance for storm damage",
    "what's the exchange rate for euros today",
    "can you help me write my CV",
    "I'd like to speak to the Prime Minister",
    "my Netflix account has been hacked",
    "is the zoo open on bank holidays",
    "hello",
    "test",
]

TYPOS = {
    "council": ["councl", "counsil", "coucil"],
    "because": ["becuase", "cos", "bc"],
    "please": ["pls", "plz", "plese"],
    "collected": ["colected", "collectd"],
    "recycling": ["recyling", "recycleing"],
    "receive": ["recieve"],
    "received": ["recieved"],
    "benefit": ["benifit", "benefits"],
    "neighbour": ["neighbor", "nieghbour"],
    "permission": ["permision"],
    "accommodation": ["accomodation"],
    "appointment": ["appt"],
    "application": ["aplication", "app"],
    "tomorrow": ["tomoz", "tommorow"],
    "you": ["u"],
    "are": ["r"],
    "thanks": ["thx", "ta"],
    "parking": ["parkin"],
    "separate": ["seperate"],
    "definitely": ["definately"],
    "property": ["propety"],
}


def _fill(template: str, rng: random.Random) -> str:
    slots = {
        "street": STREETS,
        "amount": AMOUNTS,
        "date": DATES,
        "plate": PLATES,
        "school": SCHOOLS,
    }
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(slots[m.group(1)]), template)


def _roughen(text: str, rng: random.Random) -> str:
    """Typos, dropped capitals and punctuation, as people type on a phone."""
    words = text.split(" ")
    for i, word in enumerate(words):
        bare = word.lower().strip(".,!?")
        if bare in TYPOS and rng.random() < 0.5:
            words[i] = word.lower().replace(bare, rng.choice(TYPOS[bare]))
    text = " ".join(words)
    if rng.random() < 0.5:
        text = text.lower()
    if rng.random() < 0.3:
        text = text.rstrip(".!?")
    if rng.random() < 0.15 and len(text) > 20:  # a swapped pair of letters
        j = rng.randrange(1, len(text) - 2)
        if text[j].isalpha() and text[j + 1].isalpha():
            text = text[:j] + text[j + 1] + text[j] + text[j + 2 :]
    return text


QUESTION_WORDS = {"how", "can", "what", "why", "when", "where", "is", "do", "who", "which", "does"}


def _sentence(request: str) -> str:
    body = request[0].upper() + request[1:]
    if not body.endswith(("?", ".", "!")):
        body += "?" if body.split(" ")[0].lower() in QUESTION_WORDS else "."
    return body


def _message(request: str, rng: random.Random, second: str) -> str:
    parts = [rng.choice(OPENERS), _sentence(request)]
    if rng.random() < 0.25:
        parts.append(rng.choice(CONTEXT))
    if rng.random() < 0.08:  # the long kind: two things for the same team in one message
        also = _sentence(second)
        if not also.startswith(("I ", "I'")):
            also = also[0].lower() + also[1:]
        parts.append("Also, " + also)
    parts.append(rng.choice(CLOSERS))
    text = " ".join(p for p in parts if p)
    roll = rng.random()
    if roll < 0.35:  # the short, informal kind
        text = _roughen(request, rng)
    elif roll < 0.5:
        text = _roughen(text, rng)
    return text


def generate(seed: int = SEED, per_team: int = PER_TEAM) -> list[tuple[str, str]]:
    rng = random.Random(seed)  # noqa: S311 - varied wording, not security
    rows: list[tuple[str, str]] = []
    for team, requests in TEAMS.items():
        seen: set[str] = set()
        attempts = 0
        while len(seen) < per_team and attempts < per_team * 50:
            attempts += 1
            text = _message(_fill(rng.choice(requests), rng), rng, _fill(rng.choice(requests), rng))
            if text.lower() not in seen:
                seen.add(text.lower())
                rows.append((text, team))
    for line in TRIAGE:
        rows.append((_roughen(line, rng) if rng.random() < 0.3 else line, "triage"))
    rng.shuffle(rows)
    return rows


def main() -> None:
    rows = generate()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "team"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} messages to {OUT}")


if __name__ == "__main__":
    main()
