"""`digitctl workflow apply|list|show|transition|history|escalate`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from digitctl.cli.common import sla_text
from digitctl.cli.output import emit, state

app = typer.Typer(help="Workflow v2: BusinessService definitions and transitions.", no_args_is_help=True)


@app.command("apply")
def apply_cmd(paths: list[Path] = typer.Argument(..., help="BusinessService JSON/YAML files or folders."),
              dry_run: bool = typer.Option(False, "--dry-run"),
              tenant: str = typer.Option(None, "--tenant", help="Load every definition at this tenant instead "
                                         "of its own (e.g. pb: used by all cities).")) -> None:
    """Load DIGIT workflow definitions as they are; a changed one becomes a new version."""
    from digitctl.services import workflow
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    report = workflow.apply(st.app, st.app.context(), paths, dry_run=dry_run, tenant_id=tenant)
    rows = [(r["businessService"], r["tenantId"], r["version"], r["status"]) for r in report.rows]

    def human(con: Any) -> None:
        from rich.table import Table

        t = Table(title="workflow apply" + (" (dry run)" if dry_run else ""))
        for c in ("businessService", "tenantId", "version", "status"):
            t.add_column(c)
        for r in rows:
            t.add_row(*map(str, r))
        con.print(t)
        for w in report.warnings:
            con.print(f"[yellow]warning[/] {w}", markup=True, highlight=False)

    emit(report.as_json(), rows=rows, columns=["businessService", "tenantId", "version", "status"], human=human)


@app.command("list")
def list_cmd(tenant: str = typer.Option(None, "--tenant")) -> None:
    """The loaded definitions (current versions)."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import workflow
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = tenant_option_value(tenant)
    items = workflow.list_definitions(st.app, st.app.context(t), t)
    emit({"BusinessServices": items},
         rows=[(i["businessService"], i["tenantId"], i["business"], i["version"], i["states"], sla_text(i["businessServiceSla"]))
               for i in items], columns=["businessService", "tenantId", "business", "version", "states", "sla"])


