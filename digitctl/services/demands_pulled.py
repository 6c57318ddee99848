"""Demands the hub sent down (`digitctl sync pull`): billing's writer of pulled demand rows, so the
demand tables keep one owner (services.demands / settlement / this). The hub's demand is the
state's: it replaces the counter's copy (status, lines, collections), a line the hub no longer has
is removed, the payer is sealed with this store's keys and indexed with its blind index. The
consumer code's ACTIVE bill is expired (its dues changed): the next fetch makes a fresh one.

A demand whose consumer code has a payment here the hub has not acknowledged yet is left as it is
(the hub has not seen that money; once it has, the hub's change brings the demand down again)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from digitctl.domain.money import to_paise
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow

if TYPE_CHECKING:
    from digitctl.bootstrap import App
    from local_store.uow import UnitOfWork


def _sealed(app: "App", uow: "UnitOfWork", tenant_id: str, value: Any) -> str | None:
    return app.keyring.encrypt(uow, tenant_id, str(value)) if value not in (None, "") else None


def store(app: "App", uow: "UnitOfWork", items: list[dict[str, Any]], now: dt.datetime,
          held: set[tuple[str, str, str]]) -> int:
    """Upsert the pulled demands; `held`: (tenant, service, consumer code) with unacknowledged local
    payments (skipped). Returns how many demands were written."""
    s = uow.session
    written = 0
    touched: set[tuple[str, str, str]] = set()
    for doc in items:
        key = (str(doc["tenantId"]), str(doc["businessService"]), str(doc["consumerCode"]))
        if key in held:
            continue
        row = s.get(DemandRow, str(doc["id"]))
        fresh = row is None
        if row is None:
            row = DemandRow(id=str(doc["id"]), created_at=now)
        with s.no_autoflush:        # sealing the payer reads keys: no half-filled row flushed
            _fill(app, uow, row, doc, now)
        if fresh:
            s.add(row)
            s.flush()
        _lines(uow, row.id, doc.get("demandDetails") or [], now)
        touched.add(key)
        written += 1
    s.flush()
    for tenant, service, code in touched:
        for bill in s.execute(select(BillRow).where(
                BillRow.tenant_id == tenant, BillRow.business_service == service,
                BillRow.consumer_code == code, BillRow.status == "ACTIVE")).scalars():
            bill.status, bill.bill, bill.updated_at = "EXPIRED", {**bill.bill, "status": "EXPIRED"}, now
    s.flush()
    return written


def _fill(app: "App", uow: "UnitOfWork", row: DemandRow, doc: dict[str, Any], now: dt.datetime) -> None:
    payer = doc.get("payer") or {}
    mobile = payer.get("mobileNumber")
    row.tenant_id = str(doc["tenantId"])
    row.consumer_code = str(doc["consumerCode"])
    row.consumer_type = doc.get("consumerType")
    row.business_service = str(doc["businessService"])
    row.payer_uuid = payer.get("uuid")
    row.payer_name_enc = _sealed(app, uow, row.tenant_id, payer.get("name"))
    row.payer_mobile_enc = _sealed(app, uow, row.tenant_id, mobile)
    row.payer_mobile_bidx = app.keyring.blind_index(row.tenant_id, str(mobile), "mobile") if mobile else None
    row.tax_period_from = int(doc["taxPeriodFrom"])
    row.tax_period_to = int(doc["taxPeriodTo"])
    row.minimum_amount_payable_paise = to_paise(doc.get("minimumAmountPayable") or 0)
    row.bill_expiry_time = doc.get("billExpiryTime")
    row.fixed_bill_expiry_date = doc.get("fixedBillExpiryDate")
    row.status = str(doc.get("status") or "ACTIVE")
    row.is_payment_completed = bool(doc.get("isPaymentCompleted"))
    row.additional_details = doc.get("additionalDetails")
    row.created_by = str((doc.get("auditDetails") or {}).get("createdBy") or "hub")
    row.updated_at = now


def _lines(uow: "UnitOfWork", demand_id: str, lines: list[dict[str, Any]], now: dt.datetime) -> None:
    s = uow.session
    keep = [str(line["id"]) for line in lines]
    s.execute(delete(DemandDetailRow).where(DemandDetailRow.demand_id == demand_id,
                                            DemandDetailRow.id.not_in(keep) if keep else DemandDetailRow.id.is_not(None)))
    have = {d.id: d for d in s.execute(select(DemandDetailRow).where(
        DemandDetailRow.demand_id == demand_id)).scalars()}
    for line in lines:
        d = have.get(str(line["id"]))
        if d is None:
            d = DemandDetailRow(id=str(line["id"]), demand_id=demand_id, created_at=now)
            s.add(d)
        d.tax_head_code = str(line["taxHeadMasterCode"])
        d.tax_amount_paise = to_paise(line["taxAmount"])
        d.collection_amount_paise = to_paise(line.get("collectionAmount") or 0)
        d.updated_at = now
