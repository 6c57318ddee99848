"""`digitctl shift open|status|close`: a clerk's cash shift at this counter."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Cash shifts at this counter: open with a float, status, close counting notes.",
                  no_args_is_help=True)


def _inr(value: Decimal | None) -> str:
    from digitctl.domain.money import format_inr

    return "" if value is None else format_inr(value)


def _when(instant: Any) -> str:
    """Counter time: Indian Standard Time, as on the receipts."""
    from digitctl.clock import IST

    return "" if instant is None else instant.astimezone(IST).strftime("%Y-%m-%d %H:%M IST")


def _ctx() -> Any:
    from digitctl.cli.common import tenant_option_value
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    return st.app, st.app.context(tenant_option_value(None))


def _summary(doc: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("shift", doc["id"]), ("counter", doc["counterCode"]), ("tenant", doc["tenantId"]),
            ("status", doc["status"]), ("opened at", _when(doc["openedAt"])),
            ("float", _inr(doc["float"]))]
    if "cashCollected" in doc:
        rows.append(("cash collected", _inr(doc["cashCollected"])))
        rows += [(f"{m['paymentMode'].lower()} collected", _inr(m["amount"])) for m in doc["otherModes"]]
        apart = [f"{n} {what}" for n, what in ((doc["cancelledCount"], "cancelled"),
                                                (doc.get("dishonouredCount", 0), "dishonoured")) if n]
        rows.append(("receipts", str(doc["receiptCount"]) + (f" ({', '.join(apart)})" if apart else "")))
        rows.append(("expected cash", _inr(doc["expectedCash"])))
    if doc["status"] == "CLOSED":
        rows += [("closed at", _when(doc["closedAt"])),
                 ("counted cash", _inr(doc["countedCash"])), ("variance", doc["varianceText"])]
    if doc.get("note"):
        rows.append(("note", doc["note"]))
    if doc.get("auditHead"):
        rows.append(("audit head", doc["auditHead"]["short"]))
    return rows


def _render(doc: dict[str, Any], title: str) -> None:
    summary = _summary(doc)

    def human(con: Any) -> None:
        from rich.table import Table

        table = Table(title=title, show_header=False)
        table.add_column("", style="bold")
        table.add_column("", justify="right")
        for label, value in summary:
            table.add_row(label, value)
        con.print(table)
        if doc.get("denominations"):
            notes = Table(title="Drawer count")
            for col in ("denomination", "count", "amount"):
                notes.add_column(col, justify="right")
            for d in doc["denominations"]:
                notes.add_row(f"₹{d['denomination']}", str(d["count"]), _inr(d["amount"]))
            notes.add_row("total", "", _inr(doc["countedCash"]), style="bold")
            con.print(notes)

    emit({"Shift": doc}, rows=summary, columns=["field", "value"], human=human)


@app.command("open")
def open_cmd(
    float_amount: str = typer.Option(..., "--float",
                                     help="Cash in the drawer at the start, in whole rupees (e.g. 2000)."),
) -> None:
    """Open your shift at this counter with a cash float."""
    from digitctl.services import shifts

    application, ctx = _ctx()
    _render(shifts.open_shift(application, ctx, float_amount), "Shift opened")


@app.command("status")
def status_cmd() -> None:
    """Your open shift: float, takings by mode, receipts, cash the drawer should hold."""
    from digitctl.services import shifts

    application, ctx = _ctx()
    _render(shifts.status(application, ctx), "Shift")


@app.command("close")
def close_cmd(
    count: str = typer.Option(..., "--count", help='The drawer counted as NOTExCOUNT pairs: "500x3,200x4,100x7,10x4".'),
    note: str = typer.Option(None, "--note", help="A remark kept with the close (e.g. why cash is short)."),
) -> None:
    """Close your shift: counted vs expected cash, variance recorded. A close is final."""
    from digitctl.services import shifts

    application, ctx = _ctx()
    _render(shifts.close_shift(application, ctx, count, note=note), "Shift closed")
