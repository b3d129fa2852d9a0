"""The deterministic entity and relation extractor: names, dates, emails, @handles and
capitalised phrases, plus a few relation patterns ("X works at Y", "X lives in Y"). It needs no
model, so the graph works offline; a model's extraction (when one is configured) replaces it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sophon.memory.entries import fts

MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MONTHS = {m: i + 1 for i, m in enumerate(MONTH_NAMES)}
MONTHS.update({m[:3]: n for m, n in list(MONTHS.items())})
MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"  # noqa: E501

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
HANDLE = re.compile(r"(?<![\w@])@([A-Za-z_][\w]{1,38})\b")
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
MDY = re.compile(rf"\b({MONTH})\.? (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})\b")
DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ({MONTH}),? (\d{{4}})\b")
CAPITALISED = re.compile(
    r"\b(?:[A-Z][\w&'-]*|[A-Z]{2,})(?:\s+(?:of|de|van|von|the|and|&)?\s*(?:[A-Z][\w&'-]*))*"
)
# words that start a sentence rather than a name: the search stopwords and a few more
COMMON_STARTS = fts.STOPWORDS | frozenset(
    [
        "also",
        "can",
        "could",
        "email",
        "friday",
        "he",
        "her",
        "his",
        "if",
        "let",
        "may",
        "might",
        "monday",
        "no",
        "not",
        "note",
        "please",
        "remember",
        "saturday",
        "she",
        "should",
        "sunday",
        "thursday",
        "today",
        "tomorrow",
        "tuesday",
        "wednesday",
        "would",
        "yes",
        "yesterday",
    ]
)
ORG_SUFFIX = re.compile(
    r"\b(?:Inc|Ltd|LLC|Corp|Corporation|GmbH|AG|SA|Company|Co|Group|University|Bank|Labs?|"
    r"Foundation|Institute|Agency|Systems|Technologies|Industries)\.?$"
)
ORG_CUE = re.compile(r"\b(?:at|for|joined|joins|with the company|employer|client|customer)\s+$")
PLACE_CUE = re.compile(r"\b(?:in|to|from|near|visit(?:ed|ing)?|moved to|lives in)\s+$")
PROJECT_CUE = re.compile(r"\b(?:project|projects|on|launch(?:ed|ing)?|release)\s+$", re.I)
PERSON_CUE = re.compile(
    r"\b(?:met|with|told|asked|called|emailed|manager|boss|wife|husband|"
    r"friend|colleague|son|daughter|mother|father|brother|sister)\s+$",
    re.I,
)
FIRST_PERSON = re.compile(r"^(?:i|my|me|we|our)$", re.I)

# relation patterns: (regex, predicate, single-valued?, object type); groups "s" and "o"
_NAME = r"[A-Z][\w&'-]*(?:\s+[A-Z][\w&'-]*)*"
_SUBJ = rf"(?P<s>{_NAME}|I|We)"
RELATIONS: list[tuple[re.Pattern[str], str, bool, str]] = [
    (
        re.compile(rf"{_SUBJ} (?:now )?(?:work|works|worked) (?:at|for) (?P<o>{_NAME})"),
        "works_at",
        True,
        "organization",
    ),
    (re.compile(rf"{_SUBJ} (?:joined|joins) (?P<o>{_NAME})"), "works_at", True, "organization"),
    (
        re.compile(rf"{_SUBJ} (?:now )?(?:live|lives|lived|moved) (?:in|to) (?P<o>{_NAME})"),
        "lives_in",
        True,
        "place",
    ),
    (re.compile(rf"{_SUBJ} (?:is|am|are) married to (?P<o>{_NAME})"), "married_to", True, "person"),
    (re.compile(rf"{_SUBJ} (?:leads|manages|runs|owns) (?P<o>{_NAME})"), "manages", False, ""),
    (
        re.compile(rf"{_SUBJ} (?:is|am|are) (?:working|works) on (?P<o>{_NAME})"),
        "works_on",
        False,
        "project",
    ),
    (re.compile(rf"{_SUBJ} (?:reports|report) to (?P<o>{_NAME})"), "reports_to", True, "person"),
]
SINGLE_VALUED = frozenset(p for _, p, single, _ in RELATIONS if single)
# every relation pattern needs one of these words: most texts have none and skip them all
RELATION_CUE = re.compile(
    r"\b(?:work|works|worked|working|joined|joins|live|lives|lived|moved|married|leads|manages"
    r"|runs|owns|reports|report)\b"
)


@dataclass(frozen=True)
class Found:
    name: str
    type: str


@dataclass
class Extraction:
    entities: list[Found] = field(default_factory=list)
    relations: list[tuple[Found, str, Found]] = field(default_factory=list)

    def add(self, found: Found) -> Found:
        for known in self.entities:
            if known.name.casefold() == found.name.casefold():
                return known
        self.entities.append(found)
        return found


def _date_name(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _dates(text: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for m in ISO_DATE.finditer(text):
        if name := _date_name(int(m[1]), int(m[2]), int(m[3])):
            spans.append((m.start(), m.end(), name))
    for m in MDY.finditer(text):
        if name := _date_name(int(m[3]), MONTHS[m[1][:3].lower()], int(m[2])):
            spans.append((m.start(), m.end(), name))
    for m in DMY.finditer(text):
        if name := _date_name(int(m[3]), MONTHS[m[2][:3].lower()], int(m[1])):
            spans.append((m.start(), m.end(), name))
    return spans


def _classify(phrase: str, before: str) -> str:
    if ORG_SUFFIX.search(phrase) or ORG_CUE.search(before):
        return "organization"
    if PROJECT_CUE.search(before) or phrase.lower().startswith("project "):
        return "project"
    if PLACE_CUE.search(before):
        return "place"
    if PERSON_CUE.search(before):
        return "person"
    words = phrase.split()
    if len(words) in (2, 3) and all(w[:1].isupper() and w[1:].islower() for w in words):
        return "person"
    return "concept"


def _sentence_start(text: str, index: int) -> bool:
    before = text[:index].rstrip()
    return not before or before[-1] in ".!?:;\n\"'(“"


def _phrases(text: str, taken: list[tuple[int, int]]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for m in CAPITALISED.finditer(text):
        start, phrase = m.start(), m.group(0).strip()
        if any(a <= start < b for a, b in taken) or text[max(start - 1, 0)] == "@":
            continue
        words = phrase.split()
        while words and words[0].lower() in COMMON_STARTS:
            start += len(words[0]) + 1
            words = words[1:]
        if not words:
            continue
        phrase = " ".join(words)
        if len(words) == 1 and _sentence_start(text, start) and len(phrase) < 4:
            continue
        if len(words) == 1 and words[0].lower() in MONTHS:
            continue
        if len(phrase) < 2 or len(phrase) > 120:
            continue
        found.append((phrase, _classify(phrase, text[max(0, start - 40) : start])))
    return found


def extract(text: str, me: str | None = None) -> Extraction:
    """Entities and relations in `text`. `me` names the entity first-person subjects ("I",
    "my") stand for (the entry's user), or None to skip such relations."""
    result = Extraction()
    taken: list[tuple[int, int]] = []
    if "@" in text:
        for m in EMAIL.finditer(text):
            result.add(Found(m.group(0).lower(), "other"))
            taken.append(m.span())
        for m in HANDLE.finditer(text):
            if not any(a <= m.start() < b for a, b in taken):
                result.add(Found("@" + m.group(1), "person"))
                taken.append(m.span())
    if any(c.isdigit() for c in text):  # every date form has digits
        for start, end, name in _dates(text):
            result.add(Found(name, "date"))
            taken.append((start, end))
    relations = RELATIONS if RELATION_CUE.search(text) else []
    for pattern, predicate, _single, object_type in relations:
        for m in pattern.finditer(text):
            subject_name, object_name = m.group("s").strip(), m.group("o").strip()
            if FIRST_PERSON.match(subject_name):
                if me is None:
                    continue
                subject = result.add(Found(me, "person"))
            else:
                subject = result.add(Found(subject_name, "person"))
            typed = object_type or _classify(object_name, "")
            obj = result.add(Found(object_name, typed))
            result.relations.append((subject, predicate, obj))
    for phrase, kind in _phrases(text, taken):
        result.add(Found(phrase, kind))
    return result
