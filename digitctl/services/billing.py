"""Billing: demands and bills (DIGIT billing-service v2).

- `create_demands` is `/billing-service/demand/_create` (DemandService.create): DIGIT's
  `{"Demands": [...]}` items as given (no round-off line is added: calculators add theirs),
  validated by `digitctl.domain.billing.validate_demand` (DIGIT's codes) and, where a payer uuid
  is given, against the users (DemandValidatorV1.validatePayer: it must exist and not be an
  EMPLOYEE; the payer becomes that user); an advance the consumer code holds is carried into the
  new demand (`carry_advance`, DemandService.apportionAdvanceIfExist; "billing.demand.updated"
  for each demand it came from); stored with the payer's name and mobile encrypted (mobile
  blind-indexed), one "billing.demand.created" event per demand; all or nothing.
- `fetch_bill` is `/billing-service/bill/v2/_fetchbill`: one bill per consumer code from its ACTIVE
  demands with something due. The ACTIVE bill is handed out again while it is unexpired and the
  demands are unchanged (a hash of their amounts is kept in the bill's additionalDetails);
  otherwise it is marked EXPIRED and a new one is made, numbered by idgen `billnumberid`.
  At most one bill of a consumer code is ACTIVE (a partial unique index, migration 0005);
  concurrent fetches of one consumer code are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL:
  a transaction-scoped advisory lock per consumer code), so the later one hands out the bill the
  earlier one made.
- `record_collection_in` / `reverse_collection_in` / `settle_bill_in` are how a payment (and its
  cancel or dishonour) changes demands and bills: this module is the one writer of those tables.
- The trade-licence fee calculator is `digitctl.services.tl_calculator`.

Amounts are Decimal in the domain, integer paise in the store and decimal strings in the JSON
this module writes or returns (exact, and what `--output json` prints anyway).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from digitctl.domain import billing as bl
from digitctl.domain import safetext
from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.money import ZERO, from_paise, money, to_paise
from digitctl.errors import Conflict, InvalidInput, NotFound
from digitctl.services import idgen, masking, ownership, workflow
from digitctl.services.access import authorize
from local_store.models import UserAccount
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.bootstrap import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

DEMAND_CREATE = "/billing-service/demand/_create"
DEMAND_SEARCH = "/billing-service/demand/_search"
FETCH_BILL = "/billing-service/bill/v2/_fetchbill"
BILL_ID_NAME = "billnumberid"
BILL_FALLBACK_FORMAT = "BILL-[SEQ_EGOV_COMMON_TEST_AUTOCRE]"     # pb's own billnumberid format
MODULE = "BillingService"


def jsonable(value: Any) -> Any:
    """Decimals as exact strings, recursively (JSON columns and event payloads take no Decimal)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


# -- masters ---------------------------------------------------------------------------------------
_PARSED: dict[tuple[str, int, int, int], tuple[Any, bl.BillingMasters]] = {}


def billing_masters(app: "App", tenant_id: str, conn: Any = None) -> bl.BillingMasters:
    """BillingService TaxHeadMaster / TaxPeriod / BusinessService as DIGIT's billing-service reads
    them: at the state (a city's own BillingService files are never served for these state-level
    masters; pb.nawanshahr has some).
    The reader caches the records per MDMS version; the parsed masters are cached on the
    identity of those cached lists, so a new MDMS version parses afresh."""
    raw = [app.mdms.at_state(tenant_id, MODULE, m, conn) for m in ("TaxHeadMaster", "TaxPeriod", "BusinessService")]
    key = (tenant_id, id(raw[0]), id(raw[1]), id(raw[2]))
    hit = _PARSED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], raw)):
        return hit[1]
    masters = bl.BillingMasters.from_mdms(*raw)
    if len(_PARSED) > 64:
        _PARSED.clear()
    _PARSED[key] = (raw, masters)
    return masters


# -- rows <-> domain -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredPayer:
    """A payer as the store keeps it: PII already encrypted, mobile blind-indexed."""

    uuid: str | None = None
    name_enc: str | None = None
    mobile_enc: str | None = None
    mobile_bidx: str | None = None

    def as_digit(self) -> dict[str, Any] | None:
        if not (self.uuid or self.name_enc or self.mobile_enc):
            return None
        return {"uuid": self.uuid, "name": self.name_enc, "mobileNumber": self.mobile_enc}


def _payer_of(row: DemandRow) -> StoredPayer:
    return StoredPayer(row.payer_uuid, row.payer_name_enc, row.payer_mobile_enc, row.payer_mobile_bidx)


