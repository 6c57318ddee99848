"""The counter's side of sync (sync/PROTOCOL.md): registration with a hub, the batches `sync push`
sends, acknowledgements, and the figures `sync status` shows. No HTTP here: `sync/client.py`
carries what this module prepares and hands back what the hub answered.

- Registration is two steps around one request: `prepare_registration` makes (or reloads) the
  store's request-signing key pair and says what the hub must know (audit keys and signed head,
  the counter codes this store issued receipts under); `complete_registration` takes the hub's
  answer and, in one unit of work, adopts its counter code (refused when receipts were issued
  under another), numbers the past business events and records the hub. From then on the unit of
  work numbers every outbox row (local_store.uow).
- A batch is the events after the last acknowledged one, in counter_seq order, each with its own
  audit record, plus the audit records the hub has not seen up to the batch's last event. PII is
  decrypted into the batch only (it travels over TLS or loopback, never to disk in plain).
- Acknowledging (after a 200, never before) marks the events published and moves the
  acknowledged sequence; it is idempotent and writes no event (an event would itself need
  pushing), only the store's sync bookkeeping in store_meta.
"""
from __future__ import annotations

import datetime as dt
import json
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from digitctl.context import SYSTEM_ACTOR
from digitctl.domain.canonical import canonical_json
from digitctl.domain.events import Event
from digitctl.domain.sync_events import ReceivedEvent
from digitctl.domain.sync_protocol import audit_to_wire, public_key_b64
from digitctl.domain.tenancy import state_of
from digitctl.errors import Conflict, DigitError, InvalidInput
from digitctl.services.access import authorize
from digitctl.services.audit_chain import PUBLIC_PREFIX
from digitctl.services.crypto import is_ciphertext
from digitctl.services.masterkey import key_file_for
from digitctl.settings import write_private
from local_store.models import AuditRecord, OutboxEvent, Payment, StoreMeta
from local_store.uow import AUDIT_HEAD_SIGNED, GENESIS, SYNC_HUB_URL, SYNC_LAST_SEQ

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

REGISTER_ACTION = "/digitctl/sync/_register"

HUB_ID = "sync_hub_id"
ACKED_SEQ = "sync_acked_seq"            # last counter_seq the hub acknowledged
AUDIT_BASE = "sync_audit_base"          # audit seq of the signed head sent at registration
PUBLIC_KEY = "sync_public_key"
REGISTERED_AT = "sync_registered_at"
LAST_PUSH = "sync_last_push"
LAST_PULL = "sync_last_pull"
PARKED = "sync_parked"                  # JSON list: the parked events of the hub's last answer
FLAGGED = "sync_flagged"
EXCESS = "sync_excess"                  # JSON list: this counter's excess collections at the hub

# what the state's business is (pushed when written before registration); the rest is set-up
BUSINESS_PREFIXES = ("collection.", "billing.demand.", "application.", "shift.")
BUSINESS_TYPES = frozenset({"workflow.transitioned", "user.created", "user.updated", "user.locked",
                            "user.unlocked", "user.password.changed"})

_OUT = OutboxEvent.__table__
_AUDIT = AuditRecord.__table__
_META = StoreMeta.__table__


class HubAnswerInvalid(DigitError):
    """The hub answered something that is not the protocol's answer: exit 1, nothing written."""

    exit_code = 1
    http_status = 502


def is_business(event_type: str) -> bool:
    return event_type in BUSINESS_TYPES or event_type.startswith(BUSINESS_PREFIXES)


def sync_key_file(store_id: str) -> Path:
    """The request-signing private key: next to the master key file, 0600."""
    return key_file_for(store_id).parent / f"{store_id}.sync.key"


def _meta(conn: Any, key: str) -> str | None:
    value = conn.execute(select(_META.c.value).where(_META.c.key == key)).scalar_one_or_none()
    return None if value is None else str(value)


def _store_id(app: "App") -> str:
    store_id = app.store_meta("store_id")
    if store_id is None:
        raise InvalidInput("STORE_NOT_INITIALIZED", "run `digitctl init` first")
    return store_id


# -- keys -------------------------------------------------------------------------------------
def _load_private(path: Path) -> Ed25519PrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InvalidInput("SYNC_KEY_INSECURE", f"{path} can be read by others (mode {mode:o}); run: chmod 600 {path}",
                           {"keyFile": str(path)})
    try:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))
    except ValueError:
        raise InvalidInput("SYNC_KEY_INVALID", f"{path} is not a sync signing key", {"keyFile": str(path)}) from None


def _key_pair(store_id: str) -> Ed25519PrivateKey:
    """The pending or current key pair (a registration retried after a lost answer reuses it)."""
    path = sync_key_file(store_id)
    if path.exists():
        return _load_private(path)
    key = Ed25519PrivateKey.generate()
    write_private(path, key.private_bytes_raw().hex().encode("ascii") + b"\n")
    return key


