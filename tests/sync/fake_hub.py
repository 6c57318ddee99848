"""A minimal in-memory hub speaking sync/PROTOCOL.md's push side, as an httpx transport: for the
counter's client tests before (and beside) the real hub. It checks signatures, stores events once
per (counter, seq), refuses gaps with the sequence it expects, refuses a conflicting duplicate,
replays the first answer to a batch id; and it can misbehave on demand (`faults`)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from digitctl.domain.canonical import canonical_json, sha256_hex
from digitctl.domain.sync_protocol import H_COUNTER, H_NONCE, H_SIGNATURE, H_TIMESTAMP, signature_ok


def envelope(code: str, message: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ResponseInfo": None, "Errors": [{"code": code, "message": message, "description": None,
                                              "params": [f"{k}: {v}" for k, v in (params or {}).items()]}]}


@dataclass
class Counter:
    code: str
    tenant: str
    public_key: str | None = None
    events: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)   # seq -> (hash, event)
    audit: dict[int, str] = field(default_factory=dict)                           # audit seq -> hash
    flagged: str | None = None

    @property
    def last_seq(self) -> int:
        return max(self.events, default=0)


@dataclass
class FakeHub:
    enrolments: dict[str, tuple[str, str]] = field(default_factory=dict)   # enrolment code -> (code, tenant)
    counters: dict[str, Counter] = field(default_factory=dict)
    batches: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    nonces: set[tuple[str, str]] = field(default_factory=set)
    # faults: each request pops the first; "500", "drop" (never reaches the hub), "drop-answer"
    # (handled, answer lost), "truncate" (200 with half a body), or a callable(request) -> Response
    faults: list[Any] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    up: bool = True

    def enrol(self, enrolment: str, code: str, tenant: str = "pb.amritsar") -> str:
        self.enrolments[enrolment] = (code, tenant)
        return enrolment

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if not self.up:
            raise httpx.ConnectError("hub down", request=request)
        fault = self.faults.pop(0) if self.faults else None
        if callable(fault):
            return fault(request)
        if fault == "drop":
            raise httpx.ConnectError("dropped", request=request)
        if fault == "500":
            return httpx.Response(500, json=envelope("INTERNAL_ERROR", "boom"))
        status, doc = self.answer(request)
        if fault == "drop-answer":
            raise httpx.ReadError("answer lost", request=request)
        body = json.dumps(doc).encode()
        if fault == "truncate":
            return httpx.Response(200, content=body[: len(body) // 2])
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    # -- the protocol -------------------------------------------------------------------------------
    def answer(self, request: httpx.Request) -> tuple[int, dict[str, Any]]:
        path = request.url.path
        body = request.content
        if path == "/sync/v1/counters/_register":
            return self.register(json.loads(body))
        refused = self.check_signature(request)
        if refused is not None:
            return refused
        counter = self.counters[request.headers[H_COUNTER]]
        if path == "/sync/v1/events/_push":
            return self.push(counter, body)
        if path.endswith("/_status"):
            return 200, {"counterCode": counter.code, "lastSequence": counter.last_seq,
                         "nextSeq": counter.last_seq + 1, "parked": [], "flagged": counter.flagged}
        return 404, envelope("NOT_FOUND", path)

    def register(self, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        found = self.enrolments.pop(str(doc.get("enrolmentCode")), None)
        if found is None:
            return 401, envelope("SYNC_ENROLMENT_INVALID", "unknown or used enrolment code")
        code, tenant = found
        self.counters[code] = Counter(code=code, tenant=tenant, public_key=doc["publicKey"])
        return 200, {"counterCode": code, "tenantId": tenant, "hubId": "fake-hub", "nextSeq": 1}

    def check_signature(self, request: httpx.Request) -> tuple[int, dict[str, Any]] | None:
        code = request.headers.get(H_COUNTER, "")
        counter = self.counters.get(code)
        if counter is None or counter.public_key is None:
            return 401, envelope("SYNC_UNAUTHENTICATED", "unknown counter")
        ts, nonce = int(request.headers[H_TIMESTAMP]), request.headers[H_NONCE]
        if not signature_ok(counter.public_key, request.headers[H_SIGNATURE], request.method, request.url.path, ts,
                            nonce, request.content):
            return 401, envelope("SYNC_UNAUTHENTICATED", "bad signature")
        if (code, nonce) in self.nonces:
            return 401, envelope("SYNC_REPLAYED", "nonce seen")
        self.nonces.add((code, nonce))
        return None

    def push(self, counter: Counter, body: bytes) -> tuple[int, dict[str, Any]]:
        doc = json.loads(body)
        request_hash = hashlib.sha256(body).hexdigest()
        held = self.batches.get(doc["batchId"])
        if held is not None:
            if held[0] != request_hash:
                return 409, envelope("SYNC_BATCH_ID_REUSED", "another body")
            return held[1], held[2]
        status, answer = self._store(counter, doc)
        self.batches[doc["batchId"]] = (request_hash, status, answer)
        return status, answer

    def _store(self, counter: Counter, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        expected = counter.last_seq + 1
        new: dict[int, tuple[str, dict[str, Any]]] = {}
        duplicates = 0
        for ev in doc["events"]:
            seq = int(ev["seq"])
            digest = sha256_hex(canonical_json(ev))
            if seq in counter.events:
                if counter.events[seq][0] != digest:
                    counter.flagged = "conflicting duplicate"
                    return 409, envelope("SYNC_CONFLICTING_DUPLICATE", "same seq, other content", {"seq": seq})
                duplicates += 1
                continue
            if seq != expected:
                return 409, envelope("SYNC_SEQUENCE_GAP", "gap", {"expected": counter.last_seq + 1})
            new[seq] = (digest, ev)
            expected += 1
        for rec in doc["audit"]:
            if rec["seq"] in counter.audit and counter.audit[rec["seq"]] != rec["hash"]:
                return 409, envelope("SYNC_AUDIT_CHAIN_BROKEN", "audit record differs", {"seq": rec["seq"]})
        counter.events.update(new)
        counter.audit.update({int(r["seq"]): r["hash"] for r in doc["audit"]})
        return 200, {"batchId": doc["batchId"], "accepted": len(new), "duplicates": duplicates,
                     "nextSeq": counter.last_seq + 1, "parked": []}


def fail_with(status: int, code: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=envelope(code, "refused on purpose"))
