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
  cancelled payment a CANCELLED one, a payment whose cheque / DD was dishonoured a DISHONOURED one,
  a payment taken at another counter (`elsewhere`) a TAKEN ELSEWHERE one naming that counter.
* A word is never broken across lines: a value too wide for its cell (a long receipt number,
  PT/C01/107/2026-27/000003, in an a5 field) prints in a smaller font, down to
  `receipt_draw._MIN_FIT_SCALE` of the layout's size, and only wraps when even that is too wide.
* Thermal receipts are 80 mm wide and exactly as tall as their content.

fpdf2 is imported inside `render` (DESIGN.md rule 8). The template (YAML parse + compiled
JSONPaths), the font files and fpdf2's parsed fonts are cached per process.
"""
from __future__ import annotations

from digitctl.documents.receipt_draw import _Drawer, _make_pdf_class
from digitctl.documents.receipt_fonts import _add_font, _font_dir, _scripts_needed
from digitctl.documents.receipt_labels import has_locale, labels_for, locales
from digitctl.documents.receipt_layout import LOCALE_KEY, _code, _context, _is_empty, _template, _texts

__all__ = ["FORMATS", "has_locale", "labels_for", "locales", "render"]

FORMATS = ("a4", "a5", "thermal")
_THERMAL_DRAFT_HEIGHT_MM = 2000.0   # drawn on a tall page, then cut to the content's height


_PDF_CLASS: type | None = None


def render(payment: dict, *, fmt: str = "a4", tenant: dict | None = None,
           collector: str | None = None, copy: bool = False, cancelled: bool = False,
           locale: str = "en_IN", labels: dict[str, str] | None = None,
           names: dict[str, str] | None = None, dishonoured: bool = False,
           elsewhere: str | None = None) -> bytes:
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
    elsewhere: the counter code (or HUB) that took a payment this store only holds a copy of
    (pulled from the hub): marked TAKEN ELSEWHERE, the note naming where.
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
    if elsewhere:
        marks.append("elsewhere")
        values["elsewhere_note"] = f"{values['elsewhere_note']} ({elsewhere})"

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
