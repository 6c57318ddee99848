"""The day book (collection register of one IST day) as people read it: its sections, CSV and PDF.

The document is `services.reports.daybook()`'s dict (the `Daybook` of `-o json`). `sections(doc)`
gives the register's tables (title, column headings, rows of text) that every front door draws
the same way (the CLI with rich, the TUI, the hub); the lines around them (`title`, `issued_text`,
`late_line`, `recon_line`, `anchor_text`) are shared too. `csv_text` writes the machine-readable
CSV (amounts as plain decimals), `write_pdf` an A4 PDF (fpdf2, imported inside it).
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

CSV_COLUMNS = ["section", "businessService", "paymentMode", "count", "amount", "firstReceipt", "lastReceipt",
               "reason", "who"]


def _inr(value: Decimal | None) -> str:
    from digitctl.domain.money import format_inr

    return "" if value is None else format_inr(value)


def _when(instant: Any, fmt: str = "%H:%M") -> str:
    from digitctl.clock import IST

    return "" if instant is None else instant.astimezone(IST).strftime(fmt)


# -- sections, shared by the table, the PDF and any other front door --------------------------------------------------

def title(doc: dict[str, Any]) -> str:
    counter = f", counter {doc['counterCode']}" if doc["counterCode"] else ""
    day = "/".join(reversed(str(doc["date"]).split("-")))        # 2026-11-25 -> 25/11/2026, as people read it
    return f"Day book {day} (IST) - {doc['tenantId']}{counter}"


def _register_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = [[g["businessService"], g["paymentMode"], str(g["count"]), _inr(g["amount"]),
             f"{g['firstReceipt']} - {g['lastReceipt']}"] for g in doc["groups"]]
    return rows


def _mode_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = [[m["paymentMode"], str(m["count"]), _inr(m["amount"])] for m in doc["totalsByMode"]]
    rows.append(["GRAND TOTAL", str(doc["grandTotal"]["count"]), _inr(doc["grandTotal"]["amount"])])
    return rows


def anchor_text(doc: dict[str, Any]) -> str:
    """"Audit head #812 3f9a0c1d2e4b": the chain's head when the book was made (paper anchors it)."""
    head = doc.get("auditHead")
    return f"Audit head {head['short']}" if head else ""


def issued_text(doc: dict[str, Any]) -> str:
    """"Receipts issued: 9 (C01/107/2026-27/000001 - C01/107/2026-27/000003; PT/...)": one range per series."""
    rr = doc["receiptRange"]
    if not rr["issued"]:
        return "No receipts on this day."
    ranges = [(s["first"] if s["first"] == s["last"] else f"{s['first']} - {s['last']}")
              + (f" ({s['issued']})" if len(rr.get("series") or []) > 1 else "")
              for s in rr.get("series") or []]
    if not ranges:    # a document from before series were given
        ranges = [f"{rr['first']} - {rr['last']}"]
    return f"Receipts issued: {rr['issued']} ({'; '.join(ranges)})"


def _who(r: dict[str, Any]) -> str:
    """Who cancelled the receipt and who approved that (a cancel needs a supervisor's approval), or
    who dishonoured it; failing those, who changed it last or took it."""
    by, approved = r.get("cancelledBy"), r.get("approvedBy")
    if by or approved:
        return f"{by or '?'}; approved: {approved}" if approved else str(by)
    return r.get("dishonouredBy") or r.get("changedBy") or r.get("collectedBy") or ""


def _reason(r: dict[str, Any]) -> str:
    late = " (after the shift closed)" if r.get("afterShiftClosed") else ""
    return (r["reason"] or "") + late


def _excluded_rows(lines: list[dict[str, Any]]) -> list[list[str]]:
    return [[r["receiptNumber"], _when(r["receiptDate"]), r["businessService"], r["paymentMode"], _inr(r["amount"]),
             _reason(r), _who(r)] for r in lines]


def _shift_rows(doc: dict[str, Any]) -> list[list[str]]:
    return [[s["counterCode"], s["user"], s["status"], f"{_when(s['openedAt'])}-{_when(s['closedAt'])}",
             _inr(s["float"]), _inr(s["cashCollected"]), _inr(s["expectedCash"]), _inr(s["countedCash"]),
             s["varianceText"] or ""] for s in doc["shifts"]]


def late_line(doc: dict[str, Any]) -> str | None:
    """The separate line for cash receipts reversed after their shift closed (in its count), if any."""
    rc = doc["reconciliation"]
    if not rc.get("reversedAfterShiftClosed"):
        return None
    numbers = ", ".join(rc.get("reversedAfterShiftClosedReceipts") or [])
    return (f"Reversed after the shift closed: {_inr(rc['reversedAfterShiftClosed'])}"
            + (f" ({numbers})" if numbers else "") + ": cancelled or dishonoured after the shift's cash was "
            "counted, so in the shift's cash and not in the register")