def demand_of(row: DemandRow, details: Iterable[DemandDetailRow]) -> bl.Demand:
    """The domain Demand of stored rows (payer PII as ciphertext)."""
    return bl.Demand(
        consumer_code=row.consumer_code, business_service=row.business_service,
        tax_period_from=row.tax_period_from, tax_period_to=row.tax_period_to,
        details=tuple(bl.DemandDetail(tax_head_code=d.tax_head_code, tax_amount=from_paise(d.tax_amount_paise),
                                      collection_amount=from_paise(d.collection_amount_paise), id=d.id)
                      for d in sorted(details, key=lambda d: (d.created_at, d.id))),
        tenant_id=row.tenant_id, minimum_amount_payable=from_paise(row.minimum_amount_payable_paise),
        status=row.status, consumer_type=row.consumer_type, payer=_payer_of(row).as_digit(), id=row.id,
        bill_expiry_time=row.bill_expiry_time, fixed_bill_expiry_date=row.fixed_bill_expiry_date,
        additional_details=row.additional_details)


def _details_by_demand(s: "Session", ids: list[str]) -> dict[str, list[DemandDetailRow]]:
    out: dict[str, list[DemandDetailRow]] = {i: [] for i in ids}
    if ids:
        for d in s.execute(select(DemandDetailRow).where(DemandDetailRow.demand_id.in_(ids))).scalars():
            out[d.demand_id].append(d)
    return out


def demand_json(row: DemandRow, details: Iterable[DemandDetailRow]) -> dict[str, Any]:
    details = list(details)
    doc = demand_of(row, details).to_digit()
    doc["isPaymentCompleted"] = row.is_payment_completed
    doc["auditDetails"] = {"createdBy": row.created_by, "createdTime": _ms(row.created_at),
                           "lastModifiedBy": row.created_by, "lastModifiedTime": _ms(row.updated_at)}
    lines = {d.id: d for d in details}
    for line in doc["demandDetails"]:          # DIGIT's DemandDetail carries its own auditDetails
        stored = lines.get(line.get("id"))
        if stored is not None:
            line["auditDetails"] = {"createdBy": row.created_by, "createdTime": _ms(stored.created_at),
                                    "lastModifiedBy": row.created_by, "lastModifiedTime": _ms(stored.updated_at)}
    out: dict[str, Any] = jsonable(doc)
    return out


# -- demands ---------------------------------------------------------------------------------------
def existing_demands(s: "Session", tenant_id: str, consumer_code: str, service: str) -> list[bl.Demand]:
    """The consumer code's demands of the service, every status, with their lines (flushed ones
    of this unit of work included)."""
    rows = s.execute(select(DemandRow).where(DemandRow.tenant_id == tenant_id,
                                             DemandRow.consumer_code == consumer_code,
                                             DemandRow.business_service == service)).scalars().all()
    details = _details_by_demand(s, [r.id for r in rows])
    return [demand_of(r, details[r.id]) for r in rows]


def store_demand_in(uow: "UnitOfWork", app: "App", ctx: "RequestContext", demand: bl.Demand,
                    payer: StoredPayer, operation: str = DEMAND_CREATE) -> tuple[DemandRow, list[DemandDetailRow]]:
    """Insert one validated demand and record its event."""
    s = uow.session
    now = ctx.now()
    assert demand.tenant_id
    row = DemandRow(
        id=str(uuid.uuid4()), tenant_id=demand.tenant_id, consumer_code=demand.consumer_code,
        consumer_type=demand.consumer_type, business_service=demand.business_service, payer_uuid=payer.uuid,
        payer_name_enc=payer.name_enc, payer_mobile_enc=payer.mobile_enc, payer_mobile_bidx=payer.mobile_bidx,
        tax_period_from=demand.tax_period_from, tax_period_to=demand.tax_period_to,
        minimum_amount_payable_paise=to_paise(demand.minimum_amount_payable), bill_expiry_time=demand.bill_expiry_time,
        fixed_bill_expiry_date=demand.fixed_bill_expiry_date, status=demand.status,
        is_payment_completed=demand.is_settled, additional_details=jsonable(demand.additional_details),
        created_by=ctx.actor.uuid, created_at=now, updated_at=now)
    s.add(row)
    details = []
    for i, line in enumerate(demand.details):
        # created_at keeps the order of the lines (microseconds apart): the bill lists them so
        details.append(DemandDetailRow(id=str(uuid.uuid4()), demand_id=row.id, tax_head_code=line.tax_head_code,
                                       tax_amount_paise=to_paise(line.tax_amount),
                                       collection_amount_paise=to_paise(line.collection_amount),
                                       created_at=now + dt.timedelta(microseconds=i), updated_at=now))
    s.add_all(details)
    s.flush()
    doc = demand_json(row, details)
    uow.record(Event("billing.demand.created", row.tenant_id, "Demand", row.id, operation,
                     {"Demands": [doc]}, before=None, after=doc))
    return row, details


