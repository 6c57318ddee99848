"""The employee inbox: applications whose current state the actor's roles can act on, in the
actor's jurisdictions, plus those assigned to the actor; nearest SLA deadline first (breached
ones first of all), no SLA last, then the longest waiting in their state. Counts by status as DIGIT's `_statuscount`.

A hot path (every employee opens it all day, over every application of a city), so the query is
SQLAlchemy Core over `wf_current` (indexed by tenant, business service, state) and the page alone
is decrypted and masked. The applicant is shown masked here (plain only to the applicant themselves): a list is first-level
visibility, and an inbox is read far too often to audit plain disclosures row by row; `digitctl
application show` is where a role the SecurityPolicy allows gets the plain value.

Authorization: DIGIT's inbox URL is `/inbox/v1/_search`, which pb grants only to a few roles
(TL_APPROVER, PT_FIELD_INSPECTOR, BPA/FSM roles) and which the bundled state's action subset
does not have. The inbox is built on the workflow process search, which EMPLOYEE and CITIZEN
hold, so either URL admits the actor."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, false, func, or_, select, tuple_

from digitctl.domain import workflow as wf
from digitctl.domain.tenancy import state_of
from digitctl.errors import Forbidden, InvalidInput
from digitctl.services import masking, users, workflow
from digitctl.services.access import authorize
from local_store.models import Application, EmployeeJurisdiction, UserAccount, WfAssignee, WfCurrent

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import Actor, RequestContext

INBOX_ACTION = "/inbox/v1/_search"
MAX_LIMIT = 1000

_WC = WfCurrent.__table__
_AP = Application.__table__
_WA = WfAssignee.__table__
_EJ = EmployeeJurisdiction.__table__
_UA = UserAccount.__table__


def authorize_inbox(app: "App", ctx: "RequestContext", tenant_id: str | None) -> None:
    try:
        authorize(app, ctx, INBOX_ACTION, tenant_id)
    except Forbidden as err:
        try:
            authorize(app, ctx, workflow.SEARCH_ACTION, tenant_id)
        except Forbidden:
            raise err from None


def _expand(app: "App", tenants: list[str]) -> list[str]:
    """A state-level jurisdiction covers the state and every city of its tenant master."""
    out: dict[str, None] = {}
    for t in tenants:
        out[t] = None
        if "." not in t:
            for rec in app.mdms.master(t, "tenant", "tenants"):
                code = rec.get("code") if isinstance(rec, dict) else None
                if isinstance(code, str) and state_of(code) == t:
                    out[code] = None
    return [*out]


def jurisdictions(app: "App", s: "Session", actor: "Actor") -> list[str]:
    """The employee's jurisdiction tenants (HRMS); without any, the tenants of their roles."""
    found = [t for (t,) in s.execute(select(_EJ.c.tenant_id).where(_EJ.c.user_uuid == actor.uuid)
                                     .order_by(_EJ.c.id))]
    if not found:
        found = [r.tenant_id for r in actor.roles if r.tenant_id != "*"]
    if not found and app.state_tenant:
        found = [app.state_tenant]
    return _expand(app, [*dict.fromkeys(found)])


def _roles_at(actor: "Actor", tenant_id: str) -> frozenset[str]:
    return frozenset(r.code for r in actor.roles if r.tenant_id in (tenant_id, state_of(tenant_id), "*"))


def _actionable_clause(s: "Session", actor: "Actor", tenants: list[str]) -> Any:
    """OR over (business service, version, states) of the tenants where each is actionable."""
    groups: dict[tuple[str, int, frozenset[str]], list[str]] = defaultdict(list)
    memo: dict[frozenset[str], dict[str, dict[tuple[str, int], set[str]]]] = {}
    for t in tenants:
        roles = _roles_at(actor, t)
        if not roles:
            continue
        per_role = memo.setdefault(roles, {})
        if t not in per_role:
            per_role[t] = workflow.actionable(s, [t], set(roles))
        for (code, version), states in per_role[t].items():
            groups[(code, version, frozenset(states))].append(t)
    clauses = [and_(_WC.c.tenant_id.in_(ts), _WC.c.business_service == code, _WC.c.bs_version == version,
                    _WC.c.state.in_(sorted(states)))
               for (code, version, states), ts in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1]))]
    return or_(*clauses) if clauses else false()


