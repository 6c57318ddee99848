"""Localized messages in DIGIT's shape ({code, message, module, locale}). For now read from the
bundled configs/localization files; the localization issue moves them into the store."""
from __future__ import annotations

import json
from functools import lru_cache

from digitctl.resources import bundled


@lru_cache(maxsize=1)
def _bundled_messages() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    folder = bundled("configs") / "localization"
    for f in sorted(folder.glob("*.json")):
        try:
            items = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            continue
        for m in items if isinstance(items, list) else items.get("messages", []):
            if isinstance(m, dict) and "code" in m and "message" in m:
                out.setdefault((m["code"], m.get("locale", "en_IN")), m["message"])
    return out


def message(code: str, locale: str = "en_IN") -> str | None:
    msgs = _bundled_messages()
    return msgs.get((code, locale)) or msgs.get((code, "en_IN"))
