"""What the hub's appliers share (hub_apply is the entry point; see its docstring): outcome names,
Parked codes, which entities an event touches, the hub's actor for an event, its tenant and access
checks, the context an event is applied in, and PII opened from the wire / sealed with the hub's keys."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from digitctl.clock import FixedClock
from digitctl.context import SYSTEM_ACTOR, RequestContext
from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.errors import DigitError
from local_store.models import UserAccount

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import Actor
    from local_store.uow import UnitOfWork

APPLIED, RECORDED = "applied", "recorded"
E_ACTOR_UNKNOWN = "SYNC_ACTOR_UNKNOWN"
E_TENANT_NOT_ENROLLED = "SYNC_TENANT_NOT_ENROLLED"
E_EVENT_MALFORMED = "SYNC_EVENT_MALFORMED"
E_PII_UNREADABLE = "SYNC_PII_UNREADABLE"

# operations a service runs inside another for whoever took that one (the TL fee calculator raises
# the demand on the approver's APPROVE): DIGIT's action master does not list them, the actor is
# checked for the operation that ran them
RUN_BY = {"/tl-calculator/v1/_calculate": "/egov-workflow-v2/egov-wf/process/_transition"}

Applier = Callable[["App", "UnitOfWork", RequestContext, ReceivedEvent], str]


# -- which entities an event touches ---------------------------------------------------------
def _first(payload: dict[str, Any], key: str) -> dict[str, Any]:
    items = payload.get(key)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return items if isinstance(items, dict) else {}


def _payment_keys(tenant: str, doc: dict[str, Any]) -> list[str]:
    keys = []
    for pd in doc.get("paymentDetails") or []:
        bill = pd.get("bill") or {}
        svc, cc = pd.get("businessService") or bill.get("businessService"), bill.get("consumerCode")
        keys.append(f"Payment:{tenant}:{pd.get('receiptNumber')}")
        if svc and cc:
            # the demand it pays, and the application PAY moves (when the consumer code is one)
            keys += [f"Demand:{tenant}:{svc}:{cc}", f"Application:{tenant}:{cc}"]
    return keys


def entity_keys(ev: ReceivedEvent) -> list[str]:
    """The entities `ev` touches: "Payment:<tenant>:<receipt>", "Demand:<tenant>:<service>:<consumerCode>",
    "Application:<tenant>:<no>", "Shift:<id>", "User:<uuid>", else "<entityType>:<entityId>"."""
    t, p, kind = ev.tenant_id, ev.payload, ev.event_type
    keys: list[str] = []
    if kind in ("collection.payment.created", "collection.payment.cancelled", "collection.payment.dishonoured",
                "collection.receipt.printed"):
        keys = _payment_keys(t, _first(p, "Payments"))
        if not keys and kind == "collection.receipt.printed":
            keys = [f"Payment:{t}:{p.get('receiptNumber')}"]
    elif kind == "collection.payments.remitted":
        keys = [f"Payment:{t}:{r}" for r in p.get("receiptNumbers") or []]
    elif kind.startswith("billing.demand."):
        d = _first(p, "Demands")
        keys = [f"Demand:{t}:{d.get('businessService')}:{d.get('consumerCode')}"]
    elif kind.startswith("billing.bill."):
        b = _first(p, "Bill")
        keys = [f"Demand:{t}:{b.get('businessService')}:{b.get('consumerCode')}"]
    elif kind.startswith("application.") or kind == "workflow.transitioned":
        keys = [f"Application:{t}:{ev.entity_id}"]
    elif kind.startswith("shift."):
        keys = [f"Shift:{ev.entity_id}"]
    elif kind.startswith("user."):
        keys = [f"User:{ev.entity_id}"]
    return list(dict.fromkeys(keys)) or [f"{ev.entity_type}:{ev.entity_id}"]


# -- who acted, and may they ------------------------------------------------------------------
def hub_actor(app: "App", uow: "UnitOfWork", ev: ReceivedEvent) -> "Actor":
    """The hub's user behind the event: by the audit record's actorUuid, else by its actorName
    (a user the hub knows under another uuid: created at the hub and at the counter apart).
    The counter's local SYSTEM administrator is not an actor of the state's data."""
    from digitctl.services import users

    s = uow.session
    uid, name = ev.actor_uuid, ev.actor_name
    row = s.get(UserAccount, uid) if uid and uid != SYSTEM_ACTOR.uuid else None
    if row is None and name and uid != SYSTEM_ACTOR.uuid:
        try:
            row = users.find(s, name)
        except DigitError:
            row = None
    if row is None or not row.active:
        raise Parked(E_ACTOR_UNKNOWN, f"the hub has no {'active ' if row is not None else ''}user "
                     f"{name or uid!r} who did this at counter {ev.counter_code}",
                     {"actorUuid": uid, "actorName": name, "counterCode": ev.counter_code})
    return users.actor_of(s, row)


def _state_citizen(ev: ReceivedEvent) -> bool:
    """A citizen a counter registered: DIGIT keeps citizens at the state tenant."""
    user = ev.payload.get("user")
    return ev.event_type.startswith("user.") and isinstance(user, dict) and \
        str(user.get("type") or "").upper() == "CITIZEN" and "." not in ev.tenant_id


def access_tenant(ev: ReceivedEvent, actor: "Actor", counter_tenant: str | None) -> str:
    """Where the actor's right is checked: the event's tenant; for a citizen kept at the state,
    the counter's city (or the actor's own city), as users.create_user checks the request's tenant."""
    if not _state_citizen(ev):
        return ev.tenant_id
    if counter_tenant:
        return counter_tenant
    cities = [r.tenant_id for r in actor.roles if r.tenant_id.startswith(ev.tenant_id + ".")]
    return cities[0] if cities else ev.tenant_id


