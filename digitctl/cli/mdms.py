"""`digitctl mdms apply|search` (and `mdms schema apply`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Master data (MDMS v1 folders/files, v2 exports and schemas).", no_args_is_help=True)


EXAMPLES = 3      # warnings shown per code without --verbose


def _print_problems(con: Any, problems: list[Any], verbose: bool) -> None:
    """Errors one by one; warnings one by one with --verbose, else grouped by code (count, a few
    examples): a full-tree apply's 219 DUPLICATE_RECORD lines are one group."""
    from collections import Counter
    from rich.markup import escape

    for p in problems:
        if p.severity == "error" or verbose:
            style = "red" if p.severity == "error" else "yellow"
            con.print(f"[{style}]{p.severity}[/] {escape(p.line())}", highlight=False)
    if verbose:
        return
    warnings = [p for p in problems if p.severity != "error"]
    for code, count in Counter(p.code for p in warnings).most_common():
        con.print(f"[yellow]warning[/] {escape(code)} × {count}" + (", e.g.:" if count else ""), highlight=False)
        for p in [w for w in warnings if w.code == code][:EXAMPLES]:
            con.print(f"    {escape(p.line())}", highlight=False)
        if count > EXAMPLES:
            con.print(f"    ... {count - EXAMPLES} more (--verbose or -o json lists them all)", highlight=False)


@app.command("apply")
def apply_cmd(
    paths: list[Path] = typer.Argument(..., help="MDMS folders or files (v1 layout, YAML, v2 export)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would change; write nothing."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 2, nothing written) on any warning."),
    master_config: Path = typer.Option(None, "--master-config",
                                       help="master-config.json (default: found beside/above the data)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Every warning, not a few of each code."),
) -> None:
    """Apply DIGIT master data. Idempotent: a second apply reports 0 added, 0 changed.
    Warnings are grouped by code with a count and a few examples (every one with --verbose or
    -o json); errors are always listed in full."""
    from digitctl.services import mdms
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    from digitctl.cli.output import progress_bar

    with progress_bar("writing masters") as progress:
        report = mdms.apply(st.app, st.app.context(st.tenant), paths, dry_run=dry_run, strict=strict,
                            master_config=master_config, progress=progress)
    rows = [(m.tenant_id, m.module, m.master, m.added, m.changed, m.unchanged, m.skipped, m.removed, m.vanished)
            for m in report.masters]

    def human(con: Any) -> None:
        from rich.table import Table

        table = Table(title="MDMS apply" + (" (dry run: nothing written)" if dry_run else ""))
        numbers = ("added", "changed", "unchanged", "skipped", "removed", "vanished")
        for c in ("tenant", "module", "master", *numbers):
            table.add_column(c, justify="right" if c in numbers else "left")
        for r in rows:
            if r[3] or r[4] or r[6] or r[7] or r[8]:
                table.add_row(*map(str, r))
        quiet = sum(1 for r in rows if not (r[3] or r[4] or r[6] or r[7] or r[8]))
        if table.row_count:
            con.print(table)
        if quiet:
            con.print(f"{quiet} master(s) unchanged.")
        _print_problems(con, report.problems, verbose)
        t = {k: report.total(k) for k in mdms.TOTALS}
        gone = (f", {t['removed']} removed" if t["removed"] else "") + \
               (f", {t['vanished']} in the store but not in the files (kept)" if t["vanished"] else "")
        if report.master_config_changed:
            con.print(f"master-config now in force: {', '.join(report.master_config_files)}")
        con.print(f"[bold]{report.files_read} files, {len(report.masters)} masters: {t['added']} added, "
                  f"{t['changed']} changed, {t['unchanged']} unchanged, {t['skipped']} skipped{gone}; "
                  f"{len(report.warnings)} warning(s), {len(report.errors)} error(s)"
                  + (f"; {len(report.ignored)} non-data file(s) ignored" if report.ignored else "")
                  + (" — dry run, nothing written" if dry_run else "") + "[/]")

    emit(report.as_json(), rows=rows,
         columns=["tenantId", "moduleName", "masterName", "added", "changed", "unchanged", "skipped",
                  "removed", "vanished"],
         human=human)


@app.command("search")
def search_cmd(
    module: str = typer.Option(..., "--module", help="Module name, e.g. BillingService."),
    master: list[str] = typer.Option(None, "--master", help="Master name(s); default: all of the module."),
    filter_expr: str = typer.Option(None, "--filter", help="JSONPath filter, e.g. \"[?(@.service=='TL')]\"."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant, e.g. pb.amritsar. A master master-config marks "
                               "isStateLevel is answered from the state's records; any other from the tenant's own "
                               "(no fallback), as DIGIT's MDMS does."),
) -> None:
    """Search master data as DIGIT's /egov-mdms-service/v1/_search does."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import mdms
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant)
    res = mdms.search(st.app, st.app.context(tenant_id), tenant_id or "", module, master or None, filter_expr)

    def human(con: Any) -> None:
        from digitctl.cli.output import fitted

        if module not in res["MdmsRes"]:
            con.print(f"no {module} master at {tenant_id} or its state")
        for master_name, records in res["MdmsRes"].get(module, {}).items():
            cols = _columns(records)
            cells = [[_cell(r.get(c)) for c in cols] if isinstance(r, dict) else [_cell(r)] for r in records]
            con.print(fitted(con, cols or ["value"], cells,
                             title=f"{module}.{master_name} at {tenant_id} ({len(records)})"))

    rows = [(ms, _cell(r)) for ms, recs in res["MdmsRes"].get(module, {}).items() for r in recs]
    emit(res, rows=rows, columns=["master", "record"], human=human)


@app.command("config")
def config_cmd() -> None:
    """The master-config in force (isStateLevel, uniqueKeys, isMergeAllowed per master): the one
    the last apply found beside its data (or --master-config), else the bundled real one."""
    from digitctl.services import mdms
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    res = mdms.master_config(st.app, st.app.context(st.tenant))
    rows = [(module, name, cfg.get("isStateLevel"), ", ".join(cfg.get("uniqueKeys") or []),
             cfg.get("isMergeAllowed", False))
            for module, masters in res["masterConfig"].items() if isinstance(masters, dict)
            for name, cfg in masters.items() if isinstance(cfg, dict)]

    def human(con: Any) -> None:
        from rich.table import Table

        table = Table(title=f"master-config in force ({res['source']})")
        for c in ("module", "master", "isStateLevel", "uniqueKeys", "isMergeAllowed"):
            table.add_column(c)
        for r in rows:
            table.add_row(*map(str, r))
        con.print(table)

    emit(res, rows=rows, columns=["moduleName", "masterName", "isStateLevel", "uniqueKeys", "isMergeAllowed"],
         human=human)


def _columns(records: list[Any], limit: int = 7) -> list[str]:
    preferred = ["code", "name", "service", "idname", "format", "category", "isDebit", "order", "active"]
    seen: dict[str, int] = {}
    for r in records:
        if isinstance(r, dict):
            for k, v in r.items():
                if not isinstance(v, (dict, list)):
                    seen[k] = seen.get(k, 0) + 1
    cols = [c for c in preferred if c in seen]
    cols += [c for c in sorted(seen, key=lambda c: -seen[c]) if c not in cols]
    return cols[:limit]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        import json

        text = json.dumps(v, ensure_ascii=False)
        return text if len(text) < 60 else text[:57] + "..."
    return str(v)
