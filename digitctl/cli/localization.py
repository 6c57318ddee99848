"""`digitctl localization upsert|search|delete|export|missing` (egov-localization's messages)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Localization messages {code, message, module, locale} (DIGIT's egov-localization).",
                  no_args_is_help=True)


def _app() -> Any:
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    return st.app


def _tenant(explicit: str | None) -> str:
    from digitctl.cli.common import tenant_option_value

    return tenant_option_value(explicit) or _app().state_tenant or "default"


def _codes(codes: str | None) -> list[str]:
    return [c.strip() for c in (codes or "").split(",") if c.strip()]


@app.command("upsert")
def upsert_cmd(files: list[Path] = typer.Option(..., "--file", "-f", help="An _upsert body {tenantId, messages}, "
                                                "a bundle (a list of messages) or a folder of them."),
               tenant: str = typer.Option(None, "--tenant", help="Tenant for files without tenantId (default: "
                                          "the state)."),
               dry_run: bool = typer.Option(False, "--dry-run", help="Report what would change; write nothing.")) -> None:
    """Add or change messages. Idempotent: a second upsert reports 0 added, 0 changed."""
    from digitctl.services import localization_messages as lm

    a = _app()
    report = lm.upsert(a, a.context(tenant), files, tenant=tenant, dry_run=dry_run)
    doc = report.as_json()
    rows = [(m["tenantId"], m["locale"], m["module"], m["added"], m["changed"], m["unchanged"]) for m in doc["modules"]]

    def human(con: Any) -> None:
        for r in rows:
            con.print(f"{r[0]} {r[1]} {r[2]}: {r[3]} added, {r[4]} changed, {r[5]} unchanged", highlight=False)
        con.print(f"[bold]{doc['filesRead']} file(s): {doc['added']} added, {doc['changed']} changed, "
                  f"{doc['unchanged']} unchanged" + (f", {doc['duplicates']} given twice" if doc['duplicates'] else "") + (" — dry run, nothing written" if dry_run else "") + "[/]")

    emit(doc, rows=rows, columns=["tenantId", "locale", "module", "added", "changed", "unchanged"], human=human)


@app.command("search")
def search_cmd(locale: str = typer.Option(..., "--locale"),
               module: str = typer.Option(None, "--module", help="Module(s), comma separated."),
               tenant: str = typer.Option(None, "--tenant"),
               codes: str = typer.Option(None, "--codes", help="Codes, comma separated.")) -> None:
    """Messages of a locale at a tenant (its state's and the default tenant's beneath);
    -o json prints DIGIT's _search response {"messages": [...]}."""
    from digitctl.services import localization_messages as lm

    a = _app()
    tenant_id = _tenant(tenant)
    doc = lm.search(a, a.context(tenant_id), locale=locale, tenant=tenant_id, module=module, codes=_codes(codes))
    rows = [(m["module"], m["code"], m["message"]) for m in doc["messages"]]
    emit(doc, rows=rows, columns=["module", "code", "message"], title=f"{locale} at {tenant_id} ({len(rows)})")


@app.command("delete")
def delete_cmd(locale: str = typer.Option(None, "--locale"), module: str = typer.Option(None, "--module"),
               codes: str = typer.Option(None, "--codes", help="Codes, comma separated."),
               tenant: str = typer.Option(None, "--tenant"),
               file: Path = typer.Option(None, "--file", "-f", help="DIGIT's _delete body {tenantId, messages: "
                                         "[{code, module, locale}]}.")) -> None:
    """Delete a tenant's own messages (its state's stay)."""
    import json

    from digitctl.errors import InvalidInput
    from digitctl.services import localization_messages as lm

    a = _app()
    tenant_id = _tenant(tenant)
    if file is not None:
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
            tenant_id = doc.get("tenantId") or tenant_id
            items = [(m["locale"], m["module"], m["code"]) for m in doc["messages"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise InvalidInput("INVALID_DELETE_REQUEST", f"{file}: expected {{tenantId, messages: [{{code, module, "
                               f"locale}}]}} ({type(err).__name__})", {"file": str(file)}) from None
    elif locale and module and _codes(codes):
        items = [(locale, module, c) for c in _codes(codes)]
    else:
        raise InvalidInput("INVALID_DELETE_REQUEST", "give --locale, --module and --codes, or -f FILE")
    res = lm.delete(a, a.context(tenant_id), tenant=tenant_id, items=items)
    emit(res, human=lambda con: con.print(f"{res['deleted']} message(s) deleted at {tenant_id}."))


@app.command("export")
def export_cmd(locale: str = typer.Option(None, "--locale"), module: str = typer.Option(None, "--module"),
               tenant: str = typer.Option(None, "--tenant"),
               out: Path = typer.Option(None, "--out", help="Write the _upsert body to this file (else stdout).")) -> None:
    """The tenant's own messages as an _upsert body (upserts back unchanged)."""
    import json

    from digitctl.services import localization_messages as lm

    a = _app()
    tenant_id = _tenant(tenant)
    doc = lm.export(a, a.context(tenant_id), tenant=tenant_id, locale=locale, module=module)
    text = json.dumps(doc, ensure_ascii=False, indent=4) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    emit({"file": str(out), "messages": len(doc["messages"])},
         human=lambda con: con.print(f"{len(doc['messages'])} message(s) written to {out}"))


@app.command("missing")
def missing_cmd(locale: str = typer.Option(..., "--locale"),
                module: str = typer.Option(None, "--module", help="Module(s); default: the shipped modules."),
                tenant: str = typer.Option(None, "--tenant")) -> None:
    """What a locale lacks against en_IN for the shipped modules."""
    from digitctl.services import localization_messages as lm

    a = _app()
    tenant_id = _tenant(tenant)
    doc = lm.missing(a, a.context(tenant_id), locale=locale, tenant=tenant_id, module=module)
    rows = [(m["module"], m["code"], m["message"]) for m in doc["missing"]]

    def human(con: Any) -> None:
        for mod, n in doc["counts"].items():
            con.print(f"{mod}: {n} missing in {locale}", highlight=False)
        for r in rows[:200]:
            con.print(f"  {r[0]} {r[1]}: {' '.join(r[2].split())}", highlight=False, markup=False)
        if len(rows) > 200:
            con.print(f"  ... and {len(rows) - 200} more (-o json or -o csv for all)")

    emit(doc, rows=rows, columns=["module", "code", "en_IN"], human=human)
