# ruff: noqa: RUF001 - the look-alike letters are the point of the confusables table
"""Prompt-injection heuristics: what a question (or a passage) says to the machine, not about
the council's services.

Text is checked in several spellings, because attacks hide: as written (after the caller's
NFKC and invisible-character stripping), with Cyrillic and Greek look-alikes folded to Latin,
with leetspeak undone ("1gn0re"), with spaced-out letters joined ("i g n o r e"), and with any
encoded blob (base64, hex, percent or \\u escapes, rot13, reversed text, Unicode tag characters)
decoded. Patterns are kept narrow enough that ordinary questions ("can I ignore a parking
ticket?", "what are the instructions for bulky waste?") pass; the red-team set holds both.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import unquote

INSTRUCTION_OVERRIDE = "instruction_override"
ROLE_PLAY = "role_play"
SYSTEM_PROMPT_EXTRACTION = "system_prompt_extraction"
ENCODED_PAYLOAD = "encoded_payload"
MARKUP_INJECTION = "markup_injection"
DELIMITER = "delimiter"
AI_DIRECTIVE = "ai_directive"  # text addressed to an AI reader: the poisoned-passage signature

# Cyrillic, Greek, Armenian and other letters drawn like Latin ones (after NFKC, which has
# already folded full-width and mathematical letters).
_CONFUSABLES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ɑ": "a", "ı": "i", "ȷ": "j", "ℓ": "l",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D", "Ӏ": "I", "Ь": "b",
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    "օ": "o", "ո": "n", "ս": "u", "ց": "g", "հ": "h", "ք": "p", "ɩ": "i", "ʏ": "y", "ᴅ": "d",
}  # fmt: skip
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
_LEET_TABLE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                             "@": "a", "$": "s", "!": "i", "|": "l"})  # fmt: skip
_LEET_WORD = re.compile(r"\b(?=[\w@$!|]*[a-z])(?=[\w@$!|]*[013457@$!|])[\w@$!|]{3,}\b", re.I)
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*+]{1,2}){3,}[a-z]\b", re.I)

F = re.IGNORECASE
_W = r"\W+(?:\w+\W+){0,%d}?"  # up to n words in between


def _gap(n: int) -> str:
    return _W % n


_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|forget|override|overrule|bypass|discard|abandon|neglect|"
    r"disable|turn off|switch off|deactivate|do not follow|don'?t follow|stop following|"
    r"do not obey|don'?t obey|stop obeying)"
)
_QUALIFIER = (
    r"(?:previous|previously|prior|preceding|above|earlier|foregoing|former|original|initial|"
    r"old|existing|all|any|every|your|system|developer|default|safety|those|these|my earlier)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules?|directions?|directives?|guidelines?|context|messages?|"
    r"commands?|constraints?|programming|restrictions?|filters?|guardrails?|limitations?|"
    r"safeguards?|ethics|principles)"
)

PATTERNS: dict[str, list[re.Pattern[str]]] = {
    INSTRUCTION_OVERRIDE: [
        re.compile(rf"\b{_OVERRIDE_VERB}\W+(?:\w+\W+){{0,4}}?{_QUALIFIER}{_gap(3)}{_RULES}\b", F),
        re.compile(rf"\b{_OVERRIDE_VERB}\W+(?:the\W+)?(?:above|preceding|foregoing)\b", F),
        re.compile(r"\b(?:ignore|disregard|forget)\W+(?:about\W+)?(?:everything|anything)\b", F),
        re.compile(
            r"\b(?:ignore|disregard|forget)\b.{0,60}\b(?:and|then)\W+(?:just\W+)?(?:tell|say|"
            r"confirm|write|reply|respond|print|output|agree)\W+(?:me|that|us|yes|no|[\"'])",
            F,
        ),
        re.compile(
            r"\b(?:ignore|disregard|forget)\W+(?:about\W+)?(?:gov\.?uk|your sources|the sources|"
            r"the documents|your guidance|the passages|your context)\b",
            F,
        ),
        re.compile(
            r"\b(?:new|updated|real|actual|true|revised|secret|hidden|additional|overriding|"
            r"priority|important)\W+(?:instructions?|task|prompt|rules|orders|directives?|"
            r"objective|mission|role)\W*[:\-]",
            F,
        ),
        re.compile(
            r"\byour\W+(?:new|real|actual|only|true)\W+(?:task|instructions?|job|role|"
            r"objective|goal|purpose|mission)\b",
            F,
        ),
        re.compile(
            r"\bfrom now on\W+(?:you|your|always|only|never|respond|reply|answer|ignore|"
            r"act|pretend|speak|talk|say|output|start)\b",
            F,
        ),
        re.compile(
            rf"\b(?:reply|respond|answer|say|output|print|write|type|repeat)"
            rf"{_gap(2)}(?:exactly|verbatim|word for word|the (?:word|words|phrase|"
            rf"string|sentence)|only (?:with|the word|in|yes|no|[\"'“‘]))",
            F,
        ),
        re.compile(
            r"\b(?:reply|respond|answer|start|begin|end|finish)\W+(?:\w+\W+){0,3}?"
            r"with\W*[\"'“‘`]",
            F,
        ),
        re.compile(
            r"\b(?:instead|rather)\W+(?:\w+\W+){0,2}?(?:say|reply|respond|output|print|"
            r"write|tell|answer)\b",
            F,
        ),
        re.compile(
            r"\b(?:you|assistant|the ai|the bot|the model)\W+(?:must|should|shall|"
            r"will|are to|have to|need to)\W+(?:now\W+)?(?:ignore|disregard|obey|"
            r"forget|override|bypass)\b",
            F,
        ),
        re.compile(
            r"\b(?:i am|i'm|this is)\W+your\W+(?:\w+\W+)?(?:developer|creator|admin|"
            r"administrator|owner|programmer|operator|maker|master)\b",
            F,
        ),
        re.compile(
            r"\b(?:i am|i'm|this is)\W+(?:the\W+)?(?:system\W+)?(?:administrator|admin|"
            r"developer)\W+(?:speaking|here|talking)\b",
            F,
        ),
        re.compile(
            r"\b(?:system|admin|administrator|developer|root|security)\W+(?:override|"
            r"command|message|notice|instruction|update|alert)\b\W*[:!\-]",
            F,
        ),
        re.compile(r"\b(?:override|unlock|admin|debug)\W+code\b", F),
        re.compile(r"\bprompt\W+injection\b", F),
        # The same in languages a UK attacker is likely to try.
        re.compile(
            r"\bignor(?:ez|e|a|iere|ieren|ar|are)\b.{0,40}\b(?:instructions|"
            r"instrucciones|anweisungen|istruzioni|instruções|consignes|regeln|reglas)\b",
            F,
        ),
        re.compile(r"\banwybydd\w*\b.{0,40}\bcyfarwyddiadau\b", F),
    ],
    ROLE_PLAY: [
        re.compile(
            r"\b(?:you are|you're|you will be|you'll be|u r|ur)\W+(?:now|no longer|"
            r"henceforth|going to (?:be|act|play|pretend|roleplay))\b",
            F,
        ),
        re.compile(
            r"\b(?:pretend|imagine|suppose|assume|believe)\W+(?:to be|(?:that\W+)?"
            r"(?:you|u)(?:'re|\W+are|\W+were|\W+can|\W+have no|\W+had no))\b",
            F,
        ),
        re.compile(
            r"\b(?:act|behave|respond|answer|talk|speak|reply|write)\W+(?:as if|as though|"
            r"like)\W+(?:you|u|an?|the|my)\b",
            F,
        ),
        re.compile(
            r"\b(?:act|serve|function|operate)\W+as\W+(?:an?\W+|my\W+|the\W+)?(?:\w+\W+)?"
            r"(?:ai|assistant|bot|chatbot|gpt|model|llm|unrestricted|unfiltered|"
            r"uncensored|evil|jailbroken|hacker|pirate|character|persona|terminal|linux|"
            r"shell|interpreter|compiler|console|dan)\b",
            F,
        ),
        re.compile(r"\b(?:roleplay|role-play|role play|roleplaying|role-playing)\b", F),
        re.compile(r"\bstay in character\b|\bbreak character\b|\bin character\b", F),
        re.compile(r"\bdo anything now\b|\bjail\W?br(?:eak|oken|eaking)\b", F),
        re.compile(
            r"\b(?:developer|dev|god|debug|admin|sudo|maintenance|unrestricted|"
            r"unfiltered|jailbreak|opposite|evil|chaos|dan)\W+mode\b",
            F,
        ),
        re.compile(
            r"\b(?:unfiltered|uncensored|unrestricted|unaligned|unbound|unlimited|"
            r"amoral|unethical)\W+(?:ai|assistant|mode|model|bot|version|response|"
            r"answers?|chatbot|persona|character|llm|gpt)\b",
            F,
        ),
        re.compile(
            r"\b(?:respond|answer|reply|talk|speak|operate|act|behave|write|work)\W+"
            r"(?:\w+\W+){0,3}?without\W+(?:any\W+)?(?:restrictions|filters|censorship|"
            r"guidelines|ethics|morals|rules|limits|limitations|safeguards)\b",
            F,
        ),
        re.compile(r"\b(?:alter|evil|dark|shadow|opposite)\W+(?:ego|twin|self|version)\b", F),
        re.compile(
            r"\byour\W+(?:new\W+)?(?:name|persona|identity|character|role)\W+(?:is|will "
            r"be)\b",
            F,
        ),
        re.compile(
            r"\b(?:simulate|emulate|impersonate)\W+(?:an?\W+|being\W+)?(?:\w+\W+)?(?:ai|"
            r"assistant|chatbot|bot|model|llm|gpt|terminal|linux|shell|dan|unrestricted|"
            r"unfiltered|jailbroken|evil)\b",
            F,
        ),
        re.compile(r"\bplay\W+(?:the\W+)?(?:role|part|character)\W+of\b|\blet'?s play a game\b", F),
        re.compile(
            r"\bhypothetical(?:ly)?\b.{0,60}\b(?:ai|assistant|no rules|unrestricted|"
            r"no restrictions|no filters)\b",
            F,
        ),
    ],
    SYSTEM_PROMPT_EXTRACTION: [
        re.compile(
            r"\b(?:system|hidden|secret|developer|meta)\W*(?:prompts?|instructions?|"
            r"directives?|configuration|config)\b",
            F,
        ),
        re.compile(r"\b(?:initial|original|base|pre)\W*prompts?\b", F),
        re.compile(
            r"\byour\W+(?:\w+\W+)?prompt\b(?!\W+(?:payment|action|attention|response|"
            r"reply|service|delivery|repair|decision))|\bprompt\W+(?:you were|text|"
            r"template)\b",
            F,
        ),
        re.compile(
            r"\b(?:reveal|show|print|repeat|display|output|dump|leak|disclose|recite|echo|"
            r"expose|share|give|tell|list|write|paste|copy|spell|summari[sz]e|translate|"
            r"what)\b\W+(?:\w+\W+){0,4}?your\W+(?:\w+\W+){0,2}?(?:instructions|directives|"
            r"programming|configuration|guidelines|rules|context|constraints)\b"
            r"(?!\W+(?:for|on|about|regarding|to|when|if)\b)",
            F,
        ),
        re.compile(
            r"\b(?:what|which|how)\W+(?:were|are|was|have)\W+you\W+(?:been\W+)?(?:told|"
            r"instructed|programmed|configured|prompted|set up|initiali[sz]ed)\b",
            F,
        ),
        re.compile(
            r"\b(?:repeat|print|output|echo|recite|reproduce|copy|return|show|display|"
            r"write)\W+(?:\w+\W+){0,3}?(?:everything|all|the text|the words|anything|"
            r"the content|the message|what)\W+(?:\w+\W+){0,3}?(?:above|before|preceding|"
            r"prior|so far|you were given|in your context|verbatim)\b",
            F,
        ),
        re.compile(
            r"\b(?:beginning|start|first\W+(?:line|lines|words|sentence|message|part))"
            r"\W+of\W+(?:your|the|this)\W+(?:prompt|conversation|context|instructions|"
            r"message|input|chat)\b",
            F,
        ),
        re.compile(r"\bcanary\W+(?:token|string|value|word|code|phrase)\b", F),
        re.compile(
            r"\b(?:words|text|instructions|rules|guidelines|prompt|directions)\W+"
            r"(?:you were|you've been|you have been)\W+(?:given|told|sent)\b",
            F,
        ),
        re.compile(
            r"\b(?:secret|hidden)\W+(?:word|password|passphrase|key|token)\b|\b(?:must|should|"
            r"were told to|are told to)\W+(?:never|not)\W+(?:reveal|disclose|share|repeat)\b",
            F,
        ),
    ],
    ENCODED_PAYLOAD: [
        re.compile(
            r"\b(?:decode|decrypt|decipher|translate|convert|interpret|execute|run|eval|"
            r"evaluate|follow|unscramble)\W+(?:\w+\W+){0,4}?(?:base\W?64|b64|hex|"
            r"hexadecimal|rot\W?13|binary|morse|caesar|cipher|encoded|ascii codes?|"
            r"unicode|reversed|backwards)\b",
            F,
        ),
        re.compile(
            r"\b(?:base\W?64|rot\W?13|hex(?:adecimal)?)\W*(?:encoded|decoded|string|"
            r"text|message|payload|instructions?|below|above|this)\b",
            F,
        ),
    ],
    MARKUP_INJECTION: [
        re.compile(
            r"<\s*/?\s*(?:script|iframe|img|svg|object|embed|style|link|meta|form|input|"
            r"base|body|html|frame|frameset|video|audio|math|details|marquee|textarea|"
            r"button)\b|<a\s[^>]*href",
            F,
        ),
        re.compile(r"<[^>]*\bon[a-z]+\s*=", F),
        re.compile(r"\b(?:javascript|vbscript|livescript)\s*:|\bdata:\s*text/html", F),
        re.compile(r"!\[[^\]]*\]\([^)]*\)"),  # a markdown image: fetches (and leaks) on render
        re.compile(r"\[[^\]]+\]\(\s*(?:https?|ftp|javascript|data|mailto):", F),
        re.compile(r"<!--|-->|\{\{.*?\}\}|\{%.*?%\}|\$\{[^}]*\}", re.S),
    ],
    DELIMITER: [
        re.compile(r"<\|[\w\s-]{1,30}\|>"),
        re.compile(r"\[/?\s*(?:inst|sys|system|user|assistant|human|ai|admin)\s*\]", F),
        re.compile(r"<<\s*/?\s*sys\s*>>", F),
        re.compile(
            r"</?\s*(?:system|user|assistant|instructions?|context|prompt|human|ai|bot|"
            r"s|im_start|im_end|admin|developer)\s*>",
            F,
        ),
        re.compile(
            r"(?:^|[\n.!?])\s*#{0,6}\s*(?:system|assistant|human|developer|admin|ai|bot)"
            r"\s*(?:message|prompt)?\s*[:>]",
            F,
        ),
        re.compile(r"(?:^|\n)\s*(?:-{3,}|={3,}|\*{3,}|#{3,}|`{3,}|_{3,}|~{3,}|>{3,})", F),
        re.compile(
            r"\b(?:end|close|finish|stop)\W+(?:of\W+)?(?:the\W+)?(?:user\W+)?(?:input|"
            r"question|prompt|context|document|conversation|instructions|query|"
            r"system message)\b",
            F,
        ),
        re.compile(
            r"\b(?:begin|start)\W+(?:of\W+)?(?:the\W+)?(?:new\W+)?(?:system|admin|"
            r"developer|new)\W+(?:prompt|instructions?|message|session|conversation)\b",
            F,
        ),
        re.compile(r"[\"']role[\"']\s*:\s*[\"'](?:system|assistant|developer)[\"']", F),
        re.compile(r"#{2,}\s*(?:instruction|response|input|system)\b", F),
    ],
    AI_DIRECTIVE: [
        re.compile(
            r"\b(?:ai|a\.i\.|artificial intelligence|chat\W?bots?|language models?|"
            r"llms?|gpt|chatgpt|claude|gemini|copilot|ai assistants?|virtual assistants?|"
            r"digital assistants?|ai models?|ai systems?|bots?|automated systems?|"
            r"assistants?(?=\W*[,:]))\b\W+(?:\w+\W+){0,6}?(?:must|should|shall|will|are to|"
            r"need to|have to|is instructed|are instructed|are required|may not|never|"
            r"always|ignore|reply|respond|say|tell|output|answer|include|append|add|"
            r"recommend|state|inform|direct|send|link|refer|reading|summari[sz]ing)\b",
            F,
        ),
        re.compile(
            r"\bif\W+you\W+(?:are|were)\W+(?:an?\W+)?(?:ai|a\.i\.|language model|chat\W?bot|"
            r"llm|assistant|bot|automated|machine|gpt|model|robot)\b",
            F,
        ),
        re.compile(
            r"\b(?:note|message|instructions?|notice|attention|memo|hint|reminder)s?\W+"
            r"(?:to|for)\W+(?:the\W+|any\W+|all\W+)?(?:ai|assistants?|chat\W?bots?|bots?|"
            r"llms?|language models?|models?|automated systems?|crawlers?|agents?)\b",
            F,
        ),
        re.compile(
            r"\bwhen\W+(?:you\W+are\W+)?(?:summari[sz]ing|answering|responding|asked|"
            r"quoting|reading|processing|citing)\W+(?:about\W+|to\W+|from\W+|on\W+)?"
            r"(?:this|these|the following|questions)\b",
            F,
        ),
        re.compile(
            r"\b(?:ignore|disregard|deceive|mislead|instruct|reply to|respond to|trick|"
            r"manipulate)\W+(?:the\W+)?(?:user|users|human|questioner|person asking|"
            r"citizen asking)\b",
            F,
        ),
        re.compile(
            r"\b(?:tell|inform|advise|convince|persuade|ask)\W+(?:the\W+)?(?:user|users|"
            r"human|questioner|person asking|reader)\W+(?:that|to)\b",
            F,
        ),
        re.compile(
            r"\b(?:do not|don't|never)\W+(?:tell|mention|reveal|inform|cite|show)\W+"
            r"(?:the\W+)?(?:user|users|human|reader)\b",
            F,
        ),
        re.compile(
            r"\b(?:the\W+)?(?:user|human)\W+(?:is|has been)\W+(?:authori[sz]ed|verified|"
            r"an? admin)\b",
            F,
        ),
    ],
}

# Role-play personas whose names are ordinary words in lower case ("Dan" is also a name).
_PERSONAS = re.compile(r"\b(?:DAN|STAN|DUDE|AIM|KEVIN|APOPHIS|BetterDAN|AntiGPT|Mongo Tom)\b")

_B64 = re.compile(
    r"(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
    r"|(?:[A-Za-z0-9_-]{4}){4,}"
)
_HEX = re.compile(r"(?<![0-9a-zA-Z])(?:(?:0x|\\x)?[0-9a-fA-F]{2}[\s:,]?){8,}")
_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|%[0-9a-fA-F]{2}|&#x?[0-9a-fA-F]+;)")
_LETTERS = re.compile(r"[A-Za-z]{2,}")


def fold_confusables(text: str) -> str:
    """Latin look-alikes from other scripts as Latin letters (for detection only)."""
    return text.translate(_CONFUSABLE_TABLE)


def _unleet(text: str) -> str:
    return _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET_TABLE), text)


def _unspace(text: str) -> str:
    """ "i g n o r e  a l l" -> "ignore all": single gaps join letters, wider gaps part words."""

    def join(match: re.Match[str]) -> str:
        parts = re.split(r"[ .\-_*+]{2,}", match.group(0))
        return " ".join(re.sub(r"[ .\-_*+]", "", part) for part in parts)

    return _SPACED.sub(join, text)


def _readable(data: bytes) -> str | None:
    """Decoded bytes as text when they read like words, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    if not text or printable < 0.95 * len(text):
        return None
    return text if len(_LETTERS.findall(text)) >= 2 else None