def signing_key(app: "App") -> Ed25519PrivateKey:
    """This counter's request-signing key, checked against the public half the store recorded."""
    store_id = _store_id(app)
    path = sync_key_file(store_id)
    if not path.exists():
        raise InvalidInput("SYNC_KEY_MISSING", f"the sync signing key {path} is missing: restore it, or have the "
                           "hub operator enrol this counter again", {"keyFile": str(path)})
    key = _load_private(path)
    if public_key_b64(key) != app.store_meta(PUBLIC_KEY):
        raise InvalidInput("SYNC_KEY_MISMATCH", f"{path} is not the key this store registered with",
                           {"keyFile": str(path)})
    return key


# -- registration -----------------------------------------------------------------------------
def receipt_codes(conn: Any) -> list[str]:
    """The counter codes this store issued receipts under."""
    rows = conn.execute(select(Payment.counter_code).where(Payment.counter_code.is_not(None),
                                                           Payment.origin.is_(None)).distinct())
    return sorted(str(c) for (c,) in rows)


def _audit_head(conn: Any) -> dict[str, Any]:
    signed = _meta(conn, AUDIT_HEAD_SIGNED)
    if signed:
        return dict(json.loads(signed))
    return {"seq": 0, "hash": GENESIS, "keyId": None, "signature": None}


def prepare_registration(app: "App", ctx: "RequestContext", enrolment_code: str) -> dict[str, Any]:
    """The body of POST /sync/v1/counters/_register; refuses a store already registered."""
    authorize(app, ctx, REGISTER_ACTION, app.state_tenant)
    store_id = _store_id(app)
    if not enrolment_code.strip():
        raise InvalidInput("SYNC_ENROLMENT_CODE_REQUIRED", "--code: the enrolment code `hub enrol` printed")
    with app.store.readonly_engine.connect() as conn:
        hub = _meta(conn, SYNC_HUB_URL)
        if hub:
            raise Conflict("SYNC_ALREADY_REGISTERED", f"this store is already registered with {hub} as counter "
                           f"{_meta(conn, 'counter_code')}", {"hub": hub})
        keys = {k[len(PUBLIC_PREFIX):]: v for k, v in conn.execute(
            select(_META.c.key, _META.c.value).where(_META.c.key.like(PUBLIC_PREFIX + "%"))).all()}
        head = _audit_head(conn)
        codes = receipt_codes(conn)
    return {"enrolmentCode": enrolment_code.strip(), "publicKey": public_key_b64(_key_pair(store_id)),
            "auditKeys": keys, "auditHead": head, "storeId": store_id, "receiptCodes": codes}


def complete_registration(app: "App", ctx: "RequestContext", hub_url: str, request: dict[str, Any],
                          answer: dict[str, Any]) -> dict[str, Any]:
    """Adopt the hub's answer in one unit of work: counter code, past events numbered, hub recorded."""
    try:
        code, hub_id = str(answer["counterCode"]), str(answer["hubId"])
        tenant = str(answer.get("tenantId") or app.state_tenant or "")
    except (KeyError, TypeError):
        raise HubAnswerInvalid("SYNC_HUB_ANSWER_INVALID", "the hub's registration answer lacks counterCode/hubId",
                               {"hub": hub_url}) from None
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        uow.session.execute(select(StoreMeta.key).where(StoreMeta.key == "counter_code").with_for_update())
        own = uow.meta("counter_code")
        state = uow.meta("state_tenant")
        if tenant and state and state_of(tenant) != state:
            raise Conflict("SYNC_STATE_MISMATCH", f"the hub enrolled this counter at {tenant}, but this store holds "
                           f"the state {state}: register it with its own state's hub",
                           {"tenantId": tenant, "stateTenantId": state})
        others = [c for c in receipt_codes(conn) if c != code]
        if others:
            raise Conflict("SYNC_COUNTER_CODE_CONFLICT",
                           f"the hub gives counter code {code}, but this store issued receipts under "
                           f"{', '.join(others)}: its receipt numbers would collide; register a fresh store",
                           {"hubCode": code, "receiptCodes": others})
        numbered = _number_past_events(conn, code)
        for key, value in ((SYNC_HUB_URL, hub_url), (HUB_ID, hub_id), ("counter_code", code),
                           (SYNC_LAST_SEQ, str(numbered)), (ACKED_SEQ, "0"),
                           (AUDIT_BASE, str(int(request["auditHead"]["seq"]))),
                           (PUBLIC_KEY, request["publicKey"]), (REGISTERED_AT, ctx.now().isoformat())):
            uow.set_meta(key, value)
        summary = {"counterCode": code, "previousCounterCode": own, "hub": hub_url, "hubId": hub_id,
                   "tenantId": tenant, "pastEvents": numbered}
        uow.record(Event("sync.registered", tenant or "*", "Counter", code, REGISTER_ACTION,
                         {"counterCode": code, "hubId": hub_id, "hub": hub_url, "storeId": request["storeId"]},
                         before={"counterCode": own}, after={"counterCode": code, "hub": hub_url}))
        uow.commit()
    return summary


