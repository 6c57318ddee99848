"""Localized messages in DIGIT's shape ({code, message, module, locale}). For now read from the
bundled configs/localization files; the localization issue moves them into the store."""
from __future__ import annotations

from functools import lru_cache

from digitctl.resources import localization_messages


@lru_cache(maxsize=1)
def _bundled_messages() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for m in localization_messages():
        out.setdefault((m["code"], m.get("locale", "en_IN")), m["message"])
    return out


def message(code: str, locale: str = "en_IN") -> str | None:
    msgs = _bundled_messages()
    return msgs.get((code, locale)) or msgs.get((code, "en_IN"))
