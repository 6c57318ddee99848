"""Counter receipts as PDF: a pure function of DIGIT's Payment JSON.

`render(payment, fmt=...)` lays a receipt out from templates/receipts/consolidatedreceipt.yaml, a
data-config in the spirit of DIGIT's pdf-service `consolidatedreceipt`: variables are JSONPaths
into the Payment (plus `$tenant` for the MDMS tenant record and `$context` for the collector),
labels are localization codes, and the a4 / a5 / thermal layouts are described in the same file.

* Labels, payment modes, tax heads, the service and the tenant come from configs/localization
  (`locale`: en_IN, hi_IN, falling back code by code to en_IN); a tax head no bundle knows prints
  its MDMS name when the caller passes `names`, else its code.

* Money goes through digitctl.domain.money: `money()` takes the JSON value as it is (str, int or
  Decimal), so a float amount in the payment is a TypeError, never a silently rounded receipt.
* Hindi / Punjabi text: fpdf2 with HarfBuzz shaping (`set_text_shaping`, needs uharfbuzz) and the
  bundled subset Noto Sans Devanagari / Gurmukhi as fallback fonts behind Noto Sans (Latin, ₹).
  The fallback fonts are registered only when the receipt's text contains their script.
* A reprint (`copy=True`) carries a DUPLICATE banner (and a diagonal watermark on a4/a5); a
  cancelled payment a CANCELLED one, a payment whose cheque / DD was dishonoured a DISHONOURED one.
* A word is never broken across lines: a value too wide for its cell (a long receipt number,
  PT/C01/107/2026-27/000003, in an a5 field) prints in a smaller font, down to
  `_MIN_FIT_SCALE` of the layout's size, and only wraps when even that is too wide.
* Thermal receipts are 80 mm wide and exactly as tall as their content.

fpdf2 is imported inside `render` (DESIGN.md rule 8). The template (YAML parse + compiled
JSONPaths), the font files and fpdf2's parsed fonts are cached per process.
"""
from __future__ import annotations

import copy as _copy
import datetime as _dt
import json
import re
import threading
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Iterable

from digitctl.domain.money import format_inr, in_words_inr, in_words_inr_hi, money
from digitctl.resources import bundled

FORMATS = ("a4", "a5", "thermal")
TEMPLATE = "receipts/consolidatedreceipt.yaml"
_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
_LOCALE = re.compile(r"[a-z]{2,3}_[A-Z]{2}")   # DIGIT's locale codes: en_IN, hi_IN, pa_IN
_THERMAL_DRAFT_HEIGHT_MM = 2000.0   # drawn on a tall page, then cut to the content's height
_MIN_FIT_SCALE = 0.6                # a word too wide for its cell shrinks to at most 60 % of the size


# --------------------------------------------------------------------------------------------
# localization


@lru_cache(maxsize=8)
def _bundle(locale: str) -> dict[str, str]:
    """code -> message for one locale from configs/localization/<locale>.*.json ({} if none)."""
    out: dict[str, str] = {}
    if not _LOCALE.fullmatch(locale):      # never a glob pattern or a path
        return out
    folder = bundled("configs") / "localization"
    for f in sorted(folder.glob(f"{locale}.*.json")):
        try:
            items = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            continue
        for m in items if isinstance(items, list) else items.get("messages", []):
            if isinstance(m, dict) and "code" in m and "message" in m:
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


# --------------------------------------------------------------------------------------------
# template


class _Path:
    """A JSONPath from the template, with its root: payment ($), $tenant or $context."""

    __slots__ = ("root", "expr", "compiled")

    def __init__(self, text: str):
        import jsonpath  # python-jsonpath, already a dependency (MDMS filters)

        for root in ("$tenant", "$context"):
            if text.startswith(root):
                self.root, rest = root, "$" + text[len(root):]
                break
        else:
            self.root, rest = "$", text
        self.expr = text
        self.compiled = jsonpath.compile(rest)

    def all(self, roots: dict[str, Any]) -> list[Any]:
        data = roots.get(self.root)
        if data is None:
            return []
        return list(self.compiled.findall(data))

    def first(self, roots: dict[str, Any]) -> Any:
        found = self.all(roots)
        return found[0] if found else None


def _compile_value_spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    out["path"] = _Path(spec["path"])
    if spec.get("fallback"):
        out["fallback"] = _Path(spec["fallback"])
    return out


