"""Bills (DIGIT billing-service v2 BillServicev2): what a consumer code is asked to pay now.

`fetch_bill` is `/billing-service/bill/v2/_fetchbill`: one bill per consumer code from its ACTIVE
demands with something due. The ACTIVE bill is handed out again while it is unexpired and the
demands are unchanged (a hash of their amounts is kept in the bill's additionalDetails);
otherwise it is marked EXPIRED and a new one is made, numbered by idgen `billnumberid`.
At most one bill of a consumer code is ACTIVE (a partial unique index, migration 0005);
concurrent fetches of one consumer code are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL:
a transaction-scoped advisory lock per consumer code, `lock_consumer_code`), so the later one
hands out the bill the earlier one made. `bill_in` / `settle_bill_in` are how the payment
services read a stored bill and write a payment's outcome on it; `bill_from_digit` reads DIGIT's
Bill JSON into the domain Bill.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from digitctl.domain import billing as bl
from digitctl.domain.events import Event
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.money import ZERO, money, to_paise
from digitctl.errors import InvalidInput, NotFound
from digitctl.services import idgen, masking, ownership
from digitctl.services.access import authorize
from digitctl.services.demands import (_details_by_demand, _ms, _present_payer, billing_masters, demand_hash_now,
                                       demand_of, demands_hash, jsonable)
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

FETCH_BILL = "/billing-service/bill/v2/_fetchbill"
BILL_ID_NAME = "billnumberid"
BILL_FALLBACK_FORMAT = "BILL-[SEQ_EGOV_COMMON_TEST_AUTOCRE]"     # pb's own billnumberid format


def bill_from_digit(doc: Mapping[str, Any]) -> bl.Bill:
    """The domain Bill of DIGIT's Bill JSON (as this module stores it)."""
    def amount(v: Any) -> Decimal:
        return money(repr(v) if isinstance(v, float) else v) if v is not None else ZERO

    details = []
    for d in doc.get("billDetails") or []:
        accounts = tuple(bl.BillAccountDetail(
            tax_head_code=a["taxHeadCode"], amount=amount(a.get("amount")),
            adjusted_amount=amount(a.get("adjustedAmount")), order=bl.parse_int(a.get("order"), 0) or 0,
            is_actual_demand=bl.parse_bool(a.get("isActualDemand"), True), purpose=a.get("purpose"),
            demand_detail_id=a.get("demandDetailId"), id=a.get("id")) for a in d.get("billAccountDetails") or [])
        details.append(bl.BillDetail(
            from_period=int(d["fromPeriod"]), to_period=int(d["toPeriod"]), expiry_date=int(d["expiryDate"]),
            account_details=accounts, demand_id=d.get("demandId"), id=d.get("id"),
            amount_paid=None if d.get("amountPaid") is None else amount(d["amountPaid"]),
            additional_details=d.get("additionalDetails")))
    return bl.Bill(
        consumer_code=doc["consumerCode"], business_service=doc["businessService"], bill_details=tuple(details),
        bill_date=int(doc["billDate"]), id=doc.get("id"), tenant_id=doc.get("tenantId"),
        bill_number=doc.get("billNumber"), status=doc.get("status") or "ACTIVE", payer_name=doc.get("payerName"),
        mobile_number=doc.get("mobileNumber"), payer_address=doc.get("payerAddress"),
        payer_email=doc.get("payerEmail"), payer_id=doc.get("payerId"),
        part_payment_allowed=bl.parse_bool(doc.get("partPaymentAllowed")),
        is_advance_allowed=bl.parse_bool(doc.get("isAdvanceAllowed")),
        minimum_amount_to_be_paid=amount(doc.get("minimumAmountToBePaid")),
        collection_modes_not_allowed=tuple(doc.get("collectionModesNotAllowed") or ()),
        additional_details=doc.get("additionalDetails"))


