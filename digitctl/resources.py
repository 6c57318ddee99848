"""Where the bundled configs/ and templates/ are: inside the wheel (digitctl/_bundled/...) for a
regular install, or beside the package in a source checkout / editable install."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """`bundled("configs")` -> the folder; raises FileNotFoundError naming both places looked at."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} not found in {_PACKAGE / '_bundled'} or {_PACKAGE.parent}")
