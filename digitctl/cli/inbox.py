"""`digitctl inbox`: what the logged-in employee can act on now, nearest SLA first."""
from __future__ import annotations

from typing import Any

import typer

from digitctl.cli.common import sla_text, tenant_option_value
from digitctl.cli.output import emit, state

COLUMNS = ["id", "service", "status", "applicant", "locality", "SLA left", "assignee"]


def status_text(item: dict[str, Any]) -> str:
    """The application status, with the state when they differ (PT: INWORKFLOW (OPEN))."""
    st, state_ = item.get("applicationStatus"), item.get("state")
    return f"{st} ({state_})" if st and state_ and st != state_ else str(st or state_ or "")


def rows_of(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["applicationNo"] + (" (!) acted on a stale copy: STATE_CHANGED at the hub" if i.get("syncConflict")
                                   else ""), i["businessService"], status_text(i),
             " ".join(x for x in (i["applicant"].get("name"), i["applicant"].get("mobileNumber")) if x),
             i.get("locality") or "", sla_text(i.get("slaLeftMs")), ", ".join(i.get("assignees") or []))
            for i in items]


def inbox(
    service: str = typer.Option(None, "--service", help="Only this business service (NewTL, PGR ...)."),
    status: str = typer.Option(None, "--status", help="Only this application status or state."),
    locality: str = typer.Option(None, "--locality", help="Only this boundary locality code."),
    mine: bool = typer.Option(False, "--mine", help="Only what is assigned to me."),
    limit: int = typer.Option(100, "--limit", help="At most this many rows (1..1000)."),
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant of my jurisdictions."),
) -> None:
    """Applications your roles can act on in your jurisdictions, plus those assigned to you."""
    from digitctl.services import inbox as inbox_service
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    explicit = tenant or st.tenant
    ctx = st.app.context(tenant_option_value(tenant))
    doc = inbox_service.inbox(st.app, ctx, business_service=service, status=status, locality=locality,
                              mine=mine, limit=limit, tenant_id=explicit)
    rows = rows_of(doc["items"])

    def human(con: Any) -> None:
        from rich.text import Text

        from digitctl.cli.output import fitted

        cells = [(*row[:5], Text(row[5], style="bold red" if item.get("slaLeftMs") is not None
                                 and item["slaLeftMs"] < 0 else ""), row[6]) for item, row in zip(doc["items"], rows)]
        from digitctl.services.user_lookup import PSEUDONYM_PREFIX

        who = ctx.actor.user_name         # a citizen's stored name is a pseudonym: never printed
        title = "Your inbox" if who.startswith(PSEUDONYM_PREFIX) else f"Inbox of {who}"
        con.print(fitted(con, COLUMNS, cells, justify={"SLA left": "right"},
                         title=title + (" (assigned to me)" if mine else "")))
        counts = " · ".join(f"{c['applicationStatus']} {c['count']}" for c in doc["statusCount"])
        shown = len(doc["items"])
        con.print(f"{doc['totalCount']} in all" + (f" ({shown} shown)" if shown < doc["totalCount"] else "")
                  + (f": {counts}" if counts else ""), markup=False)

    emit(doc, rows=rows, columns=COLUMNS, human=human)
