"""What the hub receives from a counter: one event as it travels (sync/PROTOCOL.md), and the
refusal an event the hub cannot apply is parked with. Plain Python: the counter builds these
from its outbox, the hub from its received-event log; `services.hub_apply` applies them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from digitctl.domain.canonical import canonical_json, sha256_hex


@dataclass(frozen=True)
class ReceivedEvent:
    event_id: str
    counter_code: str
    seq: int
    event_type: str
    tenant_id: str
    entity_type: str
    entity_id: str
    occurred_at: dt.datetime          # the counter's clock (aware, UTC)
    payload: dict[str, Any]
    audit: dict[str, Any] = field(default_factory=dict)   # the counter's signed audit record

    @property
    def actor_uuid(self) -> str | None:
        return self.audit.get("actorUuid")

    @property
    def actor_name(self) -> str | None:
        return self.audit.get("actorName")

    def to_wire(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "counterCode": self.counter_code, "seq": self.seq,
                "eventType": self.event_type, "tenantId": self.tenant_id, "entityType": self.entity_type,
                "entityId": self.entity_id,
                "occurredAt": int(self.occurred_at.timestamp() * 1000),
                "payload": self.payload, "audit": self.audit}

    @classmethod
    def from_wire(cls, doc: dict[str, Any]) -> "ReceivedEvent":
        return cls(event_id=str(doc["eventId"]), counter_code=str(doc["counterCode"]), seq=int(doc["seq"]),
                   event_type=str(doc["eventType"]), tenant_id=str(doc["tenantId"]),
                   entity_type=str(doc["entityType"]), entity_id=str(doc["entityId"]),
                   occurred_at=dt.datetime.fromtimestamp(int(doc["occurredAt"]) / 1000, dt.timezone.utc),
                   payload=dict(doc.get("payload") or {}), audit=dict(doc.get("audit") or {}))

    def content_hash(self) -> str:
        """sha256 of the canonical wire form: the same (counter, seq) with another hash is a clone."""
        return sha256_hex(canonical_json(self.to_wire()))


class Parked(Exception):
    """The hub cannot apply this event (yet): it is parked with this DIGIT-style code and reason;
    later events on the same entities wait behind it."""

    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.params = dict(params or {})
