"""A counter as the hub sees it, without a store: request and audit keys, a hash-chained signed
audit record per event (as local_store.uow writes them), signed requests (domain.sync_protocol).
The hub tests push its batches through the services and over HTTP."""
from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from digitctl.domain import sync_protocol as sp
from digitctl.domain.audit_rules import RECORD_CONTEXT, head_message, key_id_for
from digitctl.domain.canonical import sha256_hex
from digitctl.services.hub_auth import SignedRequest
from local_store.uow import GENESIS, audit_body

WHEN = dt.datetime(2026, 11, 25, 5, 30, tzinfo=dt.timezone.utc)
PUSH = "/sync/v1/events/_push"
REGISTER = "/sync/v1/counters/_register"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class FakeCounter:
    def __init__(self, tenant: str = "pb.amritsar") -> None:
        self.tenant = tenant
        self.request_key = Ed25519PrivateKey.generate()
        self.audit_key = Ed25519PrivateKey.generate()
        self.key_id = key_id_for(self.audit_key.public_key().public_bytes_raw())
        self.store_id = str(uuid.uuid4())
        self.records: list[dict[str, Any]] = []
        self.code = ""
        self.seq = 0
        self.events: list[dict[str, Any]] = []
        self.setup_records = 3          # records from before registration (init, mdms ...)
        for _ in range(self.setup_records):
            self._record(None, "pb", "/digitctl/store/_init", "Store", self.store_id)

    # -- audit ------------------------------------------------------------------------------
    def _record(self, event_id: str | None, tenant: str, operation: str, entity_type: str,
                entity_id: str, after: Any = None) -> dict[str, Any]:
        prev = self.records[-1]["hash"] if self.records else GENESIS
        row = {"seq": len(self.records) + 1, "record_id": str(uuid.uuid4()), "event_id": event_id,
               "occurred_at": WHEN, "actor_uuid": "u-clerk", "actor_name": "clerk.amritsar", "tenant_id": tenant,
               "operation": operation, "entity_type": entity_type, "entity_id": entity_id, "before": None,
               "after": after, "row_hashes": None, "prev_hash": prev}
        row["hash"] = sha256_hex(prev + audit_body(row))
        row["key_id"] = self.key_id
        row["signature"] = _b64(self.audit_key.sign(RECORD_CONTEXT + row["hash"].encode("ascii")))
        wire = sp.audit_to_wire(row)
        self.records.append(wire)
        return wire

    def audit_keys(self) -> dict[str, str]:
        return {self.key_id: _b64(self.audit_key.public_key().public_bytes_raw())}

    def signed_head(self) -> dict[str, Any]:
        last = self.records[-1]
        return {"seq": last["seq"], "hash": last["hash"], "keyId": self.key_id,
                "signature": _b64(self.audit_key.sign(head_message(last["seq"], last["hash"])))}

    # -- events ------------------------------------------------------------------------------
    def event(self, event_type: str = "collection.payment.created", entity_id: str | None = None,
              tenant: str | None = None, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        self.seq += 1
        event_id = str(uuid.uuid4())
        tenant = tenant or self.tenant
        entity_id = entity_id or str(uuid.uuid4())
        payload = payload if payload is not None else {"id": entity_id, "totalAmountPaid": "100.00"}
        audit = self._record(event_id, tenant, "/collection-services/payments/_create", "Payment", entity_id,
                             after=payload)
        ev = {"eventId": event_id, "counterCode": self.code, "seq": self.seq, "eventType": event_type,
              "tenantId": tenant, "entityType": "Payment", "entityId": entity_id,
              "occurredAt": int(WHEN.timestamp() * 1000), "payload": payload, "audit": audit}
        self.events.append(ev)
        return ev

    def records_for(self, events: list[dict[str, Any]], after_seq: int) -> list[dict[str, Any]]:
        """Every audit record after `after_seq` up to the last event's record."""
        last = max(e["audit"]["seq"] for e in events) if events else after_seq
        return [r for r in self.records if after_seq < r["seq"] <= last]

    # -- requests ----------------------------------------------------------------------------
    def register_body(self, enrolment_code: str, receipt_codes: list[str] | None = None) -> dict[str, Any]:
        return {"enrolmentCode": enrolment_code, "publicKey": sp.public_key_b64(self.request_key),
                "auditKeys": self.audit_keys(), "auditHead": self.signed_head(), "storeId": self.store_id,
                "receiptCodes": receipt_codes or []}

    def batch(self, events: list[dict[str, Any]], audit_after: int, batch_id: str | None = None,
              head_seq: int | None = None) -> dict[str, Any]:
        return {"batchId": batch_id or str(uuid.uuid4()), "counterCode": self.code,
                "firstSeq": events[0]["seq"] if events else self.seq + 1,
                "headSeq": self.seq if head_seq is None else head_seq, "events": events,
                "audit": self.records_for(events, audit_after)}

    def signed(self, path: str, doc: dict[str, Any] | None, now: dt.datetime, method: str = "POST",
               nonce: str | None = None, key: Ed25519PrivateKey | None = None) -> SignedRequest:
        body = json.dumps(doc).encode() if doc is not None else b""
        stamp = int(now.timestamp() * 1000)
        nonce = nonce or uuid.uuid4().hex
        return SignedRequest(method, path, {
            sp.H_COUNTER: self.code, sp.H_TIMESTAMP: str(stamp), sp.H_NONCE: nonce,
            sp.H_SIGNATURE: sp.sign(key or self.request_key, method, path, stamp, nonce, body)}, body)
