"""A counter's outbox as the hub receives it (sync/PROTOCOL.md "Event on the wire"): each outbox
row with its signed audit record in wire form (domain.sync_protocol.audit_to_wire) and the
personal fields of its payload opened (the hub seals them with its own keys), as ReceivedEvents.

`outbox_events(app, since_seq, limit)` reads the rows numbered for the hub (counter_seq) after
`since_seq`; a store not registered with a hub (no numbers yet: tests, a trial) is read in
outbox order with the outbox's own seq standing in. The plain text lives in memory only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain.sync_events import ReceivedEvent
from digitctl.domain.sync_protocol import audit_to_wire
from digitctl.services.crypto import is_ciphertext
from local_store.models import AuditRecord, OutboxEvent

if TYPE_CHECKING:
    from digitctl.ports import App
    from local_store.uow import UnitOfWork

# where the payloads of each kind hold PII (ciphertext at the counter)
_PII: dict[str, tuple[tuple[str, ...], ...]] = {
    "Payments": (("payerName",), ("mobileNumber",), ("paidBy",)),
    "Demands": (("payer", "name"), ("payer", "mobileNumber")),
    "Bill": (("payerName",), ("mobileNumber",)),
    "Application": (("applicant", "name"), ("applicant", "mobileNumber")),
    "user": (("name",), ("mobileNumber",), ("emailId",)),
}


def _open(app: "App", uow: "UnitOfWork", doc: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get(path[-1]), str) and is_ciphertext(node[path[-1]]):
        node[path[-1]] = app.keyring.decrypt(uow, node[path[-1]])


def open_pii(app: "App", uow: "UnitOfWork", payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of an outbox payload with its personal fields in plain text, for the trip."""
    import copy

    out = copy.deepcopy(payload)
    for key, paths in _PII.items():
        items = out.get(key)
        for doc in items if isinstance(items, list) else [items]:
            if isinstance(doc, dict):
                for path in paths:
                    _open(app, uow, doc, path)
    return out


def outbox_events(app: "App", since_seq: int = 0, limit: int = 500) -> list[ReceivedEvent]:
    """The counter's next events for the hub, oldest first."""
    o, a = OutboxEvent.__table__, AuditRecord.__table__
    with app.uow(app.base_context(), readonly=True) as uow:
        conn = uow.session.connection()
        numbered = conn.execute(select(o.c.seq).where(o.c.counter_seq.is_not(None)).limit(1)).first() is not None
        seq_col = o.c.counter_seq if numbered else o.c.seq
        rows = conn.execute(select(o, seq_col.label("wire_seq")).where(seq_col > since_seq)
                            .order_by(seq_col).limit(limit)).mappings().all()
        ids = [r["event_id"] for r in rows]
        audits = {r["event_id"]: audit_to_wire(dict(r)) for r in conn.execute(
            select(a).where(a.c.event_id.in_(ids))).mappings()} if ids else {}
        code = uow.meta("counter_code") or ""
        return [ReceivedEvent(event_id=r["event_id"], counter_code=r["counter_code"] or code, seq=int(r["wire_seq"]),
                              event_type=r["event_type"], tenant_id=r["tenant_id"], entity_type=r["entity_type"],
                              entity_id=r["entity_id"], occurred_at=r["occurred_at"],
                              payload=open_pii(app, uow, dict(r["payload"])), audit=audits.get(r["event_id"], {}))
                for r in rows]
