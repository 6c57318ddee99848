"""The unit of work: one transaction that writes entities, outbox events and audit records
together. It rolls back unless `commit()` is called; commit is where recorded events become
outbox rows and hash-chained audit records."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from digitctl.domain.canonical import canonical_json, sha256_hex
from digitctl.domain.events import Event
from local_store import bulk, seals
from local_store.models import AuditRecord, OutboxEvent, StoreMeta

if TYPE_CHECKING:
    from digitctl.context import RequestContext
    from local_store.engine import Store

GENESIS = "0" * 64
AUDIT_HEAD = "audit_head"
# {"seq", "hash", "keyId", "signature"}: the head signed with the store's key, so a tail cut off
# with the bare head moved back to the new last record does not pass for the whole chain.
AUDIT_HEAD_SIGNED = "audit_head_signed"
SEAL_OPERATION = "/digitctl/audit/_seal"
# Set once the store registered with a hub (services.sync_outbox): from then on every outbox row
# gets counter_seq = SYNC_LAST_SEQ + 1, + 2 ... in the transaction that writes it (sync/PROTOCOL.md).
SYNC_HUB_URL = "sync_hub_url"
SYNC_LAST_SEQ = "sync_last_seq"

# Hooks the identity issue fills: a signer over the record hash, a transform of before/after
# values (PII encryption). Both default to "none".
Signer = Callable[[str], tuple[str, str]]          # hash -> (key_id, signature)
AuditTransform = Callable[[str, Any], Any]         # (tenant, value) -> value to store


def audit_body(rec: Mapping[Any, Any]) -> str:
    """What the audit hash covers (everything but hash/signature), canonically encoded."""
    fields = ("record_id", "event_id", "occurred_at", "actor_uuid", "actor_name", "tenant_id",
              "operation", "entity_type", "entity_id", "before", "after")
    body = {k: rec[k] for k in fields}
    if rec.get("row_hashes") is not None:       # absent from records written before row seals
        body["row_hashes"] = rec["row_hashes"]
    body["occurred_at"] = rec["occurred_at"].astimezone(dt.timezone.utc).isoformat()
    return canonical_json(body)


class UnitOfWork:
    def __init__(self, store: "Store", ctx: "RequestContext", *, readonly: bool = False,
                 signer: Signer | None = None, audit_transform: AuditTransform | None = None,
                 info: dict[str, Any] | None = None) -> None:
        self.store = store
        self.info = info or {}         # put into the session's `info` (e.g. the App, for lookups needing keys)
        self.ctx = ctx
        self.readonly = readonly
        self.signer = signer
        self.audit_transform = audit_transform
        self.events: list[Event] = []
        self._meta: dict[str, str | None] = {}
        self.committed = False
        self.touched: set[str] = set()     # "Kind:key" of sealed entities this unit of work wrote
        self.sealed: dict[str, Any] = {}   # seals a writer computed from the rows it wrote (see seal_as)
        self.session: Session

    def __enter__(self) -> "UnitOfWork":
        engine = self.store.readonly_engine if self.readonly else self.store.engine
        self.session = Session(bind=engine, expire_on_commit=False, autoflush=True)
        self.session.info.update(self.info)
        if not self.readonly:
            event.listen(self.session, "after_flush", self._after_flush)
            event.listen(self.session, "do_orm_execute", self._orm_execute)
        return self

    def _after_flush(self, session: Session, _context: Any) -> None:
        self.touched |= seals.touched_by([*session.new, *session.dirty, *session.deleted])

    def _orm_execute(self, state: Any) -> None:
        """ORM bulk UPDATE/DELETE by primary key ([{"uuid": ..., ...}]) of a sealed table."""
        if not (state.is_update or state.is_delete):
            return
        params = state.parameters
        mapper = state.bind_arguments.get("mapper")
        found = seals.ORM_KINDS.get(mapper.class_) if mapper is not None else None
        if found is not None and isinstance(params, list):
            self.touched |= {seals.entity_key(found[0], str(p[found[1]])) for p in params if found[1] in p}

    def touch(self, kind: str, key: str) -> None:
        """Seal this entity at commit (for writes the session cannot see, e.g. Core statements)."""
        self.touched.add(seals.entity_key(kind, key))

    def seal_as(self, kind: str, key: str, seal: Any) -> None:
        """Seal this entity at commit with `seal` (seals.Seal of the rows exactly as written), for a
        bulk writer that holds every column of them: the commit need not read them back."""
        entity = seals.entity_key(kind, key)
        self.touched.add(entity)
        self.sealed[entity] = seal

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.session.rollback()
        self.session.close()

    def record(self, event: Event) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot record events")
        self.events.append(event)

    def meta(self, key: str) -> str | None:
        """A store_meta value, read once per unit of work (the counter code is asked for often)."""
        if key not in self._meta:
            row = self.session.get(StoreMeta, key)
            self._meta[key] = row.value if row else None
        return self._meta[key]

    def set_meta(self, key: str, value: str) -> None:
        self._meta[key] = value
        row = self.session.get(StoreMeta, key)
        if row is None:
            self.session.add(StoreMeta(key=key, value=value))
        else:
            row.value = value

    def commit(self) -> None:
        if not self.readonly:
            self.session.flush()
            self.touched |= {seals.entity_key(ev.entity_type, ev.entity_id) for ev in self.events
                             if ev.entity_type in seals.KINDS}
        if self.events or self.touched:
            self._write_events()
        self.session.commit()
        self.committed = True

    def rollback(self) -> None:
        self.session.rollback()
        self.events.clear()
        self.touched.clear()
        self.sealed.clear()

    # -- outbox + audit -----------------------------------------------------------------------
    def _write_events(self) -> None:
        # Core, not ORM: this runs in every state-changing transaction (payments included).
        conn = self.session.connection()
        meta = StoreMeta.__table__
        now = self.ctx.now()
        facts = dict(conn.execute(select(meta.c.key, meta.c.value).where(
            meta.c.key.in_(("store_id", "counter_code", "state_tenant", SYNC_HUB_URL)))).all())
        store_id = facts.get("store_id") or "uninitialized"
        counter = facts.get("counter_code")
        prev = conn.execute(select(meta.c.value).where(meta.c.key == AUDIT_HEAD).with_for_update()).scalar()
        had_head = prev is not None
        prev = prev or GENESIS
        outbox: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        for ev in self.events:
            event_id = str(uuid.uuid4())
            outbox.append(dict(event_id=event_id, event_type=ev.event_type, tenant_id=ev.tenant_id,
                               entity_type=ev.entity_type, entity_id=ev.entity_id, payload=ev.payload,
                               occurred_at=now, store_id=store_id, counter_code=counter, attempts=0))
            before, after = ev.before, ev.after
            if self.audit_transform is not None:
                before = self.audit_transform(ev.tenant_id, before)
                after = self.audit_transform(ev.tenant_id, after)
            actor_uuid, actor_name = ev.actor or (self.ctx.actor.uuid, self.ctx.actor.user_name)
            audit.append(dict(record_id=str(uuid.uuid4()), event_id=event_id, occurred_at=now,
                              actor_uuid=actor_uuid, actor_name=actor_name,
                              tenant_id=ev.tenant_id, operation=ev.operation, entity_type=ev.entity_type,
                              entity_id=ev.entity_id, before=before, after=after, row_hashes=None))
        unread = self.touched - self.sealed.keys()
        found = seals.seals_of(conn, unread) if unread else {}
        found.update(self.sealed)
        row_hashes = {entity: found[entity] for entity in sorted(self.touched)}
        if row_hashes:
            if not audit:        # sealed rows changed without an event: a record of its own, no outbox row
                audit.append(dict(record_id=str(uuid.uuid4()), event_id=None, occurred_at=now,
                                  actor_uuid=self.ctx.actor.uuid, actor_name=self.ctx.actor.user_name,
                                  tenant_id=self.ctx.tenant_id or facts.get("state_tenant") or "*",
                                  operation=SEAL_OPERATION, entity_type="RowSeal", entity_id=store_id,
                                  before=None, after=None))
            # the transaction's last record carries the seals of every entity it wrote
            audit[-1]["row_hashes"] = row_hashes
        for rec in audit:
            rec.update(prev_hash=prev, signature=None, key_id=None)
            rec["hash"] = sha256_hex(prev + audit_body(rec))
            if self.signer is not None:
                rec["key_id"], rec["signature"] = self.signer(rec["hash"])
            prev = rec["hash"]
        if outbox:
            if facts.get(SYNC_HUB_URL):
                _number_for_counter(conn, outbox)
            bulk.insert_rows(conn, OutboxEvent.__table__, outbox)
        bulk.insert_rows(conn, AuditRecord.__table__, audit)
        if had_head:
            conn.execute(meta.update().where(meta.c.key == AUDIT_HEAD).values(value=prev))
        else:
            conn.execute(meta.insert().values(key=AUDIT_HEAD, value=prev))
        sign_head = getattr(self.signer, "sign_head", None)
        if sign_head is not None:
            seq = conn.execute(select(func.max(AuditRecord.__table__.c.seq))).scalar_one()
            key_id, signature = sign_head(int(seq), prev)
            value = canonical_json({"seq": int(seq), "hash": prev, "keyId": key_id, "signature": signature})
            signed = conn.execute(meta.update().where(meta.c.key == AUDIT_HEAD_SIGNED).values(value=value))
            if signed.rowcount == 0:
                conn.execute(meta.insert().values(key=AUDIT_HEAD_SIGNED, value=value))
        self.events.clear()
        self.touched.clear()
        self.sealed.clear()


def _number_for_counter(conn: Any, outbox: list[dict[str, Any]]) -> None:
    """Gap-free per-counter sequence: the last one given, locked (FOR UPDATE on PostgreSQL; SQLite
    writes under BEGIN IMMEDIATE), plus one per event, written back in this same transaction, so a
    rolled-back transaction gives its numbers back and two processes never share one."""
    meta = StoreMeta.__table__
    last = conn.execute(select(meta.c.value).where(meta.c.key == SYNC_LAST_SEQ).with_for_update()).scalar()
    seq = int(last or 0)
    for row in outbox:
        seq += 1
        row["counter_seq"] = seq
    if last is None:
        conn.execute(meta.insert().values(key=SYNC_LAST_SEQ, value=str(seq)))
    else:
        conn.execute(meta.update().where(meta.c.key == SYNC_LAST_SEQ).values(value=str(seq)))
