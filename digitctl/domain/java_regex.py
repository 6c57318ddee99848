"""Java regexes run in Python as Java runs them: DIGIT's masking patterns (MDMS
`DataSecurity/MaskingPatterns`) are Java regexes applied with `String.replaceAll`.

Python's `re` differs: Java's `\\w`, `\\d`, `\\s` are ASCII, its `\\b`/`\\B` count non-spacing marks
as part of a word, and it has `\\G` ("where the previous match ended"). `java_to_python` translates
the classes and boundaries; `JavaPattern` emulates `\\G`. Checked against Java's own replaceAll."""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

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
