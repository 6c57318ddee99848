"""Collection: DIGIT collection-services v2 payments at a counter, with their lifecycle.

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
- `cancel`, `dishonour` and `remit` are `/collection-services/payments/_workflow` with DIGIT's
  actions CANCEL (the latest APPROVED payment of a consumer code only, a reason from
  common-masters.CancelReceiptReason), DISHONOUR (the latest cheque / DD, APPROVED or REMITTED, a
  reason code likewise; both guarded by the service's payments/<SVC>/_workflow) and REMIT (a deposit slip listing
  the instruments and cash); cancel and dishonour reverse the demand collections.
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
import re
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import func, select

from digitctl.clock import IST
from digitctl.domain import billing as bl
from digitctl.domain import safetext
from digitctl.domain.events import Event
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.money import ZERO, from_paise, money, number, to_paise
from digitctl.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from digitctl.services import billing, idgen, masking, ownership
from digitctl.services.access import authorize
from digitctl.services.shifts import current_shift, require_open_shift
from local_store.models import Application
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow
from local_store.models import AuditRecord, Payment, Remittance, Shift, UserAccount

if TYPE_CHECKING:
    from digitctl.bootstrap import App
    from digitctl.context import Actor, RequestContext
    from local_store.uow import UnitOfWork

CREATE_URL = "/collection-services/payments/_create"
SEARCH_URL = "/collection-services/payments/_search"
WORKFLOW_URL = "/collection-services/payments/_workflow"

MODES = ("CASH", "CHEQUE", "DD", "OFFLINE_NEFT", "OFFLINE_RTGS", "POSTAL_ORDER", "CARD")
INSTRUMENT_MODES = ("CHEQUE", "DD")
DEPOSITED_MODES = ("CASH", "CHEQUE", "DD", "POSTAL_ORDER")     # what a deposit slip carries to the bank
REFERENCE_MODES = ("OFFLINE_NEFT", "OFFLINE_RTGS", "POSTAL_ORDER")   # carry a transaction / order number and date
# PaymentEnricher: these start DEPOSITED / REMITTED (the money reaches the bank by itself), so they
# are never on a deposit slip and cannot be cancelled (DIGIT cancels APPROVED payments only)
REMITTED_MODES = ("CARD",)
LIVE_INSTRUMENT_STATUSES = ("APPROVED", "APPROVAL_PENDING", "REMITTED")   # PaymentValidator: the bill is paid
MAX_INSTRUMENT_AGE_DAYS = 90
IFSC = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")
RECEIPT_ID_NAME = "receipt.id"                                          # receiptnumber.idname
RECEIPT_STATE_LEVEL_FORMAT = "[cy:MM]/[fy:yyyy-yy]/[SEQ_COLL_RCPT_NUM]"  # receiptnumber.state.level.format
SLIP_ID_NAME = "remittance.slip.id"
SLIP_FALLBACK_FORMAT = "SLIP/[COUNTER]/[CITY.CODE]/[fy:yyyy-yy]/[SEQ_REMIT_SLIP_[TENANT_ID]]"

# refusal codes (DIGIT's where it has one, else ours)
E_BILL_NOT_FOUND = "BILL_NOT_FOUND"
E_BILL_EXPIRED = "BILL_EXPIRED"
E_BILL_PAID = "BILL_ALREADY_PAID"
E_BILL_CANCELLED = "BILL_CANCELLED"
E_MODE = "INVALID_PAYMENT_MODE"
E_MODE_NOT_ALLOWED = "PAYMENT_MODE_NOT_ALLOWED"
E_INSTRUMENT_NUMBER = "INVALID_INSTRUMENT_NUMBER"
E_INSTRUMENT_DATE = "INVALID_INSTRUMENT_DATE"
E_TXN_NUMBER = "INVALID_TXN_NUMBER"
E_BANK = "INVALID_BANK_DETAILS"
E_IFSC = "INVALID_IFSC"
E_MOBILE = "INVALID_MOBILE_NUMBER"
E_AMOUNT = "INVALID_AMOUNT"
E_PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
E_NOT_LATEST = "PAYMENT_NOT_LATEST"
E_ALREADY_CANCELLED = "PAYMENT_ALREADY_CANCELLED"
E_ALREADY_DISHONOURED = "PAYMENT_ALREADY_DISHONOURED"
E_REMITTED = "PAYMENT_ALREADY_REMITTED"
E_REASON = "INVALID_CANCEL_REASON"
E_REMIT_MODE = "REMIT_MODE_NOT_ALLOWED"
E_REMIT_SHIFT_OPEN = "SHIFT_STILL_OPEN"
E_CANCEL_FORBIDDEN = "RECEIPT_CANCEL_NOT_AUTHORIZED"
E_DISHONOUR_FORBIDDEN = "RECEIPT_DISHONOUR_NOT_AUTHORIZED"
E_DISHONOUR_REASON = "INVALID_DISHONOUR_REASON"
E_DISHONOUR_MODE = "DISHONOUR_NOT_ALLOWED"
E_NOTHING_TO_REMIT = "NOTHING_TO_REMIT"


def _ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _s(value: Decimal) -> str:
    return str(money(value))


# -- checks (pure) ---------------------------------------------------------------------------------
def check_mode(mode: str, not_allowed: tuple[str, ...] | list[str], service: str) -> str:
    m = (mode or "").strip().upper()
    if m not in MODES:
        raise InvalidInput(E_MODE, f"{mode!r} is not a payment mode taken at the counter: one of "
                           f"{', '.join(MODES)}", {"paymentMode": mode})
    if m in not_allowed:
        raise InvalidInput(E_MODE_NOT_ALLOWED, f"{service} bills cannot be paid by {m}: this service does not "
                           f"accept {', '.join(not_allowed)}", {"paymentMode": m, "businessService": service,
                                                              "collectionModesNotAllowed": list(not_allowed)})
    return m


def check_instrument(mode: str, today: dt.date, *, number_: str | None, date_: dt.date | None,
                     bank: str | None, branch: str | None, ifsc: str | None,
                     txn: str | None = None) -> str | None:
    """PaymentValidator.validateInstrument. Cheque / DD: number, date (not after today, at most 90
    days before, IST), bank, branch and IFSC. NEFT / RTGS / postal order: a reference number and
    a date not after today. Card: the transaction number and the card's instrument number. Cash:
    no transaction number (DIGIT numbers it). IFSC checked when given. Returns the normalised IFSC."""
    code = (ifsc or "").strip().upper() or None
    if mode == "CASH" and (txn or "").strip():
        raise InvalidInput(E_TXN_NUMBER, "a cash payment takes no --transaction-number: its transaction is "
                           "numbered by the counter", {"paymentMode": mode, "transactionNumber": txn})
    if mode == "CARD":
        if not (txn or "").strip():
            raise InvalidInput(E_TXN_NUMBER, "a card payment needs the card machine's transaction number "
                               "(--transaction-number)", {"paymentMode": mode})
        if not (number_ or "").strip():
            raise InvalidInput(E_INSTRUMENT_NUMBER, "a card payment needs the card's instrument number, e.g. its "
                               "last four digits (--instrument-number)", {"paymentMode": mode})
    if mode in INSTRUMENT_MODES:
        if not (number_ or "").strip():
            raise InvalidInput(E_INSTRUMENT_NUMBER, f"a {mode.lower()} payment needs the {mode.lower()} number "
                               "(--instrument-number)", {"paymentMode": mode})
        if not re.fullmatch(r"[0-9A-Za-z]{6,20}", number_.strip()):   # type: ignore[union-attr]
            raise InvalidInput(E_INSTRUMENT_NUMBER, f"{number_!r} is not a {mode.lower()} number (6 to 20 letters "
                               "or digits)", {"instrumentNumber": number_})
        if date_ is None:
            raise InvalidInput(E_INSTRUMENT_DATE, f"a {mode.lower()} payment needs the date written on it "
                               "(--instrument-date YYYY-MM-DD)", {"paymentMode": mode})
        if date_ > today:
            raise InvalidInput(E_INSTRUMENT_DATE, f"the {mode.lower()} is dated {date_.isoformat()}, after today "
                               f"({today.isoformat()}): a post-dated {mode.lower()} cannot be accepted",
                               {"instrumentDate": date_.isoformat(), "today": today.isoformat()})
        if (today - date_).days > MAX_INSTRUMENT_AGE_DAYS:
            raise InvalidInput(E_INSTRUMENT_DATE, f"the {mode.lower()} is dated {date_.isoformat()}, more than "
                               f"{MAX_INSTRUMENT_AGE_DAYS} days ago: it is stale and cannot be accepted",
                               {"instrumentDate": date_.isoformat(), "today": today.isoformat()})
        if not (bank or "").strip() or not (branch or "").strip():
            raise InvalidInput(E_BANK, f"a {mode.lower()} payment needs the bank name and branch (--bank, --branch)",
                               {"paymentMode": mode})
        if code is None:
            raise InvalidInput(E_IFSC, f"a {mode.lower()} payment needs the bank branch's IFSC (--ifsc)",
                               {"paymentMode": mode})
    elif mode in REFERENCE_MODES:
        if not (number_ or "").strip():
            raise InvalidInput(E_INSTRUMENT_NUMBER, f"a {mode} payment needs its transaction / order number "
                               "(--instrument-number)", {"paymentMode": mode})
        if date_ is None:
            raise InvalidInput(E_INSTRUMENT_DATE, f"a {mode} payment needs the date of the transfer / order "
                               "(--instrument-date YYYY-MM-DD)", {"paymentMode": mode})
        if date_ > today:
            raise InvalidInput(E_INSTRUMENT_DATE, f"the {mode} is dated {date_.isoformat()}, after today "
                               f"({today.isoformat()})", {"instrumentDate": date_.isoformat(),
                                                           "today": today.isoformat()})
    if code is not None and not IFSC.match(code):
        raise InvalidInput(E_IFSC, f"{ifsc!r} is not an IFSC: 4 letters, a zero, then 6 letters or digits "
                           "(e.g. PUNB0012300)", {"ifsc": ifsc})
    return code


# ASCII digits, either ungrouped or in Indian grouping (1,000 / 1,00,000 / 10,00,000.00: the last
# three digits, then twos), an optional fraction
_TYPED_AMOUNT = re.compile(r"-?(?:[0-9]+|[0-9]{1,2}(?:,[0-9]{2})*,[0-9]{3})(?:\.[0-9]+)?", re.ASCII)


def parse_amount(amount: str | Decimal | int) -> Decimal:
    """An amount as a clerk types it: ASCII digits, ungrouped or with commas in Indian grouping
    ("1,250", "1,25,000"), a decimal point. A comma anywhere else ("5,00", "1,0,0", "1,00,00")
    is a typo and refused, never read as ₹500 or ₹100; so are 1e3, 1_000 and other scripts'
    digits, which Decimal() would take. A fraction is judged on what was typed, before anything
    rounds it (500.001 is refused, not taken as 500)."""
    if isinstance(amount, str):
        text = amount.strip()
        if not _TYPED_AMOUNT.fullmatch(text):
            raise InvalidInput(E_AMOUNT, f"{amount!r} is not an amount of rupees: digits, grouped the Indian way "
                               "if at all (1250, 1,250, 1,25,000)", {"amount": amount})
        amount = Decimal(text.replace(",", ""))     # exact: the fraction check below sees what was typed
    try:
        value = number(amount)
    except (TypeError, ValueError):
        raise InvalidInput(E_AMOUNT, f"{amount!r} is not an amount of rupees", {"amount": str(amount)}) from None
    if value >= 0 and value != value.to_integral_value():
        raise InvalidInput(bl.E_AMT_FRACTION, f"{value} has paise: payments are in whole rupees",
                           {"amount": str(value)})
    return bl.validate_payment_amount(value)


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


# -- demand updates ---------------------------------------------------------------------------------
def _details_of(uow: "UnitOfWork", demand_ids: list[str]) -> dict[str, DemandDetailRow]:
    if not demand_ids:
        return {}
    rows = uow.session.execute(select(DemandDetailRow).where(DemandDetailRow.demand_id.in_(demand_ids))).scalars()
    return {r.id: r for r in rows}


def _settle_flags(uow: "UnitOfWork", demand_ids: list[str], now: dt.datetime,
                  details: dict[str, DemandDetailRow] | None = None) -> None:
    """isPaymentCompleted of each demand from its lines: `details`, when the caller holds ALL the
    lines of these demands (as _apply_allocations does), saves a query per demand."""
    for did in demand_ids:
        row = uow.session.get(DemandRow, did)
        if row is None:
            continue
        if details is not None:
            lines = [d for d in details.values() if d.demand_id == did]
            tax = sum(d.tax_amount_paise for d in lines)
            collected = sum(d.collection_amount_paise for d in lines)
        else:
            tax, collected = uow.session.execute(
                select(func.coalesce(func.sum(DemandDetailRow.tax_amount_paise), 0),
                       func.coalesce(func.sum(DemandDetailRow.collection_amount_paise), 0))
                .where(DemandDetailRow.demand_id == did)).one()
        row.is_payment_completed = int(tax) - int(collected) <= 0
        row.updated_at = now


def _apply_allocations(uow: "UnitOfWork", bill: bl.Bill, allocations: list[bl.Allocation],
                       advance_head: str | None, now: dt.datetime) -> list[dict[str, Any]]:
    """Write the payment's shares on the demand details; returns what was written (kept in the
    payment so that a cancel or dishonour can take exactly that back)."""
    demand_ids = sorted({d.demand_id for d in bill.bill_details if d.demand_id})
    details = _details_of(uow, demand_ids)
    latest = max(bill.bill_details, key=lambda d: d.from_period)
    written: list[dict[str, Any]] = []
    for alloc in allocations:
        acct = alloc.account_detail
        paise = to_paise(alloc.amount)
        if paise == 0:
            continue
        member = any(a is acct for a in alloc.bill_detail.account_details)
        excess = paise > 0 and (not member or acct.due <= 0)
        if excess:          # the advance: more credit on the advance head (DIGIT: a negative tax line)
            row = details.get(acct.demand_detail_id or "") if member else None
            if row is None:
                assert latest.demand_id, "a bill detail without its demand"
                row = DemandDetailRow(id=str(uuid.uuid4()), demand_id=latest.demand_id,
                                      tax_head_code=advance_head or acct.tax_head_code, tax_amount_paise=0,
                                      collection_amount_paise=0, created_at=now, updated_at=now)
                uow.session.add(row)
                details[row.id] = row
            row.tax_amount_paise -= paise
            row.updated_at = now
            written.append({"demandDetailId": row.id, "demandId": row.demand_id, "taxHeadCode": row.tax_head_code,
                            "credit": str(from_paise(paise))})
            continue
        row = details.get(acct.demand_detail_id or "")
        if row is None:
            raise Conflict("DEMAND_DETAIL_NOT_FOUND", f"the bill names demand detail {acct.demand_detail_id} "
                           "which is gone: fetch the bill again", {"demandDetailId": acct.demand_detail_id})
        row.collection_amount_paise += paise
        row.updated_at = now
        written.append({"demandDetailId": row.id, "demandId": row.demand_id, "taxHeadCode": row.tax_head_code,
                        "collection": str(from_paise(paise))})
    uow.session.flush()
    _settle_flags(uow, demand_ids, now, details)      # every line of these demands (plus any advance line added)
    return written


def _reverse(uow: "UnitOfWork", written: list[dict[str, Any]], now: dt.datetime) -> list[str]:
    demand_ids: set[str] = set()
    for line in written:
        row = uow.session.get(DemandDetailRow, line["demandDetailId"])
        if row is None:
            continue
        if "collection" in line:
            row.collection_amount_paise -= to_paise(line["collection"])
        if "credit" in line:
            row.tax_amount_paise += to_paise(line["credit"])
        row.updated_at = now
        demand_ids.add(row.demand_id)
    uow.session.flush()
    _settle_flags(uow, sorted(demand_ids), now)
    return sorted(demand_ids)


# -- presenting ------------------------------------------------------------------------------------
def present(app: "App", uow: "UnitOfWork", ctx: "RequestContext", doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored Payment JSON with the payer as the actor may see it (model "User")."""
    tenant = doc.get("tenantId") or ""
    masker = masking.masker_for(app, tenant, conn=uow.session.connection())
    out = dict(doc)
    shown = masking.present(app, uow, ctx, "User", {"uuid": doc.get("payerId"), "tenantId": tenant,
                                                    "name": doc.get("payerName"),
                                                    "mobileNumber": doc.get("mobileNumber")},
                            masker=masker, purpose="collection")
    out["payerName"], out["mobileNumber"] = shown.get("name"), shown.get("mobileNumber")
    out["paidBy"] = out["payerName"] if doc.get("paidBy") == doc.get("payerName") else doc.get("paidBy")
    pds = []
    for pd in doc.get("paymentDetails") or []:
        pd = dict(pd)
        if isinstance(pd.get("bill"), dict):
            pd["bill"] = billing.present_bill(app, uow, ctx, pd["bill"], masker)
        pds.append(pd)
    out["paymentDetails"] = pds
    return out


