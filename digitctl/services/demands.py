"""Demands (DIGIT billing-service v2 DemandService): what a consumer code owes.

- `create_demands` is `/billing-service/demand/_create` (DemandService.create): DIGIT's
  `{"Demands": [...]}` items as given (no round-off line is added: calculators add theirs),
  validated by `digitctl.domain.billing.validate_demand` (DIGIT's codes) and, where a payer uuid
  is given, against the users (DemandValidatorV1.validatePayer: it must exist and not be an
  EMPLOYEE; the payer becomes that user); an advance the consumer code holds is carried into the
  new demand (`carry_advance`, DemandService.apportionAdvanceIfExist; "billing.demand.updated"
  for each demand it came from); stored with the payer's name and mobile encrypted (mobile
  blind-indexed), one "billing.demand.created" event per demand; all or nothing.
- `list_demands` is `/billing-service/demand/_search`.
- `store_demand_in` is how a calculator (`services.tl_calculator`) stores the demand it raised.
- The BillingService masters (`billing_masters`), the demand rows <-> domain Demand mapping and
  the hash of a consumer code's demands that a bill keeps (`demands_hash`, `demand_hash_now`).

Bills are `services.bills`; how a payment changes demands is `services.settlement`;
`services.billing` re-exports all three (callers use `billing.<name>`).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import billing as bl
from digitctl.domain import safetext
from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.money import from_paise, to_paise
from digitctl.errors import InvalidInput
from digitctl.services import masking
from digitctl.services.access import authorize
from local_store.models import UserAccount
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

DEMAND_CREATE = "/billing-service/demand/_create"
DEMAND_SEARCH = "/billing-service/demand/_search"
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
                    payer: StoredPayer, operation: str = DEMAND_CREATE,
                    keep_ids: bool = False) -> tuple[DemandRow, list[DemandDetailRow]]:
    """Insert one validated demand and record its event. `keep_ids`: the demand and its lines
    keep the ids they carry (the hub storing a counter's demand), else new ones are made."""
    s = uow.session
    now = ctx.now()
    assert demand.tenant_id

    def new_id(given: str | None) -> str:
        return given if keep_ids and given else str(uuid.uuid4())

    row = DemandRow(
        id=new_id(demand.id), tenant_id=demand.tenant_id, consumer_code=demand.consumer_code,
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
        details.append(DemandDetailRow(id=new_id(line.id), demand_id=row.id, tax_head_code=line.tax_head_code,
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


def _without_demands(s: "Session", parsed: list[bl.Demand]) -> set[tuple[str, str, str]]:
    """The (tenant, consumer code, service) of the file that appear in it once and have no demand
    in the store yet: a bulk create of new consumers reads their (empty) history in a few queries
    instead of two per demand. Any other key is read demand by demand, as the file goes (what
    an earlier demand of the same file wrote included)."""
    from collections import Counter

    seen = Counter((str(d.tenant_id), d.consumer_code, d.business_service) for d in parsed)
    once = {k for k, n in seen.items() if n == 1}
    taken: set[tuple[str, str, str]] = set()
    by_tenant: dict[str, list[str]] = {}
    for tenant, code, _svc in once:
        by_tenant.setdefault(tenant, []).append(code)
    for tenant, codes in by_tenant.items():
        codes = sorted(set(codes))
        for i in range(0, len(codes), 500):
            taken.update((tenant, c, svc) for c, svc in s.execute(
                select(DemandRow.consumer_code, DemandRow.business_service).where(
                    DemandRow.tenant_id == tenant, DemandRow.consumer_code.in_(codes[i:i + 500]))).all())
    return once - taken


def create_demands(app: "App", ctx: "RequestContext", demands_json: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`/billing-service/demand/_create`: all the demands, or none (the first refusal says why)."""
    if not isinstance(demands_json, list) or not demands_json:
        raise InvalidInput("EG_BS_DEMAND_INVALID", "no Demands to create")
    parsed = [_parse_demand(item, i) for i, item in enumerate(demands_json)]
    tenants = list(dict.fromkeys(str(d.tenant_id) for d in parsed))
    for each in tenants:                # once per tenant, not per demand: a file of 10,000 is one ULB's
        authorize(app, ctx, DEMAND_CREATE, each)
    out = []
    with app.uow(ctx) as uow:
        s = uow.session
        conn = s.connection()
        masters_of = {t: billing_masters(app, t, conn) for t in tenants}
        fresh = _without_demands(s, parsed)
        created: dict[tuple[str, str, str], list[bl.Demand]] = {}     # duplicates are per key: O(n), not O(n²)
        for given, item in zip(parsed, demands_json):
            tenant = given.tenant_id
            assert tenant
            masters = masters_of[tenant]
            key = (tenant, given.consumer_code, given.business_service)
            others = [] if key in fresh else existing_demands(s, tenant, given.consumer_code, given.business_service)
            bl.validate_demand(given, masters, [*others, *created.get(key, [])])
            created.setdefault(key, []).append(given)
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



def demands_hash(demands: Iterable[bl.Demand]) -> str:
    """What a bill was made from: each demand's id, status, minimum and line amounts."""
    return content_hash(sorted(
        [d.id, d.status, str(d.minimum_amount_payable), d.bill_expiry_time, d.fixed_bill_expiry_date,
         sorted([x.id or "", x.tax_head_code, str(x.tax_amount), str(x.collection_amount)] for x in d.details)]
        for d in demands))


def _detail_rows(uow: "UnitOfWork", demand_ids: list[str]) -> dict[str, DemandDetailRow]:
    if not demand_ids:
        return {}
    rows = uow.session.execute(select(DemandDetailRow).where(DemandDetailRow.demand_id.in_(demand_ids))).scalars()
    return {r.id: r for r in rows}



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