def bill_in(uow: "UnitOfWork", app: "App", tenant_id: str, bill_id: str) -> tuple[BillRow, bl.Bill]:
    """The stored bill (by id, or by bill number) of `tenant_id` and its domain Bill, for the
    payment service inside its own unit of work. PII in the domain Bill stays ciphertext."""
    s = uow.session
    row = s.get(BillRow, bill_id)
    if row is None:
        row = s.execute(select(BillRow).where(BillRow.tenant_id == tenant_id, BillRow.bill_number == bill_id)
                        .order_by(BillRow.created_at.desc())).scalars().first()
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("EG_BS_BILL_NOT_FOUND", f"no bill {bill_id} at {tenant_id}",
                       {"billId": bill_id, "tenantId": tenant_id})
    return row, bill_from_digit(row.bill)


def _active_bill(s: "Session", tenant_id: str, consumer_code: str, service: str) -> list[BillRow]:
    return list(s.execute(select(BillRow).where(
        BillRow.tenant_id == tenant_id, BillRow.consumer_code == consumer_code,
        BillRow.business_service == service, BillRow.status == "ACTIVE")).scalars())


def expire(row: BillRow, now: dt.datetime) -> None:
    row.status = "EXPIRED"
    row.bill = {**row.bill, "status": "EXPIRED"}
    row.updated_at = now


def _bill_for(uow: "UnitOfWork", app: "App", ctx: "RequestContext", tenant_id: str,
              rows: list[DemandRow], details: dict[str, list[DemandDetailRow]]) -> tuple[BillRow, bool] | None:
    """The consumer code's bill: the ACTIVE one if still good, else a new one (old one EXPIRED).
    None when nothing is due."""
    s = uow.session
    now = ctx.now()
    demands = [demand_of(r, details[r.id]) for r in rows]
    billable = [d for d in demands if d.status == "ACTIVE" and not d.is_settled]
    if not billable:
        return None
    first = billable[0]
    digest = demands_hash(billable)
    active = _active_bill(s, tenant_id, first.consumer_code, first.business_service)
    for old in active:
        stored = (old.bill.get("additionalDetails") or {}).get("demandHash")
        if stored == digest and _ms(now) < min(int(d["expiryDate"]) for d in old.bill["billDetails"]):
            return old, False
    # a part-paid bill stands for the dues until a new bill is made for them; then it is stale too
    # (else a clerk could take money on either of two bills for one debt)
    part_paid = list(s.execute(select(BillRow).where(
        BillRow.tenant_id == tenant_id, BillRow.consumer_code == first.consumer_code,
        BillRow.business_service == first.business_service, BillRow.status == "PARTIALLY_PAID")).scalars())
    for old in [*active, *part_paid]:
        was = old.status
        expire(old, now)
        uow.record(Event("billing.bill.expired", tenant_id, "Bill", old.id, FETCH_BILL,
                         {"Bill": [old.bill]}, before={"status": was}, after={"status": "EXPIRED"}))
    s.flush()           # the old bill is EXPIRED in the store before the new one is ACTIVE (unique index)
    masters = billing_masters(app, tenant_id, s.connection())
    config = masters.business_services.get(first.business_service)
    number = idgen.generate_for_counter(uow, app, BILL_ID_NAME, tenant_id, fmt=BILL_FALLBACK_FORMAT)
    bill = bl.make_bill(billable, masters.tax_heads, now, service=config, bill_number=number)
    bill = replace(bill, additional_details={"demandHash": digest})
    doc = jsonable(bill.to_digit())
    payer_row = next(r for r in rows if r.id == first.id)
    assert bill.id
    row = BillRow(id=bill.id, tenant_id=tenant_id, bill_number=number, consumer_code=bill.consumer_code,
                  business_service=bill.business_service, status="ACTIVE",
                  total_amount_paise=to_paise(bill.total_amount),
                  expires_at=dt.datetime.fromtimestamp(bill.expiry_date / 1000, dt.timezone.utc),
                  mobile_bidx=payer_row.payer_mobile_bidx, bill=doc, created_at=now, updated_at=now)
    s.add(row)
    s.flush()
    uow.record(Event("billing.bill.generated", tenant_id, "Bill", row.id, FETCH_BILL, {"Bill": [doc]},
                     before=None, after=doc))
    return row, True


