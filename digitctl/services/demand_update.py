"""`/billing-service/demand/_update`: change what a demand asks (a tax head's amount, a new line)
or cancel it, with the validations of a create (business service, tax heads, each line's
collection within its tax, no second ACTIVE demand for the period) and more that an update
needs: the demand exists, its consumer code, service and period stay, collections change only
by payments, a demand with money collected is not cancelled. The consumer code's ACTIVE bill is
expired (its amounts no longer hold); one event and audit record with before and after."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import billing as bl
from digitctl.domain.events import Event
from digitctl.domain.money import from_paise, money, to_paise
from digitctl.errors import InvalidInput, NotFound
from digitctl.services.access import authorize
from digitctl.services.bills import expire, lock_consumer_code
from digitctl.services.demands import billing_masters, demand_json, demand_of, existing_demands
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

DEMAND_UPDATE = "/billing-service/demand/_update"
FIXED = (("consumerCode", "consumer_code"), ("businessService", "business_service"),
         ("taxPeriodFrom", "tax_period_from"), ("taxPeriodTo", "tax_period_to"))


def _amount(value: Any, where: str) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput("EG_BS_DEMAND_INVALID", f"{where} arrived as a float; parse the JSON with parse_float=Decimal")
    try:
        return money(value)
    except (ArithmeticError, TypeError, ValueError):
        raise InvalidInput("EG_BS_DEMAND_INVALID", f"{where}: {value!r} is not an amount", {"field": where}) from None


def _new_lines(item: Mapping[str, Any], stored: list[DemandDetailRow], index: int) -> list[bl.DemandDetail]:
    """The demand's lines after the update: every stored line (changed where the update names
    it by id), then the update's lines without an id, collected 0."""
    by_id = {d.id: d for d in stored}
    given = item.get("demandDetails")
    if given is None:
        given = []
    if not isinstance(given, list):
        raise InvalidInput("EG_BS_DEMAND_INVALID", f"Demands[{index}].demandDetails is not a list", {"index": index})
    changed: dict[str, Decimal] = {}
    added = []
    for j, line in enumerate(given):
        where = f"Demands[{index}].demandDetails[{j}]"
        if not isinstance(line, Mapping):
            raise InvalidInput("EG_BS_DEMAND_INVALID", f"{where} is not an object", {"index": index})
        tax = _amount(line.get("taxAmount"), f"{where}.taxAmount")
        if line.get("id"):
            old = by_id.get(str(line["id"]))
            if old is None:
                raise InvalidInput("EG_BS_DEMANDDETAIL_NOT_FOUND", f"{where}: no line {line['id']} in this demand",
                                   {"demandDetailId": line["id"]})
            if line.get("taxHeadMasterCode") not in (None, old.tax_head_code):
                raise InvalidInput("EG_BS_DEMAND_IMMUTABLE", f"{where}: a line's tax head cannot change "
                                   f"({old.tax_head_code}); add a new line instead", {"field": "taxHeadMasterCode"})
            collected = line.get("collectionAmount")
            if collected is not None and _amount(collected, f"{where}.collectionAmount") != from_paise(
                    old.collection_amount_paise):
                raise InvalidInput("EG_BS_COLLECTION_CHANGED", f"{where}: the collected amount changes only by "
                                   "payments and their cancellation", {"demandDetailId": old.id})
            changed[old.id] = tax
        else:
            if not line.get("taxHeadMasterCode"):
                raise InvalidInput("EG_BS_DEMAND_INVALID", f"{where}.taxHeadMasterCode is required", {"index": index})
            if line.get("collectionAmount") not in (None, 0, "0", "0.00") and \
                    _amount(line["collectionAmount"], f"{where}.collectionAmount") != 0:
                raise InvalidInput("EG_BS_COLLECTION_CHANGED", f"{where}: a new line starts with nothing collected",
                                   {"index": index})
            added.append(bl.DemandDetail(tax_head_code=str(line["taxHeadMasterCode"]), tax_amount=tax))
    lines = [bl.DemandDetail(tax_head_code=d.tax_head_code, tax_amount=changed.get(d.id, from_paise(d.tax_amount_paise)),
                             collection_amount=from_paise(d.collection_amount_paise), id=d.id)
             for d in sorted(stored, key=lambda d: (d.created_at, d.id))]
    return lines + added


