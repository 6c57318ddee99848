"""The counter's audit chain as the hub receives it (sync/PROTOCOL.md "The counter's audit chain at
the hub"): the signed head a counter sends at registration, and the records of each batch, which
must recompute, carry good signatures under the counter's audit keys and chain from the head the
hub holds. A break refuses the batch (409 SYNC_AUDIT_CHAIN_BROKEN) and flags the counter."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature

from digitctl.domain.audit_rules import RECORD_CONTEXT, head_message
from digitctl.domain.canonical import sha256_hex
from digitctl.domain.sync_protocol import audit_from_wire, load_public_key
from digitctl.errors import Conflict, InvalidInput
from local_store.uow import GENESIS, audit_body

CHAIN_BROKEN = "SYNC_AUDIT_CHAIN_BROKEN"


def _broken(message: str, seq: Any) -> Conflict:
    return Conflict(CHAIN_BROKEN, message, {"seq": seq})


def _verify(keys: Mapping[str, str], key_id: Any, signature: Any, message: bytes) -> bool:
    text = keys.get(str(key_id)) if key_id is not None else None
    if text is None or not isinstance(signature, str):
        return False
    try:
        load_public_key(text).verify(base64.b64decode(signature, validate=True), message)
        return True
    except (InvalidSignature, ValueError, binascii.Error):
        return False


def check_keys(keys: Any) -> dict[str, str]:
    """{keyId: raw Ed25519 public key, base64} or SYNC_INVALID_REQUEST."""
    if not isinstance(keys, dict) or not keys:
        raise InvalidInput("SYNC_INVALID_REQUEST", "auditKeys must map each audit key id to its public key")
    out: dict[str, str] = {}
    for key_id, text in keys.items():
        try:
            load_public_key(str(text))
        except ValueError as err:
            raise InvalidInput("SYNC_INVALID_REQUEST", f"audit key {key_id} is not an Ed25519 public key",
                               {"keyId": key_id}) from err
        out[str(key_id)] = str(text)
    return out


def check_head(keys: Mapping[str, str], head: Any) -> dict[str, Any]:
    """The signed audit head sent at registration: {"seq", "hash", "keyId", "signature"}."""
    if not isinstance(head, dict) or not isinstance(head.get("seq"), int) or not isinstance(head.get("hash"), str):
        raise InvalidInput("SYNC_INVALID_REQUEST", "auditHead must be {seq, hash, keyId, signature}")
    seq, value = int(head["seq"]), str(head["hash"])
    if not (seq == 0 and value == GENESIS) and not _verify(keys, head.get("keyId"), head.get("signature"),
                                                           head_message(seq, value)):
        raise InvalidInput("SYNC_AUDIT_HEAD_INVALID", "the audit head's signature does not hold under the "
                           "counter's audit keys", {"seq": seq, "keyId": head.get("keyId")})
    return {"seq": seq, "hash": value, "keyId": head.get("keyId"), "signature": head.get("signature")}


def record_ok(keys: Mapping[str, str], rec: Mapping[str, Any], signed: bool | None = True) -> str | None:
    """None when a wire record's hash recomputes and its signature holds, else what is wrong.
    `signed=False`: an unsigned record (from before the store had a key) may pass; `None`: the
    signature is not checked here (a later record's signature vouches for it)."""
    try:
        row = audit_from_wire(rec)
        recomputed = sha256_hex(str(row["prev_hash"]) + audit_body(row))
    except (KeyError, TypeError, ValueError) as err:
        return f"record is malformed ({type(err).__name__})"
    if recomputed != row["hash"]:
        return "its hash does not recompute (content or link edited)"
    if signed is None or (not signed and row["signature"] is None):
        return None
    if not _verify(keys, row["key_id"], row["signature"], RECORD_CONTEXT + str(row["hash"]).encode("ascii")):
        return "its signature does not hold under the counter's audit keys"
    return None


def advance(keys: Mapping[str, str], head: Mapping[str, Any], records: list[dict[str, Any]],
            event_audits: list[dict[str, Any]]) -> dict[str, Any]:
    """Check a batch's audit records against the head the hub holds; the new head.

    Every record's hash must recompute and link to the one before; records at or before the head
    must lead to it (the one at the head's seq must be it); the first after it must follow it.
    The LAST record's signature is checked: its hash covers every record before it back to the
    head the hub holds, so it vouches for the whole segment as a store's signed head does (one
    Ed25519 verification per batch, not per event: ~60-300 us each on these cores). Each new
    event's own record must be the batch's record at its seq, or, before the head (events of the
    store's life before registration), recompute and carry a good signature of its own."""
    head_seq, head_hash = int(head.get("seq") or 0), str(head.get("hash") or GENESIS)
    prev: dict[str, Any] | None = None
    new_head = dict(head)
    by_seq: dict[int, dict[str, Any]] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("seq"), int):
            raise _broken("an audit record has no seq", None)
        seq = int(rec["seq"])
        problem = record_ok(keys, rec, signed=True if i == len(records) - 1 else None)
        if problem:
            raise _broken(f"audit record {seq}: {problem}", seq)
        if prev is not None and (rec.get("prevHash") != prev["hash"] or seq <= int(prev["seq"])):
            raise _broken(f"audit record {seq} does not follow record {prev['seq']}", seq)
        if seq == head_seq and rec["hash"] != head_hash:
            raise _broken(f"audit record {seq} is not the record the hub holds at that place", seq)
        if seq > head_seq and (prev is None or int(prev["seq"]) < head_seq) and rec.get("prevHash") != head_hash:
            raise _broken(f"audit record {seq} does not follow the hub's head (record {head_seq})", seq)
        if seq > head_seq:
            new_head = {"seq": seq, "hash": rec["hash"], "keyId": rec.get("keyId"), "signature": rec.get("signature")}
        by_seq[seq] = rec
        prev = rec
    for audit in event_audits:
        ev_seq = audit.get("seq") if isinstance(audit.get("seq"), int) else None
        if ev_seq is not None and ev_seq in by_seq:
            if by_seq[ev_seq] != audit:
                raise _broken(f"the audit record of event {audit.get('eventId')} is not the batch's record "
                              f"{ev_seq}", ev_seq)
            continue
        if ev_seq is not None and ev_seq > head_seq:
            raise _broken(f"the audit record of event {audit.get('eventId')} is not in the batch's chain", ev_seq)
        problem = record_ok(keys, audit, signed=False) if audit else "the event has no audit record"
        if problem:
            raise _broken(f"the audit record of event {audit.get('eventId')}: {problem}", ev_seq)
    return new_head
