"""Where the bundled configs/ and templates/ are: inside the wheel (digitctl/_bundled/...) for a
regular install, or beside the package in a source checkout / editable install."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """`bundled("configs")` -> the folder; raises FileNotFoundError naming both places looked at."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} not found in {_PACKAGE / '_bundled'} or {_PACKAGE.parent}")


def localization_messages(pattern: str = "*.json") -> "Iterator[dict[str, Any]]":
    """The {code, message, module, locale} records of the bundled localization files matching
    `pattern` (configs/localization), file by file in name order; a file that is not JSON is
    passed over."""
    import json

    for f in sorted((bundled("configs") / "localization").glob(pattern)):
        try:
            items = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            continue
        for m in items if isinstance(items, list) else items.get("messages", []):
            if isinstance(m, dict) and "code" in m and "message" in m:
                yield m

