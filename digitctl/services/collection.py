"""Collection: taking a payment at a counter (DIGIT collection-services v2 `payments/_create`).

- `pay` is `/collection-services/payments/_create` for one bill: the mode and instrument rules
  of collection-services `PaymentValidator` (cheque/DD number and date, not in the future and at
  most 90 days old, counted in IST; bank, branch and an IFSC of the form ^[A-Z]{4}0[A-Z0-9]{6}$;
  the service's `collectionModesNotAllowed`), the amount rules and apportionment of
  `digitctl.domain.billing`, one live payment per bill (a part-paid bill is refused
  BILL_ALREADY_PAID: the rest is paid on a fresh bill, as DIGIT does), and in ONE unit of work:
  the receipt number (idgen), the demand's collected amounts, the bill's status (PAID /
  PARTIALLY_PAID, row and JSON), the Payment row and its DIGIT JSON, a "collection.payment.created"
  event (outbox + audit) and, when the consumer code is an application whose demand is now fully
  paid, the workflow's PAY (applications.pay_in).
- The payment rules (modes, instruments, typed amounts) are plain Python in
  `digitctl.domain.collection`; the demands and the bill are written through `services.billing`
  (record_collection_in, settle_bill_in); a stored payment is read and shown by `services.payments`.
- `cancel`, `dishonour` and `remit` (`/collection-services/payments/_workflow`) live in
  `services.payment_lifecycle`; they are re-exported here, where callers have always found them.
- `receipt_pdf` renders the receipt; the first print is the original, every later one a
  DUPLICATE (the print count is kept in the payment JSON's additionalDetails, each print audited).

Receipt numbers are collection-services' (IdGenRepository): `receipt.id`, or `<svc>.receipt.id`
when the store was set up with service-based numbering (`init --receipt-numbers-by-service`,
DIGIT's receiptnumber.servicebased). They carry the counter code so that two offline counters
never issue the same number: `counter.<name>` where IdFormat has one with `[COUNTER]`, else
`<name>` with the counter code in front ("C01/...").

Money is Decimal in the domain, integer paise in the store, exact decimal strings in the stored
and returned JSON (DIGIT's contract types them as numbers: convert at the boundary, never float).
Payer name and mobile are ciphertext in the stored JSON and in events; what is returned is shown
as the actor's roles may see it (DataSecurity, model "User")."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from sqlalchemy import func, select

from digitctl.clock import IST
from digitctl.domain import billing as bl
from digitctl.domain import safetext
from digitctl.domain.collection import (  # noqa: F401  (re-exported: callers import them from here)
    DEPOSITED_MODES, E_ALREADY_CANCELLED, E_ALREADY_DISHONOURED, E_AMOUNT, E_BANK, E_BILL_CANCELLED,
    E_BILL_EXPIRED, E_BILL_NOT_FOUND, E_BILL_PAID, E_CANCEL_FORBIDDEN, E_DISHONOUR_FORBIDDEN, E_DISHONOUR_MODE,
    E_DISHONOUR_REASON, E_IFSC, E_INSTRUMENT_DATE, E_INSTRUMENT_NUMBER, E_MOBILE, E_MODE, E_MODE_NOT_ALLOWED,
    E_NOT_LATEST, E_NOTHING_TO_REMIT, E_PAYMENT_NOT_FOUND, E_REASON, E_REMIT_MODE, E_REMIT_SHIFT_OPEN,
    E_REMITTED, E_TXN_NUMBER, IFSC, INSTRUMENT_MODES, LIVE_INSTRUMENT_STATUSES, MAX_INSTRUMENT_AGE_DAYS, MODES,
    REFERENCE_MODES, REMITTED_MODES, bill_fully_paid, check_instrument, check_mode, parse_amount)
from digitctl.domain.events import Event
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.money import ZERO, money, to_paise
from digitctl.errors import Conflict, InvalidInput, NotFound
from digitctl.services import billing, idgen, ownership
from digitctl.services.access import authorize
from digitctl.services.payment_lifecycle import (  # noqa: F401  (re-exported)
    SLIP_FALLBACK_FORMAT, SLIP_ID_NAME, cancel, cancel_url, check_cancel, check_dishonour, dishonour, remit)
from digitctl.services.payments import (  # noqa: F401  (re-exported)
    CREATE_URL, SEARCH_URL, WORKFLOW_URL, get_payment, payment_row, present)
from digitctl.services.shifts import require_open_shift
from local_store.models import Application
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import Payment, Shift, UserAccount

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

RECEIPT_ID_NAME = "receipt.id"                                          # receiptnumber.idname
RECEIPT_STATE_LEVEL_FORMAT = "[cy:MM]/[fy:yyyy-yy]/[SEQ_COLL_RCPT_NUM]"  # receiptnumber.state.level.format


def _ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _s(value: Decimal) -> str:
    return str(money(value))


# -- receipt numbers -------------------------------------------------------------------------------
def _receipt_number(uow: "UnitOfWork", app: "App", tenant_id: str, service: str) -> str:
    """IdGenRepository.generateReceiptNumber: `receipt.id` (with DIGIT's state-level format when the
    state has no IdFormat for it), or `<svc>.receipt.id` when the store numbers receipts by service
    (receiptnumber.servicebased; then a service without one is ID_NOT_FOUND, as in DIGIT). The
    counter variant `counter.<name>` is used where the state has one with [COUNTER]; otherwise the
    counter code goes in front (idgen.generate_for_counter)."""
    from digitctl.services.store import RECEIPT_NUMBERING_META

    by_service = (uow.meta(RECEIPT_NUMBERING_META) or "").lower() == "true"
    name = f"{service.lower()}.{RECEIPT_ID_NAME}" if by_service else RECEIPT_ID_NAME
    if "[COUNTER]" in idgen.formats(app, tenant_id, uow.session.connection()).get(f"counter.{name}", "").upper():
        return idgen.generate_in(uow, app, f"counter.{name}", tenant_id)[0]
    return idgen.generate_for_counter(uow, app, name, tenant_id,
                                      fmt=None if by_service else RECEIPT_STATE_LEVEL_FORMAT)


def _check_bill(uow: "UnitOfWork", row: BillRow, bill: bl.Bill, now: dt.datetime) -> None:
    params = {"billId": row.id, "billNumber": row.bill_number, "consumerCode": row.consumer_code}
    # DIGIT's PaymentValidator.validateIPaymentForBillPresent: one live payment per bill, part-paid
    # or not; what is still due is paid on a fresh bill
    live = uow.session.execute(select(Payment.receipt_number, Payment.instrument_status).where(
        Payment.tenant_id == row.tenant_id, Payment.consumer_code == row.consumer_code,     # ix_payment_consumer
        Payment.business_service == row.business_service, Payment.bill_id == row.id,
        Payment.instrument_status.in_(LIVE_INSTRUMENT_STATUSES))
        .order_by(Payment.created_at)).first()
    if live is not None:
        raise Conflict(E_BILL_PAID, f"bill {row.bill_number} of {row.consumer_code} already has payment "
                       f"{live.receipt_number} ({live.instrument_status}): a bill is paid once; fetch a fresh "
                       f"bill for what is still due (digitctl bill fetch --consumer-code {row.consumer_code})",
                       {**params, "receiptNumber": live.receipt_number, "instrumentStatus": live.instrument_status})
    if row.status == "PAID":
        raise Conflict(E_BILL_PAID, f"bill {row.bill_number} of {row.consumer_code} is already paid in full", params)
    if row.status == "CANCELLED":
        raise InvalidInput(E_BILL_CANCELLED, f"bill {row.bill_number} was cancelled: fetch the bill again", params)
    if row.status == "EXPIRED" or bill.is_expired(now):
        raise InvalidInput(E_BILL_EXPIRED, f"bill {row.bill_number} has expired: fetch the bill again "
                           f"(digitctl bill fetch --consumer-code {row.consumer_code})", params)
    stored = (row.bill.get("additionalDetails") or {}).get("demandHash")
    if stored != billing.demand_hash_now(uow, row.tenant_id, row.consumer_code, row.business_service):
        # another payment (or a demand update) changed what is owed since this bill was made
        raise InvalidInput(E_BILL_EXPIRED, f"the dues of {row.consumer_code} changed after bill {row.bill_number} "
                           "was made: fetch the bill again", params)


def _maybe_pay_application(uow: "UnitOfWork", app: "App", ctx: "RequestContext", row: BillRow) -> dict[str, Any] | None:
    """PAY on the application whose demand this payment settled (consumer code = application no)."""
    return pay_application_if_settled(uow, app, ctx, row.tenant_id, row.consumer_code, f"paid: {row.bill_number}")


def pay_application_if_settled(uow: "UnitOfWork", app: "App", ctx: "RequestContext", tenant_id: str,
                               consumer_code: str, comment: str) -> dict[str, Any] | None:
    """PAY on the application `consumer_code` when it waits in PENDINGPAYMENT and none of its
    ACTIVE demands is unpaid (the counter's payment, and the hub applying it, both call this)."""
    appl = uow.session.get(Application, consumer_code)
    if appl is None or appl.tenant_id != tenant_id:
        return None
    open_demands = uow.session.execute(select(func.count()).select_from(DemandRow).where(
        DemandRow.tenant_id == tenant_id, DemandRow.consumer_code == consumer_code,
        DemandRow.status == "ACTIVE", DemandRow.is_payment_completed.is_(False))).scalar_one()
    if open_demands:
        return None
    if appl.application_status != "PENDINGPAYMENT":
        return None
    from digitctl.services import applications

    return applications.pay_in(uow, app, ctx, consumer_code, comment=comment)


def pay(app: "App", ctx: "RequestContext", *, tenant_id: str, bill_id: str, mode: str,
        amount: str | Decimal | int, instrument_number: str | None = None,
        instrument_date: dt.date | None = None, bank: str | None = None, branch: str | None = None,
        ifsc: str | None = None, payer_name: str | None = None, mobile: str | None = None,
        transaction_number: str | None = None) -> dict[str, Any]:
    """`/collection-services/payments/_create` for one bill at this counter: DIGIT's Payment JSON."""
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    authorize(app, ctx, CREATE_URL, tenant_id)
    value = parse_amount(amount)
    payer_name, mobile_n = _payer_given(payer_name, mobile)
    now = ctx.now()
    today = now.astimezone(IST).date()
    with app.uow(ctx) as uow:
        shift = require_open_shift(uow, ctx)
        row, bill = _bill_to_pay(uow, app, tenant_id, bill_id, now)
        masters = billing.billing_masters(app, tenant_id, uow.session.connection())
        config = masters.business_services.get(bill.business_service)
        not_allowed = tuple(dict.fromkeys([*bill.collection_modes_not_allowed,
                                           *(config.collection_modes_not_allowed if config else ())]))
        m = check_mode(mode, not_allowed, bill.business_service)
        code = check_instrument(m, today, number_=instrument_number, date_=instrument_date, bank=bank,
                                branch=branch, ifsc=ifsc, txn=transaction_number)
        taken = _apportion_in(uow, row, bill, value, masters, config, now)
        receipt_no = _receipt_number(uow, app, tenant_id, bill.business_service)
        ring = app.keyring
        payer = _Payer(name=ring.encrypt(uow, tenant_id, payer_name) if payer_name else bill.payer_name,
                       mobile=ring.encrypt(uow, tenant_id, mobile_n) if mobile_n else bill.mobile_number,
                       named=payer_name is not None)
        inst = _instrument(m, now, today, instrument_number, instrument_date, transaction_number, receipt_no)
        doc = _payment_doc(ctx, tenant_id, row, bill, shift, taken, value, m, receipt_no, inst, code, payer,
                           bank, branch, now)
        # the masters it was taken under (issue 12): a payment stands even if the hub changed them since
        doc["additionalDetails"]["mdmsVersion"] = uow.meta("mdms_version")
        _record_payment(uow, row, bill, shift, doc, taken, value, m, inst, now)
        if taken.status == "PAID":
            _maybe_pay_application(uow, app, ctx, row)
        out = present(app, uow, ctx, doc)
        uow.commit()
    return out


def _payer_given(payer_name: str | None, mobile: str | None) -> tuple[str | None, str | None]:
    """The payer's name and mobile as typed at the counter, checked (nothing is open yet)."""
    mobile_n = None
    if mobile:
        mobile_n = normalize_mobile(mobile)
        if not valid_mobile(mobile_n):
            raise InvalidInput(E_MOBILE, "a mobile number is 10 digits starting with 6-9", {"mobileNumber": mobile})
    payer_name = (payer_name or "").strip() or None
    safetext.check_text(payer_name, "payerName", max_length=safetext.PAYER_NAME_MAX)
    return payer_name, mobile_n


def _bill_to_pay(uow: "UnitOfWork", app: "App", tenant_id: str, bill_id: str,
                 now: dt.datetime) -> tuple[BillRow, bl.Bill]:
    """The bill, read again under its consumer code's lock, and checked it can be paid now."""
    try:
        row, bill = billing.bill_in(uow, app, tenant_id, bill_id)
    except NotFound:
        raise NotFound(E_BILL_NOT_FOUND, f"no bill {bill_id} at {tenant_id}",
                       {"billId": bill_id, "tenantId": tenant_id}) from None
    if billing.lock_consumer_code(uow, tenant_id, row.business_service, row.consumer_code):
        uow.session.refresh(row)         # a payment that held the lock may have paid or expired it
        bill = billing.bill_from_digit(row.bill)
    _check_bill(uow, row, bill, now)
    return row, bill


class _Taken(NamedTuple):
    """What a payment did to its bill."""

    total_due: Decimal
    written: list[dict[str, Any]]        # the shares written on the demand lines (see billing.record_collection_in)
    status: str                          # PAID / PARTIALLY_PAID
    bill_doc: dict[str, Any]             # the payment's own copy of the bill


def _apportion_in(uow: "UnitOfWork", row: BillRow, bill: bl.Bill, value: Decimal, masters: bl.BillingMasters,
                  config: bl.BusinessServiceConfig | None, now: dt.datetime) -> _Taken:
    """Share the amount over the bill (domain.billing.apportion) and write it on the demands and
    the bill, through services.billing (the one writer of those tables)."""
    part = config.part_payment_allowed if config else bill.part_payment_allowed
    advance = config.is_advance_allowed if config else bill.is_advance_allowed
    advance_head = masters.advance_tax_head(bill.business_service)
    total_due = sum((a.due for d in bill.bill_details for a in d.account_details), ZERO)
    allocations = bl.apportion(bill, value, advance_allowed=advance, advance_tax_head=advance_head,
                               part_payment_allowed=part)
    written = billing.record_collection_in(uow, bill, allocations, advance_head, now)
    paid_bill = bl.apply_apportionment(bill, allocations)
    status = "PAID" if bill_fully_paid(paid_bill, advance_head) else "PARTIALLY_PAID"
    # the bill now stands for the demands as this payment leaves them (see _check_bill)
    bill_extra = billing.settle_bill_in(uow, row, paid_bill, status, now)
    # the payment's own copy: what this payment paid on each line (its receipt adds up)
    bill_doc = billing.jsonable({**bl.payment_share(bill, allocations).to_digit(), "status": status,
                                 "additionalDetails": bill_extra})
    return _Taken(total_due, written, status, bill_doc)


class _Payer(NamedTuple):
    name: str | None          # ciphertext
    mobile: str | None        # ciphertext
    named: bool               # a name was typed at the counter (else paidBy is "OWNER")


class _Instrument(NamedTuple):
    number: str | None
    date: dt.date | None
    date_ms: int | None
    status: str               # instrumentStatus
    payment_status: str
    transaction_number: str


def _instrument(mode: str, now: dt.datetime, today: dt.date, number: str | None, date: dt.date | None,
                transaction_number: str | None, receipt_no: str) -> _Instrument:
    """PaymentEnricher: a card starts REMITTED / DEPOSITED, dated when taken; the rest APPROVED / NEW.
    The transaction number is the one given, else the instrument's, else the receipt number."""
    remitted = mode in REMITTED_MODES
    status, payment_status = ("REMITTED", "DEPOSITED") if remitted else ("APPROVED", "NEW")
    date_ms = _ms(dt.datetime.combine(date, dt.time(), IST)) if date else None
    if remitted:
        date, date_ms = today, _ms(now)
    txn = (transaction_number or "").strip() or (number or "").strip() or receipt_no
    return _Instrument((number or "").strip() or None, date, date_ms, status, payment_status, txn)


def _payment_doc(ctx: "RequestContext", tenant_id: str, row: BillRow, bill: bl.Bill, shift: Shift, taken: _Taken,
                 value: Decimal, mode: str, receipt_no: str, inst: _Instrument, ifsc: str | None, payer: _Payer,
                 bank: str | None, branch: str | None, now: dt.datetime) -> dict[str, Any]:
    """DIGIT's Payment JSON of a payment just taken (payer PII as ciphertext)."""
    audit = {"createdBy": ctx.actor.uuid, "createdTime": _ms(now), "lastModifiedBy": ctx.actor.uuid,
             "lastModifiedTime": _ms(now)}
    return {
        "id": str(uuid.uuid4()), "tenantId": tenant_id, "totalDue": _s(taken.total_due),
        "totalAmountPaid": _s(value), "transactionNumber": inst.transaction_number, "transactionDate": _ms(now),
        "paymentMode": mode, "instrumentDate": inst.date_ms, "instrumentNumber": inst.number,
        "instrumentStatus": inst.status, "ifscCode": ifsc,
        "additionalDetails": {"bankName": (bank or "").strip() or None,
                              "branchName": (branch or "").strip() or None, "counterCode": shift.counter_code,
                              "shiftId": shift.id, "collectorName": ctx.actor.user_name, "printCount": 0,
                              "apportionment": taken.written},
        "paymentDetails": [{
            "id": str(uuid.uuid4()), "tenantId": tenant_id, "totalDue": _s(taken.total_due),
            "totalAmountPaid": _s(value), "manualReceiptNumber": None, "receiptNumber": receipt_no,
            "receiptType": "BILLBASED", "receiptDate": _ms(now), "businessService": bill.business_service,
            "billId": row.id, "bill": taken.bill_doc, "auditDetails": audit}],
        "paidBy": payer.name if payer.named else "OWNER", "mobileNumber": payer.mobile, "payerName": payer.name,
        "payerAddress": bill.payer_address, "payerEmail": bill.payer_email, "payerId": bill.payer_id,
        "paymentStatus": inst.payment_status, "fileStoreId": None, "auditDetails": audit,
    }


def _record_payment(uow: "UnitOfWork", row: BillRow, bill: bl.Bill, shift: Shift, doc: dict[str, Any],
                    taken: _Taken, value: Decimal, mode: str, inst: _Instrument, now: dt.datetime) -> None:
    """The Payment row and its "collection.payment.created" event (outbox + audit)."""
    ctx = uow.ctx
    tenant_id, pid = doc["tenantId"], doc["id"]
    receipt_no = doc["paymentDetails"][0]["receiptNumber"]
    uow.session.add(Payment(
        id=pid, tenant_id=tenant_id, receipt_number=receipt_no, receipt_date=now, counter_code=shift.counter_code,
        shift_id=shift.id, collector_uuid=ctx.actor.uuid, bill_id=row.id, business_service=bill.business_service,
        consumer_code=bill.consumer_code, payment_mode=mode, total_due_paise=to_paise(taken.total_due),
        amount_paid_paise=to_paise(value), instrument_number=inst.number, instrument_date=inst.date,
        instrument_status=inst.status, payment_status=inst.payment_status, payment=doc,
        created_at=now, updated_at=now))
    uow.session.flush()
    uow.record(Event("collection.payment.created", tenant_id, "Payment", pid, CREATE_URL, {"Payments": [doc]},
                     before=None, after={"receiptNumber": receipt_no, "paymentMode": mode,
                                         "totalAmountPaid": _s(value), "billId": row.id,
                                         "consumerCode": bill.consumer_code, "billStatus": taken.status,
                                         "apportionment": taken.written}))


# -- receipts --------------------------------------------------------------------------------------
def receipt_pdf(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str, *, fmt: str = "a4",
                copy: bool = False, locale: str = "en_IN",
                deliver: "Callable[[bytes], None] | None" = None) -> tuple[bytes, dict[str, Any], bool]:
    """The receipt PDF: (bytes, payment as shown, duplicate?). The first print is the original;
    any later print, or one asked with copy=True, is marked DUPLICATE; a cancelled payment
    CANCELLED. Each print is counted in the payment and audited. `locale` picks the labels'
    bundle (en_IN, hi_IN ...); the collector printed is the employee who took the payment
    (auditDetails.createdBy), not whoever prints it."""
    from digitctl.documents import receipt as receipts
    from digitctl.services import localization
    authorize(app, ctx, SEARCH_URL, tenant_id)
    if fmt not in receipts.FORMATS:
        raise InvalidInput("INVALID_RECEIPT_FORMAT", f"--format must be one of {', '.join(receipts.FORMATS)}",
                           {"format": fmt})
    if not receipts.has_locale(locale):
        raise InvalidInput("INVALID_LOCALE", f"no localization bundle for locale {locale!r}: one of "
                           f"{', '.join(receipts.locales())}", {"locale": locale})
    now = ctx.now()
    with app.uow(ctx) as uow:
        row = payment_row(uow, tenant_id, receipt_no)
        ownership.check_payment(uow.session, app, ctx, row)       # refused: not printed, not counted
        printed = int((row.payment.get("additionalDetails") or {}).get("printCount") or 0)
        duplicate = copy or printed > 0 or row.origin is not None    # taken elsewhere: only ever a copy here
        shown = present(app, uow, ctx, row.payment)
        conn = uow.session.connection()
        tenants = app.mdms.at_state(tenant_id, "tenant", "tenants", conn=conn)
        tenant = next((t for t in tenants if isinstance(t, dict) and t.get("code") == tenant_id), None)
        # tax heads no bundle has a message for print their MDMS name, not the bare code
        heads = app.mdms.at_state(tenant_id, "BillingService", "TaxHeadMaster", conn=conn)
        names = {str(h["code"]): str(h["name"]) for h in heads
                 if isinstance(h, dict) and h.get("code") and isinstance(h.get("name"), str) and h["name"].strip()}
        # the collector is the employee who took the payment; the printer when that user is unknown
        taker = (row.payment.get("auditDetails") or {}).get("createdBy")
        user = uow.session.get(UserAccount, taker) if isinstance(taker, str) and taker else None
        collector = user.user_name if user is not None else ctx.actor.user_name
        pdf = receipts.render(shown, fmt=fmt, tenant=tenant, collector=collector, copy=duplicate,
                              cancelled=row.payment_status == "CANCELLED",
                              dishonoured=row.payment_status == "DISHONOURED", locale=locale, names=names,
                              labels=localization.translator(app).labels(locale, tenant_id), elsewhere=row.origin)
        doc = dict(row.payment)
        doc["additionalDetails"] = {**(doc.get("additionalDetails") or {}), "printCount": printed + 1}
        if row.origin is None:          # a payment taken elsewhere stays as it came down (read-only)
            row.payment, row.updated_at = doc, now
        if deliver is not None:
            # the PDF reaches the printer / file before the print is counted: a failed delivery
            # rolls back, so the clerk's next try is still the original, not a DUPLICATE
            deliver(pdf)
        uow.session.flush()
        uow.record(Event("collection.receipt.printed", tenant_id, "Payment", row.id, SEARCH_URL,
                         {"receiptNumber": row.receipt_number, "format": fmt, "duplicate": duplicate,
                          "printCount": printed + 1},
                         before={"printCount": printed}, after={"printCount": printed + 1, "duplicate": duplicate}))
        uow.commit()
    return pdf, shown, duplicate
