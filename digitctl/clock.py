"""Injectable clocks: services read time only from the context's clock, tests freeze it."""
from __future__ import annotations

import datetime as dt
from typing import Protocol

IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """An aware datetime (UTC)."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FixedClock:
    """A clock that stands still until moved: for tests and reproducible demos."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(dt.timezone.utc)

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, **delta: float) -> None:
        self._at += dt.timedelta(**delta)


def parse_instant(text: str) -> dt.datetime:
    """ISO-8601 with offset (naive means IST, the zone DIGIT states use)."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=IST)
    return value


PEOPLE_FORMAT = "%d/%m/%Y %H:%M"       # what a person reads: DD/MM/YYYY, Indian Standard Time


def people_time(value: dt.datetime | int | None, *, seconds: bool = False, zone: bool = True) -> str:
    """An instant (aware datetime, or DIGIT's epoch milliseconds) as people read it:
    07/12/2026 17:30 IST. JSON keeps epoch milliseconds / ISO-8601; this is for people only."""
    if value is None:
        return ""
    at = dt.datetime.fromtimestamp(value / 1000, IST) if isinstance(value, int) else value.astimezone(IST)
    text = at.strftime(PEOPLE_FORMAT + (":%S" if seconds else ""))
    return f"{text} IST" if zone else text


def epoch_millis(value: dt.datetime) -> int:
    """DIGIT's timestamps are epoch milliseconds."""
    return int(value.timestamp() * 1000)
