"""The hub's ingest (sync/PROTOCOL.md): a counter registers with its one-time enrolment code,
pushes signed batches of events, asks its status.

A batch is stored in ONE transaction with the counter's row locked: the batch id's stored response
replayed; per event a duplicate (same content) acknowledged, a conflicting duplicate refused and
the counter flagged, a gap refused with the sequence expected; the audit records checked against
the head the hub holds; new events stored with status `stored`; the counter's last sequence, last
seen, clock skew, audit head and own head sequence (for the lag figure) moved; the response kept
for a retry of the batch id. Applying happens after the commit (`hub_applyloop`).

`hub_counter.audit_head` holds {"seq", "hash", "keyId", "signature"} of the last audit record the
hub holds, plus "auditKeys" ({keyId: public key}, sent at registration) and "counterHeadSeq"
(the counter's own last sequence, as its last push said)."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from digitctl.domain.canonical import canonical_json, canonical_json_with, sha256_hex
from digitctl.domain.events import Event
from digitctl.domain.sync_events import ReceivedEvent
from digitctl.domain.sync_protocol import load_public_key
from digitctl.domain.tenancy import state_of
from digitctl.errors import Conflict, DigitError, Forbidden, InvalidInput, Unauthenticated
from digitctl.services import hub_chain, hub_excess
from digitctl.services.hub_auth import SignedRequest, authenticate, counter_context
from digitctl.services.hub_counters import OPEN_STATUSES, enrolment_hash
from digitctl.services.hub_events import sealed_body
from digitctl.services.hub_reconcile import parked_doc
from local_store import bulk
from local_store.models import HubBatch, HubCounter, HubEvent

if TYPE_CHECKING:
    from digitctl.ports import App

REGISTER_ACTION = "/sync/v1/counters/_register"
PUSH_ACTION = "/sync/v1/events/_push"
FLAGGING = frozenset({"SYNC_CONFLICTING_DUPLICATE", hub_chain.CHAIN_BROKEN})
MAX_EVENTS = 5000

_COUNTER = HubCounter.__table__
_EVENT = HubEvent.__table__
_BATCH = HubBatch.__table__


def _bad(message: str, **params: Any) -> InvalidInput:
    return InvalidInput("SYNC_INVALID_REQUEST", message, params)


def parse_json(body: bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise _bad(f"the body is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise _bad("the body must be a JSON object")
    return doc


# -- register -------------------------------------------------------------------------------
def register(app: "App", body: bytes | dict[str, Any]) -> dict[str, Any]:
    """Consume an enrolment code once: the counter's request key, audit keys and signed audit
    head, its store id. {"counterCode", "tenantId", "hubId", "nextSeq"}. A retry by the same store
    with the same key gets the same answer."""
    doc = parse_json(body)
    code_text = doc.get("enrolmentCode")
    if not isinstance(code_text, str) or not code_text.strip():
        raise _bad("enrolmentCode is required")
    public_key, store_id = doc.get("publicKey"), doc.get("storeId")
    try:
        load_public_key(str(public_key))
    except ValueError:
        raise _bad("publicKey must be a raw Ed25519 public key in base64") from None
    if not isinstance(store_id, str) or not store_id:
        raise _bad("storeId is required")
    keys = hub_chain.check_keys(doc.get("auditKeys"))
    head = hub_chain.check_head(keys, doc.get("auditHead"))
    receipt_codes = doc.get("receiptCodes") or []
    if not isinstance(receipt_codes, list):
        raise _bad("receiptCodes must be a list of counter codes")
    now = app.clock.now()
    with app.uow(counter_context(app, None)) as uow:
        conn = uow.session.connection()
        row = conn.execute(select(_COUNTER).where(_COUNTER.c.enrolment_hash == enrolment_hash(code_text))
                           .with_for_update()).first()
        if row is None:
            raise Unauthenticated("SYNC_ENROLMENT_CODE_INVALID", "no counter was enrolled with this code")
        answer = {"counterCode": row.code, "tenantId": row.tenant_id, "hubId": uow.meta("store_id"),
                  "nextSeq": int(row.last_seq) + 1}
        if row.revoked_at is not None:
            raise Forbidden("SYNC_COUNTER_REVOKED", f"counter {row.code} was revoked at the hub",
                            {"counterCode": row.code})
        if row.registered_at is not None:
            if row.store_id == store_id and row.public_key == public_key:
                return answer                 # the answer to a retry whose first response was lost
            raise Conflict("SYNC_ENROLMENT_CODE_USED", "this enrolment code was used already; ask the hub "
                           "operator for a new one (digitctl hub enrol)", {"counterCode": row.code})
        if row.enrolment_expires_at is not None and now > row.enrolment_expires_at:
            raise Unauthenticated("SYNC_ENROLMENT_CODE_EXPIRED", "this enrolment code has expired; ask the hub "
                                  "operator for a new one (digitctl hub enrol)", {"counterCode": row.code})
        others = sorted({str(c) for c in receipt_codes} - {row.code})
        if others:
            raise Conflict("SYNC_COUNTER_CODE_CONFLICT", f"this store issued receipts under {', '.join(others)}, "
                           f"the hub assigns {row.code}: receipt numbers would collide",
                           {"counterCode": row.code, "receiptCodes": others})
        uow.ctx = counter_context(app, row.code)
        conn.execute(update(_COUNTER).where(_COUNTER.c.code == row.code).values(
            registered_at=now, store_id=store_id, public_key=str(public_key), last_seen=now,
            audit_head={**head, "auditKeys": keys, "counterHeadSeq": 0}))
        after = {"counterCode": row.code, "storeId": store_id, "publicKey": public_key, "auditKeys": keys,
                 "auditHead": head}
        uow.record(Event("hub.counter.registered", row.tenant_id, "HubCounter", row.code, REGISTER_ACTION,
                         after, after=after))
        uow.commit()
    return answer


# -- push -----------------------------------------------------------------------------------
def _events(doc: dict[str, Any], code: str) -> tuple[int, list[ReceivedEvent]]:
    first, raw = doc.get("firstSeq"), doc.get("events")
    if doc.get("counterCode") != code:
        raise _bad("the batch's counterCode is not the signing counter's", counterCode=doc.get("counterCode"))
    if not isinstance(first, int) or first < 1 or not isinstance(raw, list) or len(raw) > MAX_EVENTS:
        raise _bad(f"firstSeq (1 or more) and events (a list of at most {MAX_EVENTS}) are required")
    try:
        events = [ReceivedEvent.from_wire(e) for e in raw]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _bad(f"an event is malformed ({type(err).__name__}: {err})") from None
    for i, ev in enumerate(events):
        if ev.seq != first + i or ev.counter_code != code:
            raise _bad("events must be the signing counter's, in sequence from firstSeq", seq=ev.seq)
    return first, events


def _classify(conn: Any, row: Any, first: int, events: list[ReceivedEvent]) -> tuple[int, list[ReceivedEvent]]:
    """(duplicates, new events); a conflicting duplicate or a gap refuses the batch."""
    expected = int(row.last_seq) + 1
    if first > expected:
        raise Conflict("SYNC_SEQUENCE_GAP", f"the hub expects sequence {expected} next, the batch starts at "
                       f"{first}", {"expected": expected})
    held: dict[int, str] = {}
    if events and first < expected:
        held = {int(s): h for s, h in conn.execute(select(_EVENT.c.seq, _EVENT.c.content_hash).where(
            _EVENT.c.counter_code == row.code, _EVENT.c.seq >= first, _EVENT.c.seq < expected))}
    dups = 0
    fresh: list[ReceivedEvent] = []
    for ev in events:
        if ev.seq < expected:
            if held.get(ev.seq) != ev.content_hash():
                raise Conflict("SYNC_CONFLICTING_DUPLICATE", f"sequence {ev.seq} of counter {row.code} is held "
                               "with other content: a cloned or tampered store", {"seq": ev.seq})
            dups += 1
        else:
            fresh.append(ev)
    return dups, fresh


def _stored_rows(app: "App", session: Any, row: Any, fresh: list[ReceivedEvent], now: Any) -> list[dict[str, Any]]:
    out = []
    state = state_of(row.tenant_id)
    for ev in fresh:
        wire = ev.to_wire()           # its canonical hash is ev.content_hash(), computed once here
        payload = canonical_json(wire["payload"] or {})      # encoded once: for the hash and the seal
        digest = sha256_hex(canonical_json_with(wire, "payload", payload) if wire["payload"] else canonical_json(wire))
        out.append(dict(counter_code=row.code, seq=ev.seq, event_id=ev.event_id, event_type=ev.event_type,
                        tenant_id=ev.tenant_id, entity_type=ev.entity_type, entity_id=ev.entity_id,
                        occurred_at=ev.occurred_at, received_at=now, content_hash=digest,
                        body=sealed_body(app, session, state, wire, payload), status="stored"))
    return out


def push(app: "App", req: SignedRequest) -> tuple[int, dict[str, Any]]:
    """Store one signed batch: (HTTP status, response body). Refusals raise DigitError; a
    conflicting duplicate or a broken audit chain also flags the counter."""
    code = req.header("X-Digit-Counter")
    try:
        return _push(app, req)
    except DigitError as err:
        if err.code in FLAGGING and code:
            flag(app, code, f"{err.code}: {err.message}")
        if err.code == "SYNC_REPLAYED" and code and "skewMs" in err.params:
            note_skew(app, code, int(err.params["skewMs"]))
        raise


def note_skew(app: "App", code: str, skew_ms: int) -> None:
    """A signed request refused for a clock more than 5 minutes off (its signature held): the
    counter's skew is kept, so `hub counters` flags it (issue 12)."""
    with app.uow(counter_context(app, code)) as uow:
        row = uow.session.get(HubCounter, code, with_for_update=True)
        if row is None or row.clock_skew_ms == skew_ms:
            return
        before = {"clockSkewMs": row.clock_skew_ms}
        row.clock_skew_ms = skew_ms
        uow.record(Event("hub.counter.clock_skewed", row.tenant_id, "HubCounter", code, PUSH_ACTION,
                         {"counterCode": code, "clockSkewMs": skew_ms}, before=before,
                         after={"clockSkewMs": skew_ms}))
        uow.commit()


