"""Who sees PII how: DIGIT's `DataSecurity/SecurityPolicy` and `MaskingPatterns` masters applied
as DIGIT's enc-client applies them, plus the audit of every plain-text disclosure.

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

import copy
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from digitctl.domain.events import Event
from digitctl.domain.tenancy import fallback_chain, state_of

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from digitctl.bootstrap import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

MODULE = "DataSecurity"
DECRYPT_ACTION = "/egov-enc-service/crypto/v1/_decrypt"
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


# -- Java regex semantics ------------------------------------------------------------------------
_UNESCAPED_G = re.compile(r"(?<!\\)((?:\\\\)*)\\G")
MAX_STACKED_MARKS = 8
_JAVA_CLASSES = {"w": "a-zA-Z0-9_", "d": "0-9", "s": " \\t\\n\\x0b\\f\\r"}


def _class_of(test: Callable[[str], bool]) -> str:
    """A regex character class of every code point (from U+0080) that passes `test`."""
    ranges: list[str] = []
    start = prev = -2
    for cp in range(0x80, 0x30000):
        if test(chr(cp)):
            if cp != prev + 1:
                if start >= 0:
                    ranges.append(_range(start, prev))
                start = cp
            prev = cp
    if start >= 0:
        ranges.append(_range(start, prev))
    return "[" + "".join(ranges) + "]"


@functools.lru_cache(maxsize=2)
def _word_boundary(boundary: bool) -> str:
    mark = _class_of(lambda c: unicodedata.category(c) == "Mn")
    # Python's \w also takes No/Nl numerals (½, Ⅻ) and superscript digits; Java's does not.
    extra = _class_of(lambda c: c.isalnum() and not c.isalpha() and unicodedata.category(c) != "Nd")
    word = f"(?!{extra})[\\w]"            # Character.isLetterOrDigit or `_`
    base = f"(?!{extra})[^\\W_]"          # Character.isLetterOrDigit
    # Java (Pattern.Bound): a side is "word" if its char is a letter, digit or `_`, or a
    # non-spacing mark that sits on a letter or digit (up to MAX_STACKED_MARKS marks here).
    on_base = "|".join(f"(?<={base}{mark * k})" for k in range(0, MAX_STACKED_MARKS))
    left = f"(?:(?<={word})|{on_base}|(?<={base}{mark * MAX_STACKED_MARKS}))"
    right = f"(?:(?={word})|(?={mark})(?:{on_base}))"
    if boundary:
        return f"(?:{left}(?!{right})|(?!{left}){right})"
    return f"(?:{left}{right}|(?!{left})(?!{right}))"


def _range(lo: int, hi: int) -> str:
    return re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"


def java_to_python(pattern: str, *, unicode_boundaries: bool = True) -> str:
    """Java's `\\w`, `\\d`, `\\s` are ASCII-only unless asked otherwise; Python's are Unicode:
    spell them out as ASCII classes. Java's `\\b`/`\\B` are Unicode-aware and count a
    non-spacing mark (a Gurmukhi or Devanagari vowel sign) as part of the word it sits on;
    Python's do not: spell them out with lookarounds over letters, digits, `_` and marks
    (`unicode_boundaries=False` keeps Python's, which agree with Java's on ASCII text)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "bB" and not in_class and unicode_boundaries:
                out.append(_word_boundary(nxt == "b"))
            elif nxt in _JAVA_CLASSES:
                body = _JAVA_CLASSES[nxt]
                out.append(body if in_class else f"[{body}]")
            elif nxt.lower() in _JAVA_CLASSES and not in_class:
                out.append(f"[^{_JAVA_CLASSES[nxt.lower()]}]")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class and out and out[-1] not in ("[", "[^"):
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


