"""The hub applies a counter's payments (see hub_apply): created, cancelled / dishonoured, remitted.

A payment stands at the hub with the counter's payment id, receipt number, counter code, receipt
date, mode and instrument. Its shares go on the hub's demand of (tenant, business service,
consumer code) as the counter apportioned them: each line of the payment's `apportionment` is
matched to the hub's demand detail by id, else by the demand's tax period and the tax head (the
bill in the payment says which period each demand was); the payment stored at the hub names the
hub's lines, so that a cancel at the hub takes back exactly those. No such demand at the hub:
Parked BILLING_DEMAND_NOT_FOUND. A share that no longer fits (the hub's demand was collected
meanwhile, by another counter or online): the payment still stands with what fits; the rest is
its excess (services.hub_excess): a credit on the ADVANCE tax head where the business service
isAdvanceAllowed, else an excess collection waiting for a refund decision; one record per payment.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import select

from digitctl.clock import IST
from digitctl.domain.collection import E_PAYMENT_NOT_FOUND
from digitctl.domain.events import Event
from digitctl.domain.money import from_paise, to_paise
from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.services import billing, hub_excess
from digitctl.services.collection import pay_application_if_settled
from digitctl.services.hub_apply_common import APPLIED, E_EVENT_MALFORMED, reseal
from digitctl.services.payment_lifecycle import _REVERSALS, _reverse_and_record, _set_status, _workflow_checks
from digitctl.services.payments import CREATE_URL, payer_fields
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow
from local_store.models import Payment, Remittance

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

E_DEMAND_NOT_FOUND = "BILLING_DEMAND_NOT_FOUND"
E_EXCESS = "EXCESS_COLLECTION"
E_RECEIPT_CONFLICT = "SYNC_RECEIPT_NUMBER_CONFLICT"


def _ms_date(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value) / 1000, dt.timezone.utc) if value is not None else None


class PaymentFacts:
    """What the hub needs of a counter's Payment JSON (one bill per payment at a counter)."""

    def __init__(self, ev: ReceivedEvent) -> None:
        docs = ev.payload.get("Payments")
        if not isinstance(docs, list) or not docs or not isinstance(docs[0], dict):
            raise Parked(E_EVENT_MALFORMED, f"{ev.event_type} without its Payment", {"eventId": ev.event_id})
        self.doc: dict[str, Any] = docs[0]
        doc = self.doc
        try:
            pd = doc["paymentDetails"][0]
            self.id: str = str(doc["id"])
            self.tenant_id: str = str(doc.get("tenantId") or ev.tenant_id)
            self.receipt: str = str(pd["receiptNumber"])
            self.bill_doc: dict[str, Any] = pd.get("bill") or {}
            self.bill_id: str = str(pd.get("billId") or self.bill_doc.get("id"))
            self.service: str = str(pd.get("businessService") or self.bill_doc["businessService"])
            self.consumer_code: str = str(self.bill_doc["consumerCode"])
            self.receipt_date = _ms_date(pd.get("receiptDate") or doc.get("transactionDate")) or ev.occurred_at
        except (KeyError, IndexError, TypeError) as err:
            raise Parked(E_EVENT_MALFORMED, f"a Payment without {err}", {"eventId": ev.event_id}) from None
        extra = doc.get("additionalDetails") or {}
        self.counter_code: str = str(extra.get("counterCode") or ev.counter_code)
        self.lines: list[dict[str, Any]] = list(extra.get("apportionment") or [])
        self.bill_status: str = str(self.bill_doc.get("status") or "")
        self.amount_paise = to_paise(doc.get("totalAmountPaid") or 0)

    def periods(self) -> dict[str, tuple[int, int]]:
        """The counter's demand id -> the tax period it was for (from the bill in the payment)."""
        return {str(d["demandId"]): (int(d["fromPeriod"]), int(d["toPeriod"]))
                for d in self.bill_doc.get("billDetails") or [] if d.get("demandId")}

    def missing(self) -> Parked:
        return Parked(E_DEMAND_NOT_FOUND, f"the hub has no demand of {self.consumer_code} ({self.service}) at "
                      f"{self.tenant_id} for receipt {self.receipt}",
                      {"consumerCode": self.consumer_code, "businessService": self.service,
                       "tenantId": self.tenant_id, "receiptNumber": self.receipt})


# -- mapping the counter's shares onto the hub's demand lines -----------------------------------
class HubLines(NamedTuple):
    """A payment's shares on the hub's lines: what fits, the excess left over, the latest demand."""

    lines: list[dict[str, Any]]
    excess_paise: int
    latest_demand_id: str


