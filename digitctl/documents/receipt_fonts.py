"""Receipt fonts: the bundled Noto Sans (Latin, ₹) and the Devanagari / Gurmukhi fallbacks.

Fonts are parsed by fpdf2 once per process and shared between documents (`_add_font`); a
fallback font is added to a receipt only when its text holds that script (`_scripts_needed`).
fpdf2 and fontTools are imported inside the functions.
"""
from __future__ import annotations

import copy as _copy
import threading
from io import BytesIO
from pathlib import Path
from typing import Any, Iterable

from digitctl.resources import bundled


_FONT_LOCK = threading.Lock()
_FONT_PROTOS: dict[tuple[str, str], Any] = {}   # (file, style) -> fpdf TTFFont parsed once


def _font_dir(tpl: dict[str, Any]) -> Path:
    folder: str = tpl["fonts"].get("dir", "fonts")
    return bundled("templates") / folder


def _add_font(pdf: Any, family: str, style: str, path: Path) -> None:
    """pdf.add_font, but the TTF parse / cmap / widths / HarfBuzz face are done once per process.

    fpdf2 subsets a font's fontTools object in place when it writes the PDF, so every document
    gets a fresh (lazy) TTFont; the derived tables and the HarfBuzz face are shared."""
    from fontTools import ttLib  # type: ignore[import-untyped]
    from fpdf.fonts import SubsetMap, TTFFont

    key = (str(path), style)
    with _FONT_LOCK:
        proto = _FONT_PROTOS.get(key)
        if proto is None:
            pdf.add_font(family, style, str(path))
            fontkey = family.lower() + style
            proto = _copy.copy(pdf.fonts[fontkey])
            _ = proto.hbfont   # build the HarfBuzz face now, shared afterwards
            _FONT_PROTOS[key] = (proto, path.read_bytes())
            return
    proto, data = proto
    try:
        font = _copy.copy(proto)
        font.i = len(pdf.fonts) + 1
        font.fontkey = family.lower() + style
        font.ttfont = ttLib.TTFont(BytesIO(data), recalcTimestamp=False, lazy=True)
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        if not isinstance(font, TTFFont):   # pragma: no cover - fpdf2 internals moved
            raise TypeError
        pdf.fonts[font.fontkey] = font
    except Exception:  # pragma: no cover - a newer fpdf2 changed its internals: parse normally
        pdf.fonts.pop(family.lower() + style, None)
        pdf.add_font(family, style, str(path))


def _scripts_needed(tpl: dict[str, Any], texts: Iterable[str]) -> list[dict[str, Any]]:
    chars = {ord(c) for t in texts for c in t if ord(c) > 0x7F}
    needed = []
    for fb in tpl["fonts"].get("fallbacks", []):
        if any(lo <= c <= hi for c in chars for lo, hi in fb["ranges"]):
            needed.append(fb)
    return needed
