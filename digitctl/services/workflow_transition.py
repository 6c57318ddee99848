"""Moving a business object through its workflow: one transition, in named steps (find where it
stands, check the action and who takes it, check documents and assignees, ask the guards, write),
and the registry through which modules hook into it (`on_enter`, `guard`).

Every transition inserts a process-instance row numbered per business object; the unique
(tenant, business id, seq_no) makes two concurrent transitions on the same state impossible:
the loser gets STATE_CHANGED ("reload")."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from digitctl.domain import safetext
from digitctl.domain import workflow as wf
from digitctl.domain.events import Event
from digitctl.domain.tenancy import fallback_chain, state_of
from digitctl.errors import Conflict, Forbidden, InvalidInput, NotFound
from digitctl.services.access import authorize
from digitctl.services.workflow_definitions import load
from digitctl.services.workflow_history import _is_local_system, _roles_at, instance_json
from local_store.models import (Application, FileStoreObject, UserAccount, UserRole, WfAssignee,
                                WfBusinessService, WfCurrent, WfProcessInstance)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import Actor, RequestContext
    from local_store.uow import UnitOfWork

TRANSITION_ACTION = "/egov-workflow-v2/egov-wf/process/_transition"
SEND_BACK_TO_CITIZEN = wf.SEND_BACK_TO_CITIZEN
PAYMENT_ROLE = wf.PAYMENT_ROLE
PAYMENT_ACTIONS = wf.PAYMENT_ACTIONS
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


is_payment_action = wf.is_payment_action


@dataclass
class _Where:
    """Where a business object stands before the transition (`cur` None: not started yet)."""

    tenant_id: str
    business_id: str
    cur: WfCurrent | None
    row: WfBusinessService
    defn: wf.Definition
    current_name: str | None
    seq_no: int
    started: Any
    last_action: str | None


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


def _locate(app: "App", s: "Session", now: Any, tenant_id: str, business_id: str,
            business_service: str | None) -> _Where:
    """Where the business object stands and the definition (version) it runs on."""
    cur = s.get(WfCurrent, (tenant_id, business_id))
    if cur is None:
        if not business_service:
            raise NotFound("BUSINESSID_NOT_FOUND", f"{business_id} has no workflow yet at {tenant_id}; "
                           "give --service for its first transition", {"businessId": business_id})
        row, defn = load(app, s, tenant_id, business_service)
        return _Where(tenant_id, business_id, None, row, defn, wf.START, 0, now, None)
    if business_service and business_service != cur.business_service:
        raise InvalidInput("BUSINESSSERVICE_MISMATCH", f"{business_id} runs on {cur.business_service}, "
                           f"not {business_service}", {"businessId": business_id})
    row, defn = load(app, s, tenant_id, cur.business_service, cur.bs_version)
    started = s.execute(select(WfProcessInstance.business_started_at).where(
        WfProcessInstance.tenant_id == tenant_id, WfProcessInstance.business_id == business_id,
        WfProcessInstance.seq_no == cur.seq_no)).scalar_one()
    return _Where(tenant_id, business_id, cur, row, defn, cur.state, cur.seq_no, started, cur.last_action)


def _check_visible(s: "Session", actor: "Actor", w: _Where, expected_state: Any) -> None:
    """A citizen acts only on their own (anything else: as if it did not exist); a caller that
    saw another state is told that someone acted first."""
    if actor.type == "CITIZEN" and not _citizen_owns(s, actor, w.tenant_id, w.business_id, w.cur):
        # not theirs: as if it did not exist (nothing about its state is told)
        if s.get(Application, w.business_id) is not None:
            raise NotFound("APPLICATION_NOT_FOUND", f"no application {w.business_id}",
                           {"applicationNo": w.business_id})
        raise NotFound("BUSINESSID_NOT_FOUND", f"{w.business_id} has no workflow at {w.tenant_id}",
                       {"businessId": w.business_id})
    if expected_state is not UNSET and expected_state != w.current_name:
        raise Conflict("STATE_CHANGED", f"{w.business_id} is now in {w.current_name or 'the start state'}, not "
                       f"{expected_state}: someone acted first; reload and try again",
                       {"businessId": w.business_id, "state": w.current_name, "expected": expected_state})


def _pick_action(w: _Where, action: str, by_payment: bool) -> tuple[wf.State, wf.Action]:
    """The action of the current state; a payment action only by the payment itself."""
    state = w.defn.state(w.current_name)
    assert state is not None
    act = state.action(action)
    if act is None:
        valid = ", ".join(a.action for a in state.actions) or "none"
        raise InvalidInput("INVALID_ACTION", f"{action} is not an action of state {w.current_name or '(start)'} in "
                           f"{w.defn.code} (valid: {valid})", {"businessId": w.business_id, "state": w.current_name,
                                                                 "action": action})
    if wf.is_payment_action(act) and not by_payment:
        raise Forbidden("ACTION_BY_PAYMENT_ONLY", f"{action} is taken by the system when the bill of "
                        f"{w.business_id} is paid in full (digitctl bill fetch, then digitctl pay); nobody takes "
                        "it by hand", {"businessId": w.business_id, "action": action})
    return state, act


def _check_actor(s: "Session", actor: "Actor", w: _Where, state: wf.State, act: wf.Action) -> None:
    """WorkflowValidator: the actor holds a role the action needs; a citizen, when the object was
    sent back to a citizen or citizens are assigned, is one of them."""
    needed = w.defn.roles_needed(state, act)
    if not _is_local_system(actor) and not wf.roles_allow(needed, _roles_at(actor, w.tenant_id)):
        raise Forbidden("INVALID_ROLE_FOR_ACTION", f"{actor.user_name} cannot {act.action} in "
                        f"{w.current_name or '(start)'}: needs one of {', '.join(sorted(needed))} at {w.tenant_id}",
                        {"businessId": w.business_id, "action": act.action, "rolesNeeded": sorted(needed)})
    if actor.type == "CITIZEN" and w.cur is not None:
        # WorkflowValidator: sent back to a citizen, or assigned to citizens, only those act
        citizen_assignees = {u for (u,) in s.execute(select(WfAssignee.user_uuid).join(
            UserAccount, UserAccount.uuid == WfAssignee.user_uuid).where(
            WfAssignee.tenant_id == w.tenant_id, WfAssignee.business_id == w.business_id,
            UserAccount.type == "CITIZEN"))}
        if (w.last_action in SEND_BACK_TO_CITIZEN or citizen_assignees) and actor.uuid not in citizen_assignees:
            raise Forbidden("NOT_ASSIGNEE", "this application is assigned to another citizen (its applicant); "
                            "only they may act on it", {"businessId": w.business_id})


def _check_documents(s: "Session", w: _Where, nxt: wf.State,
                     documents: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Documents the next state requires are given, and every one is in the tenant's file store."""
    docs = list(documents or [])
    if nxt.doc_upload_required and not docs:
        raise InvalidInput("DOCUMENTS_REQUIRED", f"entering {nxt.name} needs documents (--document FILE)",
                           {"businessId": w.business_id, "state": nxt.name})
    for d in docs:
        fid = d.get("fileStoreId")
        obj = s.get(FileStoreObject, fid) if isinstance(fid, str) else None
        if obj is None or obj.tenant_id not in fallback_chain(w.tenant_id):
            raise InvalidInput("INVALID_DOCUMENT", f"document {fid!r} is not in the file store of {w.tenant_id}",
                               {"fileStoreId": fid})
    return docs


