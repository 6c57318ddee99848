"""How a payment changes demands (DIGIT billing-service's demand update from a payment): the
payment services write demand rows only through these, so billing stays the one writer of its
tables. `record_collection_in` puts a payment's shares (and any advance) on the demand lines and
returns what it wrote; `reverse_collection_in` takes exactly that back (cancel, dishonour).

`refuse_payment_action_while_unpaid` is a workflow guard (PAY waits for the fee); `register()`
hooks it, and `digitctl.bootstrap.register_modules` calls that when an App is built.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from digitctl.domain import billing as bl
from digitctl.domain.money import from_paise, to_paise
from digitctl.errors import Conflict, InvalidInput
from digitctl.services import workflow
from digitctl.services.demands import _detail_rows
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork


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



def apply_collection_in(uow: "UnitOfWork", written: list[dict[str, Any]], now: dt.datetime) -> list[str]:
    """Put a payment's shares, as record_collection_in wrote them elsewhere (the hub applying a
    counter's payment: lines already mapped to this store's demand details), on the demand lines:
    collections on, advance credit on (a credit line this store lacks is added with its id);
    returns the demands touched. The caller has checked that the collections fit."""
    demand_ids: set[str] = set()
    for line in written:
        row = uow.session.get(DemandDetailRow, line["demandDetailId"])
        if row is None:
            if "credit" not in line:
                raise Conflict("DEMAND_DETAIL_NOT_FOUND", f"no demand detail {line['demandDetailId']}",
                               {"demandDetailId": line["demandDetailId"]})
            row = DemandDetailRow(id=line["demandDetailId"], demand_id=line["demandId"],
                                  tax_head_code=line["taxHeadCode"], tax_amount_paise=0, collection_amount_paise=0,
                                  created_at=now, updated_at=now)
            uow.session.add(row)
        if "collection" in line:
            row.collection_amount_paise += to_paise(line["collection"])
        if "credit" in line:
            row.tax_amount_paise -= to_paise(line["credit"])
        row.updated_at = now
        demand_ids.add(row.demand_id)
    uow.session.flush()
    _settle_flags(uow, sorted(demand_ids), now)
    return sorted(demand_ids)


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


def register() -> None:
    """Hook the guard on every workflow (once: `workflow.guard` ignores a second registration)."""
    workflow.guard(workflow.ALL_SERVICES, refuse_payment_action_while_unpaid)