class _Forms:
    """A translated pattern compiled with `\\G` as always-true and as always-false."""

    def __init__(self, pattern: str) -> None:
        self.uses_g = bool(_UNESCAPED_G.search(pattern))
        if self.uses_g:
            self.at_g = re.compile(_UNESCAPED_G.sub(r"\1(?:)", pattern))
            self.not_g = re.compile(_UNESCAPED_G.sub(r"\1(?!)", pattern))
        else:
            self.at_g = self.not_g = re.compile(pattern)


class JavaPattern:
    r"""A DIGIT (Java) masking regex applied like `String.replaceAll(regex, "*")`.

    `\G` ("where the previous match ended") has no Python equivalent. The pattern is compiled
    twice, with `\G` as an always-true and as an always-false assertion, and the scan uses the
    first form only for an attempt starting exactly where the previous match ended. That is what
    `\G` means wherever it is tested at the start of a match attempt, as in pattern 004 and the
    usual `(?!^)\G` idiom. (A `\G` tested after consumed characters would not be emulated exactly;
    DIGIT's patterns have none.)"""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._ascii = _Forms(java_to_python(pattern, unicode_boundaries=False))
        self._unicode: _Forms | None = None   # built on first non-ASCII value (~0.1 s for \b)

    def _forms(self, value: str) -> "_Forms":
        if value.isascii():
            return self._ascii
        if self._unicode is None:
            self._unicode = _Forms(java_to_python(self.pattern))
        return self._unicode

    def replace_all(self, value: str, repl: str = "*") -> str:
        forms = self._forms(value)
        if not forms.uses_g:
            return forms.not_g.sub(lambda _m: repl, value)
        out: list[str] = []
        n = len(value)
        pos = copied = last_end = 0          # \G holds at the start of input before any match
        while pos <= n:
            # Any match of the always-false form is one of the always-true form too, so when the
            # latter fails at last_end the former cannot match there either.
            m = forms.at_g.match(value, pos) if pos == last_end else None
            if m is None:
                start = pos + 1 if pos == last_end else pos
                m = forms.not_g.search(value, start) if start <= n else None
            if m is None:
                break
            out.append(value[copied:m.start()])
            out.append(repl)
            copied = last_end = m.end()
            pos = m.end() + 1 if m.end() == m.start() else m.end()   # Java steps over an empty match
        out.append(value[copied:])
        return "".join(out)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> JavaPattern | None:
    try:
        return JavaPattern(pattern)
    except re.error:
        return None


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


_MASKERS: dict[tuple[str, int, int], tuple[list[Any], list[Any], Masker]] = {}


def masker_for(app: "App", tenant_id: str, conn: "Connection | None" = None) -> Masker:
    """Read the masters at the state tenant (DIGIT keeps DataSecurity state-level); `conn`, inside a
    unit of work, saves a connection. Built once per version of the masters (the reader's cached
    lists are the key, held so that their ids stay theirs)."""
    state = state_of(tenant_id)
    policies = app.mdms.master(state, MODULE, "SecurityPolicy", conn=conn)
    patterns = app.mdms.master(state, MODULE, "MaskingPatterns", conn=conn)
    key = (state, id(policies), id(patterns))
    hit = _MASKERS.get(key)
    if hit is not None and hit[0] is policies and hit[1] is patterns:
        return hit[2]
    if not policies:
        masker = Masker(patterns=Masker.from_masters([], patterns).patterns if patterns else dict(BUILTIN_PATTERNS))
    else:
        masker = Masker.from_masters(policies, patterns, f"{state} {MODULE} masters")
    if len(_MASKERS) > 16:
        _MASKERS.clear()
    _MASKERS[key] = (policies, patterns, masker)
    return masker


def policy_for(app: "App", tenant_id: str, model: str = "User") -> dict[str, Any]:
    return masker_for(app, tenant_id).policy_for(model)


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