@lru_cache(maxsize=4)
def _template(name: str = TEMPLATE) -> dict[str, Any]:
    import yaml

    path = bundled("templates") / name
    tpl = yaml.safe_load(path.read_text(encoding="utf-8"))
    tpl["_dir"] = path.parent
    tpl["variables"] = {k: _compile_value_spec(v) for k, v in tpl.get("variables", {}).items()}
    for table in tpl.get("tables", {}).values():
        table["path"] = _Path(table["path"])
        table["columns"] = {k: _compile_value_spec(v) for k, v in table["columns"].items()}
    tz = tpl.get("timezone", "+05:30")
    sign = -1 if tz.startswith("-") else 1
    hh, mm = tz.lstrip("+-").split(":")
    tpl["_tz"] = _dt.timezone(sign * _dt.timedelta(hours=int(hh), minutes=int(mm)))
    return tpl


# --------------------------------------------------------------------------------------------
# values


LOCALE_KEY = "\x00locale"          # carried in the labels to the value formatter; no real code looks so
_WORDS = {"hi_IN": in_words_inr_hi}


def _code(prefix: str, value: str) -> str:
    norm = re.sub(r"[.\-\s/]", "_", str(value)).upper()
    return f"{prefix}_{norm}" if prefix else norm


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _format_value(raw: Any, spec: dict[str, Any], tpl: dict[str, Any], labels: dict[str, str]) -> str:
    kind = spec.get("type", "text")
    if kind == "money":
        return format_inr(money(raw))          # money() refuses floats with a TypeError
    if kind == "words":       # in the receipt's language where digitctl can spell it, else English
        return _WORDS.get(labels.get(LOCALE_KEY, ""), in_words_inr)(money(raw))
    if kind == "date":
        if isinstance(raw, bool) or not isinstance(raw, (int, Decimal, str)):
            raise TypeError(f"a date is epoch milliseconds (int), got {type(raw).__name__} {raw!r}")
        ms = int(Decimal(str(raw)))
        when = _dt.datetime.fromtimestamp(ms / 1000, tz=tpl["_tz"])
        return when.strftime(tpl.get("dateFormat", "%d/%m/%Y"))
    text = str(raw)
    loc = spec.get("localisation")
    if loc is not None:
        text = labels.get(_code(loc.get("prefix") or "", text), text)
    return text


def _resolve(spec: dict[str, Any], roots: dict[str, Any], tpl: dict[str, Any],
             labels: dict[str, str]) -> str:
    if spec.get("pick") in ("min", "max"):       # e.g. the first and last period a payment covers
        found = [v for v in spec["path"].all(roots) if isinstance(v, (int, Decimal)) and not isinstance(v, bool)]
        raw = (min if spec["pick"] == "min" else max)(found) if found else None
    else:
        raw = spec["path"].first(roots)
    loc = spec.get("localisation")
    if loc is not None and not _is_empty(raw) and spec.get("fallback") is not None:
        # localized code when there is a message for it, else the fallback path (tenant name)
        code = _code(loc.get("prefix") or "", str(raw))
        if code in labels:
            return labels[code]
        raw, spec = spec["fallback"].first(roots), {**spec, "localisation": None}
    elif _is_empty(raw) and spec.get("fallback") is not None:
        raw = spec["fallback"].first(roots)
    if _is_empty(raw):
        return ""
    return _format_value(raw, spec, tpl, labels)


def _context(payment: dict[str, Any], tpl: dict[str, Any], tenant: dict | None,
             collector: str | None, labels: dict[str, str]) -> tuple[dict[str, str], dict[str, list]]:
    roots = {"$": payment, "$tenant": tenant or {}, "$context": {"collector": collector or ""}}
    values: dict[str, str] = {}
    for key, spec in tpl.get("labels", {}).items():
        values[key] = labels.get(spec["code"]) or spec.get("default", spec["code"])
    for key, spec in tpl["variables"].items():
        values[key] = _resolve(spec, roots, tpl, labels)
    tables: dict[str, list] = {}
    for name, table in tpl.get("tables", {}).items():
        rows = table["path"].all(roots)
        if table.get("sort"):
            rows = sorted(rows, key=lambda r: (r.get(table["sort"]) is None, r.get(table["sort"]) or 0))
        out_rows = []
        for row in rows:
            row_roots = {"$": row}
            cells = {k: _resolve(spec, row_roots, tpl, labels) for k, spec in table["columns"].items()}
            omit = table.get("omit_zero")
            if omit:
                spec = table["columns"][omit]
                raw = spec["path"].first(row_roots)
                if _is_empty(raw) and spec.get("fallback") is not None:
                    raw = spec["fallback"].first(row_roots)
                if _is_empty(raw) or money(raw) == 0:
                    continue
            out_rows.append(cells)
        tables[name] = out_rows
    return values, tables