def _assignees(s: "Session", w: _Where, action: str, nxt: wf.State, changing: bool,
               assignees: list[str] | None) -> list[UserAccount]:
    """The users the object is assigned to next (on SENDBACKTOCITIZEN the applicant's citizen
    account first); on a state-changing action each must be able to move it on from there."""
    if action in SEND_BACK_TO_CITIZEN:
        # sent back to the applicant: the citizen behind the application becomes the assignee
        appl_ = s.get(Application, w.business_id)
        if appl_ is not None and appl_.tenant_id == w.tenant_id and appl_.applicant_uuid \
                and appl_.applicant_uuid not in (assignees or []):
            assignees = [appl_.applicant_uuid, *(assignees or [])]
    rows = []
    next_roles = w.defn.next_state_roles(nxt)
    for u in dict.fromkeys(assignees or []):
        user, uroles = _user_roles(s, u, w.tenant_id)
        if user is None:
            raise InvalidInput("INVALID_ASSIGNEE", f"no user {u}", {"assignee": u})
        # WorkflowValidator: on a state-changing action the assignee must be able to move the
        # application on from the next state; an action that keeps the state checks no roles
        if changing and not wf.roles_allow(next_roles, uroles):
            raise InvalidInput("INVALID_ASSIGNEE", f"{user.user_name} cannot act in {nxt.name} (needs one of "
                               f"{', '.join(sorted(next_roles)) or 'no role: nothing leaves that state'})",
                               {"assignee": user.user_name, "state": nxt.name})
        rows.append(user)
    return rows


def _ask_guards(uow: "UnitOfWork", app: "App", ctx: "RequestContext", w: _Where, act: wf.Action, nxt: wf.State,
                changing: bool, by_payment: bool) -> None:
    step = {"tenantId": w.tenant_id, "businessId": w.business_id, "businessService": w.defn.code,
            "action": act.action, "fromState": w.current_name, "toState": nxt.name,
            "fromStatus": w.cur.application_status if w.cur else None, "toStatus": nxt.application_status,
            "isStateChanging": changing, "isPaymentAction": wf.is_payment_action(act), "byPayment": by_payment}
    for hook in [*_GUARDS.get(w.defn.code, []), *_GUARDS.get(ALL_SERVICES, [])]:
        hook(uow, app, ctx, step)