def _number_past_events(conn: Any, code: str) -> int:
    """Number the business events written under this code (or none) before registration, in
    outbox order; the store's set-up stays local (counter_seq NULL). Set-up is also what the
    store's SYSTEM administrator did (`init --admin-username`, quickstart's demo users): it acts
    only while the store has no users, and no hub has a user who could have done it (pushed, it
    would be parked SYNC_ACTOR_UNKNOWN and sit in `hub reconcile` for ever)."""
    by_system = (select(_AUDIT.c.event_id).where(_AUDIT.c.event_id == _OUT.c.event_id,
                                                 _AUDIT.c.actor_uuid == SYSTEM_ACTOR.uuid).exists())
    rows = conn.execute(select(_OUT.c.seq, _OUT.c.event_type).where(
        _OUT.c.counter_seq.is_(None), or_(_OUT.c.counter_code == code, _OUT.c.counter_code.is_(None)), ~by_system)
        .order_by(_OUT.c.seq)).all()
    picked = [{"s": r.seq, "n": i} for i, r in enumerate((r for r in rows if is_business(r.event_type)), start=1)]
    if picked:
        conn.execute(update(_OUT).where(_OUT.c.seq == bindparam("s")).values(counter_seq=bindparam("n")), picked)
    return len(picked)


# -- batches ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    batch_id: str
    first_seq: int
    last_seq: int
    body: dict[str, Any]

    @property
    def size(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True)
class Hub:
    url: str
    counter_code: str
    hub_id: str | None


def hub_of(app: "App") -> Hub:
    """The hub this store registered with, or SYNC_NOT_REGISTERED."""
    url = app.store_meta(SYNC_HUB_URL)
    if not url:
        raise InvalidInput("SYNC_NOT_REGISTERED", "this store is not registered with a hub: "
                           "digitctl sync register --hub URL --code ENROLMENT_CODE")
    return Hub(url=url, counter_code=app.store_meta("counter_code") or "", hub_id=app.store_meta(HUB_ID))


def _int_meta(conn: Any, key: str) -> int:
    return int(_meta(conn, key) or 0)