def _fill(text: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values.get(m.group(1), ""), text)


def _refs_empty(text: str, values: dict[str, str], label_keys: Iterable[str]) -> bool:
    """True when a variable (not a label) the text refers to is empty."""
    labels = set(label_keys)
    return any(not values.get(k) for k in _VAR.findall(text) if k not in labels)


# --------------------------------------------------------------------------------------------
# fonts


_FONT_LOCK = threading.Lock()
_FONT_PROTOS: dict[tuple[str, str], Any] = {}   # (file, style) -> fpdf TTFFont parsed once


def _font_dir(tpl: dict[str, Any]) -> Path:
    return bundled("templates") / tpl["fonts"].get("dir", "fonts")


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


# --------------------------------------------------------------------------------------------
# drawing


class _Drawer:
    def __init__(self, pdf: Any, tpl: dict, layout: dict, values: dict[str, str], tables: dict,
                 marks: list[str], family: str):
        self.pdf, self.tpl, self.layout, self.values, self.tables = pdf, tpl, layout, values, tables
        self.marks = marks
        self.family = family
        page = layout["page"]
        self.size = float(page.get("font_size", 10))
        self.lh = float(page.get("line_height", self.size * 0.5))
        self.label_keys = list(tpl.get("labels", {}))
        self.mono = bool(page.get("mono"))   # thermal printers: black only
        self.needs_shaping = False
        self.shaping = False

    def shape(self, text: str) -> None:
        """HarfBuzz shaping only for text that needs it: it doubles the cost of Latin lines."""
        want = self.needs_shaping and any(ord(c) >= 0x0900 for c in text)
        if want != self.shaping:
            self.pdf.set_text_shaping(want)
            self.shaping = want

    def font(self, bold: bool = False, size: float | None = None) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size or self.size)
        self.page_font()

    def page_font(self) -> None:
        """Put the current font into the page's content before a line that may start in a
        fallback font. fpdf2 (2.8) otherwise sets it inside that line's text object, which it
        wraps in q/Q when the line ends in the fallback font: the font is gone after Q while
        fpdf2 believes it is set, and the next lines in that font print without one (blank in
        some readers, wrong glyphs in others: "Hla8hhhWhh" for ₹12,000.00 after a Hindi tax head).
        An empty pdf.text() sets it at page level, outside any q/Q."""
        pdf = self.pdf
        if self.needs_shaping and not getattr(pdf, "current_font_is_set_on_page", True):
            pdf.text(pdf.x, pdf.y, "")

    def gray(self, level: int) -> None:
        self.pdf.set_text_color(0 if self.mono else level)

    def text_block(self, text: str, *, bold=False, size=None, align="L") -> None:
        pdf = self.pdf
        self.font(bold, size)
        lh = self.lh * (size or self.size) / self.size
        self.shape(text)
        pdf.multi_cell(0, lh, text, align=align, new_x="LMARGIN", new_y="NEXT")

    # blocks ---------------------------------------------------------------------------------
    def header(self, b: dict) -> None:
        v = self.values
        self.text_block(_fill(b["title"], v), bold=True, size=b.get("title_size"), align="C")
        self.gray(60)
        for line in b.get("lines", []):
            filled = _fill(line, v).strip()
            if filled:
                self.text_block(filled, align="C")
        self.gray(0)
        if b.get("subtitle"):
            self.pdf.ln(1)
            self.text_block(_fill(b["subtitle"], v).strip(), bold=True, size=b.get("subtitle_size"), align="C")
        self.pdf.ln(1)

    def banner(self, b: dict) -> None:
        if not self.marks:
            return
        pdf, size = self.pdf, b.get("size", self.size + 2)
        text = "  ·  ".join(f"*** {self.values[m + '_mark']} ***" for m in self.marks)
        note = " / ".join(self.values[m + "_note"] for m in self.marks)
        y0 = pdf.get_y()
        pdf.ln(0.5)
        if not self.mono:
            pdf.set_text_color(180, 0, 0)
        self.text_block(text, bold=True, size=size, align="C")
        self.text_block(note, size=self.size - 0.5, align="C")
        pdf.set_text_color(0)
        if b.get("boxed"):
            pdf.set_line_width(0.4)
            pdf.rect(pdf.l_margin, y0, pdf.epw, pdf.get_y() - y0 + 0.5)
            pdf.set_line_width(0.2)
        pdf.ln(1.5)

    def rule(self, b: dict) -> None:
        pdf = self.pdf
        y = pdf.get_y() + 1
        pdf.set_draw_color(0 if self.mono else 120)
        if b.get("dashed"):
            pdf.set_dash_pattern(dash=1, gap=1)
        pdf.line(pdf.l_margin, y, pdf.l_margin + pdf.epw, y)
        pdf.set_dash_pattern()
        pdf.set_draw_color(0)
        pdf.set_y(y + 1.5)

    def space(self, b: dict) -> None:
        self.pdf.ln(float(b.get("mm", 2)))

    def text(self, b: dict) -> None:
        t = _fill(b["text"], self.values).strip()
        if t:
            self.text_block(t, bold=b.get("bold", False), size=b.get("size"), align=b.get("align", "L"))

    def signature(self, b: dict) -> None:
        pdf = self.pdf
        w = pdf.epw * 0.4
        x = pdf.l_margin + pdf.epw - w
        y = pdf.get_y()
        pdf.line(x, y, x + w, y)
        pdf.set_xy(x, y + 0.5)
        self.font(False)
        text = _fill(b["text"], self.values)
        self.shape(text)
        pdf.multi_cell(w, self.lh, text, align="C", new_x="LMARGIN", new_y="NEXT")

    def fit_size(self, w: float, text: str, bold: bool) -> float | None:
        """A smaller font size for a cell whose widest word would not fit in `w` mm (it would be
        broken mid-word: "PT/C01/107/2026-27/0000" / "03"), else None (the layout's size)."""
        words = text.split()
        if not words:
            return None
        pdf = self.pdf
        self.font(bold)
        self.shape(text)
        room = w - 2 * pdf.c_margin - 0.05
        widest = max(pdf.get_string_width(word) for word in words)
        if widest <= room or widest <= 0:
            return None
        return max(self.size * room / widest, self.size * _MIN_FIT_SCALE)

    def _row(self, cells: list[tuple[float, str, bool, str]], *, border=False, fill=None) -> None:
        """cells: (width mm, text, bold, align); wraps each cell at spaces, the row as tall as the
        tallest; a word wider than its cell prints smaller (fit_size) rather than broken."""
        from fpdf.enums import MethodReturnValue

        pdf = self.pdf
        sizes = [self.fit_size(w, text, bold) for w, text, bold, _ in cells]
        if not border and fill is None and not pdf.will_page_break(self.lh * 2):
            # no box to draw: no need to measure first (saves the dry-run line breaking)
            x = pdf.l_margin
            y = bottom = pdf.get_y()
            for (w, text, bold, align), size in zip(cells, sizes):
                self.font(bold, size)
                self.shape(text)
                pdf.set_xy(x, y)
                pdf.multi_cell(w, self.lh, text, align=align, new_x="LEFT", new_y="NEXT")
                bottom = max(bottom, pdf.get_y())
                x += w
            pdf.set_xy(pdf.l_margin, bottom)
            return
        heights = []
        for (w, text, bold, align), size in zip(cells, sizes):
            self.font(bold, size)
            self.shape(text)
            heights.append(pdf.multi_cell(w, self.lh, text, align=align, dry_run=True,
                                          output=MethodReturnValue.HEIGHT))
        h = max(heights) if heights else self.lh
        if pdf.will_page_break(h):
            pdf.add_page()
        x, y = pdf.l_margin, pdf.get_y()
        if fill is not None:
            pdf.set_fill_color(fill)
            pdf.rect(x, y, sum(c[0] for c in cells), h, style="F")
        for (w, text, bold, align), size in zip(cells, sizes):
            self.font(bold, size)
            self.shape(text)
            pdf.set_xy(x, y)
            pdf.multi_cell(w, self.lh, text, align=align, new_x="RIGHT", new_y="TOP")
            if border:
                pdf.rect(x, y, w, h)
            x += w
        pdf.set_xy(pdf.l_margin, y + h)

    def fields(self, b: dict) -> None:
        pdf, v = self.pdf, self.values
        per_row = int(b.get("pairs_per_row", 1))
        label_w = pdf.epw * float(b.get("label_width", 35)) / 100
        pair_w = pdf.epw / per_row
        pairs = []
        for row in b["rows"]:
            for label_key, template in row:
                if _refs_empty(template, v, self.label_keys):
                    continue
                pairs.append((v.get(label_key, label_key), _fill(template, v).strip()))
        for i in range(0, len(pairs), per_row):
            cells: list[tuple[float, str, bool, str]] = []
            for label, value in pairs[i:i + per_row]:
                cells.append((label_w, label, False, "L"))
                cells.append((pair_w - label_w, value, True, "L"))
            self._row(cells)

    def table(self, b: dict) -> None:
        pdf, v = self.pdf, self.values
        rows = self.tables.get(b["source"], [])
        cols = b["columns"]
        widths = [pdf.epw * float(c["width"]) / 100 for c in cols]
        border = bool(b.get("border"))
        fill = None if self.mono else b.get("header_fill")
        self._row([(w, v.get(c["label"], c["label"]), True, c.get("align", "L"))
                   for w, c in zip(widths, cols)], border=border, fill=fill)
        if not border:
            self.rule({"dashed": True})
        for r in rows:
            self._row([(w, r.get(c["value"], ""), False, c.get("align", "L"))
                       for w, c in zip(widths, cols)], border=border)
        total = b.get("total")
        if total:
            cells = [(w, "", True, c.get("align", "L")) for w, c in zip(widths, cols)]
            cells[0] = (widths[0], v.get(total["label"], total["label"]), True, "L")
            cells[-1] = (widths[-1], _fill(total["value"], v), True, "R")
            self._row(cells, border=border, fill=fill)

    def watermark(self) -> None:
        wm = self.layout.get("watermark")
        if not wm or not self.marks:
            return
        pdf = self.pdf
        text = " ".join(self.values[m + "_mark"] for m in self.marks)
        size = float(wm.get("size", 80))
        self.shape(text)
        pdf.set_font(self.family, "B", size)
        while pdf.get_string_width(text) > pdf.w * 1.2 and size > 20:
            size *= 0.85
            pdf.set_font(self.family, "B", size)
        self.page_font()
        w = pdf.get_string_width(text) + 2 * pdf.c_margin
        h = pdf.font_size
        cx, cy = pdf.w / 2, pdf.h / 2
        pdf.set_text_color(int(wm.get("gray", 215)))
        with pdf.rotation(float(wm.get("angle", 45)), cx, cy):
            # a cell, not pdf.text(): text() neither shapes nor falls back (Hindi "प्रतिलिपि")
            # pdf.x / pdf.y, not set_xy(): a mark wider than the page starts left of it (x < 0),
            # which set_xy() would take as "from the right edge" and put the mark off the page
            pdf.x, pdf.y = cx - w / 2, cy - h / 2
            pdf.cell(w, h, text, align="C")
        pdf.set_text_color(0)