def _write(s: "Session", actor: "Actor", now: Any, w: _Where, action: str, nxt: wf.State, changing: bool,
           comment: str | None, docs: list[dict[str, Any]], assignee_rows: list[UserAccount],
           module_name: str | None, pi_id: str | None = None) -> str:
    """The new process instance, the current state, the assignees and the application's status;
    returns the instance id. A concurrent transition that won the same seq_no: STATE_CHANGED."""
    pi_id = pi_id or str(uuid.uuid4())
    defn, cur, tenant_id, business_id = w.defn, w.cur, w.tenant_id, w.business_id
    if changing or cur is None:
        state_sla_ms, state_deadline = nxt.sla_ms, wf.deadline(now, nxt.sla_ms)
    else:
        # EnrichmentService: an action that keeps the state keeps its deadline (the instance
        # stores what is left of the state's SLA, negative once breached)
        state_deadline = cur.state_deadline
        state_sla_ms = int((state_deadline - now).total_seconds() * 1000) if state_deadline is not None else None
    s.add(WfProcessInstance(
        id=pi_id, tenant_id=tenant_id, business_service=defn.code, bs_version=w.row.version,
        module_name=module_name or defn.business, business_id=business_id, seq_no=w.seq_no + 1, action=action,
        from_state=w.current_name, state=str(nxt.name), application_status=nxt.application_status,
        comment=comment, assigner_uuid=actor.uuid, assignees=[u.uuid for u in assignee_rows],
        documents=docs or None, state_sla_ms=state_sla_ms, business_sla_ms=defn.sla_ms,
        business_started_at=w.started, created_at=now))
    try:
        s.flush()
    except IntegrityError:
        raise Conflict("STATE_CHANGED", f"{business_id} was changed by someone else meanwhile; reload and try again",
                       {"businessId": business_id}) from None
    values = dict(business_service=defn.code, bs_version=w.row.version, state=str(nxt.name),
                  application_status=nxt.application_status, last_action=action, seq_no=w.seq_no + 1,
                  is_terminal=nxt.is_terminate, state_deadline=state_deadline,
                  business_deadline=wf.deadline(w.started, defn.sla_ms), updated_at=now)
    if cur is None:
        s.add(WfCurrent(tenant_id=tenant_id, business_id=business_id, **values))
    else:
        for k, v in values.items():
            setattr(cur, k, v)
    s.execute(delete(WfAssignee).where(WfAssignee.tenant_id == tenant_id, WfAssignee.business_id == business_id))
    for u in assignee_rows:
        s.add(WfAssignee(tenant_id=tenant_id, business_id=business_id, user_uuid=u.uuid))
    appl = s.get(Application, business_id)
    if appl is not None and appl.tenant_id == tenant_id:
        appl.application_status = nxt.application_status
        appl.updated_at = now
    s.flush()
    return pi_id


def transition_in(uow: "UnitOfWork", app: "App", ctx: "RequestContext", *, tenant_id: str, business_id: str,
                  action: str, business_service: str | None = None, comment: str | None = None,
                  assignees: list[str] | None = None, documents: list[dict[str, Any]] | None = None,
                  expected_state: Any = UNSET, module_name: str | None = None,
                  by_payment: bool = False, pi_id: str | None = None) -> dict[str, Any]:
    """One transition inside the caller's unit of work (no access check of its own beyond the
    workflow's role rules: the caller's operation was authorized). `by_payment` only from the
    payment's own unit of work (applications.pay_in): it alone may take a payment action.
    `pi_id`: the process instance's id when it has one already (the hub applying a counter's
    transition keeps the counter's id), else a new one."""
    safetext.check_text(comment, "comment", max_length=safetext.COMMENT_MAX, allow_lines=True)
    s = uow.session
    now = ctx.now()
    actor = ctx.actor
    w = _locate(app, s, now, tenant_id, business_id, business_service)
    _check_visible(s, actor, w, expected_state)
    state, act = _pick_action(w, action, by_payment)
    changing = wf.is_state_changing(state, act)
    _check_actor(s, actor, w, state, act)
    nxt = w.defn.state(act.next_state)
    assert nxt is not None
    docs = _check_documents(s, w, nxt, documents)
    assignee_rows = _assignees(s, w, action, nxt, changing, assignees)
    _ask_guards(uow, app, ctx, w, act, nxt, changing, by_payment)
    pi_id = _write(s, actor, now, w, action, nxt, changing, comment, docs, assignee_rows, module_name, pi_id)
    written = s.get(WfProcessInstance, pi_id)
    assert written is not None
    pi = instance_json(s, written, w.defn, actor, now)
    uow.record(Event("workflow.transitioned", tenant_id, "ProcessInstance", business_id, TRANSITION_ACTION,
                     {"ProcessInstances": [pi]}, before={"state": w.current_name},
                     after={"state": nxt.name, "action": action, "comment": comment}))
    for hook in _HOOKS.get((w.defn.code, str(nxt.name)), []):
        hook(uow, app, ctx, pi)
    return pi


def transition(app: "App", ctx: "RequestContext", *, tenant_id: str, business_id: str, action: str,
               **kw: Any) -> dict[str, Any]:
    authorize(app, ctx, TRANSITION_ACTION, tenant_id)
    with app.uow(ctx) as uow:
        pi = transition_in(uow, app, ctx, tenant_id=tenant_id, business_id=business_id, action=action, **kw)
        uow.commit()
    return pi