def hub_lines(uow: "UnitOfWork", f: PaymentFacts) -> HubLines:
    """The payment's apportionment with the hub's demand detail ids, cut to what the hub's lines
    still owe (the rest: excess); Parked when the hub has no such demand."""
    s = uow.session
    demands = list(s.execute(select(DemandRow).where(
        DemandRow.tenant_id == f.tenant_id, DemandRow.consumer_code == f.consumer_code,
        DemandRow.business_service == f.service, DemandRow.status == "ACTIVE")).scalars())
    if not demands:
        raise f.missing()
    by_id = {d.id: d for d in demands}
    by_period = {(d.tax_period_from, d.tax_period_to): d for d in demands}
    details = {d.id: d for d in s.execute(select(DemandDetailRow).where(
        DemandDetailRow.demand_id.in_(list(by_id)))).scalars()}
    periods = f.periods()
    out: list[dict[str, Any]] = []
    for line in f.lines:
        mapped = map_line(line, by_id, by_period, details, periods)
        if mapped is None:
            raise f.missing()
        out.append(mapped)
    fitted, excess = fit(out, details)
    latest = max(demands, key=lambda d: (d.tax_period_from, d.id))
    return HubLines(fitted, excess, latest.id)


def map_line(line: dict[str, Any], by_id: dict[str, Any], by_period: dict[tuple[int, int], Any],
             details: dict[str, Any], periods: dict[str, tuple[int, int]]) -> dict[str, Any] | None:
    """One share on the hub's line: the same detail id when the hub has it on this consumer
    code's demand, else the hub's demand of the same period and its line of the same tax head."""
    did, head = str(line.get("demandDetailId")), str(line.get("taxHeadCode"))
    if did in details:
        return {**line, "demandId": details[did].demand_id}
    demand = by_id.get(str(line.get("demandId"))) or by_period.get(periods.get(str(line.get("demandId")), (-1, -1)))
    if demand is None:
        return None
    same = [d for d in details.values() if d.demand_id == demand.id and d.tax_head_code == head]
    if same:
        return {**line, "demandDetailId": same[0].id, "demandId": demand.id}
    if "credit" in line:            # an advance line the counter added: the hub adds it (same id)
        return {**line, "demandId": demand.id}
    return None


