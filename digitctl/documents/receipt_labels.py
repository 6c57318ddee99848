"""Receipt labels: DIGIT localization bundles (configs/localization/<locale>.*.json).

A receipt's labels, payment modes, tax heads, service and tenant names are localization codes;
`labels_for(locale)` gives their messages, falling back code by code to en_IN. Bundles are read
once per process per locale; a locale that is not a DIGIT locale code is never used as a path.
"""
from __future__ import annotations

import re
from functools import lru_cache

from digitctl.resources import bundled, localization_messages

_LOCALE = re.compile(r"[a-z]{2,3}_[A-Z]{2}")   # DIGIT's locale codes: en_IN, hi_IN, pa_IN


@lru_cache(maxsize=8)
def _bundle(locale: str) -> dict[str, str]:
    """code -> message for one locale from configs/localization/<locale>.*.json ({} if none)."""
    out: dict[str, str] = {}
    if not _LOCALE.fullmatch(locale):      # never a glob pattern or a path
        return out
    for m in localization_messages(f"{locale}.*.json"):
        if m.get("locale", locale) == locale:
            out.setdefault(m["code"], m["message"])
    return out


def locales() -> list[str]:
    """The locales with a bundle: configs/localization/<locale>.*.json (en_IN always)."""
    folder = bundled("configs") / "localization"
    found = {f.name.split(".", 1)[0] for f in folder.glob("*.*.json")}
    return sorted({"en_IN"} | {loc for loc in found if _LOCALE.fullmatch(loc)})


def has_locale(locale: str) -> bool:
    return locale in locales()


def labels_for(locale: str = "en_IN") -> dict[str, str]:
    """Localization messages for `locale`, falling back code by code to en_IN (the bundled
    default; hi_IN and others are used where a bundle for them is present)."""
    merged = dict(_bundle("en_IN"))
    if locale != "en_IN":
        merged.update(_bundle(locale))
    return merged