def present(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", model: str,
            record: dict[str, Any], *, plain: bool = False, fields: Iterable[str] | None = None,
            purpose: str | None = None, masker: Masker | None = None) -> dict[str, Any]:
    """A copy of `record` (DIGIT's camelCase JSON) with its PII shown as the actor may see it.

    Values may be plain text or `<keyId>|<base64>` ciphertext (decrypted only when shown).
    `plain` is an explicit "show plain" request (second level), optionally for some `fields`.
    The record's own user sees it plain (DIGIT's `<Model>Self` policy when there is one). Any
    attribute returned in plain text to someone else records a "pii.disclosed" event (which
    attributes, who, why; never the values): in `uow` when it is writable, and the caller must
    commit before showing the result; otherwise in a unit of work of its own, committed here."""
    from digitctl.services.crypto import is_ciphertext, keyring

    tenant = record.get("tenantId") or ctx.tenant_id or (uow.meta("state_tenant") if uow else None)
    state = state_of(tenant) if tenant else None
    # no tenant at all: no masters to read either, so the safe default (everything masked)
    masker = masker or (masker_for(app, state) if state else Masker())
    policy = masker.policy_for(model, record)
    rid = record_id(policy, record)
    own = rid is not None and rid == ctx.actor.uuid and ctx.actor.type != "SYSTEM"
    if own and f"{model}Self" in masker.policies:
        policy = masker.policies[f"{model}Self"]
    roles = {r.code for r in ctx.actor.roles if _applies(r.tenant_id, tenant)}
    wanted = set(fields) if fields is not None else None
    session = uow.session if uow is not None else None
    ring = keyring(app)
    out = copy.deepcopy(record)
    disclosed: list[str] = []
    for attr in policy.get("attributes") or []:
        name = attr.get("name") or attr.get("jsonPath")
        asked = plain and (wanted is None or name in wanted)
        level = "PLAIN" if own else visible(policy, name, roles, plain=asked)
        for container, key in _locations(out, _segments(attr.get("jsonPath") or name)):
            value = container[key]
            if value is None or value == "" or isinstance(value, (dict, list)):
                continue
            value = str(value)
            if level == "ENCRYPTED" and (is_ciphertext(value) or state):
                container[key] = value if is_ciphertext(value) else _encrypt(app, uow, ctx, state or "", value)
                continue
            if level == "NONE":
                container[key] = NONE_VALUE
                continue
            clear = ring.decrypt(session, value) if is_ciphertext(value) else value
            if level == "PLAIN":
                container[key] = clear
                if not own and name not in disclosed:
                    disclosed.append(name)
            else:                                   # MASKED (and ENCRYPTED with no state to key)
                container[key] = masker.mask(clear, attr.get("patternId"))
    if disclosed:
        _record_disclosure(app, uow, ctx, Event(
            "pii.disclosed", tenant or "*", model, rid or "unknown", DECRYPT_ACTION,
            payload := {"model": model, "recordId": rid, "tenantId": tenant,
                        "attributes": disclosed,
                        "actor": {"uuid": ctx.actor.uuid, "userName": ctx.actor.user_name,
                                  "roles": sorted(roles)},
                        "purpose": purpose or ("plainRequest" if plain else "search"),
                        "secondLevel": plain},
            after=payload))
    return out


def present_many(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", model: str,
                 records: Iterable[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """`present` for a list (reads the masters once)."""
    records = list(records)
    if not records:
        return []
    tenant = records[0].get("tenantId") or ctx.tenant_id
    masker = options.pop("masker", None) or (masker_for(app, tenant) if tenant else None)
    return [present(app, uow, ctx, model, r, masker=masker, **options) for r in records]


def _encrypt(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", state: str, value: str) -> str:
    from digitctl.services.crypto import keyring

    if uow is not None and not uow.readonly:
        return keyring(app).encrypt(uow, state, value)
    with app.uow(ctx) as own:
        token = keyring(app).encrypt(own, state, value)
        own.commit()
    return token


def _record_disclosure(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", event: Event) -> None:
    if uow is not None and not uow.readonly:
        uow.record(event)
        return
    with app.uow(ctx) as own:
        own.record(event)
        own.commit()