# -- pay -------------------------------------------------------------------------------------------
def demand_hash_now(uow: "UnitOfWork", tenant_id: str, consumer_code: str, service: str) -> str:
    """The hash fetch_bill keeps in a bill (billing.demands_hash) of the demands as they are now."""
    rows = uow.session.execute(select(DemandRow).where(
        DemandRow.tenant_id == tenant_id, DemandRow.consumer_code == consumer_code,
        DemandRow.business_service == service, DemandRow.status == "ACTIVE")).scalars().all()
    details = _details_of(uow, [r.id for r in rows])
    by_demand: dict[str, list[DemandDetailRow]] = {r.id: [] for r in rows}
    for d in details.values():
        by_demand[d.demand_id].append(d)
    demands = [billing.demand_of(r, by_demand[r.id]) for r in rows]
    return billing.demands_hash([d for d in demands if d.status == "ACTIVE" and not d.is_settled])


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
    if stored != demand_hash_now(uow, row.tenant_id, row.consumer_code, row.business_service):
        # another payment (or a demand update) changed what is owed since this bill was made
        raise InvalidInput(E_BILL_EXPIRED, f"the dues of {row.consumer_code} changed after bill {row.bill_number} "
                           "was made: fetch the bill again", params)


def _bill_fully_paid(bill: bl.Bill, advance_head: str | None) -> bool:
    return all(a.due <= 0 for d in bill.bill_details for a in d.account_details
               if not (a.purpose == bl.ADVANCE_PURPOSE or (advance_head and a.tax_head_code == advance_head)))


