"""`digitctl report daybook`: the day's collection register as a table, CSV or an A4 PDF."""
from __future__ import annotations

import csv
import io
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Counter reports: the day's collection register.", no_args_is_help=True)

REPORT_FORMATS = ("table", "csv", "pdf")
CSV_COLUMNS = ["section", "businessService", "paymentMode", "count", "amount", "firstReceipt", "lastReceipt",
               "reason", "who"]


def _inr(value: Decimal | None) -> str:
    from digitctl.domain.money import format_inr

    return "" if value is None else format_inr(value)


def _when(instant: Any, fmt: str = "%H:%M") -> str:
    from digitctl.clock import IST

    return "" if instant is None else instant.astimezone(IST).strftime(fmt)


def _ctx(tenant: str | None) -> Any:
    from digitctl.cli.main import tenant_option_value
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    return st.app, st.app.context(tenant_option_value(tenant))


# -- sections, shared by the table and the PDF --------------------------------------------------

def _title(doc: dict[str, Any]) -> str:
    counter = f", counter {doc['counterCode']}" if doc["counterCode"] else ""
    return f"Day book {doc['date']} (IST) - {doc['tenantId']}{counter}"


def _register_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = [[g["businessService"], g["paymentMode"], str(g["count"]), _inr(g["amount"]),
             f"{g['firstReceipt']} - {g['lastReceipt']}"] for g in doc["groups"]]
    return rows


def _mode_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = [[m["paymentMode"], str(m["count"]), _inr(m["amount"])] for m in doc["totalsByMode"]]
    rows.append(["GRAND TOTAL", str(doc["grandTotal"]["count"]), _inr(doc["grandTotal"]["amount"])])
    return rows


def _excluded_rows(lines: list[dict[str, Any]]) -> list[list[str]]:
    return [[r["receiptNumber"], _when(r["receiptDate"]), r["businessService"], r["paymentMode"], _inr(r["amount"]),
             r["reason"] or "", r["changedBy"] or r["collectedBy"] or ""] for r in lines]


def _shift_rows(doc: dict[str, Any]) -> list[list[str]]:
    return [[s["counterCode"], s["user"], s["status"], f"{_when(s['openedAt'])}-{_when(s['closedAt'])}",
             _inr(s["float"]), _inr(s["cashCollected"]), _inr(s["expectedCash"]), _inr(s["countedCash"]),
             s["varianceText"] or ""] for s in doc["shifts"]]


def _recon_line(doc: dict[str, Any]) -> str:
    rc = doc["reconciliation"]
    text = (f"Reconciliation: register cash {_inr(rc['registerCash'])} vs shifts' cash {_inr(rc['shiftsCash'])}")
    if rc["shiftsCashOtherDays"]:
        text += f" less {_inr(rc['shiftsCashOtherDays'])} taken on other days"
    return f"{text}: {rc['status']}" + ("" if rc["ok"] else f" (difference {rc['differenceText']})")


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


# -- renderers ----------------------------------------------------------------------------------

def _table(doc: dict[str, Any], con: Any) -> None:
    from rich.table import Table

    con.print(f"[bold]{_title(doc)}[/bold]")
    rr = doc["receiptRange"]
    if not rr["issued"]:
        con.print("No receipts on this day.")
    else:
        con.print(f"Receipts issued: {rr['issued']} ({rr['first']} - {rr['last']})")
    for title, columns, rows_of in SECTIONS:
        rows = rows_of(doc)
        if not rows and title.startswith(("Cancelled", "Dishonoured")):
            continue
        table = Table(title=title)
        for c in columns:
            table.add_column(c, justify="right" if c in NUMERIC else "left")
        for i, row in enumerate(rows):
            table.add_row(*row, style="bold" if title == "Totals by mode" and i == len(rows) - 1 else None)
        con.print(table)
    ok = doc["reconciliation"]["ok"]
    con.print(_recon_line(doc), style="bold green" if ok else "bold red")


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
    for section, key in (("cancelled", "cancelled"), ("dishonoured", "dishonoured")):
        for r in doc[key]:
            w.writerow([section, r["businessService"], r["paymentMode"], 1, r["amount"], r["receiptNumber"],
                        r["receiptNumber"], r["reason"] or "", r["changedBy"] or r["collectedBy"] or ""])
    rc = doc["reconciliation"]
    w.writerow(["reconciliation", "", "CASH", "", rc["registerCash"], "", "", rc["status"],
                f"shifts {rc['shiftsCash']} (other days {rc['shiftsCashOtherDays']}) difference {rc['difference']}"])
    return buf.getvalue()