def _decoded_blobs(text: str) -> Iterator[str]:
    """Readable text hidden in base64 or hex blobs inside `text`."""
    for match in _B64.finditer(text):
        blob = match.group(0)
        if blob.isalpha() and (blob.islower() or blob.isupper()):
            continue  # an ordinary long word, not base64
        padded = blob + "=" * (-len(blob) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                found = _readable(decode(padded))
            except (binascii.Error, ValueError):
                continue
            if found:
                yield found
                break
    for match in _HEX.finditer(text):
        digits = re.sub(r"0x|\\x|[\s:,]", "", match.group(0))
        if len(digits) % 2 == 0:
            try:
                found = _readable(bytes.fromhex(digits))
            except ValueError:
                continue
            if found:
                yield found


def _unescape(text: str) -> str | None:
    if len(_ESCAPES.findall(text)) < 3:
        return None

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("&#"):
            body = token[2:-1]
            return chr(int(body[1:], 16) if body[:1] in "xX" else int(body))
        if token.startswith("%"):
            return unquote(token)
        return chr(int(token[2:], 16))

    try:
        return _ESCAPES.sub(one, text)
    except (ValueError, OverflowError):
        return None


def tag_text(text: str) -> str:
    """The ASCII hidden in Unicode tag characters (U+E0020-E007E): 'ASCII smuggling'."""
    return "".join(chr(ord(ch) - 0xE0000) for ch in text if 0xE0020 <= ord(ch) <= 0xE007E)


def spellings(text: str) -> list[str]:
    """`text` as detection sees it: folded look-alikes, undone leetspeak, joined letters."""
    folded = unicodedata.normalize("NFKC", fold_confusables(text))
    variants = [folded, _unleet(folded), _unspace(folded), _unspace(_unleet(folded))]
    return list(dict.fromkeys(variants))


# Attack phrases as they read once the gaps of "i g n o r e p r e v i o u s" are gone.
_RUN_TOGETHER = {
    "ignoreprevious": INSTRUCTION_OVERRIDE,
    "ignoreall": INSTRUCTION_OVERRIDE,
    "ignoreyour": INSTRUCTION_OVERRIDE,
    "ignoretheabove": INSTRUCTION_OVERRIDE,
    "disregardprevious": INSTRUCTION_OVERRIDE,
    "disregardall": INSTRUCTION_OVERRIDE,
    "forgeteverything": INSTRUCTION_OVERRIDE,
    "newinstructions": INSTRUCTION_OVERRIDE,
    "systemprompt": SYSTEM_PROMPT_EXTRACTION,
    "yourinstructions": SYSTEM_PROMPT_EXTRACTION,
    "youarenow": ROLE_PLAY,
    "doanythingnow": ROLE_PLAY,
    "developermode": ROLE_PLAY,
    "jailbreak": ROLE_PLAY,
}


def _match(text: str, categories: set[str], include_directives: bool) -> None:
    for run in _SPACED.findall(text):
        letters = re.sub(r"[^a-z]", "", run.casefold())
        categories.update(c for phrase, c in _RUN_TOGETHER.items() if phrase in letters)
    for spelling in spellings(text):
        for category, patterns in PATTERNS.items():
            if category == AI_DIRECTIVE and not include_directives:
                continue
            if category not in categories and any(p.search(spelling) for p in patterns):
                categories.add(category)
        if _PERSONAS.search(spelling):
            categories.add(ROLE_PLAY)


def hidden_texts(text: str) -> list[str]:
    """Every decoding of `text` an attacker might rely on, readable ones only."""
    found = list(_decoded_blobs(text))
    escaped = _unescape(text)
    if escaped:
        found.append(escaped)
    tagged = tag_text(text)
    if len(_LETTERS.findall(tagged)) >= 1:
        found.append(tagged)
    return found


def categories(text: str, include_directives: bool = False) -> set[str]:
    """The injection categories `text` matches (empty when none)."""
    found: set[str] = set()
    _match(text, found, include_directives)
    hidden: set[str] = set()
    for decoded in hidden_texts(text):
        hidden.add(ENCODED_PAYLOAD)  # readable text smuggled in an encoding is itself an attack
        _match(decoded, hidden, include_directives)
    for transformed in (codecs.encode(text, "rot13"), text[::-1]):
        inner: set[str] = set()
        _match(transformed, inner, include_directives=False)
        inner -= {MARKUP_INJECTION, DELIMITER}  # noise from punctuation, not words
        if inner:
            hidden |= inner | {ENCODED_PAYLOAD}
    return found | hidden


def visible(text: str) -> str:
    """NFKC `text` without format characters (zero-width, bidi, tags): what a reader sees."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in {"Cf", "Co", "Cn"})


@lru_cache(maxsize=50_000)
def addressed_to_ai(sentence: str) -> bool:
    """Does this sentence of guidance speak to an AI (or try to steer one) rather than to
    a resident? Such sentences are never quoted in an answer."""
    shown = visible(sentence)
    if categories(shown, include_directives=True):
        return True
    return shown != sentence and bool(categories(sentence, include_directives=True))