def _push(app: "App", req: SignedRequest) -> tuple[int, dict[str, Any]]:
    now = app.clock.now()
    request_hash = hashlib.sha256(req.body).hexdigest()
    with app.uow(counter_context(app, req.header("X-Digit-Counter"))) as uow:
        conn = uow.session.connection()
        row, skew = authenticate(conn, now, req)
        doc = parse_json(req.body)
        batch_id = doc.get("batchId")
        if not isinstance(batch_id, str) or not 8 <= len(batch_id) <= 36:
            raise _bad("batchId (a uuid) is required")
        stored = conn.execute(select(_BATCH).where(_BATCH.c.batch_id == batch_id)).first()
        if stored is not None:
            if stored.request_hash != request_hash or stored.counter_code != row.code:
                raise Conflict("SYNC_BATCH_ID_REUSED", "this batchId was used for another batch", {"batchId": batch_id})
            uow.commit()                                       # the nonce is spent
            return int(stored.status_code), dict(stored.response)
        first, events = _events(doc, row.code)
        dups, fresh = _classify(conn, row, first, events)
        head = dict(row.audit_head or {})
        keys = dict(head.get("auditKeys") or {})
        records = doc.get("audit") or []
        if not isinstance(records, list):
            raise _bad("audit must be a list of audit records")
        chain_head = hub_chain.advance(keys, head, records, [ev.audit for ev in fresh])
        if fresh:
            bulk.insert_rows(conn, _EVENT, _stored_rows(app, uow.session, row, fresh, now))   # one COPY on PostgreSQL
        last_seq = fresh[-1].seq if fresh else int(row.last_seq)
        head_seq = doc.get("headSeq")
        counter_head = max(int(head_seq), last_seq) if isinstance(head_seq, int) else last_seq
        conn.execute(update(_COUNTER).where(_COUNTER.c.code == row.code).values(
            last_seq=last_seq, last_seen=now, clock_skew_ms=skew,
            audit_head={**chain_head, "auditKeys": keys, "counterHeadSeq": counter_head}))
        response = {"batchId": batch_id, "accepted": len(fresh), "duplicates": dups, "nextSeq": last_seq + 1,
                    "parked": _open_events(conn, row.code)}
        conn.execute(_BATCH.insert().values(batch_id=batch_id, counter_code=row.code, request_hash=request_hash,
                                            status_code=200, response=response, created_at=now))
        summary = {k: response[k] for k in ("batchId", "accepted", "duplicates", "nextSeq")}
        uow.record(Event("hub.batch.stored", row.tenant_id, "HubBatch", batch_id, PUSH_ACTION,
                         {"counterCode": row.code, "firstSeq": first, **summary}, after=summary))
        uow.commit()
    return 200, response


