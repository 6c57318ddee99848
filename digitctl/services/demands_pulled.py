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

from sqlalchemy import bindparam, delete, insert, select, update

from digitctl.domain.money import to_paise
from local_store import seals
from local_store.models import Bill as BillRow
from local_store.models import Demand as DemandRow
from local_store.models import DemandDetail as DemandDetailRow

if TYPE_CHECKING:
    from digitctl.ports import App
    from local_store.uow import UnitOfWork


def _sealed(app: "App", uow: "UnitOfWork", tenant_id: str, value: Any) -> str | None:
    return app.keyring.encrypt(uow, tenant_id, str(value)) if value not in (None, "") else None


def store(app: "App", uow: "UnitOfWork", items: list[dict[str, Any]], now: dt.datetime,
          held: set[tuple[str, str, str]]) -> int:
    """Upsert the pulled demands (Core, a page at a time: a first pull of a large tenant is
    100,000s of rows); `held`: (tenant, service, consumer code) with unacknowledged local payments
    (skipped). Returns how many demands were written."""
    docs = [d for d in items if (str(d["tenantId"]), str(d["businessService"]), str(d["consumerCode"])) not in held]
    if not docs:
        return 0
    conn = uow.session.connection()
    ids = [str(d["id"]) for d in docs]
    have = set(conn.execute(select(DemandRow.id).where(DemandRow.id.in_(ids))).scalars())
    rows = [_values(app, uow, d, now) for d in docs]
    fresh = [r for r in rows if r["id"] not in have]
    old = [{**{k: v for k, v in r.items() if k != "created_at"}, "b_id": r["id"]} for r in rows if r["id"] in have]
    if fresh:
        conn.execute(insert(DemandRow.__table__), fresh)
    if old:
        t = DemandRow.__table__
        conn.execute(update(t).where(t.c.id == bindparam("b_id")).values(
            {k: bindparam(k) for k in old[0] if k not in ("b_id", "id")}), old)
    lines = _lines(conn, docs, now)
    expired = _expire_bills(conn, {(r["tenant_id"], r["business_service"], r["consumer_code"]) for r in rows}, now)
    # sealed with the page's record: `audit verify` knows the rows as the pull left them. A new
    # demand's rows are sealed as written (every column is here: a first pull of 20,000 demands
    # took 8.3 s reading them back, 4.6 s without); a changed one is read back at commit.
    dt_table, d_table = DemandDetailRow.__table__, DemandRow.__table__
    by_demand: dict[str, dict[str, Any]] = {}
    for line in lines:
        by_demand.setdefault(line["demand_id"], {})[f"{dt_table.name}:{line['id']}"] = seals.row_seal(dt_table, line)
    for r in rows:
        if r["id"] in have:
            uow.touch("Demand", r["id"])
        else:
            uow.seal_as("Demand", r["id"], {f"{d_table.name}:{r['id']}": seals.row_seal(d_table, r),
                                            **by_demand.get(r["id"], {})})
    for bill_id in expired:
        uow.touch("Bill", bill_id)
    uow.session.expire_all()
    return len(docs)


def _values(app: "App", uow: "UnitOfWork", doc: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    payer = doc.get("payer") or {}
    mobile = payer.get("mobileNumber")
    tenant = str(doc["tenantId"])
    return {"id": str(doc["id"]), "tenant_id": tenant, "consumer_code": str(doc["consumerCode"]),
            "consumer_type": doc.get("consumerType"), "business_service": str(doc["businessService"]),
            "payer_uuid": payer.get("uuid"), "payer_name_enc": _sealed(app, uow, tenant, payer.get("name")),
            "payer_mobile_enc": _sealed(app, uow, tenant, mobile),
            "payer_mobile_bidx": app.keyring.blind_index(tenant, str(mobile), "mobile") if mobile else None,
            "tax_period_from": int(doc["taxPeriodFrom"]), "tax_period_to": int(doc["taxPeriodTo"]),
            "minimum_amount_payable_paise": to_paise(doc.get("minimumAmountPayable") or 0),
            "bill_expiry_time": doc.get("billExpiryTime"), "fixed_bill_expiry_date": doc.get("fixedBillExpiryDate"),
            "status": str(doc.get("status") or "ACTIVE"), "is_payment_completed": bool(doc.get("isPaymentCompleted")),
            "additional_details": doc.get("additionalDetails"),
            "created_by": str((doc.get("auditDetails") or {}).get("createdBy") or "hub"),
            "created_at": now, "updated_at": now}


def _lines(conn: Any, docs: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """Each demand's lines as the hub has them: lines it no longer has removed, the rest upserted;
    returns the lines written (every column)."""
    t = DemandDetailRow.__table__
    ids = [str(d["id"]) for d in docs]
    want = [{"id": str(line["id"]), "demand_id": str(d["id"]), "tax_head_code": str(line["taxHeadMasterCode"]),
             "tax_amount_paise": to_paise(line["taxAmount"]),
             "collection_amount_paise": to_paise(line.get("collectionAmount") or 0),
             "created_at": now, "updated_at": now}
            for d in docs for line in d.get("demandDetails") or []]
    keep = {w["id"] for w in want}
    have = {r.id: r.demand_id for r in conn.execute(select(t.c.id, t.c.demand_id).where(t.c.demand_id.in_(ids)))}
    gone = [i for i in have if i not in keep]
    if gone:
        conn.execute(delete(t).where(t.c.id.in_(gone)))
    fresh = [w for w in want if w["id"] not in have]
    old = [{"b_id": w["id"], "demand_id": w["demand_id"], "tax_head_code": w["tax_head_code"],
            "tax_amount_paise": w["tax_amount_paise"], "collection_amount_paise": w["collection_amount_paise"],
            "updated_at": now} for w in want if w["id"] in have]
    if fresh:
        conn.execute(insert(t), fresh)
    if old:
        conn.execute(update(t).where(t.c.id == bindparam("b_id")).values(
            demand_id=bindparam("demand_id"), tax_head_code=bindparam("tax_head_code"),
            tax_amount_paise=bindparam("tax_amount_paise"),
            collection_amount_paise=bindparam("collection_amount_paise"), updated_at=bindparam("updated_at")), old)
    return want


def _expire_bills(conn: Any, keys: set[tuple[str, str, str]], now: dt.datetime) -> list[str]:
    """The ACTIVE bill of each consumer code whose demands changed: EXPIRED (fetch makes a new one);
    returns their ids."""
    t = BillRow.__table__
    codes = sorted({k[2] for k in keys})
    if not codes:
        return []
    rows = conn.execute(select(t.c.id, t.c.tenant_id, t.c.business_service, t.c.consumer_code, t.c.bill).where(
        t.c.consumer_code.in_(codes), t.c.status == "ACTIVE")).all()
    stale = [{"b_id": r.id, "bill": {**r.bill, "status": "EXPIRED"}} for r in rows
             if (r.tenant_id, r.business_service, r.consumer_code) in keys]
    if stale:
        conn.execute(update(t).where(t.c.id == bindparam("b_id")).values(
            status="EXPIRED", bill=bindparam("bill"), updated_at=now), stale)
    return [str(b["b_id"]) for b in stale]
