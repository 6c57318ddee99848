"""Reading workflow state: a process instance as DIGIT's `process/_search` returns it, a business
object's history, the actions an actor may take now, and what the inbox counts."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from digitctl.domain import workflow as wf
from digitctl.domain.tenancy import fallback_chain, state_of
from digitctl.errors import NotFound
from digitctl.services import ownership
from digitctl.services.access import authorize
from digitctl.services.workflow_definitions import _parsed, load
from local_store.models import UserAccount, WfBusinessService, WfCurrent, WfProcessInstance

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import Actor, RequestContext

SEARCH_ACTION = "/egov-workflow-v2/egov-wf/process/_search"


# -- who may act now -----------------------------------------------------------------------------
def _roles_at(actor: "Actor", tenant_id: str) -> set[str]:
    return {r.code for r in actor.roles if r.tenant_id in (tenant_id, state_of(tenant_id), "*")}


def _is_local_system(actor: "Actor") -> bool:
    from digitctl.context import SYSTEM_ACTOR

    return actor.uuid == SYSTEM_ACTOR.uuid


def next_actions(defn: wf.Definition, state: str | None, actor: "Actor", tenant_id: str) -> list[dict[str, Any]]:
    """The actions `actor` could take now (payment actions never: the payment takes them)."""
    st = defn.state(state)
    if st is None:
        return []
    roles = _roles_at(actor, tenant_id)
    out = []
    for a in st.actions:
        if wf.is_payment_action(a):
            continue
        if _is_local_system(actor) or wf.roles_allow(defn.roles_needed(st, a), roles):
            out.append({"action": a.action, "nextState": a.next_state, "roles": list(a.roles)})
    return out


# -- reading -------------------------------------------------------------------------------------
def _user_brief(s: "Session", user_uuid: str, viewer: "Actor | None" = None) -> dict[str, Any]:
    from digitctl.services.users import shown_name

    u = s.get(UserAccount, user_uuid)
    # a citizen's stored name is a pseudonym: shown as their mobile, masked (plain to themselves)
    return {"uuid": user_uuid, "userName": shown_name(s, u, viewer.uuid if viewer else None),
            "type": u.type if u else "SYSTEM"}


def instance_json(s: "Session", row: WfProcessInstance, defn: wf.Definition, viewer: "Actor",
                  now: Any, *, latest: bool = True) -> dict[str, Any]:
    """DIGIT's ProcessInstance (its spellings: `assignes`, `businesssServiceSla`)."""
    st = defn.state(row.state)
    out: dict[str, Any] = {
        "id": row.id, "tenantId": row.tenant_id, "businessService": row.business_service,
        "businessId": row.business_id, "action": row.action, "moduleName": row.module_name,
        "state": {"state": row.state, "applicationStatus": row.application_status,
                  "isStateUpdatable": st.is_updatable if st else None,
                  "isTerminateState": st.is_terminate if st else None,
                  "docUploadRequired": st.doc_upload_required if st else None, "sla": row.state_sla_ms},
        "comment": row.comment, "documents": row.documents or [],
        "assigner": _user_brief(s, row.assigner_uuid, viewer),
        "assignes": [_user_brief(s, u, viewer) for u in row.assignees or []],
        "auditDetails": {"createdBy": row.assigner_uuid, "createdTime": int(row.created_at.timestamp() * 1000),
                         "lastModifiedBy": row.assigner_uuid,
                         "lastModifiedTime": int(row.created_at.timestamp() * 1000)},
        "fromState": row.from_state, "previousStatus": row.from_state, "version": row.bs_version,
    }
    if latest:
        out["nextActions"] = next_actions(defn, row.state, viewer, row.tenant_id)
        out["stateSla"] = wf.sla_left(wf.deadline(row.created_at, row.state_sla_ms), now)
        out["businesssServiceSla"] = wf.sla_left(wf.deadline(row.business_started_at, row.business_sla_ms), now)
    return out


def history(app: "App", ctx: "RequestContext", tenant_id: str, business_id: str, *,
            newest_first: bool = False) -> list[dict[str, Any]]:
    """Every process instance of a business id, oldest first; newest_first gives DIGIT's
    `_search?history=true` order (lastModifiedTime DESC)."""
    authorize(app, ctx, SEARCH_ACTION, tenant_id)
    now = ctx.now()
    with app.uow(ctx, readonly=True) as uow:
        s = uow.session
        ownership.check_application(s, ctx, tenant_id, business_id)
        rows = list(s.execute(select(WfProcessInstance).where(
            WfProcessInstance.tenant_id == tenant_id, WfProcessInstance.business_id == business_id)
            .order_by(WfProcessInstance.seq_no)).scalars())
        if not rows:
            raise NotFound("BUSINESSID_NOT_FOUND", f"no workflow history for {business_id} at {tenant_id}",
                           {"businessId": business_id, "tenantId": tenant_id})
        out = []
        for i, r in enumerate(rows):
            _, defn = load(app, s, tenant_id, r.business_service, r.bs_version)
            latest = i == len(rows) - 1
            doc = instance_json(s, r, defn, ctx.actor, now, latest=latest)
            if not latest:
                doc["timeInStateMs"] = int((rows[i + 1].created_at - r.created_at).total_seconds() * 1000)
            out.append(doc)
        return out[::-1] if newest_first else out


def current_state(s: "Session", tenant_id: str, business_id: str) -> WfCurrent | None:
    return s.get(WfCurrent, (tenant_id, business_id))


def actionable(s: "Session", tenant_ids: list[str], roles: set[str]) -> dict[tuple[str, int], set[str]]:
    """(business service, version) -> states where `roles` have an action, for the inbox."""
    out: dict[tuple[str, int], set[str]] = {}
    rows = s.execute(select(WfBusinessService).where(WfBusinessService.tenant_id.in_(
        sorted({t for x in tenant_ids for t in fallback_chain(x)})))).scalars()
    for r in rows:
        states = {st for st in _parsed(r).actionable_states(roles) if st is not None}
        if states:
            out.setdefault((r.code, r.version), set()).update(states)
    return out


def count_by_status(s: "Session", tenant_id: str, business_service: str | None = None) -> dict[str, int]:
    q = select(WfCurrent.application_status, func.count()).where(WfCurrent.tenant_id == tenant_id)
    if business_service:
        q = q.where(WfCurrent.business_service == business_service)
    return {str(k): int(v) for k, v in s.execute(q.group_by(WfCurrent.application_status))}

