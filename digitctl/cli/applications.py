"""`digitctl application create|show|list` (transitions: `digitctl workflow transition`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Applications (service requests) that a workflow drives.", no_args_is_help=True)

COLUMNS = ["applicationNo", "service", "status", "applicant", "mobile", "locality", "created"]


def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    """A JSON object given inline or as @FILE."""
    from digitctl.domain.safetext import DETAILS_MAX_BYTES, loads_limited
    from digitctl.errors import InvalidInput

    if text is None:
        return None
    code = "INVALID_" + option.lstrip("-").upper()
    raw = text
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise InvalidInput(code, f"{option}: no such file {path}", {"file": str(path)})
        if path.stat().st_size > DETAILS_MAX_BYTES:
            raise InvalidInput("TOO_LARGE", f"{option}: {path} is {path.stat().st_size} bytes: at most "
                               f"{DETAILS_MAX_BYTES}", {"field": option, "maxBytes": DETAILS_MAX_BYTES})
        raw = path.read_text(encoding="utf-8-sig")
    value = loads_limited(raw, option, code=code)
    if not isinstance(value, dict):
        raise InvalidInput(code, f"{option} must be a JSON object ({{...}})", {"option": option})
    return value


def _created(doc: dict[str, Any]) -> str:
    from digitctl.clock import people_time

    ms = (doc.get("auditDetails") or {}).get("createdTime")
    return people_time(int(ms), zone=False) if ms else ""


def _rows(docs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(d["applicationNo"], d["businessService"], d.get("applicationStatus") or "",
             d["applicant"].get("name") or "", d["applicant"].get("mobileNumber") or "", d.get("locality") or "",
             _created(d)) for d in docs]


def _human(doc: dict[str, Any]) -> Any:
    def draw(con: Any) -> None:
        from digitctl.cli.common import sla_text

        wf = doc.get("workflow") or {}
        con.print(f"[bold]{doc['applicationNo']}[/] {doc['businessService']} at {doc['tenantId']}: "
                  f"[bold]{doc.get('applicationStatus') or '-'}[/]")
        a = doc["applicant"]
        con.print(f"  applicant  {a.get('name') or ''}  {a.get('mobileNumber') or ''}", markup=False)
        loc = (doc.get("address") or {}).get("locality") or {}
        if loc:
            con.print(f"  locality   {loc.get('code')} ({loc.get('name')})", markup=False)
        if doc.get("details"):
            con.print(f"  details    {json.dumps(doc['details'], ensure_ascii=False)}", markup=False)
        if wf:
            con.print(f"  state      {wf.get('state')} (after {wf.get('action')}), version {wf.get('version')}")
            left = wf.get("slaLeftMs")
            colour = "red" if left is not None and left < 0 else "green"
            con.print(f"  SLA left   [{colour}]{sla_text(left)}[/] (state {sla_text(wf.get('stateSla'))}, "
                      f"business {sla_text(wf.get('businessServiceSla'))})")
            who = ", ".join(x.get("userName") or x.get("uuid") or "" for x in wf.get("assignes") or [])
            if who:
                con.print(f"  assigned   {who}", markup=False)
            con.print("  you can    " + (", ".join(x["action"] for x in wf.get("nextActions") or []) or "nothing now"))
    return draw


@app.command("create")
def create(
    service: str = typer.Option(..., "--service", help="BusinessService code: NewTL, PGR, PT.CREATE ..."),
    tenant: str = typer.Option(None, "--tenant", help="The city, e.g. pb.amritsar."),
    applicant_name: str = typer.Option(..., "--applicant-name"),
    applicant_mobile: str = typer.Option(..., "--applicant-mobile"),
    locality: str = typer.Option(None, "--locality", help="Boundary locality code (digitctl boundary show)."),
    details: str = typer.Option(None, "--details", help="Module details as a JSON object, or @FILE."),
    address: str = typer.Option(None, "--address", help="Address as a JSON object (doorNo, street ...), or @FILE."),
    action: str = typer.Option(None, "--action", help="First action, when the start state has several."),
    comment: str = typer.Option(None, "--comment"),
) -> None:
    """Create an application; its workflow's first action (e.g. NewTL INITIATE) is taken at once."""
    from digitctl.cli.common import require_tenant
    from digitctl.services import applications
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = require_tenant(tenant)
    doc = applications.create(st.app, st.app.context(t), business_service=service, tenant_id=t,
                              applicant_name=applicant_name, applicant_mobile=applicant_mobile, locality=locality,
                              address=_json_object(address, "--address"), details=_json_object(details, "--details"),
                              action=action, comment=comment)
    emit({"Applications": [doc]}, rows=_rows([doc]), columns=COLUMNS, human=_human(doc))


@app.command("show")
def show(application_no: str = typer.Argument(..., help="Application number."),
         plain: bool = typer.Option(False, "--plain", help="Ask for the applicant in plain text (audited).")) -> None:
    """One application: applicant (as your roles may see it), state, SLA left, your next actions."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import applications
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    doc = applications.show(st.app, st.app.context(tenant_option_value(None)), application_no, plain=plain)
    emit({"Applications": [doc]}, rows=_rows([doc]), columns=COLUMNS, human=_human(doc))


@app.command("list")
def list_cmd(
    tenant: str = typer.Option(None, "--tenant"),
    service: str = typer.Option(None, "--service"),
    status: str = typer.Option(None, "--status", help="Application status, e.g. PENDINGPAYMENT."),
    mobile: str = typer.Option(None, "--mobile", help="Applicant's mobile (blind index, no decryption)."),
    limit: int = typer.Option(100, "--limit"),
) -> None:
    """Applications at a tenant, newest first."""
    from digitctl.cli.common import require_tenant
    from digitctl.services import applications
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = require_tenant(tenant)
    docs = applications.list_applications(st.app, st.app.context(t), t, business_service=service, status=status,
                                          mobile=mobile, limit=limit)
    emit({"Applications": docs}, rows=_rows(docs), columns=COLUMNS)