def check_tenant(ev: ReceivedEvent, counter_tenant: str | None) -> None:
    if counter_tenant and _state_citizen(ev) and counter_tenant.startswith(ev.tenant_id + "."):
        return
    if counter_tenant and ev.tenant_id != counter_tenant and not ev.tenant_id.startswith(counter_tenant + "."):
        raise Parked(E_TENANT_NOT_ENROLLED, f"counter {ev.counter_code} is enrolled for {counter_tenant}, "
                     f"not {ev.tenant_id}", {"counterCode": ev.counter_code, "tenantId": ev.tenant_id,
                                             "counterTenant": counter_tenant})


def operation_of(ev: ReceivedEvent) -> str:
    op = ev.audit.get("operation")
    if not isinstance(op, str) or not op:
        raise Parked(E_EVENT_MALFORMED, f"event {ev.event_id} carries no audit record with its operation",
                     {"eventId": ev.event_id})
    return op


def apply_context(app: "App", actor: "Actor", ev: ReceivedEvent) -> RequestContext:
    """The counter's actor (as the hub knows them) at the counter's time: what the hub writes
    carries the instants the counter recorded (receipt dates, shift times, workflow times)."""
    return RequestContext(actor=actor, tenant_id=ev.tenant_id, clock=FixedClock(ev.occurred_at),
                          msg_id=f"hub-apply:{ev.counter_code}:{ev.seq}")


def authorize_event(app: "App", ctx: RequestContext, ev: ReceivedEvent, operation: str,
                    tenant_id: str | None = None) -> None:
    """The hub's role-action masters on the event's operation at its tenant."""
    from digitctl.services.access import authorize

    try:
        authorize(app, ctx, operation, tenant_id or ev.tenant_id)
    except DigitError as err:
        raise Parked(err.code, err.message, {**err.params, "counterCode": ev.counter_code}) from None


def as_parked(err: DigitError) -> Parked:
    return Parked(err.code, err.message, dict(err.params))


def opened(app: "App", uow: "UnitOfWork", value: Any) -> str | None:
    """A PII value in plain text: it arrives so (the counter opens it for the trip,
    sync/PROTOCOL.md); ciphertext the hub's keys open (a store made from the same keys) is taken
    too. Never logged, never put in a refusal."""
    from digitctl.services.crypto import is_ciphertext

    if value is None or value == "":
        return None
    text = str(value)
    if is_ciphertext(text):
        try:
            text = app.keyring.decrypt(uow, text)
        except DigitError:
            raise Parked(E_PII_UNREADABLE, "a personal field arrived sealed under a key the hub does not hold: "
                         "the counter must send it opened") from None
    return text


def reseal(app: "App", uow: "UnitOfWork", tenant_id: str, value: Any) -> str | None:
    """A PII value as the hub stores it: ciphertext under the hub's keys (see `opened`)."""
    text = opened(app, uow, value)
    return app.keyring.encrypt(uow, tenant_id, text) if text is not None else None


