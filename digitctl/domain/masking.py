"""Who sees PII how: DIGIT's `DataSecurity/SecurityPolicy` and `MaskingPatterns` masters applied
as DIGIT's enc-client applies them (pure rules on plain data; `digitctl.services.masking` reads
the masters, presents records and audits every plain-text disclosure).

* A SecurityPolicy names a model's PII attributes (`jsonPath`, masking `patternId`,
  `defaultVisibility`) and, per role, a `firstLevelVisibility` (what list/search output shows)
  and a `secondLevelVisibility` (what an explicit "show plain" request by that role gets).
  As in enc-client's DecryptionPolicyConfiguration, an attribute no role of the user speaks about
  gets the attribute's `defaultVisibility`. Where several roles of one user speak about one
  attribute, digitctl lets the most open level win (PLAIN > MASKED > ENCRYPTED > NONE): a rule
  is a grant. (enc-client's answer depends on the order of its `Visibility` enum, which has
  changed between releases.) An empty or unknown visibility counts as MASKED.
* A mask replaces every match of the pattern's regex with `*`, as Java's `String.replaceAll`
  does. The patterns are Java regexes; pattern 004 (e-mail) uses `\\G`, which Python's `re`
  lacks: `JavaPattern` emulates it (see there). Checked against Java's own replaceAll.
* DIGIT's name pattern 002 (`\\B[a-zA-Z0-9]`) only knows ASCII, so it leaves a Gurmukhi or
  Devanagari name whole. `mask()` therefore adds one rule of its own: any word of two or more
  characters that the pattern left untouched keeps its first letter (with its vowel signs) and
  loses the rest. `digit_mask()` is the pattern alone, exactly as DIGIT applies it.
* Safe default: when a store has no DataSecurity masters (or the policy does not know the model),
  every attribute that looks like a mobile number, an e-mail or a name is MASKED for everyone,
  with the built-in copies of pb's patterns 001 / 004 / 002. Nothing is shown plain by default.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from digitctl.domain.java_regex import JavaPattern, _compiled, java_to_python  # noqa: F401
from digitctl.domain.tenancy import fallback_chain

LEVELS = ("PLAIN", "MASKED", "ENCRYPTED", "NONE")          # most open first
NONE_VALUE = ""                                             # enc-client's STRING_FOR_NONE_ACCESS

# pb's MaskingPatterns (egov-mdms-data, MIT): used when a store has no DataSecurity masters.
BUILTIN_PATTERNS: dict[str, str] = {
    "001": r".(?=.{4})",
    "002": r"\B[a-zA-Z0-9]",
    "003": r".(?=.{2})",
    "004": r"(?<=.)[^@\n](?=[^@\n]*?@)|(?:(?<=@.)|(?!^)\G(?=[^@\n]*$)).(?!$)",
    "005": r"[A-Za-zÀ-ȕ0-9(),-_., ]",
    "006": r"\w(?=(?:[ \w]*\w){2}$)",
    "007": r"(?<=.).(?=.{3})",
    "008": r"(?<=.).(?=.{2})",
}
MOBILE, NAME, EMAIL = "001", "002", "004"


# -- masking a value -----------------------------------------------------------------------------
def digit_mask(value: str, pattern: str) -> str:
    """Exactly what DIGIT does: every match of the (Java) regex replaced by `*`.
    A pattern Python cannot run masks the whole value."""
    compiled = _compiled(pattern)
    if compiled is None:
        return "*" * len(value)
    return compiled.replace_all(value)


def _graphemes(word: str) -> list[str]:
    """Base characters with their combining marks (vowel signs, viramas, nuktas) attached."""
    out: list[str] = []
    for ch in word:
        if out and (unicodedata.category(ch).startswith("M") or ch in "\u200c\u200d"):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _wordish(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch).startswith("M") or ch in "\u200c\u200d"


def _hide_untouched_words(original: str, masked: str) -> str:
    """Words (runs of letters, digits and marks) of 2+ letters that the pattern left whole keep
    their first letter and lose the rest."""
    if len(original) != len(masked):       # a pattern that changed the length: nothing to align
        return masked
    out = list(masked)
    i, n = 0, len(original)
    while i < n:
        if not _wordish(original[i]):
            i += 1
            continue
        j = i
        while j < n and _wordish(original[j]):
            j += 1
        word = original[i:j]
        if masked[i:j] == word:
            graphemes = _graphemes(word)
            if len(graphemes) >= 2:
                for k in range(i + len(graphemes[0]), j):
                    out[k] = "*"
        i = j
    return "".join(out)


def mask(value: Any, pattern_id: str | None, patterns: dict[str, str] | None = None) -> str:
    """Mask one value with a MaskingPatterns pattern (default: pb's patterns built in).

    9876543210 with 001 → `******3210`; `Gurpreet Kaur` with 002 → `G******* K***`. A word the
    DIGIT pattern left whole (an Indic name under 002) keeps only its first letter. An unknown
    or missing pattern id masks everything."""
    text = "" if value is None else str(value)
    if not text:
        return text
    pattern = (patterns or BUILTIN_PATTERNS).get(pattern_id or "")
    if pattern is None:
        return "*" * len(text)
    return _hide_untouched_words(text, digit_mask(text, pattern))


# -- policies --------------------------------------------------------------------------------------
def _level(value: Any) -> str | None:
    text = str(value).strip().upper() if value is not None else ""
    if not text:
        return None
    if text in ("MASK", "MASKED"):
        return "MASKED"
    return text if text in LEVELS else "MASKED"


def _most_open(levels: Iterable[str]) -> str:
    return min(levels, key=LEVELS.index)


def visible(policy: dict[str, Any], attribute: str, role_codes: Iterable[str], *,
            plain: bool = False) -> str:
    """PLAIN | MASKED | ENCRYPTED | NONE for one attribute of a policy and a set of role codes.

    First level (lists, searches): the role rules naming the attribute, else its
    defaultVisibility. With `plain` (an explicit "show plain" request), a role that names the
    attribute with a secondLevelVisibility gets that instead. An attribute the policy does not
    list is not PII: PLAIN."""
    attr = next((a for a in policy.get("attributes") or [] if a.get("name") == attribute), None)
    if attr is None:
        return "PLAIN"
    default = _level(attr.get("defaultVisibility")) or "MASKED"
    roles = set(role_codes)
    first: list[str] = []
    second: list[str] = []
    for rule in policy.get("roleBasedDecryptionPolicy") or []:
        if not roles.intersection(rule.get("roles") or []):
            continue
        for access in rule.get("attributeAccessList") or []:
            if access.get("attribute") != attribute:
                continue
            first.append(_level(access.get("firstLevelVisibility")) or default)
            level2 = _level(access.get("secondLevelVisibility"))
            if level2:
                second.append(level2)
    level = _most_open(first) if first else default
    if plain and second:
        level = _most_open([level, *second])
    return level


_MOBILE_KEY = re.compile(r"mobile|phone|contact", re.I)
_EMAIL_KEY = re.compile(r"e-?mail", re.I)
_NAME_KEY = re.compile(r"name|guardian|owner|employee", re.I)
_PHONE_VALUE = re.compile(r"\+?[0-9][0-9 ()./-]{8,}")
_EMAIL_VALUE = re.compile(r"[^@\s]+@[^@\s]+")


def guessed_policy(model: str, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """The safe default: every top-level field that looks like a mobile number, an e-mail or a
    name (by its key or its value) is PII, MASKED for everyone, with patterns 001/004/002."""
    attributes: list[dict[str, Any]] = []
    keys = list((record or {}).keys()) or ["name", "mobileNumber", "emailId", "userName",
                                           "altContactNumber", "fatherOrHusbandName", "guardian"]
    for key in keys:
        value = (record or {}).get(key)
        text = value if isinstance(value, str) else ""
        if _EMAIL_KEY.search(key) or _EMAIL_VALUE.fullmatch(text):
            pattern = EMAIL
        elif _MOBILE_KEY.search(key) or _PHONE_VALUE.fullmatch(text):
            pattern = MOBILE
        elif _NAME_KEY.search(key):
            pattern = NAME
        else:
            continue
        attributes.append({"name": key, "jsonPath": key, "patternId": pattern, "defaultVisibility": "MASKED"})
    return {"model": model, "uniqueIdentifier": {"name": "uuid", "jsonPath": "/uuid"},
            "attributes": attributes, "roleBasedDecryptionPolicy": [], "guessed": True}


@dataclass
class Masker:
    """One state's SecurityPolicy and MaskingPatterns (or the safe default when absent)."""

    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    patterns: dict[str, str] = field(default_factory=lambda: dict(BUILTIN_PATTERNS))
    source: str = "built-in safe default (no DataSecurity masters)"

    @classmethod
    def from_masters(cls, policies: list[dict[str, Any]], patterns: list[dict[str, Any]],
                     source: str = "DataSecurity masters") -> "Masker":
        by_model = {p["model"]: p for p in policies if isinstance(p, dict) and p.get("model")}
        pats = {str(p["patternId"]): p["pattern"] for p in patterns
                if isinstance(p, dict) and p.get("patternId") and isinstance(p.get("pattern"), str)}
        return cls(by_model, pats or dict(BUILTIN_PATTERNS), source)

    @property
    def has_masters(self) -> bool:
        return bool(self.policies)

    def policy_for(self, model: str = "User", record: dict[str, Any] | None = None) -> dict[str, Any]:
        """The model's SecurityPolicy; for a model the masters do not know, the safe default."""
        policy = self.policies.get(model)
        return policy if policy is not None else guessed_policy(model, record)

    def mask(self, value: Any, pattern_id: str | None) -> str:
        return mask(value, pattern_id, self.patterns)


# -- presenting a record ---------------------------------------------------------------------------
def _segments(json_path: str) -> list[str]:
    return [s for s in json_path.strip().lstrip("$").strip("/").replace(".", "/").split("/") if s]


def _locations(doc: Any, segments: list[str]) -> Iterator[tuple[Any, Any]]:
    """(container, key) for every place a DIGIT attribute jsonPath (`a/b`, `a/*/b`, `a/0/b`) names."""
    if not segments:
        return
    head, rest = segments[0], segments[1:]
    if head == "*":
        items: Iterable[tuple[Any, Any]] = enumerate(doc) if isinstance(doc, list) else \
            (doc.items() if isinstance(doc, dict) else ())
        keys = [k for k, _ in items]
    elif isinstance(doc, list) and head.isdigit():
        keys = [int(head)] if int(head) < len(doc) else []
    elif isinstance(doc, dict) and head in doc:
        keys = [head]
    else:
        keys = []
    for key in keys:
        if rest:
            yield from _locations(doc[key], rest)
        else:
            yield doc, key


def record_id(policy: dict[str, Any], record: dict[str, Any]) -> str | None:
    ident = policy.get("uniqueIdentifier") or {}
    for container, key in _locations(record, _segments(ident.get("jsonPath") or "uuid")):
        value = container[key]
        return None if value is None else str(value)
    return None


def _applies(role_tenant: str, tenant_id: str | None) -> bool:
    """Does a role held at `role_tenant` speak about a record of `tenant_id`? DIGIT's enc-client
    takes every role code of the user; digitctl keeps the role's tenant in view, both ways: a role
    at the state covers its cities' records, and a role at a city covers the state-level records
    its holder meets there (citizens live at the state tenant). A GRO@pb.amritsar listing a citizen
    (tenant pb) is held to GRO's MASKED rule, not given the attribute's PLAIN default; a role at
    another city (pb.jalandhar) does not speak about pb.amritsar's records."""
    if tenant_id is None or role_tenant == "*":
        return True
    return role_tenant in fallback_chain(tenant_id) or tenant_id in fallback_chain(role_tenant)
