"""Workflow v2: load DIGIT BusinessService definitions as they are (versioned), move business
objects through them with DIGIT's rules, and keep the history and SLAs.

Every transition inserts a process-instance row numbered per business object; the unique
(tenant, business id, seq_no) makes two concurrent transitions on the same state impossible:
the loser gets STATE_CHANGED ("reload"). Modules hook into "entering a state" (billing raises a
demand when NewTL enters PENDINGPAYMENT) through `on_enter`, and are asked before every
transition through `guard` (a guard may refuse: billing refuses PAY while a demand is unpaid).

Who may act (WorkflowValidator): a state-changing action needs one of its roles, one that keeps
the state any role of the service, "*" any role; a citizen acts only on what is theirs and, when
citizens are assigned, only as one of them. Stricter than DIGIT: a payment action (PAY, or any
action SYSTEM_PAYMENT may take) is taken only by the payment itself (`by_payment`), never through
`workflow transition`, whatever roles the definition gives it."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from digitctl.domain import safetext
from digitctl.domain import workflow as wf
from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.mdms import as_bool
from digitctl.domain.money import json_number
from digitctl.domain.tenancy import fallback_chain, state_of
from digitctl.errors import Conflict, Forbidden, InvalidInput, NotFound
from digitctl.services import ownership
from digitctl.services.access import authorize
from local_store.models import (Application, FileStoreObject, UserAccount, UserRole, WfAssignee,
                                WfBusinessService, WfCurrent, WfProcessInstance)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.bootstrap import App
    from digitctl.context import Actor, RequestContext
    from local_store.uow import UnitOfWork

CREATE_ACTION = "/egov-workflow-v2/egov-wf/businessservice/_create"
SEARCH_DEFINITION_ACTION = "/egov-workflow-v2/egov-wf/businessservice/_search"
TRANSITION_ACTION = "/egov-workflow-v2/egov-wf/process/_transition"
SEARCH_ACTION = "/egov-workflow-v2/egov-wf/process/_search"
SEND_BACK_TO_CITIZEN = ("SENDBACKTOCITIZEN", "SEND_BACK_TO_CITIZEN")
PAYMENT_ROLE = "SYSTEM_PAYMENT"
PAYMENT_ACTIONS = frozenset({"PAY"})
AUTO_ESCALATE_ROLE = "AUTO_ESCALATE"
ALL_SERVICES = "*"
UNSET: Any = object()

Hook = Callable[["UnitOfWork", "App", "RequestContext", dict[str, Any]], None]
_HOOKS: dict[tuple[str, str], list[Hook]] = {}
_GUARDS: dict[str, list[Hook]] = {}


def on_enter(business_service: str, state: str, hook: Hook) -> None:
    """Run `hook(uow, app, ctx, processInstance)` inside the transition's own unit of work
    whenever `business_service` enters `state`."""
    _HOOKS.setdefault((business_service, state), []).append(hook)


def guard(business_service: str, hook: Hook) -> None:
    """Ask `hook(uow, app, ctx, step)` before every transition of `business_service` ("*": of
    every service), after the workflow's own checks and before anything is written; the hook
    refuses by raising a DigitError. `step`: tenantId, businessId, businessService, action,
    fromState, toState, fromStatus, toStatus, isStateChanging, isPaymentAction, byPayment.
    Registering the same hook twice is a no-op (modules may be reloaded)."""
    hooks = _GUARDS.setdefault(business_service, [])
    if hook not in hooks:
        hooks.append(hook)


def is_payment_action(action: wf.Action) -> bool:
    """An action a payment takes: PAY, or one the definition gives to SYSTEM_PAYMENT."""
    return action.action in PAYMENT_ACTIONS or PAYMENT_ROLE in action.roles


# -- definitions ---------------------------------------------------------------------------------
def read_files(paths: list[Path]) -> list[tuple[dict[str, Any], str]]:
    """BusinessService dicts from files: `{"BusinessServices": [...]}` (bare, or a whole _create
    request with RequestInfo), a single BusinessService object, or a list; JSON or YAML."""
    out: list[tuple[dict[str, Any], str]] = []
    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise InvalidInput("WORKFLOW_PATH_NOT_FOUND", f"no such file or folder: {p}", {"path": str(p)})
        files += sorted(x for x in p.rglob("*") if x.suffix in (".json", ".yaml", ".yml")) if p.is_dir() else [p]
    for f in files:
        text = f.read_text(encoding="utf-8-sig")
        try:
            if f.suffix in (".yaml", ".yml"):
                import yaml

                doc = yaml.safe_load(text)
            else:
                doc = json.loads(text)
        except Exception as err:
            raise InvalidInput("WORKFLOW_INVALID_FILE", f"{f}: not valid {f.suffix[1:].upper()}: {err}",
                               {"file": str(f)}) from None
        items = doc.get("BusinessServices") if isinstance(doc, dict) and "BusinessServices" in doc else doc
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidInput("WORKFLOW_INVALID_FILE", f"{f}: no BusinessServices in it", {"file": str(f)})
        out += [(i, str(f)) for i in items]
    return out


@dataclass
class ApplyReport:
    dry_run: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "businessServices": self.rows, "warnings": self.warnings}


def _known_roles(app: "App", tenant: str) -> set[str] | None:
    roles = {r.get("code") for r in app.mdms.master(state_of(tenant), "ACCESSCONTROL-ROLES", "roles")
             if isinstance(r, dict)}
    return {r for r in roles if r} or None


def retarget(doc: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """The same definition at another tenant (e.g. the real NewTL, written for pb.amritsar,
    at the state pb so that every city uses it)."""
    out: dict[str, Any] = json.loads(json.dumps(doc))
    out["tenantId"] = tenant_id
    for st in out.get("states") or []:
        st["tenantId"] = tenant_id
        for a in st.get("actions") or []:
            a["tenantId"] = tenant_id
    return out


def apply(app: "App", ctx: "RequestContext", paths: list[Path], *, dry_run: bool = False,
          tenant_id: str | None = None) -> ApplyReport:
    """Load definitions; any invalid one refuses the whole apply with the reasons (nothing written).
    `tenant_id` re-targets every definition to that tenant."""
    found = read_files(paths)
    if tenant_id:
        found = [(retarget(doc, tenant_id), f) for doc, f in found]
    report = ApplyReport(dry_run)
    problems: list[str] = []
    parsed = []
    for doc, f in found:
        defn = wf.parse(doc)
        errors, warnings = wf.check(defn, _known_roles(app, defn.tenant_id))
        used_at = definition_tenant(app, defn.tenant_id, defn.code)
        if used_at != defn.tenant_id:
            warnings = [*warnings, f"Workflow.BusinessServiceMasterConfig makes {defn.code} state-level: DIGIT "
                        f"uses the definition at {used_at} in every city, never this one at {defn.tenant_id} "
                        f"(apply it with --tenant {used_at})"]
        problems += [f"{defn.code} ({f}): {e}" for e in errors]
        report.warnings += [f"{defn.code}: {w}" for w in warnings]
        parsed.append((defn, doc, f))
    if problems:
        raise InvalidInput("WORKFLOW_INVALID", "; ".join(problems[:5]) + ("" if len(problems) <= 5 else " ..."),
                           {"problems": problems})
    with app.uow(ctx) as uow:
        s = uow.session
        for defn, doc, f in parsed:
            authorize(app, ctx, CREATE_ACTION, defn.tenant_id)
            clean = {k: v for k, v in doc.items() if k not in ("auditDetails",)}
            h = content_hash(clean)
            cur = s.execute(select(WfBusinessService).where(
                WfBusinessService.tenant_id == defn.tenant_id, WfBusinessService.code == defn.code,
                WfBusinessService.is_current.is_(True))).scalar_one_or_none()
            if cur is not None and cur.definition_hash == h:
                report.rows.append({"businessService": defn.code, "tenantId": defn.tenant_id,
                                    "version": cur.version, "status": "unchanged", "file": f})
                continue
            version = (cur.version + 1) if cur else 1
            if cur is not None:
                cur.is_current = False
            s.add(WfBusinessService(tenant_id=defn.tenant_id, code=defn.code, business=defn.business,
                                    version=version, sla_ms=defn.sla_ms, definition=clean, definition_hash=h,
                                    is_current=True, created_at=ctx.now()))
            uow.record(Event("workflow.businessservice.upserted", defn.tenant_id, "BusinessService",
                             f"{defn.tenant_id}:{defn.code}", CREATE_ACTION, {"BusinessServices": [clean]},
                             before={"version": cur.version} if cur else None, after={"version": version}))
            report.rows.append({"businessService": defn.code, "tenantId": defn.tenant_id, "version": version,
                                "status": "added" if cur is None else "new version", "file": f})
        if not dry_run:
            uow.commit()
    return report


_PARSED: dict[str, wf.Definition] = {}


def _parsed(row: WfBusinessService) -> wf.Definition:
    # keyed by content, not row id: one process may hold several stores (tests, the hub)
    d = _PARSED.get(row.definition_hash)
    if d is None:
        d = _PARSED[row.definition_hash] = wf.parse(row.definition)
    return d


def definition_tenant(app: "App", tenant_id: str, code: str, conn: Any = None) -> str:
    """Where DIGIT's egov-workflow-v2 keeps the definition of `code` used at `tenant_id`
    (BusinessServiceRepository.getBusinessServices): at the state unless the state's
    `Workflow.BusinessServiceMasterConfig` says `isStatelevel` false for it (a service it does not
    name is state-level); then at the tenant itself. No fallback either way."""
    for rec in app.mdms.at_state(tenant_id, "Workflow", "BusinessServiceMasterConfig", conn):
        if isinstance(rec, dict) and rec.get("businessService") == code:
            if not as_bool(rec.get("isStatelevel", True)):
                return tenant_id
            break
    return state_of(tenant_id)


def load(app: "App", s: "Session", tenant_id: str, code: str,
         version: int | None = None) -> tuple[WfBusinessService, wf.Definition]:
    """The definition used at a tenant (see `definition_tenant`); the current version unless asked."""
    at = definition_tenant(app, tenant_id, code, s.connection())
    q = select(WfBusinessService).where(WfBusinessService.tenant_id == at, WfBusinessService.code == code)
    q = q.where(WfBusinessService.version == version) if version is not None else \
        q.where(WfBusinessService.is_current.is_(True))
    row = s.execute(q).scalar_one_or_none()
    if row is not None:
        return row, _parsed(row)
    where = "the state" if at != tenant_id else tenant_id
    raise NotFound("BUSINESSSERVICE_NOT_FOUND",
                   f"no workflow {code!r} for {tenant_id}: DIGIT looks it up at {where} ({at}) as "
                   "Workflow.BusinessServiceMasterConfig says; load it there with "
                   f"`digitctl workflow apply FILE --tenant {at}`",
                   {"businessService": code, "tenantId": tenant_id, "definitionTenant": at})


def list_definitions(app: "App", ctx: "RequestContext", tenant_id: str | None = None) -> list[dict[str, Any]]:
    authorize(app, ctx, SEARCH_DEFINITION_ACTION, tenant_id)
    with app.uow(ctx, readonly=True) as uow:
        q = select(WfBusinessService).where(WfBusinessService.is_current.is_(True))
        if tenant_id:
            q = q.where(WfBusinessService.tenant_id.in_(fallback_chain(tenant_id)))
        rows = uow.session.execute(q.order_by(WfBusinessService.code, WfBusinessService.tenant_id)).scalars()
        return [{"businessService": r.code, "tenantId": r.tenant_id, "business": r.business, "version": r.version,
                 "states": len(_parsed(r).states), "businessServiceSla": r.sla_ms} for r in rows]


def get_definition(app: "App", ctx: "RequestContext", code: str, tenant_id: str) -> tuple[dict[str, Any], wf.Definition]:
    """(DIGIT's BusinessService as `businessservice/_search` returns it, the parsed definition)."""
    authorize(app, ctx, SEARCH_DEFINITION_ACTION, tenant_id)
    with app.uow(ctx, readonly=True) as uow:
        row, defn = load(app, uow.session, tenant_id, code)
        return business_service_json(row), defn


_UUID_NAMESPACE = uuid.UUID("6f1c4f3e-52d1-4d0e-9a53-0c6b7e2f4a10")     # digitctl's workflow uuids


def _stable_uuid(*parts: Any) -> str:
    return str(uuid.uuid5(_UUID_NAMESPACE, "|".join("" if p is None else str(p) for p in parts)))


def business_service_json(row: WfBusinessService) -> dict[str, Any]:
    """A stored definition as egov-workflow-v2 returns it from `_search`: uuids on the service,
    its states and actions (EnrichmentService gives them on create and keeps them on update; a
    file that carries them keeps them), each action's `currentState` and `nextState` as STATE
    uuids (as DIGIT stores them), tenantId on every part. Uuids digitctl gives are derived from
    tenant, business service and names, so they stay the same across versions and reads."""
    raw = row.definition
    tenant, code = row.tenant_id, row.code
    bs_uuid = raw.get("uuid") or _stable_uuid(tenant, code)
    created = int(row.created_at.timestamp() * 1000)
    audit = {"createdBy": None, "createdTime": created, "lastModifiedBy": None, "lastModifiedTime": created}
    state_uuid = {s.get("state"): s.get("uuid") or _stable_uuid(tenant, code, "state", s.get("state"))
                  for s in raw.get("states") or []}
    states = []
    for s in raw.get("states") or []:
        sid = state_uuid[s.get("state")]
        actions = [{**a, "uuid": a.get("uuid") or _stable_uuid(tenant, code, "action", s.get("state"), a.get("action")),
                    "tenantId": tenant, "currentState": sid,
                    "nextState": state_uuid.get(a.get("nextState"), a.get("nextState")),
                    "active": a.get("active", True), "auditDetails": audit}
                   for a in s.get("actions") or []]
        states.append({**s, "uuid": sid, "tenantId": tenant, "businessServiceId": bs_uuid,
                       "actions": actions or s.get("actions"), "auditDetails": audit})
    return {**raw, "uuid": bs_uuid, "tenantId": tenant, "businessService": code, "version": row.version,
            "states": states, "auditDetails": audit}


# -- transitions ---------------------------------------------------------------------------------
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
        if is_payment_action(a):
            continue
        if _is_local_system(actor) or wf.roles_allow(defn.roles_needed(st, a), roles):
            out.append({"action": a.action, "nextState": a.next_state, "roles": list(a.roles)})
    return out


def _user_roles(s: "Session", user_uuid: str, tenant_id: str) -> tuple[UserAccount | None, set[str]]:
    user = s.get(UserAccount, user_uuid)
    if user is None:
        return None, set()
    roles = {r for (r,) in s.execute(select(UserRole.code).where(
        UserRole.user_uuid == user_uuid, UserRole.tenant_id.in_([tenant_id, state_of(tenant_id)])))}
    return user, roles


def _citizen_owns(s: "Session", actor: "Actor", tenant_id: str, business_id: str, cur: WfCurrent | None) -> bool:
    """A citizen's own: an application they applied for or made; a bare business object they
    started (DIGIT's modules search a citizen's own records only)."""
    appl = s.get(Application, business_id)
    if appl is not None and appl.tenant_id == tenant_id:
        return actor.uuid in (appl.applicant_uuid, appl.created_by)
    if cur is None:
        return True                       # starting a new one: it becomes theirs
    starter = s.execute(select(WfProcessInstance.assigner_uuid).where(
        WfProcessInstance.tenant_id == tenant_id, WfProcessInstance.business_id == business_id,
        WfProcessInstance.seq_no == 1)).scalar()
    return starter == actor.uuid


def transition_in(uow: "UnitOfWork", app: "App", ctx: "RequestContext", *, tenant_id: str, business_id: str,
                  action: str, business_service: str | None = None, comment: str | None = None,
                  assignees: list[str] | None = None, documents: list[dict[str, Any]] | None = None,
                  expected_state: Any = UNSET, module_name: str | None = None,
                  by_payment: bool = False) -> dict[str, Any]:
    """One transition inside the caller's unit of work (no access check of its own beyond the
    workflow's role rules: the caller's operation was authorized). `by_payment` only from the
    payment's own unit of work (applications.pay_in): it alone may take a payment action."""
    safetext.check_text(comment, "comment", max_length=safetext.COMMENT_MAX, allow_lines=True)
    s = uow.session
    now = ctx.now()
    actor = ctx.actor
    cur = s.get(WfCurrent, (tenant_id, business_id))
    if cur is None:
        if not business_service:
            raise NotFound("BUSINESSID_NOT_FOUND", f"{business_id} has no workflow yet at {tenant_id}; "
                           "give --service for its first transition", {"businessId": business_id})
        row, defn = load(app, s, tenant_id, business_service)
        current_name, seq_no, started = wf.START, 0, now
        last_action = None
    else:
        if business_service and business_service != cur.business_service:
            raise InvalidInput("BUSINESSSERVICE_MISMATCH", f"{business_id} runs on {cur.business_service}, "
                               f"not {business_service}", {"businessId": business_id})
        row, defn = load(app, s, tenant_id, cur.business_service, cur.bs_version)
        current_name, seq_no, last_action = cur.state, cur.seq_no, cur.last_action
        first = s.execute(select(WfProcessInstance.business_started_at).where(
            WfProcessInstance.tenant_id == tenant_id, WfProcessInstance.business_id == business_id,
            WfProcessInstance.seq_no == cur.seq_no)).scalar_one()
        started = first
    if actor.type == "CITIZEN" and not _citizen_owns(s, actor, tenant_id, business_id, cur):
        # not theirs: as if it did not exist (nothing about its state is told)
        if s.get(Application, business_id) is not None:
            raise NotFound("APPLICATION_NOT_FOUND", f"no application {business_id}", {"applicationNo": business_id})
        raise NotFound("BUSINESSID_NOT_FOUND", f"{business_id} has no workflow at {tenant_id}",
                       {"businessId": business_id})
    if expected_state is not UNSET and expected_state != current_name:
        raise Conflict("STATE_CHANGED", f"{business_id} is now in {current_name or 'the start state'}, not "
                       f"{expected_state}: someone acted first; reload and try again",
                       {"businessId": business_id, "state": current_name, "expected": expected_state})
    state = defn.state(current_name)
    assert state is not None
    act = state.action(action)
    if act is None:
        valid = ", ".join(a.action for a in state.actions) or "none"
        raise InvalidInput("INVALID_ACTION", f"{action} is not an action of state {current_name or '(start)'} in "
                           f"{defn.code} (valid: {valid})", {"businessId": business_id, "state": current_name,
                                                               "action": action})
    payment_action = is_payment_action(act)
    if payment_action and not by_payment:
        raise Forbidden("ACTION_BY_PAYMENT_ONLY", f"{action} is taken by the system when the bill of {business_id} "
                        "is paid in full (digitctl bill fetch, then digitctl pay); nobody takes it by hand",
                        {"businessId": business_id, "action": action})
    roles = _roles_at(actor, tenant_id)
    changing = wf.is_state_changing(state, act)
    needed = defn.roles_needed(state, act)
    if not _is_local_system(actor) and not wf.roles_allow(needed, roles):
        raise Forbidden("INVALID_ROLE_FOR_ACTION", f"{actor.user_name} cannot {action} in {current_name or '(start)'}: "
                        f"needs one of {', '.join(sorted(needed))} at {tenant_id}",
                        {"businessId": business_id, "action": action, "rolesNeeded": sorted(needed)})
    if actor.type == "CITIZEN" and cur is not None:
        # WorkflowValidator: sent back to a citizen, or assigned to citizens, only those act
        citizen_assignees = {u for (u,) in s.execute(select(WfAssignee.user_uuid).join(
            UserAccount, UserAccount.uuid == WfAssignee.user_uuid).where(
            WfAssignee.tenant_id == tenant_id, WfAssignee.business_id == business_id,
            UserAccount.type == "CITIZEN"))}
        if (last_action in SEND_BACK_TO_CITIZEN or citizen_assignees) and actor.uuid not in citizen_assignees:
            raise Forbidden("NOT_ASSIGNEE", "this application is assigned to another citizen (its applicant); "
                            "only they may act on it", {"businessId": business_id})
    nxt = defn.state(act.next_state)
    assert nxt is not None
    docs = list(documents or [])
    if nxt.doc_upload_required and not docs:
        raise InvalidInput("DOCUMENTS_REQUIRED", f"entering {nxt.name} needs documents (--document FILE)",
                           {"businessId": business_id, "state": nxt.name})
    for d in docs:
        fid = d.get("fileStoreId")
        obj = s.get(FileStoreObject, fid) if isinstance(fid, str) else None
        if obj is None or obj.tenant_id not in fallback_chain(tenant_id):
            raise InvalidInput("INVALID_DOCUMENT", f"document {fid!r} is not in the file store of {tenant_id}",
                               {"fileStoreId": fid})
    if action in SEND_BACK_TO_CITIZEN:
        # sent back to the applicant: the citizen behind the application becomes the assignee
        appl_ = s.get(Application, business_id)
        if appl_ is not None and appl_.tenant_id == tenant_id and appl_.applicant_uuid \
                and appl_.applicant_uuid not in (assignees or []):
            assignees = [appl_.applicant_uuid, *(assignees or [])]
    assignee_rows = []
    next_roles = defn.next_state_roles(nxt)
    for u in dict.fromkeys(assignees or []):
        user, uroles = _user_roles(s, u, tenant_id)
        if user is None:
            raise InvalidInput("INVALID_ASSIGNEE", f"no user {u}", {"assignee": u})
        # WorkflowValidator: on a state-changing action the assignee must be able to move the
        # application on from the next state; an action that keeps the state checks no roles
        if changing and not wf.roles_allow(next_roles, uroles):
            raise InvalidInput("INVALID_ASSIGNEE", f"{user.user_name} cannot act in {nxt.name} (needs one of "
                               f"{', '.join(sorted(next_roles)) or 'no role: nothing leaves that state'})",
                               {"assignee": user.user_name, "state": nxt.name})
        assignee_rows.append(user)
    step = {"tenantId": tenant_id, "businessId": business_id, "businessService": defn.code, "action": action,
            "fromState": current_name, "toState": nxt.name, "fromStatus": cur.application_status if cur else None,
            "toStatus": nxt.application_status, "isStateChanging": changing, "isPaymentAction": payment_action,
            "byPayment": by_payment}
    for hook in [*_GUARDS.get(defn.code, []), *_GUARDS.get(ALL_SERVICES, [])]:
        hook(uow, app, ctx, step)
    pi_id = str(uuid.uuid4())
    business_deadline = _deadline(started, defn.sla_ms)
    if changing or cur is None:
        state_sla_ms, state_deadline = nxt.sla_ms, _deadline(now, nxt.sla_ms)
    else:
        # EnrichmentService: an action that keeps the state keeps its deadline (the instance
        # stores what is left of the state's SLA, negative once breached)
        state_deadline = cur.state_deadline
        state_sla_ms = int((state_deadline - now).total_seconds() * 1000) if state_deadline is not None else None
    s.add(WfProcessInstance(
        id=pi_id, tenant_id=tenant_id, business_service=defn.code, bs_version=row.version,
        module_name=module_name or defn.business, business_id=business_id, seq_no=seq_no + 1, action=action,
        from_state=current_name, state=str(nxt.name), application_status=nxt.application_status, comment=comment,
        assigner_uuid=actor.uuid, assignees=[u.uuid for u in assignee_rows], documents=docs or None,
        state_sla_ms=state_sla_ms, business_sla_ms=defn.sla_ms, business_started_at=started, created_at=now))
    try:
        s.flush()
    except IntegrityError:
        raise Conflict("STATE_CHANGED", f"{business_id} was changed by someone else meanwhile; reload and try again",
                       {"businessId": business_id}) from None
    values = dict(business_service=defn.code, bs_version=row.version, state=str(nxt.name),
                  application_status=nxt.application_status, last_action=action, seq_no=seq_no + 1,
                  is_terminal=nxt.is_terminate, state_deadline=state_deadline, business_deadline=business_deadline,
                  updated_at=now)
    if cur is None:
        s.add(WfCurrent(tenant_id=tenant_id, business_id=business_id, **values))
    else:
        for k, v in values.items():
            setattr(cur, k, v)
    s.execute(delete(WfAssignee).where(WfAssignee.tenant_id == tenant_id, WfAssignee.business_id == business_id))
    for assignee in assignee_rows:
        s.add(WfAssignee(tenant_id=tenant_id, business_id=business_id, user_uuid=assignee.uuid))
    appl = s.get(Application, business_id)
    if appl is not None and appl.tenant_id == tenant_id:
        appl.application_status = nxt.application_status
        appl.updated_at = now
    s.flush()
    pi = instance_json(s, s.get_one(WfProcessInstance, pi_id), defn, actor, now)
    uow.record(Event("workflow.transitioned", tenant_id, "ProcessInstance", business_id, TRANSITION_ACTION,
                     {"ProcessInstances": [pi]}, before={"state": current_name},
                     after={"state": nxt.name, "action": action, "comment": comment}))
    for hook in _HOOKS.get((defn.code, str(nxt.name)), []):
        hook(uow, app, ctx, pi)
    return pi


def _deadline(start: Any, sla_ms: int | None) -> Any:
    import datetime as dt

    return start + dt.timedelta(milliseconds=sla_ms) if sla_ms is not None else None


def transition(app: "App", ctx: "RequestContext", *, tenant_id: str, business_id: str, action: str,
               **kw: Any) -> dict[str, Any]:
    authorize(app, ctx, TRANSITION_ACTION, tenant_id)
    with app.uow(ctx) as uow:
        pi = transition_in(uow, app, ctx, tenant_id=tenant_id, business_id=business_id, action=action, **kw)
        uow.commit()
    return pi


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
        out["stateSla"] = wf.sla_left(_deadline(row.created_at, row.state_sla_ms), now)
        out["businesssServiceSla"] = wf.sla_left(_deadline(row.business_started_at, row.business_sla_ms), now)
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


# -- auto-escalation -------------------------------------------------------------------------------
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Escalation:
    """One `Workflow.AutoEscalation` record: take `action` on what stands in `state` longer than
    its SLA plus `stateSLA` days (and/or the business SLA plus `businessSLA` days)."""

    business_service: str
    module: str | None
    state: str
    action: str
    state_exceeded_ms: int | None
    business_exceeded_ms: int | None
    active: bool

    def as_json(self) -> dict[str, Any]:
        return {"businessService": self.business_service, "module": self.module, "state": self.state,
                "action": self.action, "stateSlaExceededBy": self.state_exceeded_ms,
                "businessSlaExceededBy": self.business_exceeded_ms, "active": self.active}


def _days_to_ms(value: Any, where: str) -> int | None:
    """EscalationUtil.daysToMillisecond: days (a number, fractions allowed) to milliseconds."""
    if value is None or value == "":
        return None
    try:
        days = json_number(value)          # MDMS JSON: an int, a float as read from the store, or a str
    except ValueError:
        raise InvalidInput("INVALID_CONFIG", f"Workflow.AutoEscalation {where}: {value!r} is not a number of days",
                           {"value": str(value)}) from None
    if not days.is_finite() or days < 0:
        raise InvalidInput("INVALID_CONFIG", f"Workflow.AutoEscalation {where}: {value!r} is not a number of days",
                           {"value": str(value)})
    return int(days * DAY_MS)


def escalations(app: "App", tenant_id: str, business_service: str | None = None) -> list[Escalation]:
    """The AutoEscalation records (read at the state, where DIGIT's cron reads them), of one
    business service or all. A record with neither SLA is INVALID_CONFIG, as in DIGIT."""
    out = []
    for rec in app.mdms.master(state_of(tenant_id), "Workflow", "AutoEscalation"):
        if not isinstance(rec, dict) or not rec.get("businessService") or not rec.get("state") or not rec.get("action"):
            continue
        if business_service and str(rec["businessService"]).lower() != business_service.lower():
            continue
        where = f"{rec['businessService']}/{rec['state']}/{rec['action']}"
        esc = Escalation(str(rec["businessService"]), rec.get("module"), str(rec["state"]), str(rec["action"]),
                         _days_to_ms(rec.get("stateSLA"), where + " stateSLA"),
                         _days_to_ms(rec.get("businessSLA"), where + " businessSLA"),
                         str(rec.get("active", True)).strip().lower() != "false")
        if esc.state_exceeded_ms is None and esc.business_exceeded_ms is None:
            raise InvalidInput("INVALID_CONFIG", f"Both stateSLA and businessSLA are null for config with state: "
                               f"{esc.state} and action: {esc.action}", {"businessService": esc.business_service})
        out.append(esc)
    return out


def _overdue(cur: WfCurrent, esc: Escalation, now: Any) -> tuple[bool, int | None, int | None]:
    """EscalationQueryBuilder: now - (time of the last action + SLA left then) > exceededBy, for
    the state SLA and the business SLA each configured (a state without an SLA never is)."""
    def past(deadline: Any) -> int | None:
        return int((now - deadline).total_seconds() * 1000) if deadline is not None else None

    state_past, business_past = past(cur.state_deadline), past(cur.business_deadline)
    ok = True
    if esc.state_exceeded_ms is not None:
        ok = ok and state_past is not None and state_past > esc.state_exceeded_ms
    if esc.business_exceeded_ms is not None:
        ok = ok and business_past is not None and business_past > esc.business_exceeded_ms
    return ok, state_past, business_past


def escalate(app: "App", ctx: "RequestContext", *, business_service: str | None = None,
             tenant_id: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """DIGIT's EscalationService: for each active AutoEscalation record, every business object of
    that service standing in its state past the configured breach takes the configured action,
    as the user running it, who must hold AUTO_ESCALATE at the state (DIGIT's cron calls with
    such a user); the workflow's own rules apply to each one (so the action must list
    AUTO_ESCALATE among its roles). Each one is its own transaction; a refused one is reported
    and the rest go on. `dry_run` takes every step and rolls each back."""
    state = state_of(tenant_id or ctx.tenant_id or app.state_tenant or "")
    if not state:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb)")
    actor = ctx.actor
    if not _is_local_system(actor) and not any(
            r.code == AUTO_ESCALATE_ROLE and r.tenant_id in (state, "*") for r in actor.roles):
        raise Forbidden("AUTO_ESCALATE_ROLE_REQUIRED", f"{actor.user_name} does not hold {AUTO_ESCALATE_ROLE}@{state}: "
                        "only such a user runs auto-escalation (as DIGIT's escalation cron does)",
                        {"user": actor.user_name, "role": AUTO_ESCALATE_ROLE, "tenantId": state})
    configs = escalations(app, state, business_service)
    now = ctx.now()
    items: list[dict[str, Any]] = []
    for esc in configs:
        if not esc.active:
            continue
        with app.uow(ctx, readonly=True) as uow:
            q = select(WfCurrent).where(WfCurrent.business_service == esc.business_service,
                                        WfCurrent.state == esc.state)
            q = q.where(WfCurrent.tenant_id == tenant_id) if tenant_id and tenant_id != state else \
                q.where((WfCurrent.tenant_id == state) | WfCurrent.tenant_id.startswith(state + "."))
            due = []
            for cur in uow.session.execute(q.order_by(WfCurrent.tenant_id, WfCurrent.business_id)).scalars():
                ok, state_past, business_past = _overdue(cur, esc, now)
                if ok:
                    due.append((cur.tenant_id, cur.business_id, state_past, business_past))
        for tenant, business_id, state_past, business_past in due:
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
            items.append(item)
    return {"dryRun": dry_run, "tenantId": tenant_id or state, "escalations": [e.as_json() for e in configs],
            "items": items}
