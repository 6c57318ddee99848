"""`digitctl shift open|status|close|reopen`: a clerk's cash shift at this counter.

The shift slip's lines come from digitctl.documents.slips; this module parses, calls and prints."""
from __future__ import annotations

import sys
from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Cash shifts at this counter: open with a float, status, close counting notes.",
                  no_args_is_help=True)


def _ctx() -> Any:
    from digitctl.cli.common import tenant_option_value
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    return st.app, st.app.context(tenant_option_value(None))


def _render(doc: dict[str, Any], title: str) -> None:
    from digitctl.documents import slips

    summary = slips.shift_rows(doc)

    def human(con: Any) -> None:
        from digitctl.cli.output import fitted

        table = fitted(con, ["field", "value"], summary, title=title, show_header=False, justify={"value": "right"})
        table.columns[0].style = "bold"
        con.print(table)
        counted = slips.drawer_count_rows(doc)
        if counted:
            notes = fitted(con, slips.DRAWER_COUNT_COLUMNS, counted, title="Drawer count",
                           justify={c: "right" for c in slips.DRAWER_COUNT_COLUMNS})
            notes.rows[-1].style = "bold"
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
    dry_run: bool = typer.Option(False, "--dry-run", help="Show expected, counted and variance; close nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Close without asking (at a terminal the preview asks)."),
) -> None:
    """Close your shift: counted vs expected cash, variance recorded. At a terminal the figures
    are shown first and you confirm; --dry-run only shows them. A supervisor can reopen a shift
    closed by mistake (shift reopen)."""
    from digitctl.services import shifts

    application, ctx = _ctx()
    if dry_run or (not yes and sys.stdin.isatty() and state().output == "table"):
        preview = shifts.close_shift(application, ctx, count, note=note, dry_run=True)
        _render(preview, "Shift close preview (nothing closed yet)")
        if dry_run:
            return
        if not typer.confirm(f"Close the shift with variance {preview['varianceText']}?"):
            raise typer.Exit(1)
    _render(shifts.close_shift(application, ctx, count, note=note), "Shift closed")


@app.command("reopen")
def reopen_cmd(
    shift_id: str = typer.Argument(..., help="The shift's id (on the close slip and in report daybook -o json)."),
    reason: str = typer.Option(..., "--reason", help="Why it is reopened (kept in the audit record)."),
) -> None:
    """Reopen a shift closed by mistake: a supervisor (another person holding the collection
    workflow action), before its money was remitted; the first count stays in the audit record."""
    from digitctl.services import shift_reopen

    application, ctx = _ctx()
    _render(shift_reopen.reopen(application, ctx, shift_id, reason), "Shift reopened")
