"""The payment lifecycle: DIGIT collection-services `/payments/_workflow` with its actions.

- CANCEL: the latest APPROVED payment of a consumer code only, a reason from
  common-masters.CancelReceiptReason; DISHONOUR: the latest cheque / DD, APPROVED or REMITTED, a
  reason code likewise; both guarded by the service's payments/<SVC>/_workflow, and both reverse
  the demand collections (through `services.billing.reverse_collection_in`).
- REMIT: a deposit slip listing the instruments and cash of closed shifts.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import billing as bl
from digitctl.domain import safetext
from digitctl.domain.collection import (
    DEPOSITED_MODES, E_ALREADY_CANCELLED, E_ALREADY_DISHONOURED, E_CANCEL_FORBIDDEN, E_DISHONOUR_FORBIDDEN,
    E_DISHONOUR_MODE, E_DISHONOUR_REASON, E_NOT_LATEST, E_NOTHING_TO_REMIT, E_REASON, E_REMIT_MODE,
    E_REMIT_SHIFT_OPEN, E_REMITTED, INSTRUMENT_MODES, REMITTED_MODES)
from digitctl.domain.events import Event
from digitctl.domain.money import from_paise
from digitctl.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from digitctl.services import billing, idgen
from digitctl.services.access import authorize
from digitctl.services.payments import CREATE_URL, WORKFLOW_URL, check_taken_here, payment_row, present
from digitctl.services.shifts import current_shift
from local_store.models import Application
from local_store.models import Bill as BillRow
from local_store.models import AuditRecord, Payment, Remittance, Shift

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import Actor, RequestContext
    from local_store.uow import UnitOfWork

SLIP_ID_NAME = "remittance.slip.id"
SLIP_FALLBACK_FORMAT = "SLIP/[COUNTER]/[CITY.CODE]/[fy:yyyy-yy]/[SEQ_REMIT_SLIP_[TENANT_ID]]"


def _ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _set_status(row: Payment, now: dt.datetime, actor: str, *, payment_status: str | None = None,
                instrument_status: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = dict(row.payment)
    if payment_status:
        row.payment_status = doc["paymentStatus"] = payment_status
    if instrument_status:
        row.instrument_status = doc["instrumentStatus"] = instrument_status
    if payment_status in ("CANCELLED", "DISHONOURED"):
        # as DIGIT's PaymentWorkflowService: the bill the payment paid is CANCELLED with it
        doc["paymentDetails"] = [{**pd, "bill": {**pd["bill"], "status": "CANCELLED"}}
                                 if isinstance(pd.get("bill"), dict) else pd for pd in doc.get("paymentDetails") or []]
    doc["additionalDetails"] = {**(doc.get("additionalDetails") or {}), **(extra or {})}
    doc["auditDetails"] = {**(doc.get("auditDetails") or {}), "lastModifiedBy": actor, "lastModifiedTime": _ms(now)}
    row.payment, row.updated_at = doc, now
    return doc


def _reverse_payment(uow: "UnitOfWork", row: Payment, now: dt.datetime, action: str) -> dict[str, Any] | None:
    """Take the payment's collections back off its demands; returns a notice for the application
    the payment was for, if any (see _flag_application)."""
    written = (row.payment.get("additionalDetails") or {}).get("apportionment") or []
    billing.reverse_collection_in(uow, written, now)
    bill = uow.session.get(BillRow, row.bill_id)
    if bill is not None and bill.status in ("PAID", "PARTIALLY_PAID", "ACTIVE"):
        # the amounts on the bill no longer hold: a new bill is fetched for what is due again
        billing.expire(bill, now)
    return _flag_application(uow, row, now, action)


def _flag_application(uow: "UnitOfWork", row: Payment, now: dt.datetime, action: str) -> dict[str, Any] | None:
    """A cancelled or dishonoured payment of an application that has gone past PENDINGPAYMENT on it
    (a NewTL licence APPROVED on a cheque that bounced): DIGIT's workflows have no action back to
    PENDINGPAYMENT, so the status stays; the application is marked (details.paymentReversals), an
    event tells the hub, and the caller shows the notice so that someone follows it up."""
    appl = uow.session.get(Application, row.consumer_code)
    if appl is None or appl.tenant_id != row.tenant_id or appl.application_status == "PENDINGPAYMENT":
        return None
    notice = {"applicationNumber": appl.application_no, "applicationStatus": appl.application_status,
              "receiptNumber": row.receipt_number, "action": action, "at": _ms(now),
              "message": f"{appl.application_no} is {appl.application_status} on receipt {row.receipt_number}, "
                         f"now {action.lower()}: its fee is owed again (fetch a new bill); the workflow "
                         "has no way back, so follow it up"}
    details = dict(appl.details or {})
    details["paymentReversals"] = [*(details.get("paymentReversals") or []), notice]
    appl.details, appl.updated_at = details, now
    uow.session.flush()
    uow.record(Event("application.payment.reversed", appl.tenant_id, "Application", appl.application_no,
                     WORKFLOW_URL, {"applicationNumber": appl.application_no, "notice": notice},
                     before={"paymentReversals": len(details["paymentReversals"]) - 1},
                     after={"paymentReversals": len(details["paymentReversals"]), "receiptNumber": row.receipt_number}))
    return notice


def _locked_payment_row(uow: "UnitOfWork", tenant_id: str, receipt_no: str) -> Payment:
    """The payment, read again under its consumer code's lock (see billing.lock_consumer_code),
    so that two supervisors cancelling it at once cannot both reverse it."""
    row = payment_row(uow, tenant_id, receipt_no, taken_here=True)
    if billing.lock_consumer_code(uow, tenant_id, row.business_service, row.consumer_code):
        uow.session.refresh(row, with_for_update=True)      # and the row: a remit does not take the lock
    return row


def _workflow_checks(row: Payment) -> None:
    check_taken_here(row)
    params = {"receiptNumber": row.receipt_number, "paymentStatus": row.payment_status}
    if row.payment_status == "CANCELLED":
        raise Conflict(E_ALREADY_CANCELLED, f"receipt {row.receipt_number} is already cancelled", params)
    if row.payment_status == "DISHONOURED":
        raise Conflict(E_ALREADY_DISHONOURED, f"receipt {row.receipt_number} was dishonoured", params)


def cancel_url(business_service: str) -> str:
    """The action that guards cancelling a receipt of `business_service`."""
    return f"/collection-services/payments/{business_service}/_workflow"


def _authorize_cancel(app: "App", ctx: "RequestContext", tenant_id: str, row: Payment,
                      action: str = "CANCEL") -> None:
    """The per-service `_workflow` action that guards CANCEL and DISHONOUR of a receipt."""
    url = cancel_url(row.business_service)
    code, doing = ((E_CANCEL_FORBIDDEN, "cancelling") if action == "CANCEL"
                   else (E_DISHONOUR_FORBIDDEN, "dishonouring"))
    try:
        authorize(app, ctx, url, tenant_id)
    except Unauthenticated:
        raise
    except Forbidden as exc:
        would = exc.params.get("rolesThatWouldGrant") or []
        raise Forbidden(code,
                        f"{doing} a {row.business_service} receipt needs a supervisor: a receipt cancellator "
                        f"role ({', '.join(would) or 'none is configured for this service; SUPERUSER only'}) "
                        f"that maps to {url}; {ctx.actor.user_name} has none",
                        {**exc.params, "receiptNumber": row.receipt_number}) from None


def _reason_code(app: "App", uow: "UnitOfWork", tenant_id: str, reason: str | None, action: str) -> str:
    """A code of common-masters.CancelReceiptReason (active). DIGIT keeps the reason of a cancel and
    of a dishonour in the same field (the bill's reasonForCancellation) and its data has no other
    receipt-reason master, so both take these codes (CHEQUEBOUNCE is the dishonour's)."""
    code = (reason or "").strip().upper()
    reasons = [r.get("code") for r in app.mdms.at_state(tenant_id, "common-masters", "CancelReceiptReason",
                                                        conn=uow.session.connection())
               if isinstance(r, dict) and bl.parse_bool(r.get("active"), True)]
    if code not in reasons:
        err, what = (E_REASON, "cancel") if action == "CANCEL" else (E_DISHONOUR_REASON, "dishonour")
        raise InvalidInput(err, f"{reason!r} is not a reason to {what} a receipt: one of "
                           f"{', '.join(map(str, reasons)) or '(none in common-masters.CancelReceiptReason)'}",
                           {"reason": reason, "allowed": reasons})
    return code


def _latest_check(uow: "UnitOfWork", tenant_id: str, row: Payment, action: str) -> None:
    """PaymentWorkflowValidator.validateForCancel: only the latest payment of the consumer code, among
    those PaymentWorkflowService searches: APPROVED ones for a cancel, cheques / DDs APPROVED or
    REMITTED for a dishonour. "Latest" is recording order (the payment's own audit record: the
    clock may stand still)."""
    s = uow.session
    created = (select(AuditRecord.seq).where(AuditRecord.entity_type == "Payment", AuditRecord.entity_id == Payment.id,
                                             AuditRecord.operation == CREATE_URL)
               .correlate(Payment).scalar_subquery())
    mine = s.execute(select(created).where(Payment.id == row.id)).scalar()
    among = ([Payment.instrument_status == "APPROVED"] if action == "CANCEL"
             else [Payment.instrument_status.in_(("APPROVED", "REMITTED")), Payment.payment_mode.in_(INSTRUMENT_MODES)])
    later = list(s.execute(select(Payment.receipt_number).where(
        Payment.tenant_id == tenant_id, Payment.consumer_code == row.consumer_code,
        Payment.business_service == row.business_service, Payment.id != row.id, *among,
        created > (mine or 0)).order_by(created.desc())).scalars())
    if later:
        what, verb = ("payment", "cancelled") if action == "CANCEL" else ("cheque / DD", "dishonoured")
        raise InvalidInput(E_NOT_LATEST, f"only the latest {what} of {row.consumer_code} can be {verb}: "
                           f"{later[0]} is later; it goes first", {"receiptNumber": row.receipt_number,
                                                                   "latestReceiptNumber": later[0]})


def _cancel_checks(app: "App", uow: "UnitOfWork", tenant_id: str, row: Payment, reason: str) -> None:
    """What makes a cancellation wrong whoever asks: the reason, the payment's state, and that it
    is the latest APPROVED payment of its consumer code."""
    _reason_code(app, uow, tenant_id, reason, "CANCEL")
    _workflow_checks(row)
    if row.payment_status == "DEPOSITED":
        how = ("a card payment is deposited by the card network when taken" if row.payment_mode in REMITTED_MODES
               else "it was already deposited in the bank (remitted)")
        raise Conflict(E_REMITTED, f"receipt {row.receipt_number} cannot be cancelled: {how}",
                       {"receiptNumber": row.receipt_number, "paymentMode": row.payment_mode})
    _latest_check(uow, tenant_id, row, "CANCEL")


def _dishonour_checks(app: "App", uow: "UnitOfWork", tenant_id: str, row: Payment, reason: str | None) -> None:
    """What makes a dishonour wrong whoever asks: the reason, that it is a cheque / DD not cancelled
    or dishonoured already, and the latest such of its consumer code."""
    _reason_code(app, uow, tenant_id, reason, "DISHONOUR")
    _workflow_checks(row)
    if row.payment_mode not in INSTRUMENT_MODES:
        raise InvalidInput(E_DISHONOUR_MODE, f"receipt {row.receipt_number} was paid by {row.payment_mode}: "
                           "only a cheque or DD can be dishonoured", {"paymentMode": row.payment_mode})
    _latest_check(uow, tenant_id, row, "DISHONOUR")


def check_cancel(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str, reason: str) -> None:
    """The refusals a cancel would give before anyone is asked for a password (nothing written):
    the CLI calls it before the supervisor types theirs."""
    authorize(app, ctx, WORKFLOW_URL, tenant_id)
    with app.uow(ctx, readonly=True) as uow:
        _cancel_checks(app, uow, tenant_id, payment_row(uow, tenant_id, receipt_no, taken_here=True), reason)


def check_dishonour(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str, reason: str) -> None:
    """check_cancel for a dishonour."""
    authorize(app, ctx, WORKFLOW_URL, tenant_id)
    with app.uow(ctx, readonly=True) as uow:
        _dishonour_checks(app, uow, tenant_id, payment_row(uow, tenant_id, receipt_no, taken_here=True), reason)


def cancel(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str, reason: str,
           comment: str | None = None, approver: "Actor | None" = None) -> dict[str, Any]:
    """CANCEL: the latest APPROVED payment of its consumer code only, with a CancelReceiptReason, by a
    supervisor: DIGIT guards cancellation per service with `/collection-services/payments/<SVC>/_workflow`,
    held by a receipt cancellator role (CR_PT for property tax in the real data), not by the counter
    clerks who hold the generic `_workflow`. A service without such an action is SUPERUSER's only.

    At the counter the clerk cancels with the supervisor standing by: `approver` is the supervisor
    (whose password the caller has checked); then the clerk needs the generic `_workflow` and the
    approver the cancellator role, and both names go into the payment and its event."""
    code = (reason or "").strip().upper()
    safetext.check_text(comment, "comment", max_length=safetext.COMMENT_MAX, allow_lines=True)
    if approver is not None:
        authorize(app, ctx, WORKFLOW_URL, tenant_id)
    with app.uow(ctx) as uow:
        row = _locked_payment_row(uow, tenant_id, receipt_no)
        _authorize_cancel(app, ctx if approver is None else replace(ctx, actor=approver), tenant_id, row)
        approved_by = (approver or ctx.actor).user_name
        _cancel_checks(app, uow, tenant_id, row, reason)
        out = _reverse_and_record(app, uow, ctx, tenant_id, row, "CANCEL", code, comment, approved_by)
        uow.commit()
    return out


# What a cancel and a dishonour write, in the payment's JSON and their event (DIGIT's field names).
_REVERSALS = {
    "CANCEL": ("CANCELLED", "collection.payment.cancelled",
               ("cancellationReason", "cancellationComment", "cancelledBy", "cancellationApprovedBy")),
    "DISHONOUR": ("DISHONOURED", "collection.payment.dishonoured",
                  ("dishonourReason", "dishonourComment", "dishonouredBy", "dishonourApprovedBy")),
}


def _reverse_and_record(app: "App", uow: "UnitOfWork", ctx: "RequestContext", tenant_id: str, row: Payment,
                        action: str, code: str, comment: str | None, approved_by: str) -> dict[str, Any]:
    """The demand owed again, the payment marked, and one event with its before/after: the part a
    cancel and a dishonour share once their own checks have passed."""
    status, event_type, (k_reason, k_comment, k_by, k_approved) = _REVERSALS[action]
    now = ctx.now()
    before = {"paymentStatus": row.payment_status, "instrumentStatus": row.instrument_status}
    notice = _reverse_payment(uow, row, now, status)
    row.cancel_reason = code
    doc = _set_status(row, now, ctx.actor.uuid, payment_status=status, instrument_status=status,
                      extra={k_reason: code, k_comment: comment, k_by: ctx.actor.user_name, k_approved: approved_by,
                             **({"applicationNotice": notice} if notice else {})})
    uow.session.flush()
    uow.record(Event(event_type, tenant_id, "Payment", row.id, WORKFLOW_URL,
                     {"Payments": [doc], "action": action, "reason": code},
                     before=before, after={"paymentStatus": status, "reason": code, "comment": comment,
                                           "approvedBy": approved_by}))
    return present(app, uow, ctx, doc)


def dishonour(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str, reason: str | None,
              comment: str | None = None, approver: "Actor | None" = None) -> dict[str, Any]:
    """DISHONOUR: a cheque or DD that bounced, the latest cheque / DD (APPROVED or REMITTED) of its
    consumer code only; the demand is owed again. Guarded as a cancel is (DIGIT's one `_workflow`
    does both): the service's `/collection-services/payments/<SVC>/_workflow`, held by the actor or
    by the `approver` standing by at the counter; the reason is a CancelReceiptReason code
    (CHEQUEBOUNCE), free text goes in `comment`."""
    safetext.check_text(comment, "comment", max_length=safetext.COMMENT_MAX, allow_lines=True)
    if approver is not None:
        authorize(app, ctx, WORKFLOW_URL, tenant_id)
    with app.uow(ctx) as uow:
        row = _locked_payment_row(uow, tenant_id, receipt_no)
        _authorize_cancel(app, ctx if approver is None else replace(ctx, actor=approver), tenant_id, row,
                          "DISHONOUR")
        approved_by = (approver or ctx.actor).user_name
        _dishonour_checks(app, uow, tenant_id, row, reason)
        code = (reason or "").strip().upper()
        out = _reverse_and_record(app, uow, ctx, tenant_id, row, "DISHONOUR", code, comment, approved_by)
        uow.commit()
    return out


def remit(app: "App", ctx: "RequestContext", tenant_id: str, receipt_nos: list[str] | None = None,
          bank: str | None = None) -> dict[str, Any]:
    """REMIT: deposit NEW payments in the bank: DEPOSITED / REMITTED and a deposit slip (instruments
    and cash). Only what goes to the bank in hand is deposited (cash, cheques, DDs, postal orders;
    card and NEFT / RTGS money reaches the bank by itself), and only from CLOSED shifts: the shift's
    count is of the drawer, so its money leaves the counter after the count. With no receipt
    numbers: every such payment of the clerk's closed shifts at this counter."""
    authorize(app, ctx, WORKFLOW_URL, tenant_id)
    now = ctx.now()
    with app.uow(ctx) as uow:
        rows = (_given_to_remit(uow, tenant_id, receipt_nos) if receipt_nos
                else _closed_shifts_to_remit(uow, ctx, tenant_id))
        if not rows:
            raise InvalidInput(E_NOTHING_TO_REMIT, "no NEW payments to deposit", {"tenantId": tenant_id})
        slip_no = idgen.generate_in(uow, app, SLIP_ID_NAME, tenant_id, fmt=SLIP_FALLBACK_FORMAT)[0]
        rid = str(uuid.uuid4())
        slip, cash_paise, inst_paise = _deposit_slip(rid, slip_no, tenant_id, bank, ctx.actor.user_name, rows, now)
        uow.session.add(Remittance(id=rid, tenant_id=tenant_id, slip_number=slip_no, bank=bank, cash_paise=cash_paise,
                                   instruments_paise=inst_paise, slip=slip, created_by=ctx.actor.uuid, created_at=now))
        for r in rows:
            r.remittance_id = rid
            _set_status(r, now, ctx.actor.uuid, payment_status="DEPOSITED", instrument_status="REMITTED",
                        extra={"remittanceSlip": slip_no})
        uow.session.flush()
        uow.record(Event("collection.payments.remitted", tenant_id, "Remittance", rid, WORKFLOW_URL,
                         {"Remittance": slip, "action": "REMIT",
                          "receiptNumbers": [r.receipt_number for r in rows]},
                         before={"paymentStatus": "NEW"}, after={"slipNumber": slip_no, "total": slip["total"],
                                                                 "paymentStatus": "DEPOSITED"}))
        uow.commit()
    return slip


def _given_to_remit(uow: "UnitOfWork", tenant_id: str, receipt_nos: list[str]) -> list[Payment]:
    """The payments named, each NEW, deposited by hand and from a closed shift."""
    s = uow.session
    rows = [payment_row(uow, tenant_id, r) for r in receipt_nos]
    if uow.store.dialect == "postgresql":     # a cancel at the same moment: see its outcome
        for r in sorted(rows, key=lambda r: r.id):
            s.refresh(r, with_for_update=True)
    for r in rows:
        _workflow_checks(r)
        if r.payment_status != "NEW":
            how = (" (a card payment is deposited by the card network)" if r.payment_mode in REMITTED_MODES
                   else "")
            raise Conflict(E_REMITTED, f"receipt {r.receipt_number} is {r.payment_status}{how}: only NEW "
                           "payments can be remitted", {"receiptNumber": r.receipt_number})
        if r.payment_mode not in DEPOSITED_MODES:
            raise InvalidInput(E_REMIT_MODE, f"receipt {r.receipt_number} was paid by {r.payment_mode}: "
                               "that money reaches the bank without a deposit slip",
                               {"receiptNumber": r.receipt_number, "paymentMode": r.payment_mode})
        shift = s.get(Shift, r.shift_id) if r.shift_id else None
        if shift is not None and shift.status != "CLOSED":
            raise InvalidInput(E_REMIT_SHIFT_OPEN, f"receipt {r.receipt_number} is in a shift still open: "
                               "close it first (shift close --count ...), then deposit",
                               {"receiptNumber": r.receipt_number, "shiftId": shift.id})
    return rows


def _closed_shifts_to_remit(uow: "UnitOfWork", ctx: "RequestContext", tenant_id: str) -> list[Payment]:
    """Every NEW payment deposited by hand from the clerk's closed shifts at this counter."""
    s = uow.session
    counter = uow.meta("counter_code") or ""
    rows = list(s.execute(select(Payment).join(Shift, Shift.id == Payment.shift_id).where(
        Shift.counter_code == counter, Shift.user_uuid == ctx.actor.uuid, Shift.status == "CLOSED",
        Payment.tenant_id == tenant_id, Payment.payment_status == "NEW",
        Payment.payment_mode.in_(DEPOSITED_MODES))
        .order_by(Payment.created_at).with_for_update(of=Payment)).scalars())   # FOR UPDATE: PostgreSQL only
    if not rows and current_shift(s, counter, ctx.actor.uuid) is not None:
        raise InvalidInput(E_NOTHING_TO_REMIT, "nothing to deposit from closed shifts: close your open "
                           "shift first (shift close --count ...)", {"tenantId": tenant_id})
    return rows


def _deposit_slip(rid: str, slip_no: str, tenant_id: str, bank: str | None, depositor: str,
                  rows: list[Payment], now: dt.datetime) -> tuple[dict[str, Any], int, int]:
    """The deposit slip (instruments one by one, cash as one sum), its cash and its instruments in paise."""
    cash = [r for r in rows if r.payment_mode == "CASH"]
    inst = [r for r in rows if r.payment_mode != "CASH"]
    cash_paise = sum(r.amount_paid_paise for r in cash)
    inst_paise = sum(r.amount_paid_paise for r in inst)
    slip = {"id": rid, "slipNumber": slip_no, "tenantId": tenant_id, "bank": bank,
            "depositDate": _ms(now), "depositedBy": depositor,
            "instruments": [{"receiptNumber": r.receipt_number, "paymentMode": r.payment_mode,
                             "instrumentNumber": r.instrument_number,
                             "instrumentDate": r.instrument_date.isoformat() if r.instrument_date else None,
                             "bankName": (r.payment.get("additionalDetails") or {}).get("bankName"),
                             "branchName": (r.payment.get("additionalDetails") or {}).get("branchName"),
                             "ifscCode": r.payment.get("ifscCode"),
                             "amount": str(from_paise(r.amount_paid_paise))} for r in inst],
            "cash": {"receipts": [r.receipt_number for r in cash], "amount": str(from_paise(cash_paise))},
            "instrumentsTotal": str(from_paise(inst_paise)), "cashTotal": str(from_paise(cash_paise)),
            "total": str(from_paise(cash_paise + inst_paise))}
    return slip, cash_paise, inst_paise