def fetch_bill(app: "App", ctx: "RequestContext", tenant_id: str, *, consumer_code: str | None = None,
               business_service: str | None = None, mobile: str | None = None,
               application_no: str | None = None) -> list[dict[str, Any]]:
    """`/billing-service/bill/v2/_fetchbill`: a bill per consumer code with dues, as DIGIT's
    Bill JSON; the payer shown as the actor's roles may see it (SecurityPolicy "User")."""
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    given = [x for x in (consumer_code, mobile, application_no) if x]
    if len(given) != 1:
        raise InvalidInput("EG_BS_FETCHBILL_CRITERIA", "give one of: a consumer code (with its business "
                           "service), a mobile number, an application number")
    authorize(app, ctx, FETCH_BILL, tenant_id)
    if mobile and not valid_mobile(normalize_mobile(mobile)):
        raise InvalidInput("INVALID_MOBILE_NUMBER", f"{mobile!r} is not a mobile number: 10 digits starting "
                           "with 6-9", {"mobileNumber": mobile})
    if business_service:
        known = billing_masters(app, tenant_id).business_services
        if known and business_service not in known:
            raise InvalidInput(bl.E_BUSINESSSERVICE_NOTFOUND, f"{business_service!r} is not a business service of "
                               f"{tenant_id}: one of {', '.join(sorted(known))}",
                               {"businessService": business_service})
    try:
        return _fetch_bill_once(app, ctx, tenant_id, consumer_code=consumer_code,
                                business_service=business_service, mobile=mobile, application_no=application_no)
    except DBAPIError as err:
        if not _lost_a_race(err):
            raise
    # Another fetch of the same consumer code won (the unique index refused our second ACTIVE bill,
    # or PostgreSQL broke a lock cycle): its bill is committed now, and a new transaction hands it out.
    return _fetch_bill_once(app, ctx, tenant_id, consumer_code=consumer_code,
                            business_service=business_service, mobile=mobile, application_no=application_no)


RETRY_SQLSTATES = ("40P01", "40001")      # deadlock_detected, serialization_failure


def _lost_a_race(err: DBAPIError) -> bool:
    if isinstance(err, IntegrityError):
        return True
    return getattr(err.orig, "sqlstate", None) in RETRY_SQLSTATES


def bill_lock_key(tenant_id: str, business_service: str, consumer_code: str) -> int:
    """The PostgreSQL advisory lock (a signed 64-bit key) that serialises the bills of one
    consumer code of one service at one tenant."""
    digest = hashlib.sha256(f"digitctl.bill|{tenant_id}|{business_service}|{consumer_code}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_consumer_codes(s: "Session", tenant_id: str, keys: Iterable[tuple[str, str]]) -> None:
    """Take the advisory locks of (consumer code, business service) pairs, in a fixed order (no
    two fetches wait on each other in a cycle); released when the transaction ends."""
    for code, service in sorted(keys):
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                  {"key": bill_lock_key(tenant_id, service, code)})


def lock_consumer_code(uow: "UnitOfWork", tenant_id: str, business_service: str, consumer_code: str) -> bool:
    """Serialise everything that changes what a consumer code owes (fetching its bill, paying,
    cancelling or dishonouring a payment) on PostgreSQL, where READ COMMITTED would let two
    clerks pay one bill at once; True when a lock was taken (then re-read what you had loaded).
    SQLite's BEGIN IMMEDIATE already serialises every write transaction."""
    if uow.store.dialect != "postgresql":
        return False
    _lock_consumer_codes(uow.session, tenant_id, [(consumer_code, business_service)])
    return True