def _maybe_pay_application(uow: "UnitOfWork", app: "App", ctx: "RequestContext", row: BillRow) -> dict[str, Any] | None:
    """PAY on the application whose demand this payment settled (consumer code = application no)."""
    appl = uow.session.get(Application, row.consumer_code)
    if appl is None or appl.tenant_id != row.tenant_id:
        return None
    open_demands = uow.session.execute(select(func.count()).select_from(DemandRow).where(
        DemandRow.tenant_id == row.tenant_id, DemandRow.consumer_code == row.consumer_code,
        DemandRow.status == "ACTIVE", DemandRow.is_payment_completed.is_(False))).scalar_one()
    if open_demands:
        return None
    if appl.application_status != "PENDINGPAYMENT":
        return None
    from digitctl.services import applications

    return applications.pay_in(uow, app, ctx, row.consumer_code, comment=f"paid: {row.bill_number}")


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
    mobile_n = None
    if mobile:
        mobile_n = normalize_mobile(mobile)
        if not valid_mobile(mobile_n):
            raise InvalidInput(E_MOBILE, "a mobile number is 10 digits starting with 6-9", {"mobileNumber": mobile})
    payer_name = (payer_name or "").strip() or None
    safetext.check_text(payer_name, "payerName", max_length=safetext.PAYER_NAME_MAX)
    now = ctx.now()
    today = now.astimezone(IST).date()
    with app.uow(ctx) as uow:
        s = uow.session
        shift = require_open_shift(uow, ctx)
        counter = shift.counter_code
        try:
            row, bill = billing.bill_in(uow, app, tenant_id, bill_id)
        except NotFound:
            raise NotFound(E_BILL_NOT_FOUND, f"no bill {bill_id} at {tenant_id}",
                           {"billId": bill_id, "tenantId": tenant_id}) from None
        if billing.lock_consumer_code(uow, tenant_id, row.business_service, row.consumer_code):
            s.refresh(row)         # a payment that held the lock may have paid or expired it
            bill = billing.bill_from_digit(row.bill)
        _check_bill(uow, row, bill, now)
        masters = billing.billing_masters(app, tenant_id, s.connection())
        config = masters.business_services.get(bill.business_service)
        not_allowed = tuple(dict.fromkeys([*bill.collection_modes_not_allowed,
                                           *(config.collection_modes_not_allowed if config else ())]))
        m = check_mode(mode, not_allowed, bill.business_service)
        code = check_instrument(m, today, number_=instrument_number, date_=instrument_date, bank=bank,
                                branch=branch, ifsc=ifsc, txn=transaction_number)
        part = config.part_payment_allowed if config else bill.part_payment_allowed
        advance = config.is_advance_allowed if config else bill.is_advance_allowed
        advance_head = masters.advance_tax_head(bill.business_service)
        total_due = sum((a.due for d in bill.bill_details for a in d.account_details), ZERO)
        allocations = bl.apportion(bill, value, advance_allowed=advance, advance_tax_head=advance_head,
                                   part_payment_allowed=part)
        written = _apply_allocations(uow, bill, allocations, advance_head, now)
        paid_bill = bl.apply_apportionment(bill, allocations)
        status = "PAID" if _bill_fully_paid(paid_bill, advance_head) else "PARTIALLY_PAID"
        # the bill now stands for the demands as this payment leaves them (see _check_bill)
        bill_extra = {**(row.bill.get("additionalDetails") or {}),
                      "demandHash": demand_hash_now(uow, tenant_id, bill.consumer_code, bill.business_service)}
        row.bill = billing.jsonable({**paid_bill.to_digit(), "status": status, "additionalDetails": bill_extra})
        row.status, row.updated_at = status, now
        # the payment's own copy: what this payment paid on each line (its receipt adds up)
        bill_doc = billing.jsonable({**bl.payment_share(bill, allocations).to_digit(), "status": status,
                                     "additionalDetails": bill_extra})

        receipt_no = _receipt_number(uow, app, tenant_id, bill.business_service)
        ring = app.keyring
        name_enc = ring.encrypt(uow, tenant_id, payer_name) if payer_name else bill.payer_name
        mobile_enc = ring.encrypt(uow, tenant_id, mobile_n) if mobile_n else bill.mobile_number
        pid = str(uuid.uuid4())
        # PaymentEnricher: a card starts REMITTED / DEPOSITED, dated when taken; the rest APPROVED / NEW
        remitted = m in REMITTED_MODES
        instrument_status, payment_status = ("REMITTED", "DEPOSITED") if remitted else ("APPROVED", "NEW")
        inst_ms = _ms(dt.datetime.combine(instrument_date, dt.time(), IST)) if instrument_date else None
        if remitted:
            instrument_date, inst_ms = today, _ms(now)
        txn = (transaction_number or "").strip() or (instrument_number or "").strip() or receipt_no
        audit = {"createdBy": ctx.actor.uuid, "createdTime": _ms(now), "lastModifiedBy": ctx.actor.uuid,
                 "lastModifiedTime": _ms(now)}
        doc: dict[str, Any] = {
            "id": pid, "tenantId": tenant_id, "totalDue": _s(total_due), "totalAmountPaid": _s(value),
            "transactionNumber": txn, "transactionDate": _ms(now), "paymentMode": m,
            "instrumentDate": inst_ms,
            "instrumentNumber": (instrument_number or "").strip() or None, "instrumentStatus": instrument_status,
            "ifscCode": code,
            "additionalDetails": {"bankName": (bank or "").strip() or None,
                                  "branchName": (branch or "").strip() or None, "counterCode": counter,
                                  "shiftId": shift.id, "collectorName": ctx.actor.user_name, "printCount": 0,
                                  "apportionment": written},
            "paymentDetails": [{
                "id": str(uuid.uuid4()), "tenantId": tenant_id, "totalDue": _s(total_due),
                "totalAmountPaid": _s(value), "manualReceiptNumber": None, "receiptNumber": receipt_no,
                "receiptType": "BILLBASED", "receiptDate": _ms(now), "businessService": bill.business_service,
                "billId": row.id, "bill": bill_doc, "auditDetails": audit}],
            "paidBy": name_enc if payer_name else "OWNER", "mobileNumber": mobile_enc, "payerName": name_enc,
            "payerAddress": bill.payer_address, "payerEmail": bill.payer_email, "payerId": bill.payer_id,
            "paymentStatus": payment_status, "fileStoreId": None, "auditDetails": audit,
        }
        s.add(Payment(id=pid, tenant_id=tenant_id, receipt_number=receipt_no, receipt_date=now, counter_code=counter,
                      shift_id=shift.id, collector_uuid=ctx.actor.uuid, bill_id=row.id,
                      business_service=bill.business_service, consumer_code=bill.consumer_code, payment_mode=m,
                      total_due_paise=to_paise(total_due), amount_paid_paise=to_paise(value),
                      instrument_number=doc["instrumentNumber"], instrument_date=instrument_date,
                      instrument_status=instrument_status, payment_status=payment_status, payment=doc,
                      created_at=now, updated_at=now))
        s.flush()
        uow.record(Event("collection.payment.created", tenant_id, "Payment", pid, CREATE_URL, {"Payments": [doc]},
                         before=None, after={"receiptNumber": receipt_no, "paymentMode": m,
                                             "totalAmountPaid": _s(value), "billId": row.id,
                                             "consumerCode": bill.consumer_code, "billStatus": status,
                                             "apportionment": written}))
        if status == "PAID":
            _maybe_pay_application(uow, app, ctx, row)
        out = present(app, uow, ctx, doc)
        uow.commit()
    return out


