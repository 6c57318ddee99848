"""DIGIT workflow v2 rules as plain Python: a BusinessService definition (states, actions,
roles, SLAs), checks on load, and what a transition may do.

Facts kept from egov-workflow-v2: the start pseudo-state has `"state": null`; an action names
its next state by name; `roles: ["*"]` means any role at all (WorkflowUtil.isRoleAvailable);
terminate states can still have actions (PGR: REOPEN, RATE); SLAs are milliseconds and go
negative when breached."""
from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from digitctl.errors import InvalidInput

START = None          # the start pseudo-state's name
ANY_ROLE = "*"
SEND_BACK_TO_CITIZEN = ("SENDBACKTOCITIZEN", "SEND_BACK_TO_CITIZEN")
PAYMENT_ROLE = "SYSTEM_PAYMENT"
PAYMENT_ACTIONS = frozenset({"PAY"})
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Action:
    action: str
    next_state: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class State:
    name: str | None
    application_status: str | None
    sla_ms: int | None
    doc_upload_required: bool
    is_start: bool
    is_terminate: bool
    is_updatable: bool
    actions: tuple[Action, ...]

    def action(self, name: str) -> Action | None:
        for a in self.actions:
            if a.action == name:
                return a
        return None


@dataclass(frozen=True)
class Definition:
    code: str
    tenant_id: str
    business: str | None
    sla_ms: int | None
    states: tuple[State, ...]
    raw: dict[str, Any] = field(compare=False, hash=False, repr=False, default_factory=dict)

    def state(self, name: str | None) -> State | None:
        for s in self.states:
            if s.name == name:
                return s
        return None

    @property
    def start(self) -> State | None:
        return self.state(START)

    @property
    def all_roles(self) -> set[str]:
        """The roles named by the service's actions ("*" left out)."""
        return {r for s in self.states for a in s.actions for r in a.roles if r != ANY_ROLE}

    @property
    def service_roles(self) -> set[str]:
        """DIGIT's `rolesAllowedInService`: every action's roles, "*" included."""
        return {r for s in self.states for a in s.actions for r in a.roles}

    def roles_needed(self, state: State, action: Action) -> set[str]:
        """WorkflowValidator.validateAction: a state-changing action needs one of its own roles;
        one that keeps the state, any role of the service."""
        return set(action.roles) if is_state_changing(state, action) else self.service_roles

    @staticmethod
    def next_state_roles(state: State) -> set[str]:
        """WorkflowValidator.getRolesFromState: the roles of the state's state-changing actions
        (what an assignee must hold to be given the application there)."""
        return {r for a in state.actions if a.next_state != state.name for r in a.roles}

    def actionable_states(self, roles: set[str]) -> set[str | None]:
        """States in which someone holding `roles` has at least one action."""
        return {s.name for s in self.states for a in s.actions if roles_allow(a.roles, roles)}


def roles_allow(needed: Iterable[str], held: set[str]) -> bool:
    """DIGIT's WorkflowUtil.isRoleAvailable: one of `held` is among `needed`, or `needed` has
    "*", which admits any role (a user holding no role at all is never admitted)."""
    wanted = set(needed)
    return bool(held) and (ANY_ROLE in wanted or bool(wanted & held))


def _int_or_none(v: Any) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _bool(v: Any) -> bool:
    return v.strip().lower() == "true" if isinstance(v, str) else bool(v)


def parse(doc: dict[str, Any]) -> Definition:
    states = []
    for s in doc.get("states") or []:
        acts = tuple(Action(str(a.get("action")), str(a.get("nextState")),
                            tuple(str(r) for r in (a.get("roles") or [])))
                     for a in (s.get("actions") or []))
        states.append(State(s.get("state"), s.get("applicationStatus"), _int_or_none(s.get("sla")),
                            _bool(s.get("docUploadRequired")), _bool(s.get("isStartState")),
                            _bool(s.get("isTerminateState")), _bool(s.get("isStateUpdatable", True)), acts))
    return Definition(str(doc.get("businessService")), str(doc.get("tenantId")), doc.get("business"),
                      _int_or_none(doc.get("businessServiceSla")), tuple(states), doc)


def check(defn: Definition, known_roles: set[str] | None) -> tuple[list[str], list[str]]:
    """(errors that refuse the definition, warnings). Errors: no business service code, no
    start (null) state, duplicate states, an action whose nextState does not exist, a state
    nothing leads to. Warnings: roles the access-control masters do not know."""
    errors: list[str] = []
    warnings: list[str] = []
    if not defn.code or defn.code == "None":
        errors.append("businessService is missing")
    names = [s.name for s in defn.states]
    dupes = sorted({str(n) for n in names if names.count(n) > 1})
    if dupes:
        errors.append(f"states defined twice: {', '.join(dupes)}")
    if defn.start is None:
        errors.append('no start state (a state with "state": null)')
    for s in defn.states:
        seen: set[str] = set()
        for a in s.actions:
            if a.action in seen:
                errors.append(f"state {s.name or '(start)'} has action {a.action} twice")
            seen.add(a.action)
            if a.next_state not in names or a.next_state is None:
                errors.append(f"state {s.name or '(start)'}: action {a.action} goes to {a.next_state!r}, "
                              "which is not a state of this workflow")
            if not a.roles:
                errors.append(f"state {s.name or '(start)'}: action {a.action} names no roles")
    if defn.start is not None and not errors:
        reach: set[str | None] = {START}
        queue: deque[str | None] = deque([START])
        while queue:
            st = defn.state(queue.popleft())
            for a in st.actions if st else ():
                if a.next_state not in reach:
                    reach.add(a.next_state)
                    queue.append(a.next_state)
        unreachable = [str(n) for n in names if n not in reach]
        if unreachable:
            errors.append(f"unreachable from the start state: {', '.join(unreachable)}")
    if known_roles is not None:
        unknown = sorted(defn.all_roles - known_roles)
        if unknown:
            warnings.append(f"roles not in ACCESSCONTROL-ROLES: {', '.join(unknown)}")
    return errors, warnings