def _decrypt_pii(app: "App", session: Session, value: Any) -> Any:
    """The payload with every `<keyId>|<base64>` value opened (into the batch only)."""
    if isinstance(value, dict):
        return {k: _decrypt_pii(app, session, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decrypt_pii(app, session, v) for v in value]
    if is_ciphertext(value):
        return app.keyring.decrypt(session, value)
    return value


def _audit_seq_of(conn: Any, counter_seq: int) -> int | None:
    found = conn.execute(select(_AUDIT.c.seq).join(_OUT, _OUT.c.event_id == _AUDIT.c.event_id)
                         .where(_OUT.c.counter_seq == counter_seq)).scalar_one_or_none()
    return None if found is None else int(found)


def next_batch(app: "App", limit: int = 500, from_seq: int | None = None) -> Batch | None:
    """The next events to push (after the acknowledged ones, or from `from_seq`), or None."""
    if isinstance(limit, bool) or not 1 <= int(limit) <= 10_000:
        raise InvalidInput("INVALID_BATCH_SIZE", f"--batch must be 1..10000, got {limit}", {"batch": limit})
    hub = hub_of(app)
    with app.store.readonly_engine.connect() as conn:
        start = from_seq if from_seq is not None else _int_meta(conn, ACKED_SEQ) + 1
        head_seq = _int_meta(conn, SYNC_LAST_SEQ)
        rows = conn.execute(select(_OUT, _AUDIT.c.seq.label("audit_seq")).outerjoin(
            _AUDIT, _AUDIT.c.event_id == _OUT.c.event_id).where(_OUT.c.counter_seq >= start)
            .order_by(_OUT.c.counter_seq).limit(int(limit))).mappings().all()
        if not rows:
            return None
        records = {r.seq: r for r in conn.execute(select(_AUDIT).where(
            _AUDIT.c.seq.in_([r["audit_seq"] for r in rows if r["audit_seq"] is not None]))).mappings()}
        with Session(bind=conn) as session:
            events = [_wire_event(app, session, hub.counter_code, row, records.get(row["audit_seq"])) for row in rows]
        base = _int_meta(conn, AUDIT_BASE)
        lo = max(base, (_audit_seq_of(conn, start - 1) or 0) if start > 1 else 0)
        hi = max(base, max((r["audit_seq"] or 0) for r in rows))
        trail = [audit_to_wire(dict(r)) for r in conn.execute(select(_AUDIT).where(
            _AUDIT.c.seq > lo, _AUDIT.c.seq <= hi).order_by(_AUDIT.c.seq)).mappings()]
    first, last = int(rows[0]["counter_seq"]), int(rows[-1]["counter_seq"])
    batch_id = str(uuid.uuid4())
    body = {"batchId": batch_id, "counterCode": hub.counter_code, "firstSeq": first,
            "headSeq": head_seq, "events": events, "audit": trail}
    return Batch(batch_id=batch_id, first_seq=first, last_seq=last, body=body)


def _wire_event(app: "App", session: Session, code: str, row: Any, record: Any) -> dict[str, Any]:
    return ReceivedEvent(event_id=row["event_id"], counter_code=code, seq=int(row["counter_seq"]),
                         event_type=row["event_type"], tenant_id=row["tenant_id"], entity_type=row["entity_type"],
                         entity_id=row["entity_id"], occurred_at=row["occurred_at"],
                         payload=_decrypt_pii(app, session, row["payload"] or {}),
                         audit=audit_to_wire(dict(record)) if record is not None else {}).to_wire()


def unsynced(app: "App") -> int:
    with app.store.readonly_engine.connect() as conn:
        acked = _int_meta(conn, ACKED_SEQ)
        return int(conn.execute(select(func.count()).select_from(_OUT).where(_OUT.c.counter_seq > acked)).scalar_one())


# -- answers ----------------------------------------------------------------------------------
def acknowledge(app: "App", batch: Batch, answer: dict[str, Any]) -> int:
    """After the hub's 200 for `batch`: events published, acknowledged sequence moved (never
    back), the hub's parked list kept. Returns how many events were newly marked."""
    ctx = app.base_context()
    now = ctx.now()
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        acked = int(uow.meta(ACKED_SEQ) or 0)
        upto = batch.last_seq
        marked = conn.execute(update(_OUT).where(and_(_OUT.c.counter_seq >= batch.first_seq,
                                                      _OUT.c.counter_seq <= upto, _OUT.c.published_at.is_(None)))
                              .values(published_at=now)).rowcount
        uow.set_meta(ACKED_SEQ, str(max(acked, upto)))
        uow.set_meta(LAST_PUSH, now.isoformat())
        if isinstance(answer.get("parked"), list):
            _merge_parked(uow, answer["parked"])
        uow.commit()
    return int(marked or 0)


def _merge_parked(uow: "UnitOfWork", parked: list[Any]) -> None:
    held = {int(p["seq"]): p for p in json.loads(uow.meta(PARKED) or "[]")}
    for p in parked:
        if isinstance(p, dict) and "seq" in p:
            held[int(p["seq"])] = p
    uow.set_meta(PARKED, canonical_json(sorted(held.values(), key=lambda p: int(p["seq"]))))


def record_hub_status(app: "App", answer: dict[str, Any]) -> None:
    """The hub's _status answer: its parked list replaces ours, its flag is kept."""
    with app.uow(app.base_context()) as uow:
        if isinstance(answer.get("parked"), list):
            uow.set_meta(PARKED, canonical_json(answer["parked"]))
        excess = answer.get("excess") or []           # its receipts the hub's demands could not absorb
        if isinstance(excess, list):
            uow.set_meta(EXCESS, canonical_json(excess))
        uow.set_meta(FLAGGED, str(answer.get("flagged") or ""))
        uow.commit()


def status(app: "App") -> dict[str, Any]:
    """`sync status` from what the store holds (works with the hub unreachable)."""
    _store_id(app)
    with app.store.readonly_engine.connect() as conn:
        acked = _int_meta(conn, ACKED_SEQ)
        waiting = conn.execute(select(func.count()).select_from(_OUT).where(_OUT.c.counter_seq > acked)).scalar_one()
        doc = {"counterCode": _meta(conn, "counter_code"), "hub": _meta(conn, SYNC_HUB_URL),
               "unsynced": int(waiting), "lastPush": _meta(conn, LAST_PUSH), "lastPull": _meta(conn, LAST_PULL),
               "parked": json.loads(_meta(conn, PARKED) or "[]"),
               "excess": json.loads(_meta(conn, EXCESS) or "[]"),
               "lastSequence": _int_meta(conn, SYNC_LAST_SEQ), "acknowledged": acked,
               "flagged": _meta(conn, FLAGGED) or None}
    return doc


def now_ms(app: "App") -> int:
    return int(app.clock.now().astimezone(dt.timezone.utc).timestamp() * 1000)


__all__ = ["Batch", "Hub", "acknowledge", "complete_registration", "hub_of", "next_batch", "now_ms",
           "prepare_registration", "record_hub_status", "signing_key", "status", "sync_key_file", "unsynced"]