E_USER_NOT_FOUND = "EG_BS_USER_UUID_NOTFOUND"           # billing-service util/Constants.java
E_EMPLOYEE_PAYER = "EG_BS_EMPLOYEE_UUID_NOTALLOWED"


def _payer_user(uow: "UnitOfWork", app: "App", payer: Any) -> dict[str, Any] | None:
    """DemandValidatorV1.validatePayer: a payer given by uuid must be a user, and not an EMPLOYEE
    (employees cannot own a demand); the demand's payer is then that user (name and mobile from
    the user record). None when the payer names no uuid."""
    if not isinstance(payer, Mapping) or not payer.get("uuid"):
        return None
    uid = str(payer["uuid"])
    user = uow.session.get(UserAccount, uid)
    if user is None:
        raise InvalidInput(E_USER_NOT_FOUND, f"No users found for following uuids  [{uid}]", {"uuid": uid})
    if (user.type or "").upper() == "EMPLOYEE":
        raise InvalidInput(E_EMPLOYEE_PAYER, "Employees cannot own a demand in system. The following uuids "
                           f"belonging to employees are rejected : [{uid}]", {"uuid": uid})
    ring = app.keyring
    return {"uuid": user.uuid, "name": ring.decrypt(uow, user.name_enc) if user.name_enc else None,
            "mobileNumber": ring.decrypt(uow, user.mobile_enc) if user.mobile_enc else None}


def _update_carried(uow: "UnitOfWork", ctx: "RequestContext", demand: bl.Demand) -> None:
    """Write what carry_advance changed on an earlier demand (its advance line used, maybe a
    leftover credit line) and record "billing.demand.updated"."""
    s = uow.session
    now = ctx.now()
    row = s.get(DemandRow, demand.id)
    assert row is not None
    details = {d.id: d for d in _details_by_demand(s, [row.id])[row.id]}
    before = demand_json(row, details.values())
    for i, line in enumerate(demand.details):
        stored = details.get(line.id or "")
        if stored is None:
            stored = DemandDetailRow(id=str(uuid.uuid4()), demand_id=row.id, tax_head_code=line.tax_head_code,
                                     tax_amount_paise=0, collection_amount_paise=0,
                                     created_at=now + dt.timedelta(microseconds=i), updated_at=now)
            s.add(stored)
            details[stored.id] = stored
        stored.tax_amount_paise = to_paise(line.tax_amount)
        stored.collection_amount_paise = to_paise(line.collection_amount)
        stored.updated_at = now
    row.is_payment_completed = all(d.tax_amount_paise == d.collection_amount_paise for d in details.values())
    row.updated_at = now
    s.flush()
    after = demand_json(row, details.values())
    uow.record(Event("billing.demand.updated", row.tenant_id, "Demand", row.id, DEMAND_CREATE,
                     {"Demands": [after]}, before=before, after=after))


def _parse_payer(uow: "UnitOfWork", app: "App", tenant_id: str, payer: Any) -> StoredPayer:
    if payer is None:
        return StoredPayer()
    if not isinstance(payer, Mapping):
        raise InvalidInput("EG_BS_PAYER_INVALID", "payer must be a JSON object (uuid, name, mobileNumber)")
    ring = app.keyring
    name = (payer.get("name") or "").strip() or None
    safetext.check_text(name, "payer.name", max_length=safetext.PAYER_NAME_MAX)
    mobile = payer.get("mobileNumber")
    if mobile:
        mobile = normalize_mobile(str(mobile))
        if not valid_mobile(mobile):
            raise InvalidInput("INVALID_MOBILE_NUMBER", "a mobile number is 10 digits starting with 6-9",
                               {"field": "payer.mobileNumber"})
    return StoredPayer(uuid=payer.get("uuid") or None,
                       name_enc=ring.encrypt(uow, tenant_id, name) if name else None,
                       mobile_enc=ring.encrypt(uow, tenant_id, mobile) if mobile else None,
                       mobile_bidx=ring.blind_index(tenant_id, mobile, "mobile") if mobile else None)