def _nearest_deadline() -> Any:
    sd, bd = _WC.c.state_deadline, _WC.c.business_deadline
    return case((sd.is_(None), bd), (bd.is_(None), sd), (sd < bd, sd), else_=bd)


def _sla(deadline: dt.datetime | None, now: dt.datetime) -> int | None:
    return wf.sla_left(deadline, now)


def inbox(app: "App", ctx: "RequestContext", *, business_service: str | None = None, status: str | None = None,
          locality: str | None = None, mine: bool = False, limit: int = 100, offset: int = 0,
          tenant_id: str | None = None) -> dict[str, Any]:
    """{"items": [...], "statusCount": [{"applicationStatus", "count"}], "totalCount"} for the actor."""
    if isinstance(limit, bool) or not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidInput("INVALID_LIMIT", f"--limit must be 1..{MAX_LIMIT}", {"limit": limit})
    actor = ctx.actor
    now = ctx.now()
    with app.uow(ctx, readonly=True) as uow:
        s = uow.session
        tenants = jurisdictions(app, s, actor)
        if tenant_id:
            tenants = [t for t in tenants if t == tenant_id]
        homes = [r.tenant_id for r in actor.roles if r.tenant_id != "*"]
        authorize_inbox(app, ctx, tenant_id or ctx.tenant_id or next(iter([*homes, *tenants]), None))
        # a row-value IN (not a correlated EXISTS) keeps every OR term indexable: SQLite then
        # answers with one index search per term ("MULTI-INDEX OR") instead of a table scan
        assigned: Any = tuple_(_WC.c.tenant_id, _WC.c.business_id).in_(
            select(_WA.c.tenant_id, _WA.c.business_id).where(_WA.c.user_uuid == actor.uuid))
        if tenant_id:
            assigned = and_(assigned, _WC.c.tenant_id == tenant_id)
        needs_join = bool(locality) or actor.type == "CITIZEN"
        if mine:
            where: Any = assigned
        else:
            actionable = _actionable_clause(s, actor, tenants)
            if actor.type == "CITIZEN":     # a citizen's own applications only
                actionable = and_(actionable, or_(_AP.c.applicant_uuid == actor.uuid,
                                                  _AP.c.created_by == actor.uuid))
            where = or_(actionable, assigned)
        filters = [where]
        if business_service:
            filters.append(_WC.c.business_service == business_service)
        if status:
            filters.append(or_(_WC.c.application_status == status, _WC.c.state == status))
        if locality:
            filters.append(_AP.c.locality == locality)
        source = _WC.join(_AP, and_(_AP.c.application_no == _WC.c.business_id,
                                    _AP.c.tenant_id == _WC.c.tenant_id)) if needs_join else _WC
        conn = s.connection()
        counts_q = (select(_WC.c.application_status, func.count()).select_from(source).where(*filters)
                    .group_by(_WC.c.application_status))
        counts = sorted(((st, int(n)) for st, n in conn.execute(counts_q)), key=lambda x: (-x[1], x[0] or ""))
        nearest = _nearest_deadline()
        # sort wf_current alone (no join per matching row); the page's applications come after
        page_q = (select(_WC.c.tenant_id, _WC.c.business_id, _WC.c.business_service, _WC.c.bs_version, _WC.c.state,
                         _WC.c.application_status, _WC.c.last_action, _WC.c.state_deadline, _WC.c.business_deadline,
                         _WC.c.updated_at)
                  .select_from(source).where(*filters)
                  .order_by(nearest.is_(None), nearest, _WC.c.updated_at, _WC.c.business_id)
                  .limit(int(limit)).offset(max(0, int(offset))))
        rows = conn.execute(page_q).all()
        items = _items(app, uow, rows, now)
        _mark_stale(items, uow.meta("sync_parked"))
    return {"items": items,
            "statusCount": [{"applicationStatus": st, "count": n} for st, n in counts],
            "totalCount": sum(n for _, n in counts)}


