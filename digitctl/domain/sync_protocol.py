"""The pure parts of the counter-hub protocol (sync/PROTOCOL.md): what a request signature covers,
signing and checking it, and an audit record's wire form (camelCase, from which the hub recomputes
the record's hash exactly as the counter's unit of work made it)."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

H_COUNTER = "X-Digit-Counter"
H_TIMESTAMP = "X-Digit-Timestamp"
H_NONCE = "X-Digit-Nonce"
H_SIGNATURE = "X-Digit-Signature"
REPLAY_WINDOW_MS = 5 * 60 * 1000
SIGN_CONTEXT = b"digitctl-sync-request-v1\n"

# audit record columns as they travel (the hash covers all but hash/signature/key_id/seq)
AUDIT_WIRE = {"seq": "seq", "record_id": "recordId", "event_id": "eventId", "occurred_at": "occurredAt",
              "actor_uuid": "actorUuid", "actor_name": "actorName", "tenant_id": "tenantId",
              "operation": "operation", "entity_type": "entityType", "entity_id": "entityId",
              "before": "before", "after": "after", "row_hashes": "rowHashes", "prev_hash": "prevHash",
              "hash": "hash", "signature": "signature", "key_id": "keyId"}


def signing_string(method: str, path: str, timestamp_ms: int, nonce: str, body: bytes) -> bytes:
    """What a request signature covers: method, path, timestamp, nonce and the body's sha256."""
    digest = hashlib.sha256(body).hexdigest()
    return SIGN_CONTEXT + f"{method.upper()}\n{path}\n{int(timestamp_ms)}\n{nonce}\n{digest}".encode("ascii")


def sign(private: Ed25519PrivateKey, method: str, path: str, timestamp_ms: int, nonce: str, body: bytes) -> str:
    return base64.b64encode(private.sign(signing_string(method, path, timestamp_ms, nonce, body))).decode("ascii")


def public_key_b64(private: Ed25519PrivateKey) -> str:
    return base64.b64encode(private.public_key().public_bytes_raw()).decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    """A raw Ed25519 public key in base64; ValueError when it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"public key is not base64: {err}") from err
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_ok(public_b64: str, signature_b64: str, method: str, path: str, timestamp_ms: int, nonce: str,
                 body: bytes) -> bool:
    try:
        key = load_public_key(public_b64)
        key.verify(base64.b64decode(signature_b64, validate=True),
                   signing_string(method, path, timestamp_ms, nonce, body))
        return True
    except (InvalidSignature, ValueError, binascii.Error):
        return False


def audit_to_wire(rec: Mapping[str, Any]) -> dict[str, Any]:
    """An audit_record row (snake_case columns) as it travels; the instant as the exact ISO text
    the record's hash covered."""
    doc = {wire: rec.get(col) for col, wire in AUDIT_WIRE.items()}
    when = rec["occurred_at"]
    if isinstance(when, dt.datetime):
        doc["occurredAt"] = when.astimezone(dt.timezone.utc).isoformat()
    return doc


def audit_from_wire(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form back to the row's columns (occurred_at an aware datetime), so that
    `local_store.uow.audit_body` recomputes the same hash."""
    rec = {col: doc.get(wire) for col, wire in AUDIT_WIRE.items()}
    rec["occurred_at"] = dt.datetime.fromisoformat(str(doc["occurredAt"]))
    return rec