def write_pdf(doc: dict[str, Any], path: Path) -> None:
    """The register on A4 (portrait), the same sections as the table; Noto Sans for the ₹ sign."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    from digitctl.resources import bundled

    fonts = bundled("templates") / "fonts"
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(_title(doc))
    pdf.set_creator("digitctl")
    pdf.add_font("NotoSans", "", str(fonts / "NotoSans-Regular.subset.ttf"))
    pdf.add_font("NotoSans", "B", str(fonts / "NotoSans-Bold.subset.ttf"))
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("NotoSans", "B", 13)
    pdf.cell(0, 8, _title(doc), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("NotoSans", "", 8)
    rr = doc["receiptRange"]
    pdf.cell(0, 5, f"Generated {_when(doc['generatedAt'], '%Y-%m-%d %H:%M IST')}. "
             + (f"Receipts issued: {rr['issued']} ({rr['first']} - {rr['last']})" if rr["issued"]
                else "No receipts on this day."), new_x="LMARGIN", new_y="NEXT")
    head = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    for title, columns, rows_of in SECTIONS:
        rows = rows_of(doc)
        if not rows and title.startswith(("Cancelled", "Dishonoured")):
            continue
        pdf.ln(3)
        pdf.set_font("NotoSans", "B", 10)
        pdf.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("NotoSans", "", 7.5)
        if not rows:
            pdf.cell(0, 5, "none", new_x="LMARGIN", new_y="NEXT")
            continue
        align = tuple("RIGHT" if c in NUMERIC else "LEFT" for c in columns)
        with pdf.table(headings_style=head, text_align=align, line_height=4.5, padding=1) as table:
            table.row(columns)
            for row in rows:
                table.row(row)
    pdf.ln(4)
    ok = doc["reconciliation"]["ok"]
    pdf.set_font("NotoSans", "B", 10)
    pdf.set_text_color(0, 110, 0) if ok else pdf.set_text_color(200, 0, 0)
    pdf.multi_cell(0, 6, _recon_line(doc))
    pdf.set_text_color(0, 0, 0)
    pdf.output(str(path))


@app.command("daybook")
def daybook_cmd(
    date: str = typer.Option(None, "--date", help="The IST day as YYYY-MM-DD (default: today)."),
    fmt: str = typer.Option(None, "--format", help="table | csv | pdf (default: the global --output)."),
    out: Path = typer.Option(None, "--out", help="Write to this file (pdf default: daybook-TENANT-DATE.pdf)."),
    tenant: str = typer.Option(None, "--tenant", help="The ULB (default: your own)."),
    counter: str = typer.Option(None, "--counter", help="Only this counter's receipts and shifts."),
) -> None:
    """The collection register of a day: by service and mode, receipt ranges, cancelled receipts,
    totals, and the shifts' cash reconciled with it."""
    from digitctl.services import reports

    if fmt is not None and fmt not in REPORT_FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(REPORT_FORMATS)}", param_hint="--format")
    application, ctx = _ctx(tenant)
    doc = reports.daybook(application, ctx, tenant_id=tenant, day=date, counter=counter)
    fmt = fmt or state().output
    if fmt == "pdf":
        path = out or Path(f"daybook-{doc['tenantId']}-{doc['date']}.pdf")
        write_pdf(doc, path)
        typer.echo(f"wrote {path}")
    elif fmt == "csv":
        text = csv_text(doc)
        if out:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {out}")
        else:
            sys.stdout.write(text)
    elif fmt == "table":
        from digitctl.cli.output import console

        _table(doc, console())
    else:   # -o json / yaml: the document itself
        emit({"Daybook": doc})