def _make_pdf_class() -> type:
    from fpdf import FPDF

    class _ReceiptPDF(FPDF):
        drawer: _Drawer | None = None

        def header(self) -> None:       # the watermark goes under the page's content
            if self.drawer is not None:
                x, y = self.get_x(), self.get_y()
                self.drawer.watermark()
                self.set_xy(x, y)

    return _ReceiptPDF


_PDF_CLASS: type | None = None


def _texts(values: dict[str, str], tables: dict[str, list]) -> Iterable[str]:
    yield from values.values()
    for rows in tables.values():
        for r in rows:
            yield from r.values()


def render(payment: dict, *, fmt: str = "a4", tenant: dict | None = None,
           collector: str | None = None, copy: bool = False, cancelled: bool = False,
           locale: str = "en_IN", labels: dict[str, str] | None = None,
           names: dict[str, str] | None = None, dishonoured: bool = False) -> bytes:
    """The receipt for one DIGIT Payment as PDF bytes.

    fmt: a4 | a5 | thermal (80 mm roll). tenant: the MDMS tenant.tenants record (name, address,
    contactNumber...). collector: the employee who took the payment. copy: a reprint, marked DUPLICATE.
    cancelled: marked CANCELLED (also when payment.paymentStatus is CANCELLED). dishonoured: the
    cheque / DD bounced, marked DISHONOURED (also when payment.paymentStatus or instrumentStatus
    is DISHONOURED). locale: the
    bundle to use (en_IN, hi_IN ...: code by code falling back to en_IN). labels: code ->
    message overriding the bundled localization for `locale`. names: code -> name printed only
    where no bundle (nor `labels`) has a message for the code, e.g. the MDMS TaxHeadMaster
    `name`s of a state whose tax heads no bundle knows; keys are normalised the way the template
    looks codes up (upper case, '.' and '-' -> '_'). Without any, the code itself is printed.
    """
    global _PDF_CLASS
    if fmt not in FORMATS:
        raise ValueError(f"unknown receipt format {fmt!r}: one of {', '.join(FORMATS)}")
    if not isinstance(payment, dict):
        raise TypeError("render takes one Payment object (a dict)")
    tpl = _template()
    layout = tpl["layouts"][fmt]
    msgs = labels_for(locale)
    if names:
        msgs = {**{_code("", k): v for k, v in names.items() if not _is_empty(v)}, **msgs}
    if labels:
        msgs = {**msgs, **labels}
    msgs = {**msgs, LOCALE_KEY: locale}
    values, tables = _context(payment, tpl, tenant, collector, msgs)
    marks = []
    if cancelled or str(payment.get("paymentStatus", "")).upper() == "CANCELLED":
        marks.append("cancelled")
    if dishonoured or "DISHONOURED" in (str(payment.get("paymentStatus", "")).upper(),
                                        str(payment.get("instrumentStatus", "")).upper()):
        marks.append("dishonoured")
    if copy:
        marks.append("duplicate")

    if _PDF_CLASS is None:
        _PDF_CLASS = _make_pdf_class()
    page = layout["page"]
    left, top, right, bottom = (float(m) for m in page.get("margins", [10, 10, 10, 10]))
    auto_height = page.get("height") == "auto"
    height = _THERMAL_DRAFT_HEIGHT_MM if auto_height else float(page["height"])
    pdf = _PDF_CLASS(orientation="P", unit="mm", format=(float(page["width"]), height))
    pdf.set_creator("digitctl")
    pdf.set_title(f"Receipt {values.get('receiptNo', '')}")
    pdf.set_margins(left, top, right)
    pdf.set_auto_page_break(not auto_height, margin=bottom)
    pdf.c_margin = 0.8

    fonts, fam = tpl["fonts"], tpl["fonts"]["main"]["family"]
    fdir = _font_dir(tpl)
    _add_font(pdf, fam, "", fdir / fonts["main"]["regular"])
    _add_font(pdf, fam, "B", fdir / fonts["main"]["bold"])
    label_texts = [values[k] for k in tpl.get("labels", {})]
    fallbacks = _scripts_needed(tpl, list(_texts(values, tables)) + label_texts)
    for fb in fallbacks:
        _add_font(pdf, fb["family"], "", fdir / fb["regular"])
        _add_font(pdf, fb["family"], "B", fdir / fb["bold"])
    drawer = _Drawer(pdf, tpl, layout, values, tables, marks, fam)
    if fallbacks:
        pdf.set_fallback_fonts([fb["family"] for fb in fallbacks], exact_match=False)
        # HarfBuzz shaping (conjuncts, matras, reph; needs uharfbuzz), switched on per line
        drawer.needs_shaping = True
    if not auto_height:
        pdf.drawer = drawer   # watermark under the content (header hook, every page)
    pdf.add_page()
    for block in layout["blocks"]:
        getattr(drawer, block["type"])(block)

    if auto_height:
        used = pdf.get_y() + bottom
        page_obj = pdf.pages[pdf.page]
        k = pdf.k
        shift = (pdf.h - used) * k
        # content was placed from the top of a tall page: move it down onto a page cut to fit
        page_obj.contents = bytearray(b"1 0 0 1 0 %.2f cm\n" % -shift) + page_obj.contents
        page_obj.set_dimensions(pdf.w * k, used * k)
        pdf.dw_pt, pdf.dh_pt = pdf.w * k, used * k   # the Pages tree's MediaBox too (portrait)
    return bytes(pdf.output())
