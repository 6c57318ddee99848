"""Checking the signed audit chain (`audit verify`, see `digitctl.services.audit`): the trusted keys,
the chain walked in seq order with each failure classified (edited, deleted, inserted, reordered,
unsigned, badly signed, truncated), the bare and the signed head, the live rows against their seals,
and the receipt books and their outbox events."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select

from digitctl.domain.audit_rules import (ADOPT_CONTEXT, RECORD_CONTEXT, Kind, Problem, VerifyReport, head_message,
                                         key_aad, key_id_for, series_gaps, series_key)
from digitctl.domain.canonical import sha256_hex
from digitctl.services.audit_chain import ADOPTED, PRIVATE_PREFIX, PUBLIC_PREFIX, meta_value
from digitctl.services.masterkey import MasterKeyError
from local_store import seals
from local_store.models import AuditRecord, OutboxEvent, Payment, StoreMeta
from local_store.uow import AUDIT_HEAD, AUDIT_HEAD_SIGNED, GENESIS, audit_body

if TYPE_CHECKING:
    from digitctl.ports import App

_AUDIT = AuditRecord.__table__


def trusted_keys(conn: Connection, app: "App") -> tuple[dict[str, Ed25519PublicKey], Problem | None]:
    """Public keys whose private halves open with the master key (AES-GCM authenticates them)."""
    stored = dict(conn.execute(select(StoreMeta.key, StoreMeta.value)
                               .where(StoreMeta.key.like("audit_signing_%"))).all())
    keys: dict[str, Ed25519PublicKey] = {}
    for name, public_b64 in sorted(stored.items()):
        if not name.startswith(PUBLIC_PREFIX):
            continue
        key_id = name[len(PUBLIC_PREFIX):]
        wrapped = stored.get(PRIVATE_PREFIX + key_id)
        try:
            if wrapped is None:
                raise ValueError("its private key is missing")
            private = Ed25519PrivateKey.from_private_bytes(app.master_key.unwrap(wrapped, key_aad(key_id)))
            public_raw = private.public_key().public_bytes_raw()
            if public_raw != base64.b64decode(public_b64, validate=True) or key_id_for(public_raw) != key_id:
                raise ValueError("its public key is not the stored private key's")
        except MasterKeyError as err:
            if err.code != "MASTER_KEY_MISMATCH":
                raise
            return keys, Problem(Kind.UNTRUSTED_KEY, f"signing key {key_id}: its wrapped private key does not "
                                 "open with this store's master key (the stored keys were altered)")
        except (ValueError, binascii.Error) as err:
            return keys, Problem(Kind.UNTRUSTED_KEY, f"signing key {key_id}: {err}")
        keys[key_id] = private.public_key()
    return keys, None


def _adopted_head(conn: Connection, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """The head of pre-key history a trusted key vouched for, if its signature holds."""
    text = meta_value(conn, ADOPTED)
    if text is None:
        return None
    try:
        doc = json.loads(text)
        keys[doc["keyId"]].verify(base64.b64decode(doc["signature"], validate=True),
                                  ADOPT_CONTEXT + str(doc["head"]).encode("ascii"))
        return str(doc["head"])
    except (ValueError, KeyError, TypeError, InvalidSignature, binascii.Error):
        return None                         # ignored: unsigned records are then reported


def _signature_status(row: Any, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """None when the signature holds, else why not (UNSIGNED / unknown key / BAD_SIGNATURE)."""
    signature, key_id = row["signature"], row["key_id"]
    if signature is None:
        return Kind.UNSIGNED
    key = keys.get(key_id) if key_id is not None else None
    if key is None:
        return "UNKNOWN_KEY"
    try:
        key.verify(base64.b64decode(signature, validate=True), RECORD_CONTEXT + row["hash"].encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError):
        return Kind.BAD_SIGNATURE
    return None


@dataclass
class _Failure:
    row: dict[str, Any]
    prev: dict[str, Any] | None
    link_ok: bool
    hash_ok: bool
    signature: str | None


def walk(conn: Connection, keys: dict[str, Ed25519PublicKey], head: str | None, report: VerifyReport,
         sealed: dict[str, tuple[int, str | None]], batch: int) -> Problem | None:
    """Stream the chain in seq order (`batch` rows at a time), checking each link, hash and
    signature; fills `report` and `sealed` (each entity's last audited seal) as it goes."""
    adopted = _adopted_head(conn, keys)
    unsigned_ok = adopted is not None          # until the adopted head is passed
    expected = GENESIS
    prev: dict[str, Any] | None = None
    failure: _Failure | None = None
    n = 0
    # Streamed `batch` rows at a time (a server-side cursor on PostgreSQL): never the whole chain.
    result = conn.execute(select(_AUDIT).order_by(_AUDIT.c.seq).execution_options(yield_per=batch))
    try:
        for row in result.mappings():
            n += 1
            record_hash = row["hash"]
            link_ok = row["prev_hash"] == expected
            hash_ok = sha256_hex(row["prev_hash"] + audit_body(row)) == record_hash
            status = _signature_status(row, keys) if link_ok and hash_ok else None
            if status == Kind.UNSIGNED and unsigned_ok:
                status = None
                report.unsigned_adopted += 1
            if not (link_ok and hash_ok and status is None):
                failure = _Failure(dict(row), prev, link_ok, hash_ok, status)
                break
            if record_hash == adopted:
                unsigned_ok = False
            for entity, seal in (row["row_hashes"] or {}).items():
                sealed[entity] = (row["seq"], seals.digest(seal))     # the entity's last audited state
            report.head_seq = row["seq"]
            expected = record_hash
            prev = {"seq": row["seq"], "record_id": row["record_id"], "prev_hash": row["prev_hash"]}
    finally:
        result.close()
    report.records = n
    if failure is not None:
        return _classify(conn, failure, head, adopted if unsigned_ok else None)
    return _check_head(conn, head, expected, prev, adopted if unsigned_ok else None)


def _problem(kind: str, row: dict[str, Any], message: str) -> Problem:
    return Problem(kind, message, row["seq"], row["record_id"], row["entity_type"], row["entity_id"])


def _seq_with_hash(conn: Connection, record_hash: str) -> int | None:
    return conn.execute(select(_AUDIT.c.seq).where(_AUDIT.c.hash == record_hash)
                        .order_by(_AUDIT.c.seq).limit(1)).scalar()


def _classify(conn: Connection, f: _Failure, head: str | None, pending_adoption: str | None) -> Problem:
    row, prev = f.row, f.prev
    if not f.link_ok:
        if prev is not None and row["prev_hash"] == prev["prev_hash"]:
            return _problem(Kind.INSERTED, row, f"it claims the same predecessor as seq {prev['seq']}: "
                            "a second record was inserted into the chain")
        if not f.hash_ok:
            return _problem(Kind.EDITED, row, "its prev_hash or content was changed after it was written "
                            "(its hash does not recompute)")
        if pending_adoption is not None and row["prev_hash"] == pending_adoption:
            return _problem(Kind.EDITED, row, "the unsigned records written before the signing key existed "
                            f"(up to seq {prev['seq'] if prev else '?'}) were rewritten")
        found = _seq_with_hash(conn, row["prev_hash"])
        if found is not None:
            return _problem(Kind.REORDERED, row, f"it follows seq {found}, which is stored "
                            f"{'after' if found > row['seq'] else 'before'} it: records were reordered")
        if prev is None:
            return _problem(Kind.DELETED, row, "the chain does not start at the genesis hash: "
                            f"the record(s) before seq {row['seq']} were deleted")
        gap = (f"seq {prev['seq'] + 1}" if row["seq"] - prev["seq"] == 2 else
               f"seq {prev['seq'] + 1}..{row['seq'] - 1}" if row["seq"] - prev["seq"] > 2 else "")
        return _problem(Kind.DELETED, row, "the record it follows is missing: "
                        + (f"{gap} was deleted" if gap else
                           f"a record between seq {prev['seq']} and seq {row['seq']} was deleted "
                           "(and the rows renumbered)"))
    if not f.hash_ok:
        return _problem(Kind.EDITED, row, "its content was changed after it was written "
                        "(its hash does not recompute)")
    nxt = conn.execute(select(_AUDIT.c.seq, _AUDIT.c.prev_hash).where(_AUDIT.c.seq > row["seq"])
                       .order_by(_AUDIT.c.seq).limit(1)).first()
    if nxt is not None and nxt.prev_hash == row["prev_hash"]:
        return _problem(Kind.INSERTED, row, f"it is not signed by the store and seq {nxt.seq} follows "
                        "its predecessor directly: this record was inserted")
    if nxt is None and head == row["prev_hash"]:
        return _problem(Kind.INSERTED, row, "it is not signed by the store and lies beyond the store's "
                        "head: this record was appended")
    key = row["key_id"]
    if f.signature == Kind.UNSIGNED:
        return _problem(Kind.UNSIGNED, row, "it has no signature" + (
            "" if key else " (the store had no signing key? run `digitctl init` to create one)"))
    if f.signature == "UNKNOWN_KEY":
        return _problem(Kind.BAD_SIGNATURE, row, f"it is signed with key {key}, which is not one of "
                        "this store's keys: forged")
    return _problem(Kind.BAD_SIGNATURE, row, f"its signature does not verify with key {key}: "
                    "the record was rewritten or forged (the hash chain alone looks intact)")


def _check_head(conn: Connection, head: str | None, last_hash: str, last: dict[str, Any] | None,
                pending_adoption: str | None) -> Problem | None:
    if head is None and last is None:
        return None
    if head is None:
        return Problem(Kind.HEAD_MISMATCH, "the store has audit records but no audit head (store_meta "
                       f"{AUDIT_HEAD} was deleted)")
    last_seq = last["seq"] if last else 0
    if head != last_hash:
        found = _seq_with_hash(conn, head)
        if found is not None:
            nxt = conn.execute(select(_AUDIT).where(_AUDIT.c.seq > found).order_by(_AUDIT.c.seq)
                               .limit(1)).mappings().first()
            row = dict(nxt) if nxt else {"seq": None, "record_id": None, "entity_type": None, "entity_id": None}
            return _problem(Kind.HEAD_MISMATCH, row, f"the store's head points at seq {found}, but the chain "
                            f"goes on to seq {last_seq}: the head was moved back")
        return Problem(Kind.TRUNCATED, f"the chain ends at seq {last_seq}"
                       + (f" (record {last['record_id']})" if last else "")
                       + " but the store's head is a later record: the last record(s) were deleted",
                       last_seq + 1)
    if pending_adoption is not None:
        return Problem(Kind.TRUNCATED, "the chain ends before the record the signing key adopted as the "
                       f"head of the unsigned history: records after seq {last_seq} were deleted "
                       "and the head moved back", last_seq + 1)
    return None


# -- the signed head, the live rows, the receipt books ---------------------------------------
def check_signed_head(conn: Connection, keys: dict[str, Ed25519PublicKey], report: VerifyReport) -> Problem | None:
    """The signed head must name the chain's last record: a tail cut off with the bare head moved
    back still leaves the signed head pointing past the new end."""
    if report.head_seq is None:
        return None
    last = conn.execute(select(_AUDIT.c.key_id).where(_AUDIT.c.seq == report.head_seq)).scalar()
    text = meta_value(conn, AUDIT_HEAD_SIGNED)
    if text is None:
        if last is None:            # an unsigned (pre-key) history: nothing signed the head yet
            return None
        return Problem(Kind.HEAD_UNSIGNED, f"the store has no signed audit head ({AUDIT_HEAD_SIGNED} was "
                       "deleted): the end of the chain cannot be trusted", report.head_seq)
    try:
        doc = json.loads(text)
        seq, head = int(doc["seq"]), str(doc["hash"])
        keys[doc["keyId"]].verify(base64.b64decode(doc["signature"], validate=True), head_message(seq, head))
    except (ValueError, KeyError, TypeError, InvalidSignature, binascii.Error):
        return Problem(Kind.HEAD_UNSIGNED, "the store's signed audit head does not verify with its keys: "
                       f"{AUDIT_HEAD_SIGNED} was rewritten", report.head_seq)
    if seq > report.head_seq:
        return Problem(Kind.TRUNCATED, f"the signed head is seq {seq} but the chain ends at seq {report.head_seq}: "
                       f"the last record(s) seq {report.head_seq + 1}..{seq} were deleted and the head moved back",
                       report.head_seq + 1)
    if (seq, head) != (report.head_seq, report.head):
        return Problem(Kind.HEAD_MISMATCH, f"the signed head is seq {seq} ({head[:12]}) but the chain ends at "
                       f"seq {report.head_seq} ({(report.head or '')[:12]}): the head was rewritten", seq)
    return None


def _sealed_state(conn: Connection, seq: int, entity: str) -> seals.Seal | None:
    row_hashes = conn.execute(select(_AUDIT.c.row_hashes).where(_AUDIT.c.seq == seq)).scalar()
    return (row_hashes or {}).get(entity)


def check_live_rows(conn: Connection, sealed: dict[str, tuple[int, str | None]],
                     report: VerifyReport) -> Problem | None:
    """Each live payment, demand, bill and user (with its details / roles) against the seal its
    last audit record holds; names the first table, key and field that differs."""
    seen: set[str] = set()
    for kind in seals.KINDS:
        for key, live in seals.live_seals(conn, kind):
            entity = seals.entity_key(kind, key)
            seen.add(entity)
            report.rows_checked += 1
            seq, digest = sealed.get(entity, (None, None))
            if digest is not None and digest == seals.digest(live):
                continue
            return _row_problem(conn, entity, seq, live)
    for entity, (seq, digest) in sorted(sealed.items(), key=lambda item: item[1][0]):
        if digest is not None and entity not in seen:      # sealed as existing, gone from the store
            return _row_problem(conn, entity, seq, None)
    return None


def _row_problem(conn: Connection, entity: str, seq: int | None, live: seals.Seal | None) -> Problem:
    kind, key = seals.split_key(entity)
    before = _sealed_state(conn, seq, entity) if seq is not None else None
    table, row_key, column, what = seals.first_difference(before, live)
    if seq is None:
        what = "it has no audited state: the row was written into the store directly, not by digitctl"
    where = f"{table} {row_key}" + (f" field {column}" if column != "*" else "")
    return Problem(Kind.LIVE_ROW_MISMATCH, f"live row differs from the audit chain: {where}: {what}"
                   + (f" (last audited at seq {seq})" if seq is not None else ""),
                   seq, None, kind, key, code="AUDIT_LIVE_ROW_MISMATCH",
                   detail={"table": table, "key": row_key, "field": column})


def own_receipts(conn: Connection) -> list[Any]:
    """(id, tenant_id, receipt_number) of this store's receipts, by date: its own payments, and any
    payment marked taken elsewhere (pulled, `origin` set) whose number lies in one of its own
    series: a receipt forged behind that mark is judged as this store's. Truly pulled payments are
    other counters' books (the counter that took them answers for their series and events)."""
    rows = conn.execute(select(Payment.id, Payment.tenant_id, Payment.receipt_number, Payment.origin)
                        .order_by(Payment.receipt_date, Payment.id)).all()
    mine = {series_key(r.tenant_id, r.receipt_number) for r in rows if r.origin is None}
    return [r for r in rows if r.origin is None or series_key(r.tenant_id, r.receipt_number) in mine]


def receipt_gaps(conn: Connection) -> list[dict[str, Any]]:
    """Numbers missing inside each receipt series (tenant + number with its last digits as #),
    from the series' first number to its last: a deleted or renumbered receipt leaves one."""
    return series_gaps((r.tenant_id, r.receipt_number) for r in own_receipts(conn))


def payments_without_event(conn: Connection) -> list[dict[str, Any]]:
    """Payments with no `collection.payment.created` outbox event for their id and receipt number."""
    events: dict[str, set[str]] = {}
    for entity_id, payload in conn.execute(select(OutboxEvent.entity_id, OutboxEvent.payload).where(
            OutboxEvent.event_type == "collection.payment.created")):
        numbers = events.setdefault(entity_id, set())
        for doc in (payload or {}).get("Payments") or []:
            for detail in doc.get("paymentDetails") or []:
                numbers.add(str(detail.get("receiptNumber")))
    out = []
    # a payment taken elsewhere came down with `sync pull`: its event is the counter's that took it
    for pid, tenant, number, _origin in own_receipts(conn):
        if number not in events.get(pid, ()):
            out.append({"paymentId": pid, "tenantId": tenant, "receiptNumber": number,
                        "event": "missing" if pid not in events else "receipt number differs"})
    return out


def check_receipts(conn: Connection) -> Problem | None:
    gaps = receipt_gaps(conn)
    if gaps:
        g = gaps[0]
        return Problem(Kind.RECEIPT_GAP, f"receipt series {g['series']} at {g['tenantId']} has a gap: "
                       f"{', '.join(g['missing'])} {'is' if g['missingCount'] == 1 else 'are'} missing "
                       "(a receipt was deleted or renumbered)", code="AUDIT_RECEIPT_GAP",
                       detail={"table": "payment", "series": g["series"], "missing": g["missing"]})
    orphans = payments_without_event(conn)
    if orphans:
        o = orphans[0]
        return Problem(Kind.EVENT_MISSING, f"payment {o['paymentId']} (receipt {o['receiptNumber']}) has no "
                       f"matching outbox event ({o['event']}): the hub would never receive it",
                       None, None, "Payment", o["paymentId"], code="AUDIT_EVENT_MISSING",
                       detail={"table": "outbox_event", "key": o["paymentId"], "field": "payload"})
    return None
