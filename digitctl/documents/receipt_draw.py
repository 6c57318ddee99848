"""Receipt drawing: the layout's blocks (header, banner, fields, table, signature ...) on an fpdf2 page.

`_Drawer` draws one receipt's values into a layout of the template; `_make_pdf_class()` builds
the FPDF subclass that puts the DUPLICATE / CANCELLED / DISHONOURED watermark under each page's
content (fpdf2 is imported there, on first use). A word is never broken across lines: a value too
wide for its cell prints smaller, down to `_MIN_FIT_SCALE` of the layout's size, and only wraps
when even that is too wide.
"""
from __future__ import annotations

from typing import Any

from digitctl.documents.receipt_layout import _fill, _refs_empty

_MIN_FIT_SCALE = 0.6                # a word too wide for its cell shrinks to at most 60 % of the size


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

    def text_block(self, text: str, *, bold: bool = False, size: float | None = None, align: str = "L") -> None:
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
        fitted: float = max(self.size * room / widest, self.size * _MIN_FIT_SCALE)
        return fitted

    def _row(self, cells: list[tuple[float, str, bool, str]], *, border: bool = False,
             fill: "tuple[int, int, int] | None" = None) -> None:
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
