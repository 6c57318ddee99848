"""Auto-escalation as DIGIT's EscalationService does it: the `Workflow.AutoEscalation` records
(read at the state, where DIGIT's cron reads them) and the run that takes each configured action
on what stands past its SLA, every one through the workflow's own rules."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import workflow as wf
from digitctl.domain.tenancy import state_of
from digitctl.errors import Forbidden, InvalidInput
from digitctl.services.workflow_history import _is_local_system
from digitctl.services.workflow_transition import transition_in
from local_store.models import WfCurrent

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

AUTO_ESCALATE_ROLE = "AUTO_ESCALATE"
DAY_MS = wf.DAY_MS
Escalation = wf.Escalation


def escalations(app: "App", tenant_id: str, business_service: str | None = None) -> list[Escalation]:
    """The AutoEscalation records (read at the state, where DIGIT's cron reads them), of one
    business service or all. A record with neither SLA is INVALID_CONFIG, as in DIGIT."""
    out = []
    for rec in app.mdms.master(state_of(tenant_id), "Workflow", "AutoEscalation"):
        if not isinstance(rec, dict) or not rec.get("businessService") or not rec.get("state") or not rec.get("action"):
            continue
        if business_service and str(rec["businessService"]).lower() != business_service.lower():
            continue
        out.append(wf.escalation(rec))
    return out


def _check_escalator(app: "App", ctx: "RequestContext", tenant_id: str | None) -> str:
    """The state escalated at; the actor must hold AUTO_ESCALATE there."""
    state = state_of(tenant_id or ctx.tenant_id or app.state_tenant or "")
    if not state:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb)")
    actor = ctx.actor
    if not _is_local_system(actor) and not any(
            r.code == AUTO_ESCALATE_ROLE and r.tenant_id in (state, "*") for r in actor.roles):
        raise Forbidden("AUTO_ESCALATE_ROLE_REQUIRED", f"{actor.user_name} does not hold {AUTO_ESCALATE_ROLE}@{state}: "
                        "only such a user runs auto-escalation (as DIGIT's escalation cron does)",
                        {"user": actor.user_name, "role": AUTO_ESCALATE_ROLE, "tenantId": state})
    return state


def _due(app: "App", ctx: "RequestContext", esc: Escalation, state: str, tenant_id: str | None,
         now: Any) -> list[tuple[str, str, int | None, int | None]]:
    """(tenant, business id, ms past the state SLA, ms past the business SLA) of every business
    object standing in `esc.state` past the configured breach."""
    with app.uow(ctx, readonly=True) as uow:
        q = select(WfCurrent).where(WfCurrent.business_service == esc.business_service,
                                    WfCurrent.state == esc.state)
        q = q.where(WfCurrent.tenant_id == tenant_id) if tenant_id and tenant_id != state else \
            q.where((WfCurrent.tenant_id == state) | WfCurrent.tenant_id.startswith(state + "."))
        due = []
        for cur in uow.session.execute(q.order_by(WfCurrent.tenant_id, WfCurrent.business_id)).scalars():
            ok, state_past, business_past = wf.overdue(esc, cur.state_deadline, cur.business_deadline, now)
            if ok:
                due.append((cur.tenant_id, cur.business_id, state_past, business_past))
    return due


def _escalate_one(app: "App", ctx: "RequestContext", esc: Escalation, tenant: str, business_id: str,
                  state_past: int | None, business_past: int | None, dry_run: bool) -> dict[str, Any]:
    """One escalation in its own transaction; a refusal is reported, not raised."""
    item = {"tenantId": tenant, "businessId": business_id, "businessService": esc.business_service,
            "state": esc.state, "action": esc.action, "stateSlaBreachedByMs": state_past,
            "businessSlaBreachedByMs": business_past}
    days = (state_past if esc.state_exceeded_ms is not None else business_past) or 0
    comment = (f"auto-escalated: {days / DAY_MS:.1f} days past the "
               f"{'state' if esc.state_exceeded_ms is not None else 'business'} SLA")
    try:
        with app.uow(ctx) as uow:
            pi = transition_in(uow, app, ctx, tenant_id=tenant, business_id=business_id, action=esc.action,
                               comment=comment, expected_state=esc.state)
            if not dry_run:
                uow.commit()
        item.update(result="would escalate" if dry_run else "escalated", nextState=pi["state"]["state"])
    except (InvalidInput, Forbidden) as err:
        item.update(result="refused", code=err.code, message=err.message)
    return item


def escalate(app: "App", ctx: "RequestContext", *, business_service: str | None = None,
             tenant_id: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """DIGIT's EscalationService: for each active AutoEscalation record, every business object of
    that service standing in its state past the configured breach takes the configured action,
    as the user running it, who must hold AUTO_ESCALATE at the state (DIGIT's cron calls with
    such a user); the workflow's own rules apply to each one (so the action must list
    AUTO_ESCALATE among its roles). Each one is its own transaction; a refused one is reported
    and the rest go on. `dry_run` takes every step and rolls each back."""
    state = _check_escalator(app, ctx, tenant_id)
    configs = escalations(app, state, business_service)
    now = ctx.now()
    items: list[dict[str, Any]] = []
    for esc in configs:
        if not esc.active:
            continue
        for tenant, business_id, state_past, business_past in _due(app, ctx, esc, state, tenant_id, now):
            items.append(_escalate_one(app, ctx, esc, tenant, business_id, state_past, business_past, dry_run))
    return {"dryRun": dry_run, "tenantId": tenant_id or state, "escalations": [e.as_json() for e in configs],
            "items": items}
