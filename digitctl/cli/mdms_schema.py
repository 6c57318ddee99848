"""`digitctl mdms schema apply PATH...`: register MDMS v2 schema definitions."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from digitctl.cli.output import emit, state

if TYPE_CHECKING:
    from rich.console import Console

    from digitctl.services.mdms_schema import SchemaApplyReport

schema_app = typer.Typer(
    help="MDMS v2 schema definitions (JSON Schema draft-07 with x-unique and x-ref-schema).",
    no_args_is_help=True,
)


@schema_app.callback()
def _group() -> None:
    """MDMS v2 schema definitions (JSON Schema draft-07 with x-unique and x-ref-schema)."""


@schema_app.command("apply")
def apply(
    paths: list[Path] = typer.Argument(..., help="Schema files or folders (*.json, *.yaml, *.yml): "
                                       "DIGIT search responses, _create requests or bare definitions."),
    tenant: str = typer.Option(None, "--tenant", help="Register the definitions at this tenant (overrides the files' "
                               "own tenantId, e.g. 'pg' in exports from DIGIT's sandbox); default: the file's, "
                               "else the store's state. Kept at its state level, as DIGIT does."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; write nothing."),
    strict: bool = typer.Option(False, "--strict", help="Refuse the whole batch (exit 2) if any file has a problem."),
) -> None:
    """Register schema definitions, idempotently: identical ones are unchanged, changed ones updated."""
    from digitctl.errors import InvalidInput
    from digitctl.services.mdms_schema import SchemaApplyRefused, apply_schemas
    from digitctl.services.store import require_initialized

    st = state()
    app = st.app
    require_initialized(app)
    try:
        report = apply_schemas(app, app.context(), paths, tenant_id=tenant or st.tenant,
                               dry_run=dry_run, strict=strict)
    except SchemaApplyRefused as refused:
        if st.output in ("json", "yaml"):
            raise
        # A readable list on stderr instead of a dump of the params.
        import sys

        for p in refused.report.problems:
            sys.stderr.write(p.line() + "\n")
        raise InvalidInput(refused.code, refused.message, {"problems": len(refused.report.problems)}) from None

    emit(report.as_json(), rows=report.rows(), columns=["code", "tenantId", "status", "file"],
         human=lambda con: _human(con, report))


def _human(con: "Console", report: "SchemaApplyReport") -> None:
    from rich.markup import escape
    from rich.table import Table

    rows = report.rows()
    if rows:
        table = Table(title="MDMS v2 schemas" + (" (dry run)" if report.dry_run else ""))
        for c in ("code", "tenant", "status"):
            table.add_column(c)
        style = {"added": "green", "changed": "yellow", "unchanged": "dim"}
        for code, tenant, status, _file in rows:
            table.add_row(escape(code), escape(tenant), f"[{style[status]}]{status}[/]")
        con.print(table)
    for p in report.problems:
        con.print(f"[red]{escape(p.code)}[/]{escape(p.line()[len(p.code):])}")
    note = "; nothing written (dry run)" if report.dry_run else ""
    con.print(f"{report.files} file(s): {len(report.added)} added, {len(report.changed)} changed, "
              f"{len(report.unchanged)} unchanged, {len(report.problems)} problem(s){note}")
