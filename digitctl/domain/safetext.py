"""What free text may carry, and how large what people type may be.

Names, comments and the strings inside JSON details are shown later on terminals, in tables,
CSV files and receipts: a control character in them (an ANSI escape sequence, a carriage
return, a bidi override) would clear a clerk's screen or draw fake text there. They are refused
on input (INVALID_CHARACTERS, as DIGIT's validators refuse characters outside their patterns),
and the renderers neutralise them again on output (see `neutralise`).

Sizes follow DIGIT's columns where DIGIT states one: a user's name at most 100 characters
(egov-user contract), a bill payer's name 256 (BillV2 @Size), a workflow comment 1024
(eg_wf_processinstance_v2.comment). JSON details are bounded at 64 KB and 64 levels of nesting
(DIGIT's services take them as JSONB with the server's request limits; digitctl, stricter,
says so here and in the README)."""
from __future__ import annotations

import json
import re
from typing import Any

from digitctl.errors import InvalidInput

NAME_MAX = 100            # egov-user: User.name maxLength 100
PAYER_NAME_MAX = 256      # billing-service: BillV2.payerName @Size(max = 256)
COMMENT_MAX = 1024        # egov-workflow-v2: eg_wf_processinstance_v2.comment varchar(1024)
DETAILS_MAX_BYTES = 64 * 1024
DETAILS_MAX_DEPTH = 64

# C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on 8-bit terminals) and the bidi
# embedding / override / isolate marks that reorder what a reader sees.
_CONTROL = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_ANY_CONTROL = re.compile(f"[{_CONTROL}]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")   # keeps \t \n


def _escape_one(match: "re.Match[str]") -> str:
    cp = ord(match.group(0))
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


def neutralise(text: str, *, keep_lines: bool = True) -> str:
    """Control characters made visible and harmless: ESC -> `\\x1b`, CR -> `\\x0d`, a bidi
    override -> `\\u202e`. Tabs and line feeds stay when `keep_lines` (they move the cursor
    only forwards, within what the renderer lays out)."""
    pattern = _CONTROL_BUT_LINES if keep_lines else _ANY_CONTROL
    return pattern.sub(_escape_one, text) if pattern.search(text) else text


def _bad_character(value: str, allow_lines: bool) -> str | None:
    found = (_CONTROL_BUT_LINES if allow_lines else _ANY_CONTROL).search(value)
    return None if found is None else f"U+{ord(found.group(0)):04X}"


def check_text(value: str | None, field: str, *, max_length: int, allow_lines: bool = False) -> str | None:
    """A name or comment as typed: refused with INVALID_CHARACTERS when it carries a control
    character (tab and line feed allowed in comments), TOO_LONG beyond `max_length` characters."""
    if value is None:
        return None
    bad = _bad_character(value, allow_lines)
    if bad is not None:
        raise InvalidInput("INVALID_CHARACTERS", f"{field} carries a control character ({bad}); "
                           "type plain text", {"field": field, "character": bad})
    if len(value) > max_length:
        raise InvalidInput("TOO_LONG", f"{field} is {len(value)} characters long: at most {max_length}",
                           {"field": field, "maxLength": max_length, "length": len(value)})
    return value


def _walk(value: Any, field: str, depth: int, max_depth: int) -> None:
    """Depth and characters of a parsed JSON value, without recursion (a hostile value may be
    nested far deeper than Python's stack)."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            if level >= max_depth:
                raise InvalidInput("NESTING_TOO_DEEP", f"{field} is nested more than {max_depth} levels deep",
                                   {"field": field, "maxDepth": max_depth})
            if isinstance(item, dict):
                for k, v in item.items():
                    stack.append((k, level + 1))
                    stack.append((v, level + 1))
            else:
                stack.extend((v, level + 1) for v in item)
        elif isinstance(item, str):
            bad = _bad_character(item, True)
            if bad is not None:
                raise InvalidInput("INVALID_CHARACTERS", f"{field} holds a string with a control character ({bad})",
                                   {"field": field, "character": bad})


def json_depth(text: str) -> int:
    """The deepest nesting of brackets in JSON text (strings skipped), read without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def check_json(value: Any, field: str, *, max_bytes: int = DETAILS_MAX_BYTES,
               max_depth: int = DETAILS_MAX_DEPTH) -> Any:
    """A JSON value given as details / address: at most `max_bytes` as compact UTF-8 JSON, at most
    `max_depth` levels deep, no control characters in its strings (TOO_LARGE, NESTING_TOO_DEEP,
    INVALID_CHARACTERS)."""
    if value is None:
        return None
    _walk(value, field, 0, max_depth)
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))
    if size > max_bytes:
        raise InvalidInput("TOO_LARGE", f"{field} is {size} bytes of JSON: at most {max_bytes}",
                           {"field": field, "maxBytes": max_bytes, "size": size})
    return value


def loads_limited(text: str, field: str, *, code: str, max_bytes: int = DETAILS_MAX_BYTES,
                  max_depth: int = DETAILS_MAX_DEPTH) -> Any:
    """json.loads for what a person gives on the command line: the size and the nesting are
    checked on the text first, so that a 30 MB or 5,000-deep value is refused with a code
    instead of exhausting memory or the parser's recursion."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise InvalidInput("TOO_LARGE", f"{field} is {size} bytes: at most {max_bytes}",
                           {"field": field, "maxBytes": max_bytes, "size": size})
    if json_depth(text) > max_depth:
        raise InvalidInput("NESTING_TOO_DEEP", f"{field} is nested more than {max_depth} levels deep",
                           {"field": field, "maxDepth": max_depth})
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise InvalidInput(code, f"{field} is not valid JSON: {err}", {"field": field}) from None