def _update_one(uow: "UnitOfWork", app: "App", ctx: "RequestContext", item: Mapping[str, Any], index: int) -> dict[str, Any]:
    s = uow.session
    demand_id, tenant = item.get("id"), item.get("tenantId")
    if not demand_id or not tenant:
        raise InvalidInput("EG_BS_DEMAND_INVALID", f"Demands[{index}]: id and tenantId are required", {"index": index})
    row = s.get(DemandRow, str(demand_id))
    if row is None or row.tenant_id != tenant:
        raise NotFound("EG_BS_DEMAND_ID_NOT_FOUND", f"no demand {demand_id} at {tenant}", {"id": demand_id})
    authorize(app, ctx, DEMAND_UPDATE, row.tenant_id)
    if lock_consumer_code(uow, row.tenant_id, row.business_service, row.consumer_code):
        s.refresh(row)
    for key, attr in FIXED:
        if item.get(key) is not None and str(item[key]) != str(getattr(row, attr)):
            raise InvalidInput("EG_BS_DEMAND_IMMUTABLE", f"Demands[{index}].{key} cannot change ({getattr(row, attr)})",
                               {"field": key})
    stored = list(s.execute(select(DemandDetailRow).where(DemandDetailRow.demand_id == row.id)).scalars())
    before = demand_json(row, stored)
    status = str(item.get("status") or row.status)
    lines = _new_lines(item, stored, index)
    if status == "CANCELLED" and any(d.collection_amount_paise for d in stored):
        raise InvalidInput("EG_BS_DEMAND_COLLECTED", f"demand {row.id} has money collected: cancel its payments "
                           "first", {"id": row.id})
    current = demand_of(row, stored)
    updated = dataclasses.replace(current, details=tuple(lines), status=status)
    masters = billing_masters(app, row.tenant_id, s.connection())
    others = [d for d in existing_demands(s, row.tenant_id, row.consumer_code, row.business_service) if d.id != row.id]
    bl.validate_demand(updated, masters, others if status == "ACTIVE" else [])
    now = ctx.now()
    by_id = {d.id: d for d in stored}
    for line in lines:
        if line.id is not None:
            by_id[line.id].tax_amount_paise = to_paise(line.tax_amount)
            by_id[line.id].updated_at = now
    for i, line in enumerate(x for x in lines if x.id is None):
        s.add(DemandDetailRow(id=str(uuid.uuid4()), demand_id=row.id, tax_head_code=line.tax_head_code,
                              tax_amount_paise=to_paise(line.tax_amount), collection_amount_paise=0,
                              created_at=now + dt.timedelta(microseconds=i), updated_at=now))
    row.status, row.updated_at = status, now
    for bill in s.execute(select(BillRow).where(
            BillRow.tenant_id == row.tenant_id, BillRow.consumer_code == row.consumer_code,
            BillRow.business_service == row.business_service, BillRow.status == "ACTIVE")).scalars():
        expire(bill, now)          # its amounts no longer hold: the next fetch makes a new bill
    s.flush()
    after = demand_json(row, list(s.execute(select(DemandDetailRow).where(DemandDetailRow.demand_id == row.id))
                                  .scalars()))
    uow.record(Event("billing.demand.updated", row.tenant_id, "Demand", row.id, DEMAND_UPDATE,
                     {"Demands": [after]}, before=before, after=after))
    return after


def update_demands(app: "App", ctx: "RequestContext", demands_json: list[Any]) -> list[dict[str, Any]]:
    """All the updates, or none (the first refusal says why)."""
    if not isinstance(demands_json, list) or not demands_json:
        raise InvalidInput("EG_BS_DEMAND_INVALID", "no Demands to update")
    out = []
    with app.uow(ctx) as uow:
        for i, item in enumerate(demands_json):
            if not isinstance(item, Mapping):
                raise InvalidInput("EG_BS_DEMAND_INVALID", f"Demands[{i}] is not a JSON object", {"index": i})
            out.append(_update_one(uow, app, ctx, item, i))
        uow.commit()
    return out
