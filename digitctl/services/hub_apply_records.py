"""The hub applies a counter's demands, bills, applications, workflow transitions and shifts
(see hub_apply). Each keeps the counter's ids, so that applying an event twice finds its effect
and does nothing.

- billing.demand.created: the demand with the counter's ids, checked by billing's own rules
  against the hub's demands; one the hub already has for the same consumer code, service and
  period (created at the hub) counts as this one. demand.updated: the lines as the counter left
  them, collections moved by what the counter's update moved.
- billing.bill.generated / expired are recorded only: bills are derived (the payment brings the
  bill it paid, see hub_apply_payments).
- application.created: the application (the first workflow action is its own event);
  workflow.transitioned: the same transition through the workflow service, from the state the
  counter saw (STATE_CHANGED when the hub's application stands elsewhere now), keeping the
  counter's process instance id; a payment action the hub's PAY (from the payment) took already
  is applied.
- shift.opened / closed: the shift as the counter recorded it.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import billing as bl
from digitctl.domain import workflow as wfd
from digitctl.domain.events import Event
from digitctl.domain.money import to_paise
from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.services import billing, workflow
from digitctl.services.hub_apply_common import APPLIED, E_EVENT_MALFORMED, opened, reseal
from local_store.models import Application
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow
from local_store.models import Payment, Remittance, Shift, UserAccount, WfCurrent, WfProcessInstance

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork


def _doc(ev: ReceivedEvent, key: str) -> dict[str, Any]:
    items = ev.payload.get(key)
    doc = items[0] if isinstance(items, list) and items else items
    if not isinstance(doc, dict):
        raise Parked(E_EVENT_MALFORMED, f"{ev.event_type} without its {key}", {"eventId": ev.event_id})
    return doc


def _record(uow: "UnitOfWork", ev: ReceivedEvent, entity_type: str, entity_id: str, payload: dict[str, Any],
            after: Any = None) -> None:
    """The hub's own outbox row and audit record of what it applied (under the counter's actor);
    `after` replaces the counter's when that holds PII sealed with the counter's keys."""
    uow.record(Event(ev.event_type, ev.tenant_id, entity_type, entity_id, str(ev.audit.get("operation")), payload,
                     before=ev.audit.get("before"), after=ev.audit.get("after") if after is None else after))


# -- demands -----------------------------------------------------------------------------------
def demand_created(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    doc = _doc(ev, "Demands")
    s = uow.session
    if doc.get("id") and s.get(DemandRow, str(doc["id"])) is not None:
        return APPLIED
    demand = bl.Demand.from_digit({**doc, "payer": None})
    tenant = demand.tenant_id or ev.tenant_id
    same = s.execute(select(DemandRow.id).where(
        DemandRow.tenant_id == tenant, DemandRow.consumer_code == demand.consumer_code,
        DemandRow.business_service == demand.business_service, DemandRow.status == "ACTIVE",
        DemandRow.tax_period_from == demand.tax_period_from,
        DemandRow.tax_period_to == demand.tax_period_to)).scalar()
    if same is not None:
        return APPLIED          # the hub has this consumer code's demand for the period already
    masters = billing.billing_masters(app, tenant, s.connection())
    others = billing.existing_demands(s, tenant, demand.consumer_code, demand.business_service)
    bl.validate_demand(demand, masters, others)
    payer: dict[str, Any] = doc["payer"] if isinstance(doc.get("payer"), dict) else {}
    mobile = opened(app, uow, payer.get("mobileNumber"))
    stored = billing.StoredPayer(uuid=payer.get("uuid") or None, name_enc=reseal(app, uow, tenant, payer.get("name")),
                                 mobile_enc=app.keyring.encrypt(uow, tenant, mobile) if mobile else None,
                                 mobile_bidx=app.keyring.blind_index(tenant, mobile, "mobile") if mobile else None)
    billing.store_demand_in(uow, app, ctx, demand, stored, str(ev.audit.get("operation") or billing.DEMAND_CREATE),
                            keep_ids=True)
    return APPLIED


def demand_updated(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    after = _doc(ev, "Demands")
    before: dict[str, Any] = ev.audit["before"] if isinstance(ev.audit.get("before"), dict) else {}
    s = uow.session
    row = s.get(DemandRow, str(after.get("id")))
    if row is None:
        raise Parked("BILLING_DEMAND_NOT_FOUND", f"the hub has no demand {after.get('id')} of "
                     f"{after.get('consumerCode')} to update", {"consumerCode": after.get("consumerCode"),
                                                                 "demandId": after.get("id")})
    lines = {d.id: d for d in s.execute(select(DemandDetailRow).where(DemandDetailRow.demand_id == row.id)).scalars()}
    was = {str(d.get("id")): d for d in before.get("demandDetails") or []}
    now = ctx.now()
    if all(_line_is(lines.get(str(d.get("id"))), d) for d in after.get("demandDetails") or []):
        return APPLIED
    for i, d in enumerate(after.get("demandDetails") or []):
        line = lines.get(str(d.get("id")))
        if line is None:
            line = DemandDetailRow(id=str(d["id"]), demand_id=row.id, tax_head_code=d["taxHeadMasterCode"],
                                   tax_amount_paise=0, collection_amount_paise=0,
                                   created_at=now + dt.timedelta(microseconds=i), updated_at=now)
            s.add(line)
        moved = to_paise(Decimal(str(d.get("collectionAmount") or 0))) - to_paise(
            Decimal(str((was.get(str(d.get("id"))) or {}).get("collectionAmount") or 0)))
        line.tax_amount_paise = to_paise(Decimal(str(d.get("taxAmount") or 0)))
        line.collection_amount_paise += moved
        line.updated_at = now
    s.flush()
    row.is_payment_completed = all(d.tax_amount_paise <= d.collection_amount_paise
                                   for d in s.execute(select(DemandDetailRow).where(
                                       DemandDetailRow.demand_id == row.id)).scalars())
    row.updated_at = now
    s.flush()
    _record(uow, ev, "Demand", row.id, ev.payload)
    return APPLIED


def _line_is(line: DemandDetailRow | None, d: dict[str, Any]) -> bool:
    return line is not None and line.tax_amount_paise == to_paise(Decimal(str(d.get("taxAmount") or 0))) \
        and line.collection_amount_paise == to_paise(Decimal(str(d.get("collectionAmount") or 0)))


# -- applications and their workflow -------------------------------------------------------------
def application_created(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    doc = ev.payload.get("Application")
    if not isinstance(doc, dict) or not doc.get("applicationNo"):
        raise Parked(E_EVENT_MALFORMED, "application.created without its Application", {"eventId": ev.event_id})
    s = uow.session
    number = str(doc["applicationNo"])
    if s.get(Application, number) is not None:
        return APPLIED
    tenant = str(doc.get("tenantId") or ev.tenant_id)
    workflow.load(app, s, tenant, str(doc["businessService"]))     # the hub runs this workflow
    who = doc.get("applicant") or {}
    mobile = opened(app, uow, who.get("mobileNumber"))
    now = ctx.now()
    appl = Application(
        application_no=number, tenant_id=tenant, business_service=str(doc["businessService"]), module=doc.get("module"),
        application_status=None, applicant_name_enc=reseal(app, uow, tenant, who.get("name")) or "",
        applicant_mobile_enc=app.keyring.encrypt(uow, tenant, mobile) if mobile else None,
        applicant_mobile_bidx=app.keyring.blind_index(tenant, mobile, "mobile") if mobile else None,
        applicant_uuid=who.get("uuid"), locality=doc.get("locality"), address=doc.get("address"),
        details=doc.get("details"), documents=doc.get("documents") or None,
        created_by=str((doc.get("auditDetails") or {}).get("createdBy") or ctx.actor.uuid), created_at=now,
        updated_at=now)
    s.add(appl)
    s.flush()
    from digitctl.services.applications import application_json

    doc = application_json(appl)
    _record(uow, ev, "Application", number, {"Application": doc}, after=doc)
    return APPLIED


def application_payment_reversed(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    """The notice on the application (the hub's own cancel of the payment puts it there too)."""
    notice = ev.payload.get("notice") or {}
    appl = uow.session.get(Application, ev.entity_id)
    if appl is None:
        raise Parked("APPLICATION_NOT_FOUND", f"the hub has no application {ev.entity_id}",
                     {"applicationNo": ev.entity_id})
    details = dict(appl.details or {})
    held = details.get("paymentReversals") or []
    if any(n.get("receiptNumber") == notice.get("receiptNumber") and n.get("action") == notice.get("action")
           for n in held):
        return APPLIED
    details["paymentReversals"] = [*held, notice]
    appl.details, appl.updated_at = details, ctx.now()
    uow.session.flush()
    _record(uow, ev, "Application", appl.application_no, ev.payload)
    return APPLIED


def workflow_transitioned(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    pi = _doc(ev, "ProcessInstances")
    s = uow.session
    pid = str(pi.get("id") or "")
    if pid and s.get(WfProcessInstance, pid) is not None:
        return APPLIED
    tenant, business_id, action = str(pi.get("tenantId") or ev.tenant_id), str(pi["businessId"]), str(pi["action"])
    before: dict[str, Any] = ev.audit["before"] if isinstance(ev.audit.get("before"), dict) else {}
    expected = before.get("state")
    by_payment = _is_payment_action(app, uow, tenant, str(pi.get("businessService")), expected, action)
    cur = s.get(WfCurrent, (tenant, business_id))
    target = (pi.get("state") or {}).get("state")
    if by_payment and cur is not None and cur.last_action == action and cur.state == target:
        return APPLIED          # the hub's PAY, taken when it applied the payment
    from digitctl.services.applications import system_payment_context

    act_ctx = system_payment_context(ctx, tenant) if by_payment else ctx
    workflow.transition_in(uow, app, act_ctx, tenant_id=tenant, business_id=business_id, action=action,
                           business_service=pi.get("businessService"), comment=pi.get("comment"),
                           assignees=[str(a["uuid"]) for a in pi.get("assignes") or [] if isinstance(a, dict)
                                      and a.get("uuid")],
                           documents=pi.get("documents") or None, expected_state=expected,
                           module_name=pi.get("moduleName"), by_payment=by_payment, pi_id=pid or None)
    return APPLIED


def _is_payment_action(app: "App", uow: "UnitOfWork", tenant: str, service: str, state: Any, action: str) -> bool:
    try:
        _row, defn = workflow.load(app, uow.session, tenant, service)
    except Exception:        # noqa: BLE001 - the transition itself says what is wrong
        return False
    st = defn.state(state)
    act = st.action(action) if st is not None else None
    return act is not None and wfd.is_payment_action(act)


# -- shifts ----------------------------------------------------------------------------------------
def shift_recorded(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    doc = ev.payload.get("Shift")
    if not isinstance(doc, dict) or not doc.get("id"):
        raise Parked(E_EVENT_MALFORMED, f"{ev.event_type} without its Shift", {"eventId": ev.event_id})
    s = uow.session
    row = s.get(Shift, str(doc["id"]))
    closing = doc.get("status") == "CLOSED"
    if row is not None and (row.status == "CLOSED" or not closing):
        return APPLIED
    if row is None:
        row = Shift(id=str(doc["id"]), tenant_id=str(doc.get("tenantId") or ev.tenant_id),
                    counter_code=str(doc.get("counterCode") or ev.counter_code),
                    user_uuid=str(doc.get("userUuid") or ctx.actor.uuid), status="OPEN",
                    float_paise=to_paise(Decimal(str(doc.get("float") or 0))),
                    opened_at=_instant(doc.get("openedAt")) or ctx.now())
        s.add(row)
    if closing:
        row.status, row.closed_at = "CLOSED", _instant(doc.get("closedAt")) or ctx.now()
        row.expected_cash_paise = _paise(doc.get("expectedCash"))
        row.counted_cash_paise = _paise(doc.get("countedCash"))
        row.variance_paise = _paise(doc.get("variance"))
        row.denominations = {str(d["denomination"]): int(d["count"]) for d in doc.get("denominations") or []}
    s.flush()
    _record(uow, ev, "Shift", row.id, ev.payload)
    return APPLIED


def _instant(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value))


def _paise(value: Any) -> int | None:
    return None if value is None else to_paise(Decimal(str(value)))


# -- is it there already ---------------------------------------------------------------------------
def already_applied(uow: "UnitOfWork", ev: ReceivedEvent) -> bool:
    """The event's effect is in the hub's store (by the counter's ids)."""
    s, p, kind = uow.session, ev.payload, ev.event_type
    first = _first_doc(p, {"collection": "Payments", "billing": "Demands", "workflow": "ProcessInstances"}
                       .get(kind.split(".")[0], ""))
    if kind == "collection.payment.created":
        return bool(first.get("id")) and s.get(Payment, str(first["id"])) is not None
    if kind in ("collection.payment.cancelled", "collection.payment.dishonoured"):
        row = s.get(Payment, str(first.get("id"))) if first.get("id") else None
        return row is not None and row.payment_status == first.get("paymentStatus")
    if kind == "collection.payments.remitted":
        return s.get(Remittance, str((p.get("Remittance") or {}).get("id") or ev.entity_id)) is not None
    if kind == "billing.demand.created":
        return bool(first.get("id")) and s.get(DemandRow, str(first["id"])) is not None
    if kind == "application.created":
        return s.get(Application, ev.entity_id) is not None
    if kind == "workflow.transitioned":
        return bool(first.get("id")) and s.get(WfProcessInstance, str(first["id"])) is not None
    if kind == "user.created":
        return s.get(UserAccount, str((p.get("user") or {}).get("uuid"))) is not None
    if kind.startswith("shift."):
        shift = s.get(Shift, ev.entity_id)
        return shift is not None and shift.status == (p.get("Shift") or {}).get("status")
    return False


def _first_doc(payload: dict[str, Any], key: str) -> dict[str, Any]:
    items = payload.get(key)
    doc = items[0] if isinstance(items, list) and items else items
    return doc if isinstance(doc, dict) else {}