def fit(lines: list[dict[str, Any]], details: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Each collection cut to what the hub's line still owes (tax - collected); returns the lines
    that stand and the paise left over (the payment's excess)."""
    owed = {i: d.tax_amount_paise - d.collection_amount_paise for i, d in details.items()}
    kept: list[dict[str, Any]] = []
    excess = 0
    for line in lines:
        if "collection" not in line:
            kept.append(line)
            continue
        paise = to_paise(line["collection"])
        left = owed.get(line["demandDetailId"], 0)
        # a positive share takes what the line still owes; a negative one (round-off, rebate) no
        # more than the line still gives back: a line the hub already settled takes nothing
        take = min(paise, max(left, 0)) if paise > 0 else max(paise, min(left, 0))
        excess += paise - take
        owed[line["demandDetailId"]] = left - take
        if take:
            kept.append({**line, "collection": str(from_paise(take))})
    return kept, excess


def check_fit(f: PaymentFacts, lines: list[dict[str, Any]], details: dict[str, Any]) -> None:
    """Parked EXCESS_COLLECTION when a share does not fit what the hub's line still owes: the
    batch path (hub_apply_batch) then hands the payment to apply_event, which carries the excess."""
    excess = fit(lines, details)[1]
    if excess:
        raise Parked(E_EXCESS, f"receipt {f.receipt} of counter {f.counter_code} does not fit the hub's demand of "
                     f"{f.consumer_code}", {"consumerCode": f.consumer_code, "receiptNumber": f.receipt,
                                            "counterCode": f.counter_code, "amount": str(from_paise(excess))})


def take_excess(app: "App", uow: "UnitOfWork", f: PaymentFacts, hl: HubLines, ev: ReceivedEvent,
                now: dt.datetime) -> list[dict[str, Any]]:
    """The payment's lines with its excess carried: a credit on the ADVANCE tax head of the latest
    demand where the business service isAdvanceAllowed (DIGIT's billing), else nothing on the
    demand; either way the excess collection recorded once (hub_excess)."""
    if hl.excess_paise <= 0:
        return hl.lines
    masters = billing.billing_masters(app, f.tenant_id, uow.session.connection())
    config = masters.business_services.get(f.service)
    head = masters.advance_tax_head(f.service)
    advance = bool(config and config.is_advance_allowed and head)
    lines = list(hl.lines)
    if advance:
        lines.append({"demandDetailId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"advance:{f.id}")),
                      "demandId": hl.latest_demand_id, "taxHeadCode": head,
                      "credit": str(from_paise(hl.excess_paise))})
    hub_excess.record(uow, payment_id=f.id, tenant_id=f.tenant_id, counter_code=f.counter_code,
                      receipt_number=f.receipt, business_service=f.service, consumer_code=f.consumer_code,
                      amount_paise=hl.excess_paise, disposition=hub_excess.ADVANCE if advance else hub_excess.REFUND,
                      event_id=ev.event_id, now=now)
    return lines


# -- collection.payment.created ------------------------------------------------------------------
def payment_created(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    f = PaymentFacts(ev)
    s = uow.session
    if s.get(Payment, f.id) is not None:
        return APPLIED
    clash = s.execute(select(Payment.id).where(Payment.tenant_id == f.tenant_id,
                                               Payment.receipt_number == f.receipt)).scalar()
    if clash is not None:
        raise Parked(E_RECEIPT_CONFLICT, f"receipt number {f.receipt} is another payment's at the hub",
                     {"receiptNumber": f.receipt, "tenantId": f.tenant_id, "counterCode": f.counter_code})
    if billing.lock_consumer_code(uow, f.tenant_id, f.service, f.consumer_code):
        s.expire_all()
    hl = hub_lines(uow, f)
    now = ctx.now()
    lines = take_excess(app, uow, f, hl, ev, now)
    billing.apply_collection_in(uow, lines, now)
    settle_bill(app, uow, f, now)
    doc = hub_payment_doc(app, uow, f, lines)
    if hl.excess_paise:             # the receipt stands; the hub's copy says what its demand could not take
        doc["additionalDetails"]["excessAmount"] = str(from_paise(hl.excess_paise))
    s.add(payment_row(f, doc, ev))
    s.flush()
    uow.record(Event(ev.event_type, f.tenant_id, "Payment", f.id, CREATE_URL, {"Payments": [doc]},
                     before=None, after={**(ev.audit.get("after") or {}), "apportionment": lines,
                                         "counterCode": f.counter_code}))
    if f.bill_status == "PAID":
        pay_application_if_settled(uow, app, ctx, f.tenant_id, f.consumer_code, f"paid: receipt {f.receipt}")
    return APPLIED


def hub_payment_doc(app: "App", uow: "UnitOfWork", f: PaymentFacts, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The counter's Payment JSON as the hub keeps it: its shares on the hub's lines, the payer
    sealed with the hub's keys."""
    doc = dict(f.doc)
    doc["additionalDetails"] = {**(doc.get("additionalDetails") or {}), "apportionment": lines}
    # the payer, on the payment and on its copy of each bill, sealed as the counter keeps it
    return payer_fields(doc, lambda value: reseal(app, uow, f.tenant_id, value))


def payment_row(f: PaymentFacts, doc: dict[str, Any], ev: ReceivedEvent) -> Payment:
    return Payment(**payment_values(f, doc, ev))


def payment_values(f: PaymentFacts, doc: dict[str, Any], ev: ReceivedEvent) -> dict[str, Any]:
    """Every column of the payment row (the batch path inserts and seals exactly these)."""
    extra = doc.get("additionalDetails") or {}
    inst_date = _ms_date(doc.get("instrumentDate"))
    return dict(
        id=f.id, tenant_id=f.tenant_id, receipt_number=f.receipt, receipt_date=f.receipt_date,
        counter_code=f.counter_code, shift_id=extra.get("shiftId"),
        collector_uuid=str((doc.get("auditDetails") or {}).get("createdBy") or ev.actor_uuid),
        bill_id=f.bill_id, business_service=f.service, consumer_code=f.consumer_code,
        payment_mode=str(doc["paymentMode"]), total_due_paise=to_paise(doc.get("totalDue") or 0),
        amount_paid_paise=f.amount_paise, instrument_number=doc.get("instrumentNumber"),
        instrument_date=inst_date.astimezone(IST).date() if inst_date else None,
        instrument_status=str(doc["instrumentStatus"]), payment_status=str(doc["paymentStatus"]),
        cancel_reason=None, remittance_id=None,
        payment=doc, created_at=f.receipt_date, updated_at=f.receipt_date, origin=None)


def settle_bill(app: "App", uow: "UnitOfWork", f: PaymentFacts, now: dt.datetime) -> None:
    """The counter's bill of the payment PAID / PARTIALLY_PAID at the hub as the payment left it
    (bills are derived: the hub holds the counter's bill from the payment's own copy of it when
    it had none); any other open bill of the consumer code stale (its dues changed)."""
    s = uow.session
    row = s.get(BillRow, f.bill_id)
    if row is None:
        s.add(BillRow(**bill_values(app, uow, f, now)))
    elif row.status in ("ACTIVE", "EXPIRED") and f.bill_status in ("PAID", "PARTIALLY_PAID"):
        row.bill = {**row.bill, "status": f.bill_status}
        row.status, row.updated_at = f.bill_status, now
    others = s.execute(select(BillRow).where(
        BillRow.tenant_id == f.tenant_id, BillRow.consumer_code == f.consumer_code,
        BillRow.business_service == f.service, BillRow.status.in_(("ACTIVE", "PARTIALLY_PAID")),
        BillRow.id != f.bill_id)).scalars()
    for other in others:
        billing.expire(other, now)
    s.flush()


def bill_values(app: "App", uow: "UnitOfWork", f: PaymentFacts, now: dt.datetime) -> dict[str, Any]:
    """The bill row of the payment's copy of its bill (payer sealed with the hub's keys)."""
    doc = {**f.bill_doc, "payerName": reseal(app, uow, f.tenant_id, f.bill_doc.get("payerName")),
           "mobileNumber": reseal(app, uow, f.tenant_id, f.bill_doc.get("mobileNumber"))}
    expiry = min([int(d["expiryDate"]) for d in doc.get("billDetails") or [] if d.get("expiryDate")] or [0])
    return dict(id=f.bill_id, tenant_id=f.tenant_id, bill_number=str(doc.get("billNumber") or f.bill_id),
                consumer_code=f.consumer_code, business_service=f.service, status=f.bill_status or "PAID",
                total_amount_paise=to_paise(doc.get("totalAmount") or 0),
                expires_at=_ms_date(expiry) or now, mobile_bidx=None, bill=doc, created_at=now, updated_at=now)


# -- cancel / dishonour ------------------------------------------------------------------------
def payment_reversed(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    f = PaymentFacts(ev)
    s = uow.session
    action = str(ev.payload.get("action") or ("CANCEL" if ev.event_type.endswith("cancelled") else "DISHONOUR"))
    status, _event, (k_reason, k_comment, _by, k_approved) = _REVERSALS[action]
    row = s.get(Payment, f.id)
    if row is None:
        raise Parked(E_PAYMENT_NOT_FOUND, f"the hub has no payment {f.receipt} to {action.lower()}",
                     {"receiptNumber": f.receipt, "tenantId": f.tenant_id})
    if billing.lock_consumer_code(uow, f.tenant_id, row.business_service, row.consumer_code):
        s.refresh(row, with_for_update=True)
    if row.payment_status == status:
        return APPLIED
    _workflow_checks(row)           # cancelled vs dishonoured: refused as at the counter
    extra = f.doc.get("additionalDetails") or {}
    code = str(ev.payload.get("reason") or extra.get(k_reason) or "")
    _reverse_and_record(app, uow, ctx, f.tenant_id, row, action, code, extra.get(k_comment),
                        str(extra.get(k_approved) or ctx.actor.user_name))
    return APPLIED


# -- remit -------------------------------------------------------------------------------------
def payments_remitted(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    s = uow.session
    slip = ev.payload.get("Remittance") or {}
    rid = str(slip.get("id") or ev.entity_id)
    if s.get(Remittance, rid) is not None:
        return APPLIED
    now = ctx.now()
    rows = []
    for receipt in ev.payload.get("receiptNumbers") or []:
        row = s.execute(select(Payment).where(Payment.tenant_id == ev.tenant_id,
                                              Payment.receipt_number == receipt)).scalar()
        if row is None:
            raise Parked(E_PAYMENT_NOT_FOUND, f"the hub has no payment {receipt} to remit",
                         {"receiptNumber": receipt, "tenantId": ev.tenant_id})
        _workflow_checks(row)
        rows.append(row)
    s.add(Remittance(id=rid, tenant_id=ev.tenant_id, slip_number=str(slip.get("slipNumber")), bank=slip.get("bank"),
                     cash_paise=to_paise(slip.get("cashTotal") or 0),
                     instruments_paise=to_paise(slip.get("instrumentsTotal") or 0), slip=slip,
                     created_by=ctx.actor.uuid, created_at=now))
    for r in rows:
        r.remittance_id = rid
        _set_status(r, now, ctx.actor.uuid, payment_status="DEPOSITED", instrument_status="REMITTED",
                    extra={"remittanceSlip": slip.get("slipNumber")})
    s.flush()
    uow.record(Event(ev.event_type, ev.tenant_id, "Remittance", rid, str(ev.audit.get("operation")), ev.payload,
                     before=ev.audit.get("before"), after=ev.audit.get("after")))
    return APPLIED