# -- reading ---------------------------------------------------------------------------------------
def _payment_row(uow: "UnitOfWork", tenant_id: str, receipt_no: str) -> Payment:
    row = uow.session.execute(select(Payment).where(Payment.tenant_id == tenant_id,
                                                    Payment.receipt_number == receipt_no)).scalars().first()
    if row is None:
        row = uow.session.get(Payment, receipt_no)
        if row is not None and row.tenant_id != tenant_id:
            row = None
    if row is None:
        raise NotFound(E_PAYMENT_NOT_FOUND, f"no payment with receipt number {receipt_no} at {tenant_id}",
                       {"receiptNumber": receipt_no, "tenantId": tenant_id})
    return row


def get_payment(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str) -> dict[str, Any]:
    """`/collection-services/payments/_search` by receipt number: DIGIT's Payment JSON."""
    authorize(app, ctx, SEARCH_URL, tenant_id)
    with app.uow(ctx) as uow:
        row = _payment_row(uow, tenant_id, receipt_no)
        ownership.check_payment(uow.session, app, ctx, row)
        doc = present(app, uow, ctx, row.payment)
        uow.commit()          # masking may have recorded a disclosure
    return doc


# -- lifecycle -------------------------------------------------------------------------------------
def _set_status(row: Payment, now: dt.datetime, actor: str, *, payment_status: str | None = None,
                instrument_status: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = dict(row.payment)
    if payment_status:
        row.payment_status = doc["paymentStatus"] = payment_status
    if instrument_status:
        row.instrument_status = doc["instrumentStatus"] = instrument_status
    doc["additionalDetails"] = {**(doc.get("additionalDetails") or {}), **(extra or {})}
    doc["auditDetails"] = {**(doc.get("auditDetails") or {}), "lastModifiedBy": actor, "lastModifiedTime": _ms(now)}
    row.payment, row.updated_at = doc, now
    return doc


def _reverse_payment(uow: "UnitOfWork", row: Payment, now: dt.datetime, action: str) -> dict[str, Any] | None:
    """Take the payment's collections back off its demands; returns a notice for the application
    the payment was for, if any (see _flag_application)."""
    written = (row.payment.get("additionalDetails") or {}).get("apportionment") or []
    _reverse(uow, written, now)
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
    row = _payment_row(uow, tenant_id, receipt_no)
    if billing.lock_consumer_code(uow, tenant_id, row.business_service, row.consumer_code):
        uow.session.refresh(row, with_for_update=True)      # and the row: a remit does not take the lock
    return row


def _workflow_checks(row: Payment) -> None:
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
        _cancel_checks(app, uow, tenant_id, _payment_row(uow, tenant_id, receipt_no), reason)


def check_dishonour(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str, reason: str) -> None:
    """check_cancel for a dishonour."""
    authorize(app, ctx, WORKFLOW_URL, tenant_id)
    with app.uow(ctx, readonly=True) as uow:
        _dishonour_checks(app, uow, tenant_id, _payment_row(uow, tenant_id, receipt_no), reason)


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
    now = ctx.now()
    if approver is not None:
        authorize(app, ctx, WORKFLOW_URL, tenant_id)
    with app.uow(ctx) as uow:
        s = uow.session
        row = _locked_payment_row(uow, tenant_id, receipt_no)
        _authorize_cancel(app, ctx if approver is None else replace(ctx, actor=approver), tenant_id, row)
        approved_by = (approver or ctx.actor).user_name
        _cancel_checks(app, uow, tenant_id, row, reason)
        before = {"paymentStatus": row.payment_status, "instrumentStatus": row.instrument_status}
        notice = _reverse_payment(uow, row, now, "CANCELLED")
        row.cancel_reason = code
        doc = _set_status(row, now, ctx.actor.uuid, payment_status="CANCELLED", instrument_status="CANCELLED",
                          extra={"cancellationReason": code, "cancellationComment": comment,
                                 "cancelledBy": ctx.actor.user_name, "cancellationApprovedBy": approved_by,
                                 **({"applicationNotice": notice} if notice else {})})
        s.flush()
        uow.record(Event("collection.payment.cancelled", tenant_id, "Payment", row.id, WORKFLOW_URL,
                         {"Payments": [doc], "action": "CANCEL", "reason": code},
                         before=before, after={"paymentStatus": "CANCELLED", "reason": code, "comment": comment,
                                               "approvedBy": approved_by}))
        out = present(app, uow, ctx, doc)
        uow.commit()
    return out


def dishonour(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str, reason: str | None,
              comment: str | None = None, approver: "Actor | None" = None) -> dict[str, Any]:
    """DISHONOUR: a cheque or DD that bounced, the latest cheque / DD (APPROVED or REMITTED) of its
    consumer code only; the demand is owed again. Guarded as a cancel is (DIGIT's one `_workflow`
    does both): the service's `/collection-services/payments/<SVC>/_workflow`, held by the actor or
    by the `approver` standing by at the counter; the reason is a CancelReceiptReason code
    (CHEQUEBOUNCE), free text goes in `comment`."""
    safetext.check_text(comment, "comment", max_length=safetext.COMMENT_MAX, allow_lines=True)
    now = ctx.now()
    if approver is not None:
        authorize(app, ctx, WORKFLOW_URL, tenant_id)
    with app.uow(ctx) as uow:
        row = _locked_payment_row(uow, tenant_id, receipt_no)
        _authorize_cancel(app, ctx if approver is None else replace(ctx, actor=approver), tenant_id, row,
                          "DISHONOUR")
        approved_by = (approver or ctx.actor).user_name
        _dishonour_checks(app, uow, tenant_id, row, reason)
        code = (reason or "").strip().upper()
        before = {"paymentStatus": row.payment_status, "instrumentStatus": row.instrument_status}
        notice = _reverse_payment(uow, row, now, "DISHONOURED")
        row.cancel_reason = code
        doc = _set_status(row, now, ctx.actor.uuid, payment_status="DISHONOURED", instrument_status="DISHONOURED",
                          extra={"dishonourReason": code, "dishonourComment": comment,
                                 "dishonouredBy": ctx.actor.user_name, "dishonourApprovedBy": approved_by,
                                 **({"applicationNotice": notice} if notice else {})})
        uow.session.flush()
        uow.record(Event("collection.payment.dishonoured", tenant_id, "Payment", row.id, WORKFLOW_URL,
                         {"Payments": [doc], "action": "DISHONOUR", "reason": code},
                         before=before, after={"paymentStatus": "DISHONOURED", "reason": code, "comment": comment,
                                               "approvedBy": approved_by}))
        out = present(app, uow, ctx, doc)
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
        s = uow.session
        if receipt_nos:
            rows = [_payment_row(uow, tenant_id, r) for r in receipt_nos]
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
        else:
            counter = uow.meta("counter_code") or ""
            rows = list(s.execute(select(Payment).join(Shift, Shift.id == Payment.shift_id).where(
                Shift.counter_code == counter, Shift.user_uuid == ctx.actor.uuid, Shift.status == "CLOSED",
                Payment.tenant_id == tenant_id, Payment.payment_status == "NEW",
                Payment.payment_mode.in_(DEPOSITED_MODES))
                .order_by(Payment.created_at).with_for_update(of=Payment)).scalars())   # FOR UPDATE: PostgreSQL only
            if not rows and current_shift(s, counter, ctx.actor.uuid) is not None:
                raise InvalidInput(E_NOTHING_TO_REMIT, "nothing to deposit from closed shifts: close your open "
                                   "shift first (shift close --count ...)", {"tenantId": tenant_id})
        if not rows:
            raise InvalidInput(E_NOTHING_TO_REMIT, "no NEW payments to deposit", {"tenantId": tenant_id})
        slip_no = idgen.generate_in(uow, app, SLIP_ID_NAME, tenant_id, fmt=SLIP_FALLBACK_FORMAT)[0]
        rid = str(uuid.uuid4())
        cash = [r for r in rows if r.payment_mode == "CASH"]
        inst = [r for r in rows if r.payment_mode != "CASH"]
        cash_paise = sum(r.amount_paid_paise for r in cash)
        inst_paise = sum(r.amount_paid_paise for r in inst)
        slip = {"id": rid, "slipNumber": slip_no, "tenantId": tenant_id, "bank": bank,
                "depositDate": _ms(now), "depositedBy": ctx.actor.user_name,
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
        s.add(Remittance(id=rid, tenant_id=tenant_id, slip_number=slip_no, bank=bank, cash_paise=cash_paise,
                         instruments_paise=inst_paise, slip=slip, created_by=ctx.actor.uuid, created_at=now))
        for r in rows:
            r.remittance_id = rid
            _set_status(r, now, ctx.actor.uuid, payment_status="DEPOSITED", instrument_status="REMITTED",
                        extra={"remittanceSlip": slip_no})
        s.flush()
        uow.record(Event("collection.payments.remitted", tenant_id, "Remittance", rid, WORKFLOW_URL,
                         {"Remittance": slip, "action": "REMIT",
                          "receiptNumbers": [r.receipt_number for r in rows]},
                         before={"paymentStatus": "NEW"}, after={"slipNumber": slip_no, "total": slip["total"],
                                                                 "paymentStatus": "DEPOSITED"}))
        uow.commit()
    return slip


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
    authorize(app, ctx, SEARCH_URL, tenant_id)
    if fmt not in receipts.FORMATS:
        raise InvalidInput("INVALID_RECEIPT_FORMAT", f"--format must be one of {', '.join(receipts.FORMATS)}",
                           {"format": fmt})
    if not receipts.has_locale(locale):
        raise InvalidInput("INVALID_LOCALE", f"no localization bundle for locale {locale!r}: one of "
                           f"{', '.join(receipts.locales())}", {"locale": locale})
    now = ctx.now()
    with app.uow(ctx) as uow:
        row = _payment_row(uow, tenant_id, receipt_no)
        ownership.check_payment(uow.session, app, ctx, row)       # refused: not printed, not counted
        printed = int((row.payment.get("additionalDetails") or {}).get("printCount") or 0)
        duplicate = copy or printed > 0
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
                              dishonoured=row.payment_status == "DISHONOURED", locale=locale, names=names)
        doc = dict(row.payment)
        doc["additionalDetails"] = {**(doc.get("additionalDetails") or {}), "printCount": printed + 1}
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
