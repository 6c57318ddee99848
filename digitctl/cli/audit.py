"""`digitctl audit log | verify`: read the signed audit chain and check it."""
from __future__ import annotations

from typing import Any

import typer

app = typer.Typer(help="The signed audit chain: list records, verify hashes and signatures.",
                  no_args_is_help=True)


def _change(entry: dict[str, Any]) -> str:
    """before -> after, compact, for the table (-o json has the full values)."""
    from digitctl.domain.canonical import canonical_json

    text = f"{canonical_json(entry['before'])} -> {canonical_json(entry['after'])}"
    return text if len(text) <= 60 else text[:59] + "…"


@app.command("log")
def log_cmd(
    entity: str = typer.Option(None, "--entity", help="Only records about this entity id."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many records, newest first (1..10000)."),
    tenant: str = typer.Option(None, "--tenant", help="Only records of this tenant."),
) -> None:
    """Audit records, newest first: who changed what, when, before and after."""
    from digitctl.cli.output import emit, state
    from digitctl.services import audit
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    entries = audit.log(st.app, st.app.context(tenant), entity=entity, limit=limit, tenant=tenant)
    import datetime as dt

    from digitctl.clock import people_time

    emit(entries, columns=["seq", "when (IST)", "actor", "tenantId", "operation", "entity", "change", "signed"],
         rows=[[e["seq"], people_time(dt.datetime.fromisoformat(e["occurredAt"]), zone=False), e["actor"]["userName"], e["tenantId"], e["operation"],
                f"{e['entityType']} {e['entityId']}", _change(e), "yes" if e["signed"] else "NO"]
               for e in entries])


@app.command("verify")
def verify_cmd() -> None:
    """Check every record's hash, link and signature, the signed head, the live payments, demands,
    bills, users and roles against their last audited state, receipt series for gaps and payments
    for their outbox event; exit 2 naming the first difference.

    A local OS user holding the store file AND the master key file can re-sign a rewritten chain:
    that cannot be detected here; compare the head with the one on the last shift slip / day book."""
    from digitctl.cli.output import emit, state
    from digitctl.services import audit
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    report = audit.verify(st.app, st.app.context())
    report.raise_if_broken()          # AUDIT_CHAIN_BROKEN, exit 2; -o json: the error envelope
    emit(report.as_json(), human=lambda con: con.print(
        f"{report.summary()} ({report.rate:,.0f} records/s"
        + (f"; {report.unsigned_adopted} unsigned from before the signing key, vouched for by it"
           if report.unsigned_adopted else "") + ")", markup=False))
