"""Counting a cash drawer: Indian notes and coins, a count string, totals in paise, variance.

A clerk closing a shift types what is in the drawer as NOTExCOUNT pairs, largest first or in any
order: "500x3, 200x4, 100x7, 10x4, 2x5, 1x3". Only legal-tender denominations of the rupee are
taken (₹2000, 500, 200, 100, 50, 20, 10 notes; ₹20, 10, 5, 2, 1 coins share their note's value,
so they are counted together). Anything else — an unknown denomination, a negative or fractional
count, a denomination given twice, an empty part — is a `ValueError` naming the part, because a
silently misread count becomes a variance nobody can explain.

Totals are integer paise (as the store keeps money); variance is counted − expected, so a short
drawer is negative."""
from __future__ import annotations

import re
from dataclasses import dataclass

from digitctl.domain.money import to_paise

# Rupee denominations in circulation, largest first (RBI: notes 2000..10, coins 20..1).
DENOMINATIONS: tuple[int, ...] = (2000, 500, 200, 100, 50, 20, 10, 5, 2, 1)
MAX_COUNT = 1_000_000   # more pieces of one denomination than any drawer holds: a typo

_PAIR = re.compile(r"^(?P<note>[^xX×]*)[xX×](?P<count>.*)$")


@dataclass(frozen=True)
class DrawerCount:
    """How many of each denomination, largest denomination first."""

    counts: tuple[tuple[int, int], ...]      # (rupees, pieces)

    @property
    def total_paise(self) -> int:
        return sum(to_paise(note) * pieces for note, pieces in self.counts)

    def as_dict(self) -> dict[str, int]:
        """{"500": 3, "200": 4, ...}: string keys, so it survives JSON unchanged."""
        return {str(note): pieces for note, pieces in self.counts}

    def lines(self) -> list[tuple[int, int, int]]:
        """(rupees, pieces, amount in paise) per denomination, largest first."""
        return [(note, pieces, to_paise(note) * pieces) for note, pieces in self.counts]


def _parse_int(text: str, what: str, part: str) -> int:
    text = text.strip()
    if not text:
        raise ValueError(f"{part!r}: the {what} is missing (write NOTExCOUNT, e.g. 500x3)")
    if text.startswith("-"):
        raise ValueError(f"{part!r}: the {what} cannot be negative")
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{part!r}: the {what} must be a whole number, not {text!r}")
    return int(text)


def parse_count(text: str) -> DrawerCount:
    """'500x3,200x4,100x7' → DrawerCount. Spaces are allowed around parts and around the x."""
    if not isinstance(text, str):
        raise TypeError(f"a drawer count is a string like '500x3,100x7', got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the count is empty: write NOTExCOUNT pairs, e.g. '500x3,100x7' "
                         "(an empty drawer is '1x0')")
    seen: dict[int, int] = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise ValueError(f"an empty part in {text!r} (two commas, or a trailing comma?)")
        m = _PAIR.match(part)
        if m is None:
            raise ValueError(f"{part!r} is not NOTExCOUNT (e.g. 500x3)")
        note = _parse_int(m["note"], "denomination", part)
        if note not in DENOMINATIONS:
            raise ValueError(f"{part!r}: ₹{note} is not a rupee denomination "
                             f"(one of {', '.join(map(str, DENOMINATIONS))})")
        pieces = _parse_int(m["count"], "count", part)
        if pieces > MAX_COUNT:
            raise ValueError(f"{part!r}: {pieces} pieces is more than a drawer holds (a typo?)")
        if note in seen:
            raise ValueError(f"{part!r}: ₹{note} is counted twice (already {note}x{seen[note]})")
        seen[note] = pieces
    return DrawerCount(tuple((n, seen[n]) for n in DENOMINATIONS if n in seen))


def variance_paise(counted_paise: int, expected_paise: int) -> int:
    """Counted − expected: positive is excess cash in the drawer, negative is a shortage."""
    return counted_paise - expected_paise