def _fetch_bill_once(app: "App", ctx: "RequestContext", tenant_id: str, *, consumer_code: str | None,
                     business_service: str | None, mobile: str | None,
                     application_no: str | None) -> list[dict[str, Any]]:
    with app.uow(ctx) as uow:
        s = uow.session
        q = select(DemandRow).where(DemandRow.tenant_id == tenant_id, DemandRow.status == "ACTIVE")
        code = consumer_code or application_no
        if code:
            q = q.where(DemandRow.consumer_code == code)
        if business_service:
            q = q.where(DemandRow.business_service == business_service)
        if mobile:
            m = normalize_mobile(mobile)
            q = q.where(DemandRow.payer_mobile_bidx == app.keyring.blind_index(tenant_id, m, "mobile"))
        q = q.order_by(DemandRow.consumer_code, DemandRow.business_service, DemandRow.tax_period_from)
        rows = s.execute(q).scalars().all()
        if uow.store.dialect == "postgresql":
            # READ COMMITTED: two fetches would both see "no ACTIVE bill" and both make one. Each
            # consumer code is locked, then its demands are read again (a statement after the lock
            # sees what a fetch that held it committed); on SQLite BEGIN IMMEDIATE did all this.
            locked: set[tuple[str, str]] = set()
            while new := {(r.consumer_code, r.business_service) for r in rows} - locked:
                _lock_consumer_codes(s, tenant_id, new)
                locked |= new
                rows = s.execute(q.execution_options(populate_existing=True)).scalars().all()
        if ownership.applies(ctx):       # a citizen's own dues only, refused before any bill is made
            for r in rows:
                if not ownership.owns(s, app, ctx, consumer_code=r.consumer_code, payer_uuid=r.payer_uuid,
                                      mobile_bidx=r.payer_mobile_bidx):
                    raise ownership.refuse("bill of", r.consumer_code, tenant_id)
        details = _details_by_demand(s, [r.id for r in rows])
        groups: dict[tuple[str, str], list[DemandRow]] = {}
        for r in rows:
            groups.setdefault((r.consumer_code, r.business_service), []).append(r)
        bills = [b for g in groups.values() if (b := _bill_for(uow, app, ctx, tenant_id, g, details)) is not None]
        if not bills:
            # DIGIT's code either way; the clerk is told whether the demands are there and paid
            # (after a pull: paid at another counter) or there are none
            message = (f"Nothing is due: the {len(rows)} demand(s) found are paid" if rows
                       else "No Demands Found for the given bill generate criteria")
            raise NotFound(bl.E_NO_DEMANDS, message,
                           {k: v for k, v in (("tenantId", tenant_id), ("consumerCode", code),
                                              ("businessService", business_service),
                                              ("mobileNumber", "given" if mobile else None),
                                              ("demandsPaid", len(rows) or None)) if v})
        masker = masking.masker_for(app, tenant_id)
        out = [present_bill(app, uow, ctx, row.bill, masker) for row, _ in bills]
        uow.commit()
    return out


def present_bill(app: "App", uow: "UnitOfWork", ctx: "RequestContext", doc: Mapping[str, Any],
                 masker: masking.Masker | None = None) -> dict[str, Any]:
    """A copy of a stored Bill JSON with payerName / mobileNumber as the actor may see them."""
    tenant = doc.get("tenantId") or ""
    out = dict(doc)
    shown = _present_payer(app, uow, ctx, tenant, {"uuid": doc.get("payerId"), "name": doc.get("payerName"),
                                                   "mobileNumber": doc.get("mobileNumber")},
                           masker or masking.masker_for(app, tenant))
    if shown:
        out["payerName"], out["mobileNumber"] = shown.get("name"), shown.get("mobileNumber")
    return out



def settle_bill_in(uow: "UnitOfWork", row: BillRow, paid: bl.Bill, status: str, now: dt.datetime) -> dict[str, Any]:
    """Write a payment's outcome on its bill: the apportioned amounts, PAID / PARTIALLY_PAID, and the
    hash of the demands as the payment leaves them (the bill stands for those now). Returns the
    bill's additionalDetails, for the payment's own copy of the bill."""
    extra = {**(row.bill.get("additionalDetails") or {}),
             "demandHash": demand_hash_now(uow, row.tenant_id, paid.consumer_code, paid.business_service)}
    row.bill = jsonable({**paid.to_digit(), "status": status, "additionalDetails": extra})
    row.status, row.updated_at = status, now
    return extra