def _open_events(conn: Any, code: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = conn.execute(select(_EVENT.c.counter_code, _EVENT.c.seq, _EVENT.c.event_id, _EVENT.c.event_type,
                               _EVENT.c.tenant_id, _EVENT.c.entity_type, _EVENT.c.entity_id, _EVENT.c.status,
                               _EVENT.c.reason_code, _EVENT.c.reason, _EVENT.c.body).where(
        _EVENT.c.counter_code == code, _EVENT.c.status.in_(OPEN_STATUSES)).order_by(_EVENT.c.seq).limit(limit)).all()
    return [parked_doc(r) for r in rows]


def parked_of(app: "App", code: str) -> list[dict[str, Any]]:
    """The counter's parked and waiting events now (the push's answer after applying)."""
    with app.store.readonly_engine.connect() as conn:
        return _open_events(conn, code)


def flag(app: "App", code: str, reason: str) -> None:
    """Mark a counter as cloned or tampered: its pushes are refused (403) until an operator acts."""
    with app.uow(counter_context(app, code)) as uow:
        row = uow.session.get(HubCounter, code, with_for_update=True)
        if row is None or row.flagged:
            return
        row.flagged = reason[:2000]
        after = {"flagged": row.flagged}
        uow.record(Event("hub.counter.flagged", row.tenant_id, "HubCounter", code, PUSH_ACTION,
                         {"counterCode": code, **after}, before={"flagged": None}, after=after))
        uow.commit()


# -- status ---------------------------------------------------------------------------------
def status(app: "App", req: SignedRequest) -> dict[str, Any]:
    """{"counterCode", "lastSequence", "nextSeq", "parked": [...], "flagged", "excess": [...] (when
    any: its payments the hub's demands could not absorb, see hub_excess)} for the signing counter."""
    with app.uow(counter_context(app, req.header("X-Digit-Counter"))) as uow:
        conn = uow.session.connection()
        row, _skew = authenticate(conn, app.clock.now(), req, allow_flagged=True)
        answer = {"counterCode": row.code, "lastSequence": int(row.last_seq), "nextSeq": int(row.last_seq) + 1,
                  "parked": _open_events(conn, row.code), "flagged": row.flagged}
        excess = hub_excess.open_excesses(uow.session, counter_code=row.code)
        if excess:                  # issue 12: its receipts the hub's demands could not absorb
            answer["excess"] = excess
        uow.commit()
    return answer
