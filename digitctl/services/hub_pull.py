"""The hub's side of `digitctl sync pull` (sync/PROTOCOL.md, "Down"): pages of what changed for a
counter's tenant since its cursor, per stream.

A stream's cursor is opaque to the counter (base64 JSON). A first pull walks a snapshot in primary
key order (`{"p": "s", "after": id, "mark": outbox seq when the snapshot began}`); once done, the
cursor turns to a delta over the hub's outbox after the mark (`{"p": "d", "after": seq}`): every
state change at the hub writes an outbox event in the same transaction, so the events after the
mark name every entity changed since, whatever the clock said. A page is bounded (`limit` rows or
events), so memory is bounded on both sides. Personal fields travel opened (over loopback or
TLS, as in a push) and are sealed with the counter's keys on arrival.

Stream `demands`: demands of the counter's tenant (or below it) with their lines, payer included;
a demand cancelled at the hub travels with its status, a line removed at the hub is absent from
its `demandDetails` (the counter removes it).

Stream `payments`: the payments of the counter's tenant (or below it) that other counters or the
hub took, never the counter's own (hub_pull_payments).

Stream `users`: the accounts of the counter's tenant (or below it) with their roles and password
hashes (employees log in at the counter offline), locks and deactivation included
(hub_pull_users).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from digitctl.domain.money import from_paise
from digitctl.errors import InvalidInput
from digitctl.services.hub_auth import SignedRequest, authenticate, counter_context
from local_store.models import (Application, Demand, DemandDetail, MdmsRecord, OutboxEvent, Payment, UserAccount,
                                 WfBusinessService)

if TYPE_CHECKING:
    from digitctl.ports import App

PULL_ACTION = "/sync/v1/changes/_pull"
STREAMS = ("mdms", "workflow", "users", "demands", "payments", "applications")
MAX_LIMIT = 5000


def encode_cursor(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def decode_cursor(text: str | None) -> dict[str, Any]:
    if not text:
        return {"p": "s", "after": "", "mark": None}
    try:
        doc = json.loads(base64.urlsafe_b64decode(text.encode()))
        assert isinstance(doc, dict) and doc.get("p") in ("s", "d")
        return doc
    except Exception:  # noqa: BLE001 - any garbage is the same refusal
        raise InvalidInput("SYNC_CURSOR_INVALID", "the pull cursor is not one this hub gave", {}) from None


def _bad(message: str) -> InvalidInput:
    return InvalidInput("SYNC_INVALID_REQUEST", message, {})


def _request(body: bytes) -> tuple[str, dict[str, Any], int]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise _bad("the body is not JSON") from None
    if not isinstance(doc, dict) or doc.get("stream") not in STREAMS:
        raise _bad(f"stream must be one of {', '.join(STREAMS)}")
    limit = doc.get("limit", 1000)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise _bad(f"limit must be 1..{MAX_LIMIT}")
    return str(doc["stream"]), decode_cursor(doc.get("cursor")), limit


def _of_tenant(column: Any, tenant: str) -> Any:
    if callable(column) and not hasattr(column, "like"):       # a stream's own rule (mdms: the state too)
        return column(tenant)
    return or_(column == tenant, column.like(f"{tenant}.%"))


def pull(app: "App", req: SignedRequest) -> dict[str, Any]:
    """`{"stream", "tenantId", "items": [...], "cursor", "more", "total"}` for the signing counter."""
    stream, cur, limit = _request(req.body)
    with app.uow(counter_context(app, req.header("X-Digit-Counter"))) as uow:
        row, _skew = authenticate(uow.session.connection(), app.clock.now(), req, lock=False)
        tenant, code = str(row.tenant_id), str(row.code)
        uow.commit()                 # the nonce is spent
    return page_for(app, tenant, stream, cur, limit, counter=code)


def page_for(app: "App", tenant: str, stream: str, cur: dict[str, Any], limit: int,
             counter: str | None = None) -> dict[str, Any]:
    """One page of `stream` for counter `counter` of `tenant` (no authentication: `pull` does it)."""
    with app.uow(app.base_context(tenant), readonly=True) as uow:
        s = uow.session
        page = (_snapshot if cur["p"] == "s" else _delta)(app, uow, s, tenant, stream, cur, limit, counter)
        if stream == "mdms":
            from digitctl.services.hub_pull_mdms import page_extras

            page.update(page_extras(s))
    return {**page, "tenantId": tenant}


class _Stream(NamedTuple):
    """What a stream walks (its table's key and tenant columns), which outbox entities name its
    rows in a delta, and how its rows travel."""

    key: Any
    tenant: Any
    entities: tuple[str, ...]
    changed: Callable[[Session, list[Any]], set[Any]]
    docs: Callable[["App", Any, Session, list[Any]], list[dict[str, Any]]]
    own: Any = None       # the column naming the counter a row is from: its own rows never go to it

    def mine(self, counter: str | None) -> list[Any]:
        """The condition that leaves out the requesting counter's own rows (none for most streams)."""
        if self.own is None or not counter:
            return []
        return [or_(self.own.is_(None), self.own != counter)]


def _demands_changed(s: Session, events: list[Any]) -> set[str]:
    """Demand ids the events name: a Demand's own, and the demands of a paid consumer code."""
    ids = {e.entity_id for e in events if e.entity_type == "Demand"}
    paid = [e.entity_id for e in events if e.entity_type == "Payment"]
    if paid:
        keys = set(s.execute(select(Payment.tenant_id, Payment.business_service, Payment.consumer_code)
                             .where(Payment.id.in_(paid))).all())
        for t, svc, cc in keys:
            ids |= set(s.execute(select(Demand.id).where(
                Demand.tenant_id == t, Demand.business_service == svc, Demand.consumer_code == cc)).scalars())
    return ids


def _stream(name: str) -> _Stream:
    if name == "mdms":
        from digitctl.services import hub_pull_mdms as m

        return _Stream(MdmsRecord.id, m.of_tenant, (m.ENTITY,), m.changed, m.docs)
    if name == "workflow":
        from digitctl.services import hub_pull_workflow as w

        return _Stream(WfBusinessService.id, w.of_tenant, (w.ENTITY,), w.changed, w.docs)
    if name == "applications":
        from digitctl.services import hub_pull_apps as ap

        return _Stream(Application.application_no, Application.tenant_id, ap.ENTITIES, ap.changed, ap.docs)
    if name == "payments":
        from digitctl.services import hub_pull_payments as pp

        return _Stream(Payment.id, Payment.tenant_id, pp.ENTITIES, pp.changed, pp.docs, Payment.counter_code)
    if name == "users":
        from digitctl.services import hub_pull_users

        return _Stream(UserAccount.uuid, UserAccount.tenant_id, ("User",),
                       lambda _s, events: {e.entity_id for e in events}, hub_pull_users.user_docs)
    return _Stream(Demand.id, Demand.tenant_id, ("Demand", "Payment"), _demands_changed,
                   lambda app, uow, s, rows: demand_docs(app, uow, s, rows))


def _snapshot(app: "App", uow: Any, s: Session, tenant: str, stream: str, cur: dict[str, Any],
              limit: int, counter: str | None = None) -> dict[str, Any]:
    spec = _stream(stream)
    table = spec.key.class_
    mark = cur.get("mark")
    if mark is None:
        mark = int(s.execute(select(func.coalesce(func.max(OutboxEvent.seq), 0))).scalar_one())
    base = select(table).where(_of_tenant(spec.tenant, tenant), *spec.mine(counter))
    total = None
    if not cur.get("after"):
        total = int(s.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    after = cur.get("after")
    if after not in (None, ""):
        base = base.where(spec.key > after)
    rows = list(s.execute(base.order_by(spec.key).limit(limit)).scalars())
    items = spec.docs(app, uow, s, rows)
    more = len(rows) == limit
    nxt = {"p": "s", "after": getattr(rows[-1], spec.key.key), "mark": mark} if more else {"p": "d", "after": mark}
    return {"stream": stream, "items": items, "cursor": encode_cursor(nxt), "more": more, "total": total}


def _delta(app: "App", uow: Any, s: Session, tenant: str, stream: str, cur: dict[str, Any],
           limit: int, counter: str | None = None) -> dict[str, Any]:
    spec = _stream(stream)
    table = spec.key.class_
    after = int(cur.get("after") or 0)
    events = list(s.execute(select(OutboxEvent.seq, OutboxEvent.entity_type, OutboxEvent.entity_id).where(
        OutboxEvent.seq > after, OutboxEvent.entity_type.in_(spec.entities),
        or_(OutboxEvent.tenant_id == tenant.split(".")[0], _of_tenant(OutboxEvent.tenant_id, tenant))).order_by(OutboxEvent.seq).limit(limit)).all())
    ids = spec.changed(s, events)
    rows = list(s.execute(select(table).where(spec.key.in_(sorted(ids)), _of_tenant(spec.tenant, tenant),
                                              *spec.mine(counter)).order_by(spec.key)).scalars()) if ids else []
    more = len(events) == limit
    nxt = {"p": "d", "after": int(events[-1].seq) if events else after}
    return {"stream": stream, "items": spec.docs(app, uow, s, rows), "cursor": encode_cursor(nxt),
            "more": more, "total": None}


def _open(app: "App", uow: Any, value: str | None) -> str | None:
    return app.keyring.decrypt(uow, value) if value else None


def demand_docs(app: "App", uow: Any, s: Session, rows: list[Demand]) -> list[dict[str, Any]]:
    """The demands as they travel: DIGIT's Demand shape with the hub's ids, amounts as decimal
    strings, the payer opened for the trip."""
    if not rows:
        return []
    lines: dict[str, list[DemandDetail]] = {}
    for d in s.execute(select(DemandDetail).where(DemandDetail.demand_id.in_([r.id for r in rows]))
                       .order_by(DemandDetail.id)).scalars():
        lines.setdefault(d.demand_id, []).append(d)
    return [{"id": r.id, "tenantId": r.tenant_id, "consumerCode": r.consumer_code, "consumerType": r.consumer_type,
             "businessService": r.business_service, "taxPeriodFrom": r.tax_period_from,
             "taxPeriodTo": r.tax_period_to, "status": r.status, "isPaymentCompleted": r.is_payment_completed,
             "minimumAmountPayable": str(from_paise(r.minimum_amount_payable_paise or 0)),
             "billExpiryTime": r.bill_expiry_time, "fixedBillExpiryDate": r.fixed_bill_expiry_date,
             "additionalDetails": r.additional_details,
             "payer": {"uuid": r.payer_uuid, "name": _open(app, uow, r.payer_name_enc),
                       "mobileNumber": _open(app, uow, r.payer_mobile_enc)},
             "auditDetails": {"createdBy": r.created_by, "createdTime": _ms(r.created_at),
                              "lastModifiedTime": _ms(r.updated_at)},
             "demandDetails": [{"id": d.id, "taxHeadMasterCode": d.tax_head_code,
                                "taxAmount": str(from_paise(d.tax_amount_paise)),
                                "collectionAmount": str(from_paise(d.collection_amount_paise))}
                               for d in lines.get(r.id, [])]}
            for r in rows]


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)