def recon_line(doc: dict[str, Any]) -> str:
    rc = doc["reconciliation"]
    text = f"Reconciliation: register cash {_inr(rc['registerCash'])}"
    if rc.get("reversedAfterShiftClosed"):
        text += f" + {_inr(rc['reversedAfterShiftClosed'])} reversed after the shift closed"
    text += f" vs shifts' cash {_inr(rc['shiftsCash'])}"
    if rc["shiftsCashOtherDays"]:
        text += f" less {_inr(rc['shiftsCashOtherDays'])} taken on other days"
    text = f"{text}: {rc['status']}" + ("" if rc["ok"] else f" (difference {rc['differenceText']})")
    variance = rc.get("drawerVariance")
    if variance:           # the drawers counted at close differ from what they should hold
        text += f"; drawers counted {'short' if variance < 0 else 'over'} by {_inr(abs(variance))}"
    return text


def balanced(doc: dict[str, Any]) -> bool:
    """The register reconciles with the shifts and every drawer counted what it should hold."""
    rc = doc["reconciliation"]
    return bool(rc.get("balanced", rc["ok"]))


SECTIONS = [
    ("Register by service and mode", ["service", "mode", "receipts", "amount", "receipt range"], _register_rows),
    ("Totals by mode", ["mode", "receipts", "amount"], _mode_rows),
    ("Cancelled receipts (not in totals)", ["receipt", "time", "service", "mode", "amount", "reason", "who"],
     lambda d: _excluded_rows(d["cancelled"])),
    ("Dishonoured receipts (not in totals)", ["receipt", "time", "service", "mode", "amount", "reason", "who"],
     lambda d: _excluded_rows(d["dishonoured"])),
    ("Shifts", ["counter", "clerk", "status", "open-close", "float", "cash collected", "expected", "counted",
                "variance"], _shift_rows),
]
NUMERIC = {"receipts", "amount", "float", "cash collected", "expected", "counted", "variance"}