@app.command("show")
def show_cmd(code: str = typer.Argument(...), tenant: str = typer.Option(None, "--tenant"),
             fmt: str = typer.Option("table", "--format", help="table | mermaid | dot")) -> None:
    """A definition's states and actions, or its graph; -o json is DIGIT's businessservice/_search
    result (uuids on the service, states and actions; actions name states by uuid)."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.domain import workflow as wf
    from digitctl.errors import InvalidInput
    from digitctl.services import workflow
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = tenant_option_value(tenant) or st.app.state_tenant or ""
    ctx = st.app.context(t)
    doc, defn = workflow.get_definition(st.app, ctx, code, t)
    if fmt in ("mermaid", "dot"):
        sys.stdout.write((wf.mermaid(defn) if fmt == "mermaid" else wf.dot(defn)) + "\n")
        return
    if fmt != "table":
        raise InvalidInput("INVALID_FORMAT", "--format is table, mermaid or dot", {"format": fmt})
    rows = [(s.name or "(start)", s.application_status or "", sla_text(s.sla_ms),
             ("terminate " if s.is_terminate else "") + ("docs " if s.doc_upload_required else ""),
             a.action, a.next_state, ", ".join(a.roles))
            for s in defn.states for a in (s.actions or (wf.Action("", "", ()),))]
    emit({"ResponseInfo": ctx.response_info(), "BusinessServices": [doc]}, rows=rows,
         columns=["state", "applicationStatus", "sla", "flags", "action", "nextState", "roles"])


@app.command("transition")
def transition_cmd(
    business_id: str = typer.Argument(...),
    action: str = typer.Option(..., "--action"),
    tenant: str = typer.Option(None, "--tenant"),
    service: str = typer.Option(None, "--service", help="BusinessService code (first transition only)."),
    comment: str = typer.Option(None, "--comment"),
    assignee: list[str] = typer.Option(None, "--assignee", help="User name (repeatable)."),
    document: list[Path] = typer.Option(None, "--document", help="A file to attach (goes to the file store)."),
    expect_state: str = typer.Option(None, "--expect-state", help="Refuse (STATE_CHANGED) unless it is in this state."),
) -> None:
    """Take a workflow action on an application/complaint.

    DIGIT's rules: a state-changing action needs one of its roles ("*": any role), one that keeps
    the state any role of the workflow (and keeps the state's SLA deadline); an assignee must be
    able to act in the next state; a citizen acts only on their own applications, and only as
    the assignee once one is assigned. Stricter than DIGIT: PAY (any action a payment takes) is
    refused here with ACTION_BY_PAYMENT_ONLY, whoever asks: the system takes it when the bill is
    paid in full (`digitctl pay`)."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import users, workflow
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = tenant_option_value(tenant) or ""
    ctx = st.app.context(t)
    docs = []
    if document:
        from digitctl.services import filestore

        docs = [{"documentType": "DOCUMENT", "fileStoreId": filestore.upload(st.app, ctx, t, p, p.name,
                                                                              module="workflow")["files"][0]["fileStoreId"]}
                for p in document]
    kw: dict[str, Any] = {}
    if expect_state is not None:
        kw["expected_state"] = expect_state
    pi = workflow.transition(st.app, ctx, tenant_id=t, business_id=business_id, action=action.upper(),
                             business_service=service, comment=comment,
                             assignees=users.uuids_of(st.app, list(assignee or [])), documents=docs, **kw)

    def human(con: Any) -> None:
        con.print(f"{business_id}: {action.upper()} -> [bold]{pi['state']['state']}[/] "
                  f"({pi['state']['applicationStatus']})")
        nxt = ", ".join(a["action"] for a in pi["nextActions"]) or "none for you"
        con.print(f"  next actions: {nxt}; state SLA {sla_text(pi['stateSla'])}, business SLA {sla_text(pi['businesssServiceSla'])}")

    emit({"ProcessInstances": [pi]}, human=human)


@app.command("history")
def history_cmd(business_id: str = typer.Argument(...), tenant: str = typer.Option(None, "--tenant")) -> None:
    """The timeline, newest first as DIGIT's process search returns it: who did what when,
    comments, SLA left."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import workflow
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = tenant_option_value(tenant) or ""
    ctx = st.app.context(t)
    items = workflow.history(st.app, ctx, t, business_id, newest_first=True)
    rows = [(i["auditDetails"]["createdTime"], i["assigner"]["userName"], i["action"],
             f"{i.get('previousStatus') or '(start)'} -> {i['state']['state']}", i.get("comment") or "",
             ", ".join(a["userName"] or "" for a in i["assignes"]),
             sla_text(i["stateSla"]) if "stateSla" in i else "took " + sla_text(i.get("timeInStateMs")))
            for i in items]

    def human(con: Any) -> None:
        from rich.table import Table

        from digitctl.clock import people_time

        t_ = Table(title=f"{business_id} ({items[0]['businessService']})")
        for c in ("when (IST)", "who", "action", "state", "comment", "assigned to", "SLA"):
            t_.add_column(c)
        for r in rows:
            when = people_time(int(r[0]), zone=False)
            t_.add_row(when, *[str(x) for x in r[1:]])
        con.print(t_)
        last = items[0]
        con.print("next actions for you: " + (", ".join(a["action"] for a in last["nextActions"]) or "none"))

    emit({"ResponseInfo": ctx.response_info(), "ProcessInstances": items}, rows=rows,
         columns=["createdTime", "assigner", "action", "transition", "comment", "assignees", "sla"], human=human)


@app.command("escalate")
def escalate_cmd(
    service: str = typer.Option(None, "--service", help="Only this business service's escalations."),
    tenant: str = typer.Option(None, "--tenant", help="Only this city (default: every city of the state)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be escalated; change nothing."),
) -> None:
    """Auto-escalation as DIGIT's EscalationService does it: for each active Workflow.AutoEscalation
    record (read at the state), whatever stands in its state longer than its SLA plus `stateSLA`
    days (or the business SLA plus `businessSLA` days) takes its action. Run by a user holding
    AUTO_ESCALATE at the state, as DIGIT's cron is; each transition passes the workflow's own
    rules, so the action must list AUTO_ESCALATE among its roles (DIGIT's instructions say to add
    it). Stricter than DIGIT: records with "active": "false" are skipped, and a refused
    application is reported (exit 1) while the others are still escalated."""
    from digitctl.services import workflow
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = tenant or st.tenant or None           # not the user's own city: the whole state by default
    report = workflow.escalate(st.app, st.app.context(t), business_service=service, tenant_id=t, dry_run=dry_run)
    rows = [(i["tenantId"], i["businessId"], i["businessService"], i["state"], i["action"],
             sla_text(i["stateSlaBreachedByMs"]), i["result"] + (f" {i['code']}: {i['message']}" if "code" in i else ""))
            for i in report["items"]]

    def human(con: Any) -> None:
        from rich.table import Table

        t_ = Table(title="workflow escalate" + (" (dry run)" if dry_run else ""))
        for c in ("tenant", "businessId", "service", "state", "action", "state SLA breached by", "result"):
            t_.add_column(c)
        for r in rows:
            t_.add_row(*map(str, r))
        con.print(t_)
        if not rows:
            con.print("nothing to escalate")

    emit(report, rows=rows,
         columns=["tenantId", "businessId", "businessService", "state", "action", "breachedBy", "result"], human=human)
    if any(i["result"] == "refused" for i in report["items"]):
        raise typer.Exit(1)
