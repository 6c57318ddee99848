"""`digitctl report daybook`: the day's collection register as a table, CSV or an A4 PDF.

The document is rendered by digitctl.documents.daybook; this module parses, calls and prints."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Counter reports: the day's collection register.", no_args_is_help=True)

REPORT_FORMATS = ("table", "csv", "pdf")


def _ctx(tenant: str | None) -> Any:
    from digitctl.cli.common import tenant_option_value
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    return st.app, st.app.context(tenant_option_value(tenant))


def _table(doc: dict[str, Any], con: Any) -> None:
    """The day book on the terminal: documents.daybook's sections as rich tables."""
    from digitctl.cli.output import fitted
    from digitctl.documents import daybook

    con.print(f"[bold]{daybook.title(doc)}[/bold]")
    con.print(daybook.issued_text(doc), markup=False)
    for heading, columns, rows in daybook.sections(doc):
        table = fitted(con, columns, rows, title=heading, justify={c: "right" for c in columns if c in daybook.NUMERIC})
        if heading == "Totals by mode" and table.rows:
            table.rows[-1].style = "bold"
        con.print(table)
    ok = daybook.balanced(doc)
    late = daybook.late_line(doc)
    if late:
        con.print(late, markup=False)
    con.print(daybook.recon_line(doc), style="bold green" if ok else "bold red", markup=False)
    if daybook.anchor_text(doc):
        con.print(daybook.anchor_text(doc), markup=False)


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
    from digitctl.documents import daybook
    from digitctl.services import reports

    if fmt is not None and fmt not in REPORT_FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(REPORT_FORMATS)}", param_hint="--format")
    application, ctx = _ctx(tenant)
    doc = reports.daybook(application, ctx, tenant_id=tenant, day=date, counter=counter)
    fmt = fmt or state().output
    if fmt == "pdf":
        path = out or Path(f"daybook-{doc['tenantId']}-{doc['date']}.pdf")
        daybook.write_pdf(doc, path)
        typer.echo(f"wrote {path}")
    elif fmt == "csv":
        text = daybook.csv_text(doc)
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