def sections(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The register's tables in order: (title, column headings, rows of text). The cancelled and
    dishonoured tables are left out on a day without any; the others are always there."""
    out = []
    for heading, columns, rows_of in SECTIONS:
        rows = rows_of(doc)
        if not rows and heading.startswith(("Cancelled", "Dishonoured")):
            continue
        out.append((heading, columns, rows))
    return out


def csv_text(doc: dict[str, Any]) -> str:
    """One row per receipt group, then mode totals, the grand total, excluded receipts and the
    reconciliation; amounts as plain decimals (machine-readable)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for g in doc["groups"]:
        w.writerow(["group", g["businessService"], g["paymentMode"], g["count"], g["amount"], g["firstReceipt"],
                    g["lastReceipt"], "", ""])
    for m in doc["totalsByMode"]:
        w.writerow(["mode total", "", m["paymentMode"], m["count"], m["amount"], "", "", "", ""])
    w.writerow(["grand total", "", "", doc["grandTotal"]["count"], doc["grandTotal"]["amount"],
                doc["receiptRange"]["first"] or "", doc["receiptRange"]["last"] or "", "", ""])
    for s in doc["receiptRange"].get("series") or []:
        w.writerow(["receipt series", "", "", s["issued"], "", s["first"], s["last"], "", ""])
    for section, key in (("cancelled", "cancelled"), ("dishonoured", "dishonoured")):
        for r in doc[key]:
            w.writerow([section, r["businessService"], r["paymentMode"], 1, r["amount"], r["receiptNumber"],
                        r["receiptNumber"], r["reason"] or "", _who(r)])
    for section, key in (("cancelled", "cancelled"), ("dishonoured", "dishonoured")):
        for r in doc[key]:
            if r.get("afterShiftClosed") and r["paymentMode"] == "CASH":
                w.writerow(["reversed after shift closed", r["businessService"], r["paymentMode"], 1, r["amount"],
                            r["receiptNumber"], r["receiptNumber"], section.upper(), _who(r)])
    rc = doc["reconciliation"]
    w.writerow(["reconciliation", "", "CASH", "", rc["registerCash"], "", "", rc["status"],
                f"shifts {rc['shiftsCash']} (other days {rc['shiftsCashOtherDays']}) reversed after shift closed "
                f"{rc.get('reversedAfterShiftClosed', 0)} difference {rc['difference']} "
                f"drawer variance {rc.get('drawerVariance', 0)}"])
    if doc.get("auditHead"):
        w.writerow(["audit head", "", "", doc["auditHead"]["seq"], "", doc["auditHead"]["hash"], "", "", ""])
    return buf.getvalue()


PDF_FONT_SIZE = 7.5         # pt, the tables' text
PDF_MIN_FONT_SIZE = 5.0     # a table that only fits smaller than this wraps instead
PDF_CELL_PADDING = 1.0      # mm, each side of a table cell


def _pdf_columns(pdf: Any, columns: list[str], rows: list[list[str]], size: float = PDF_FONT_SIZE,
                 min_size: float = PDF_MIN_FONT_SIZE) -> tuple[list[float], float]:
    """Column widths (mm, summing to the printable width) and the font size for one table, such
    that no word is broken across lines: a receipt number (PT/C01/107/2026-27/000004) is one
    word. Each column gets at least its longest word; what is left is shared in proportion to
    what each column would need to hold its text on one line. When even the longest words do not
    fit side by side, the font shrinks (down to `min_size`)."""
    epw = pdf.epw
    slack = 2 * PDF_CELL_PADDING + 0.6

    def measure(pt: float) -> tuple[list[float], list[float]]:
        natural, least = [], []
        for i, heading in enumerate(columns):
            pdf.set_font("NotoSans", "B", pt)
            nat = pdf.get_string_width(heading)
            low = max((pdf.get_string_width(w) for w in heading.split()), default=0.0)
            pdf.set_font("NotoSans", "", pt)
            for row in rows:
                text = row[i] if i < len(row) else ""
                nat = max(nat, pdf.get_string_width(text))
                low = max([low, *(pdf.get_string_width(w) for w in text.split())])
            natural.append(nat + slack)
            least.append(low + slack)
        return natural, least

    pt = size
    natural, least = measure(pt)
    while sum(least) > epw and pt > min_size:
        pt = max(min_size, round(pt * min(0.95, epw / sum(least)), 2))
        natural, least = measure(pt)
    pdf.set_font("NotoSans", "", size)
    if sum(natural) <= epw:                       # everything on one line: share out the rest
        extra = (epw - sum(natural)) / len(natural)
        return [n + extra for n in natural], pt
    if sum(least) >= epw:                         # the smallest font still does not fit: scale down
        return [w * epw / sum(least) for w in least], pt
    spare, want = epw - sum(least), [n - m for n, m in zip(natural, least)]
    return [m + spare * x / sum(want) for m, x in zip(least, want)], pt


def write_pdf(doc: dict[str, Any], path: Path) -> None:
    """The register on A4 (portrait), the same sections as the table; Noto Sans for the ₹ sign."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    from digitctl.resources import bundled

    fonts = bundled("templates") / "fonts"
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(title(doc))
    pdf.set_creator("digitctl")
    pdf.add_font("NotoSans", "", str(fonts / "NotoSans-Regular.subset.ttf"))
    pdf.add_font("NotoSans", "B", str(fonts / "NotoSans-Bold.subset.ttf"))
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("NotoSans", "B", 13)
    pdf.cell(0, 8, title(doc), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("NotoSans", "", 8)
    pdf.multi_cell(0, 5, f"Generated {_when(doc['generatedAt'], '%d/%m/%Y %H:%M IST')}. {issued_text(doc)}",
                   align="L", new_x="LMARGIN", new_y="NEXT")
    head = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    for heading, columns, rows in sections(doc):
        pdf.ln(3)
        pdf.set_font("NotoSans", "B", 10)
        pdf.cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("NotoSans", "", PDF_FONT_SIZE)
        if not rows:
            pdf.cell(0, 5, "none", new_x="LMARGIN", new_y="NEXT")
            continue
        align = tuple("RIGHT" if c in NUMERIC else "LEFT" for c in columns)
        widths, size = _pdf_columns(pdf, columns, rows)
        pdf.set_font("NotoSans", "", size)
        with pdf.table(headings_style=head, text_align=align, line_height=4.5 * size / PDF_FONT_SIZE,
                       padding=PDF_CELL_PADDING, col_widths=tuple(widths), width=pdf.epw) as table:
            table.row(columns)
            for row in rows:
                table.row(row)
    pdf.ln(4)
    late = late_line(doc)
    if late:
        pdf.set_font("NotoSans", "", 9)
        pdf.multi_cell(0, 5, late, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    ok = balanced(doc)
    pdf.set_font("NotoSans", "B", 10)
    pdf.set_text_color(0, 110, 0) if ok else pdf.set_text_color(200, 0, 0)
    pdf.multi_cell(0, 6, recon_line(doc))
    pdf.set_text_color(0, 0, 0)
    if anchor_text(doc):
        pdf.set_font("NotoSans", "", 8)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(0, 5, anchor_text(doc), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