def is_state_changing(current: State, action: Action) -> bool:
    return action.next_state != current.name


def is_payment_action(action: Action) -> bool:
    """An action a payment takes: PAY, or one the definition gives to SYSTEM_PAYMENT."""
    return action.action in PAYMENT_ACTIONS or PAYMENT_ROLE in action.roles


def deadline(start: dt.datetime, sla_ms: int | None) -> dt.datetime | None:
    """When an SLA of `sla_ms` started at `start` runs out (none without an SLA)."""
    return start + dt.timedelta(milliseconds=sla_ms) if sla_ms is not None else None


def sla_left(deadline: dt.datetime | None, now: dt.datetime) -> int | None:
    """Milliseconds left (negative once breached), DIGIT's `businesssServiceSla` style."""
    if deadline is None:
        return None
    return int((deadline - now).total_seconds() * 1000)


# -- auto-escalation ---------------------------------------------------------------------------------
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


def days_to_ms(value: Any, where: str) -> int | None:
    """EscalationUtil.daysToMillisecond: days (a number, fractions allowed) to milliseconds."""
    if value is None or value == "":
        return None
    try:
        days = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput("INVALID_CONFIG", f"Workflow.AutoEscalation {where}: {value!r} is not a number of days",
                           {"value": str(value)}) from None
    if not days.is_finite() or days < 0:
        raise InvalidInput("INVALID_CONFIG", f"Workflow.AutoEscalation {where}: {value!r} is not a number of days",
                           {"value": str(value)})
    return int(days * DAY_MS)


def escalation(rec: dict[str, Any]) -> Escalation:
    """An AutoEscalation record read; one with neither SLA is INVALID_CONFIG, as in DIGIT."""
    where = f"{rec['businessService']}/{rec['state']}/{rec['action']}"
    esc = Escalation(str(rec["businessService"]), rec.get("module"), str(rec["state"]), str(rec["action"]),
                     days_to_ms(rec.get("stateSLA"), where + " stateSLA"),
                     days_to_ms(rec.get("businessSLA"), where + " businessSLA"),
                     str(rec.get("active", True)).strip().lower() != "false")
    if esc.state_exceeded_ms is None and esc.business_exceeded_ms is None:
        raise InvalidInput("INVALID_CONFIG", f"Both stateSLA and businessSLA are null for config with state: "
                           f"{esc.state} and action: {esc.action}", {"businessService": esc.business_service})
    return esc


def overdue(esc: Escalation, state_deadline: dt.datetime | None, business_deadline: dt.datetime | None,
            now: dt.datetime) -> tuple[bool, int | None, int | None]:
    """EscalationQueryBuilder: now - (time of the last action + SLA left then) > exceededBy, for
    the state SLA and the business SLA each configured (a state without an SLA never is)."""
    def past(deadline: dt.datetime | None) -> int | None:
        return int((now - deadline).total_seconds() * 1000) if deadline is not None else None

    state_past, business_past = past(state_deadline), past(business_deadline)
    ok = True
    if esc.state_exceeded_ms is not None:
        ok = ok and state_past is not None and state_past > esc.state_exceeded_ms
    if esc.business_exceeded_ms is not None:
        ok = ok and business_past is not None and business_past > esc.business_exceeded_ms
    return ok, state_past, business_past


def mermaid(defn: Definition) -> str:
    lines = ["stateDiagram-v2"]
    ids = {s.name: (s.name or "start").replace("-", "_") for s in defn.states}
    lines.append(f"    [*] --> {ids[START]}" if defn.start else "")
    for s in defn.states:
        for a in s.actions:
            lines.append(f"    {ids[s.name]} --> {ids.get(a.next_state, a.next_state)}: "
                         f"{a.action} ({', '.join(a.roles)})")
        if s.is_terminate:
            lines.append(f"    {ids[s.name]} --> [*]")
    return "\n".join(x for x in lines if x)


def dot(defn: Definition) -> str:
    lines = [f'digraph "{defn.code}" {{', "  rankdir=LR;", '  node [shape=box, style=rounded];',
             '  "(start)" [shape=circle, label=""];']
    for s in defn.states:
        if s.is_terminate:
            lines.append(f'  "{s.name}" [peripheries=2];')
    for s in defn.states:
        for a in s.actions:
            lines.append(f'  "{s.name or "(start)"}" -> "{a.next_state}" [label="{a.action}\\n{", ".join(a.roles)}"];')
    lines.append("}")
    return "\n".join(lines)


def sla_text(ms: int | None) -> str:
    """An SLA (or what is left of one) as people read it: -3h 10m, 1d 4h, 45m; '-' when there is
    none. One wording for the CLI's tables and the TUI's inbox."""
    if ms is None:
        return "-"
    sign = "-" if ms < 0 else ""
    minutes = abs(ms) // 60_000
    d, rem = divmod(minutes, 1440)
    h, m = divmod(rem, 60)
    if d:
        return f"{sign}{d}d {h}h"
    return f"{sign}{h}h {m}m" if h else f"{sign}{m}m"
