"""DIGIT's IdFormat (common-masters.IdFormat) as egov-idgen reads it: parse and check a format
string, then render ids from sequence values, a clock and the tenant's city code.

Semantics follow egov-idgen's IdGenerationService:

1. `[tenantid]` -> the tenant id, `[tenant_id]` -> the tenant id with `.` -> `_`, `[TENANT_ID]`
   -> the same in upper case. This happens first, so `[SEQ_WS_CON_[TENANT_ID]]` names the
   sequence `SEQ_WS_CON_PB_AMRITSAR`.
2. The tokens are then `\\[(.*?)\\]`, classified by prefix (case-insensitive), in this order:
   `seq...` a sequence value zero-padded to 6 (`%06d`: wider once it outgrows 6 digits);
   `fy...:` the April-March financial year in IST; `cy...:` today in IST through a Java
   SimpleDateFormat pattern; `city...` the tenant's `city.code`; anything else is random digits,
   `{n}` of them (default 2) - so `[d{10}]` is ten digits and `[cb.name]` (real pb data) is two.
3. digitctl extension: `[COUNTER]` / `[counter]` is the store's counter code, so that offline
   counters numbering in the same series never collide.

Where we deliberately differ from the Java service (each is a bug there, not a contract):

- `[fy:yyyy]` prints the starting year (`2026`); Java prints `2026-0` (its end year stays 0 when
  the pattern has no `-`). `[fy:yyyy-yy]` keeps the end year's padding (`2008-09`), where Java
  parses "08" to an int and prints `2008-9`.
- The financial year is taken in IST like `cy`; Java reads the month from the JVM's default zone
  (UTC in DIGIT's containers), so between 00:00 and 05:30 IST on 1 April it still prints the old year.
- Random digits are uniform (`secrets`); Java concatenates `nextInt(25)` values and cuts the string.
- A malformed format (unbalanced or nested brackets, `[]`, a date pattern Java would not accept,
  a bad `{n}`) is refused up front with `IDGEN_INVALID_FORMAT`; Java fails part-way or, for an
  unclosed `[`, silently prints the bracket text as is.
- Sequence names are folded to upper case: PostgreSQL folds the unquoted names egov-idgen passes to
  `NEXTVAL`, so `[SEQ_X]` and `[seq_x]` are one sequence there too.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from digitctl.clock import IST
from digitctl.errors import InvalidInput

INVALID_FORMAT = "IDGEN_INVALID_FORMAT"
NO_COUNTER = "IDGEN_NO_COUNTER"
NO_CITY_CODE = "IDGEN_NO_CITY_CODE"

SEQ_PAD = 6
MAX_RANDOM_DIGITS = 64
SEQ_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
BRACE_RE = re.compile(r"\{(.*?)\}")

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Java SimpleDateFormat letters we render; the others Java knows (Y w W F z Z X) are refused
# rather than printed wrongly.
DATE_LETTERS = frozenset("GyMLdDEuaHkKhmsS")
JAVA_ONLY_LETTERS = frozenset("YwWFzZX")


class FormatError(InvalidInput):
    """A format string egov-idgen could not render correctly."""


@dataclass(frozen=True)
class Token:
    """One `[...]` of a format, after tenant substitution."""

    kind: str                    # seq | fy | cy | city | counter | random
    text: str                    # what stood between the brackets
    seq_name: str = ""           # seq: the sequence's name (upper case)
    date: tuple[tuple[str, int | str], ...] = ()  # cy: (letter, width) or ("'", literal)
    fy_widths: tuple[int, ...] = ()               # fy: y-widths of start (and end) year
    digits: int = 0              # random: how many


@dataclass(frozen=True)
class IdFormat:
    """A parsed format for one tenant: literal text and tokens, in order."""

    id_name: str
    raw: str                               # as configured, before tenant substitution
    tenant_id: str
    parts: tuple[str | Token, ...]

    @property
    def tokens(self) -> tuple[Token, ...]:
        return tuple(p for p in self.parts if isinstance(p, Token))

    @property
    def sequence_names(self) -> tuple[str, ...]:
        """Distinct sequences this format draws from, sorted (a fixed lock order)."""
        return tuple(sorted({t.seq_name for t in self.tokens if t.kind == "seq"}))

    @property
    def needs_city(self) -> bool:
        return any(t.kind == "city" for t in self.tokens)

    @property
    def needs_counter(self) -> bool:
        return any(t.kind == "counter" for t in self.tokens)

    def require(self, *, city_code: str | None, counter_code: str | None) -> None:
        """Refuse early when the format needs a city code or a counter code that is missing."""
        if self.needs_city and not city_code:
            raise InvalidInput(NO_CITY_CODE, f"tenant {self.tenant_id} has no city.code in tenant.tenants; "
                               f"{self.id_name} needs it", {"idName": self.id_name, "tenantId": self.tenant_id})
        if self.needs_counter and not counter_code:
            raise InvalidInput(NO_COUNTER, f"{self.id_name} numbers per counter ([COUNTER]) but this store "
                               "has no counter code; run `digitctl init --counter C01`",
                               {"idName": self.id_name, "format": self.raw})

    def render(self, *, now: dt.datetime, last_values: Mapping[str, int], count: int = 1,
               city_code: str | None = None, counter_code: str | None = None,
               randbelow: Callable[[int], int] = secrets.randbelow) -> list[str]:
        """`count` ids; each sequence's block ends at `last_values[name]` (its value after the
        block was taken), so id i gets `last - count + 1 + i`."""
        self.require(city_code=city_code, counter_code=counter_code)
        missing = [n for n in self.sequence_names if n not in last_values]
        if missing:
            raise ValueError(f"no value given for sequence(s) {', '.join(missing)}")
        local = now.astimezone(IST)
        fixed: dict[str, str] = {}   # tokens whose value is the same for every id of the block
        for tok in self.tokens:
            if tok.kind == "fy":
                fixed[tok.text] = financial_year(local, tok.fy_widths)
            elif tok.kind == "cy":
                fixed[tok.text] = format_java_date(local, tok.date)
            elif tok.kind == "city":
                fixed[tok.text] = str(city_code)
            elif tok.kind == "counter":
                fixed[tok.text] = str(counter_code)
        out: list[str] = []
        for i in range(count):
            # Java replaces every occurrence of "[text]" with one value, so a random token that
            # appears twice in a format prints the same digits twice within one id.
            values = dict(fixed)
            pieces: list[str] = []
            for part in self.parts:
                if isinstance(part, str):
                    pieces.append(part)
                    continue
                value = values.get(part.text)
                if value is None:
                    if part.kind == "seq":
                        value = format(last_values[part.seq_name] - count + 1 + i, f"0{SEQ_PAD}d")
                    else:
                        value = "".join(str(randbelow(10)) for _ in range(part.digits))
                    values[part.text] = value
                pieces.append(value)
            out.append("".join(pieces))
        return out


# -- parsing ----------------------------------------------------------------------------------
def substitute_tenant(fmt: str, tenant_id: str) -> str:
    underscored = tenant_id.replace(".", "_")
    return (fmt.replace("[tenantid]", tenant_id)
               .replace("[tenant_id]", underscored)
               .replace("[TENANT_ID]", underscored.upper()))


def parse(fmt: str, tenant_id: str, id_name: str = "") -> IdFormat:
    """Parse `fmt` for `tenant_id`; raises IDGEN_INVALID_FORMAT naming the id and the format."""

    def bad(reason: str) -> FormatError:
        return FormatError(INVALID_FORMAT, f"IdFormat of {id_name or '(given format)'} is invalid: "
                           f"{reason}: {fmt!r}", {"idName": id_name, "format": fmt, "reason": reason})

    if not isinstance(fmt, str) or not fmt.strip():
        raise bad("the format is blank")
    text = substitute_tenant(fmt, tenant_id)
    parts: list[str | Token] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "]":
            raise bad(f"']' at position {i + 1} closes no '['")
        if ch != "[":
            literal.append(ch)
            i += 1
            continue
        end = text.find("]", i + 1)
        if end < 0:
            raise bad(f"'[' at position {i + 1} is never closed")
        inner = text[i + 1:end]
        if "[" in inner:
            raise bad(f"'[' at position {i + 1} is not closed before the next '['")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_token(inner, bad))
        i = end + 1
    if literal:
        parts.append("".join(literal))
    return IdFormat(id_name=id_name, raw=fmt, tenant_id=tenant_id, parts=tuple(parts))


def check(fmt: str, id_name: str = "", tenant_id: str = "pb.tenant") -> IdFormat:
    """Validate a format without a real tenant (for `mdms apply` and admin checks)."""
    return parse(fmt, tenant_id, id_name)


def _token(inner: str, bad: Callable[[str], FormatError]) -> Token:
    if not inner.strip():
        raise bad("'[]' names nothing")
    low = inner.lower()
    if low.startswith("seq"):
        name = inner.strip()
        if not SEQ_NAME_RE.match(name):
            raise bad(f"sequence name {name!r} may hold only letters, digits and '_'")
        return Token("seq", inner, seq_name=name.upper())
    if low.startswith("fy"):
        return Token("fy", inner, fy_widths=_fy_pattern(inner, bad))
    if low.startswith("cy"):
        if ":" not in inner:
            raise bad(f"[{inner}] needs a date pattern after ':' (e.g. [cy:yyyy-MM-dd])")
        pattern = inner[inner.index(":") + 1:].strip()
        return Token("cy", inner, date=compile_java_date(pattern, bad))
    if low.startswith("city"):
        return Token("city", inner)
    if low == "counter":
        return Token("counter", inner)
    digits = 2
    braces = BRACE_RE.findall(inner)
    if braces:
        try:
            digits = int(braces[0])
        except ValueError:
            raise bad(f"[{inner}]: {{{braces[0]}}} is not a number of digits") from None
        if not 1 <= digits <= MAX_RANDOM_DIGITS:
            raise bad(f"[{inner}]: random digits must be 1..{MAX_RANDOM_DIGITS}")
    return Token("random", inner, digits=digits)


def _fy_pattern(inner: str, bad: Callable[[str], FormatError]) -> tuple[int, ...]:
    if ":" not in inner:
        raise bad(f"[{inner}] needs a year pattern after ':' (e.g. [fy:yyyy-yy])")
    pattern = inner[inner.index(":") + 1:].strip()
    halves = [h.strip() for h in pattern.split("-")]
    if not 1 <= len(halves) <= 2 or not all(h and set(h) == {"y"} for h in halves):
        raise bad(f"financial year pattern {pattern!r} must be like yyyy-yy or yyyy")
    return tuple(len(h) for h in halves)


# -- rendering -------------------------------------------------------------------------------
def _year(year: int, width: int) -> str:
    # SimpleDateFormat: "yy" is the last two digits; any other count is the whole year, zero-padded.
    return f"{year % 100:02d}" if width == 2 else f"{year:0{width}d}"


def financial_year(local: dt.datetime, widths: tuple[int, ...]) -> str:
    """April-March: 2026-11-25 -> 2026-27, 2027-03-31 -> 2026-27 (for yyyy-yy)."""
    start = local.year if local.month >= 4 else local.year - 1
    if len(widths) == 1:
        return _year(start, widths[0])
    return f"{_year(start, widths[0])}-{_year(start + 1, widths[1])}"


def compile_java_date(pattern: str, bad: Callable[[str], FormatError]) -> tuple[tuple[str, int | str], ...]:
    """Java SimpleDateFormat pattern -> fields (letter, width) and literals ("'", text)."""
    if not pattern:
        raise bad("empty date pattern")
    out: list[tuple[str, int | str]] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            if i + 1 < n and pattern[i + 1] == "'":      # '' is one quote
                out.append(("'", "'"))
                i += 2
                continue
            buf: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise bad(f"date pattern {pattern!r} has an unterminated quote")
                if pattern[i] == "'":
                    if i + 1 < n and pattern[i + 1] == "'":
                        buf.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(pattern[i])
                i += 1
            out.append(("'", "".join(buf)))
        elif ("a" <= ch <= "z") or ("A" <= ch <= "Z"):
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            if ch in JAVA_ONLY_LETTERS:
                raise bad(f"date pattern letter {ch!r} (in {pattern!r}) is not supported by digitctl")
            if ch not in DATE_LETTERS:
                raise bad(f"{ch!r} is not a date pattern letter (in {pattern!r}); quote literal text")
            out.append((ch, j - i))
            i = j
        else:
            out.append(("'", ch))
            i += 1
    return tuple(out)


def format_java_date(local: dt.datetime, fields: tuple[tuple[str, int | str], ...]) -> str:
    parts: list[str] = []
    for letter, width in fields:
        if letter == "'":
            parts.append(str(width))
            continue
        assert isinstance(width, int)
        parts.append(_field(local, letter, width))
    return "".join(parts)


def _num(value: int, width: int) -> str:
    return f"{value:0{width}d}"


def _field(t: dt.datetime, letter: str, width: int) -> str:
    if letter == "y":
        return _year(t.year, width)
    if letter in "ML":
        if width >= 4:
            return MONTHS[t.month - 1]
        if width == 3:
            return MONTHS[t.month - 1][:3]
        return _num(t.month, width)
    if letter == "E":
        name = DAYS[t.weekday()]
        return name if width >= 4 else name[:3]
    if letter == "G":
        return "AD"
    if letter == "a":
        return "AM" if t.hour < 12 else "PM"
    value = {
        "d": t.day,
        "D": t.timetuple().tm_yday,
        "u": t.isoweekday(),
        "H": t.hour,
        "k": t.hour or 24,
        "K": t.hour % 12,
        "h": (t.hour % 12) or 12,
        "m": t.minute,
        "s": t.second,
        "S": t.microsecond // 1000,
    }[letter]
    return _num(value, width)