def _parse_demand(item: Any, index: int) -> bl.Demand:
    if not isinstance(item, Mapping):
        raise InvalidInput("EG_BS_DEMAND_INVALID", f"Demands[{index}] is not a JSON object", {"index": index})
    for key in ("tenantId", "consumerCode", "businessService", "taxPeriodFrom", "taxPeriodTo", "demandDetails"):
        if item.get(key) in (None, "", []):
            raise InvalidInput("EG_BS_DEMAND_INVALID", f"Demands[{index}].{key} is required",
                               {"index": index, "field": key})
    try:
        for line in item["demandDetails"]:
            for k in ("taxAmount", "collectionAmount"):
                if isinstance(line.get(k), float):      # the CLI parses with parse_float=Decimal
                    raise TypeError(f"{k} arrived as a float; parse the JSON with parse_float=Decimal")
        return bl.Demand.from_digit({**item, "payer": None})
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InvalidInput("EG_BS_DEMAND_INVALID", f"Demands[{index}]: {err}", {"index": index}) from None


def create_demands(app: "App", ctx: "RequestContext", demands_json: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`/billing-service/demand/_create`: all the demands, or none (the first refusal says why)."""
    if not isinstance(demands_json, list) or not demands_json:
        raise InvalidInput("EG_BS_DEMAND_INVALID", "no Demands to create")
    parsed = [_parse_demand(item, i) for i, item in enumerate(demands_json)]
    for d in parsed:
        assert d.tenant_id
        authorize(app, ctx, DEMAND_CREATE, d.tenant_id)
    out = []
    with app.uow(ctx) as uow:
        s = uow.session
        conn = s.connection()
        created: list[bl.Demand] = []
        for given, item in zip(parsed, demands_json):
            tenant = given.tenant_id
            assert tenant
            masters = billing_masters(app, tenant, conn)
            others = existing_demands(s, tenant, given.consumer_code, given.business_service)
            bl.validate_demand(given, masters, [*others, *(c for c in created if c.tenant_id == tenant)])
            created.append(given)
            typed = _payer_user(uow, app, item.get("payer")) or item.get("payer")
            payer = _parse_payer(uow, app, tenant, typed)
            demand, changed = bl.carry_advance(given, others, masters)
            for earlier in changed:
                _update_carried(uow, ctx, earlier)
            row, details = store_demand_in(uow, app, ctx, demand, payer)
            doc = demand_json(row, details)
            if isinstance(typed, Mapping):     # what the caller typed (or the user it named), as applications do
                doc["payer"] = {**(doc["payer"] or {}), "name": typed.get("name"),
                                "mobileNumber": typed.get("mobileNumber")}
            out.append(doc)
        uow.commit()
    return out


def _present_payer(app: "App", uow: "UnitOfWork", ctx: "RequestContext", tenant_id: str,
                   payer: Mapping[str, Any] | None, masker: masking.Masker) -> dict[str, Any] | None:
    """The payer as the actor may see it (SecurityPolicy model "User"): masked, plain or hidden."""
    if not payer:
        return None
    shown = masking.present(app, uow, ctx, "User", {**payer, "tenantId": tenant_id}, masker=masker,
                            purpose="billing")
    shown.pop("tenantId", None)
    return shown


def list_demands(app: "App", ctx: "RequestContext", tenant_id: str, consumer_code: str | None = None,
                 business_service: str | None = None) -> list[dict[str, Any]]:
    """`/billing-service/demand/_search`: the tenant's demands, newest first."""
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    authorize(app, ctx, DEMAND_SEARCH, tenant_id)
    with app.uow(ctx) as uow:
        s = uow.session
        q = select(DemandRow).where(DemandRow.tenant_id == tenant_id)
        if consumer_code:
            q = q.where(DemandRow.consumer_code == consumer_code)
        if business_service:
            q = q.where(DemandRow.business_service == business_service)
        rows = s.execute(q.order_by(DemandRow.created_at.desc(), DemandRow.id)).scalars().all()
        details = _details_by_demand(s, [r.id for r in rows])
        masker = masking.masker_for(app, tenant_id)
        out = []
        for r in rows:
            doc = demand_json(r, details[r.id])
            doc["payer"] = _present_payer(app, uow, ctx, tenant_id, doc.get("payer"), masker)
            out.append(doc)
        uow.commit()        # masking may have recorded a disclosure
    return out


# -- bills -----------------------------------------------------------------------------------------
def demands_hash(demands: Iterable[bl.Demand]) -> str:
    """What a bill was made from: each demand's id, status, minimum and line amounts."""
    return content_hash(sorted(
        [d.id, d.status, str(d.minimum_amount_payable), d.bill_expiry_time, d.fixed_bill_expiry_date,
         sorted([x.id or "", x.tax_head_code, str(x.tax_amount), str(x.collection_amount)] for x in d.details)]
        for d in demands))


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
            raise NotFound(bl.E_NO_DEMANDS, "No Demands Found for the given bill generate criteria",
                           {k: v for k, v in (("tenantId", tenant_id), ("consumerCode", code),
                                              ("businessService", business_service),
                                              ("mobileNumber", "given" if mobile else None)) if v})
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


# -- collections on demands (the payment services write demands only through these) ----------------
def _detail_rows(uow: "UnitOfWork", demand_ids: list[str]) -> dict[str, DemandDetailRow]:
    if not demand_ids:
        return {}
    rows = uow.session.execute(select(DemandDetailRow).where(DemandDetailRow.demand_id.in_(demand_ids))).scalars()
    return {r.id: r for r in rows}


def _settle_flags(uow: "UnitOfWork", demand_ids: list[str], now: dt.datetime,
                  details: dict[str, DemandDetailRow] | None = None) -> None:
    """isPaymentCompleted of each demand from its lines: `details`, when the caller holds ALL the
    lines of these demands (as record_collection_in does), saves a query per demand."""
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


def record_collection_in(uow: "UnitOfWork", bill: bl.Bill, allocations: list[bl.Allocation],
                         advance_head: str | None, now: dt.datetime) -> list[dict[str, Any]]:
    """Write the payment's shares on the demand details; returns what was written (kept in the
    payment so that a cancel or dishonour can take exactly that back)."""
    demand_ids = sorted({d.demand_id for d in bill.bill_details if d.demand_id})
    details = _detail_rows(uow, demand_ids)
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


def reverse_collection_in(uow: "UnitOfWork", written: list[dict[str, Any]], now: dt.datetime) -> list[str]:
    """Take back what record_collection_in wrote (a cancelled or dishonoured payment): collections
    off, advance credit off; returns the demands touched."""
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


def demand_hash_now(uow: "UnitOfWork", tenant_id: str, consumer_code: str, service: str) -> str:
    """The hash fetch_bill keeps in a bill (demands_hash) of the demands as they are now."""
    rows = uow.session.execute(select(DemandRow).where(
        DemandRow.tenant_id == tenant_id, DemandRow.consumer_code == consumer_code,
        DemandRow.business_service == service, DemandRow.status == "ACTIVE")).scalars().all()
    details = _detail_rows(uow, [r.id for r in rows])
    by_demand: dict[str, list[DemandDetailRow]] = {r.id: [] for r in rows}
    for d in details.values():
        by_demand[d.demand_id].append(d)
    demands = [demand_of(r, by_demand[r.id]) for r in rows]
    return demands_hash([d for d in demands if d.status == "ACTIVE" and not d.is_settled])


def settle_bill_in(uow: "UnitOfWork", row: BillRow, paid: bl.Bill, status: str, now: dt.datetime) -> dict[str, Any]:
    """Write a payment's outcome on its bill: the apportioned amounts, PAID / PARTIALLY_PAID, and the
    hash of the demands as the payment leaves them (the bill stands for those now). Returns the
    bill's additionalDetails, for the payment's own copy of the bill."""
    extra = {**(row.bill.get("additionalDetails") or {}),
             "demandHash": demand_hash_now(uow, row.tenant_id, paid.consumer_code, paid.business_service)}
    row.bill = jsonable({**paid.to_digit(), "status": status, "additionalDetails": extra})
    row.status, row.updated_at = status, now
    return extra


def refuse_payment_action_while_unpaid(uow: "UnitOfWork", app: "App", ctx: "RequestContext",
                                       step: dict[str, Any]) -> None:
    """Workflow guard: a payment action (PAY) is taken only once the business object's demands
    (consumer code = its id) exist and are all settled (isPaymentCompleted), whoever asks."""
    if not step.get("isPaymentAction"):
        return
    settled = uow.session.execute(select(DemandRow.is_payment_completed).where(
        DemandRow.tenant_id == step["tenantId"], DemandRow.consumer_code == step["businessId"],
        DemandRow.status == "ACTIVE")).scalars().all()
    if not settled or not all(settled):
        raise InvalidInput("DEMAND_NOT_SETTLED", f"{step['action']} on {step['businessId']} waits for its fee: "
                           + ("no demand has been raised" if not settled else "a demand is not paid in full"),
                           {"businessId": step["businessId"], "action": step["action"]})


workflow.guard(workflow.ALL_SERVICES, refuse_payment_action_while_unpaid)