def _mark_stale(items: list[dict[str, Any]], parked_json: str | None) -> None:
    """An action this counter took on a stale copy (the hub parked it STATE_CHANGED: someone acted
    first elsewhere) marks its application: `syncConflict` (issue 12)."""
    if not parked_json or not items:
        return
    import json

    try:
        parked = json.loads(parked_json)
    except ValueError:
        return
    stale = {(str(p.get("tenantId")), str(p.get("entityId"))): p for p in parked
             if isinstance(p, dict) and p.get("code") == "STATE_CHANGED"}
    for item in items:
        hit = stale.get((str(item.get("tenantId")), str(item.get("applicationNo"))))
        if hit is not None:
            item["syncConflict"] = {"code": "STATE_CHANGED", "message": hit.get("message"), "seq": hit.get("seq")}


def _items(app: "App", uow: Any, rows: Sequence[Any], now: dt.datetime) -> list[dict[str, Any]]:
    if not rows:
        return []
    conn = uow.session.connection()
    ids = [r.business_id for r in rows]
    apps = {(a.tenant_id, a.application_no): a for a in conn.execute(
        select(_AP.c.application_no, _AP.c.tenant_id, _AP.c.applicant_name_enc, _AP.c.applicant_mobile_enc,
               _AP.c.locality, _AP.c.applicant_uuid).where(_AP.c.application_no.in_(ids)))}
    names: dict[tuple[str, str], list[str | None]] = defaultdict(list)
    for u in conn.execute(select(_WA.c.tenant_id.label("wa_tenant"), _WA.c.business_id, _UA.c.uuid, _UA.c.user_name,
                                 _UA.c.type, _UA.c.tenant_id, _UA.c.mobile_enc)
                          .join(_UA, _UA.c.uuid == _WA.c.user_uuid).where(_WA.c.business_id.in_(ids))
                          .order_by(_UA.c.user_name)):
        # a citizen's stored name is a pseudonym: shown as their mobile, masked (plain to themselves)
        names[(u.wa_tenant, u.business_id)].append(users.shown_name(uow.session, u, uow.ctx.actor.uuid, app))
    ring = app.keyring
    maskers: dict[str, tuple[masking.Masker, str | None, str | None]] = {}
    out = []
    for r in rows:
        state = state_of(r.tenant_id)
        if state not in maskers:
            m = masking.masker_for(app, r.tenant_id)
            pats = {a.get("name"): a.get("patternId") for a in m.policy_for("User").get("attributes") or []}
            maskers[state] = (m, pats.get("name") or masking.NAME, pats.get("mobileNumber") or masking.MOBILE)
        masker, name_pat, mobile_pat = maskers[state]
        a = apps.get((r.tenant_id, r.business_id))
        name = ring.decrypt(uow, a.applicant_name_enc) if a is not None and a.applicant_name_enc else None
        mobile = ring.decrypt(uow, a.applicant_mobile_enc) if a is not None and a.applicant_mobile_enc else None
        if a is None or a.applicant_uuid != uow.ctx.actor.uuid:    # a citizen sees their own name plain
            name = masker.mask(name, name_pat) if name else None
            mobile = masker.mask(mobile, mobile_pat) if mobile else None
        state_sla, business_sla = _sla(r.state_deadline, now), _sla(r.business_deadline, now)
        nearest = [v for v in (state_sla, business_sla) if v is not None]
        out.append({
            "applicationNo": r.business_id, "tenantId": r.tenant_id, "businessService": r.business_service,
            "state": r.state, "applicationStatus": r.application_status, "lastAction": r.last_action,
            "applicant": {"name": name, "mobileNumber": mobile},
            "locality": a.locality if a is not None else None, "slaLeftMs": min(nearest) if nearest else None,
            "stateSla": state_sla, "businessSla": business_sla,
            "assignees": names.get((r.tenant_id, r.business_id), []), "version": r.bs_version,
            "lastModifiedTime": int(r.updated_at.timestamp() * 1000),
        })
    return out
