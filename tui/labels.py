"""The TUI's labels: one lookup, so the localization service can take it over in one place.

`label(code, default)` asks digitctl.services.localization for the code in the current locale
(en_IN unless DIGIT_LOCALE says otherwise) and falls back to the English default given here."""
from __future__ import annotations

import os

LOCALE_ENV = "DIGIT_LOCALE"


def locale() -> str:
    return os.environ.get(LOCALE_ENV) or "en_IN"


def label(code: str, default: str) -> str:
    from digitctl.services.localization import message

    found = message(code, locale())
    return found if found else default


def inr(value: object) -> str:
    """An amount as the counter prints it: ₹1,23,456.00 (Indian grouping), '' for nothing."""
    if value is None or value == "":
        return ""
    from digitctl.domain.money import format_inr

    return format_inr(str(value))
