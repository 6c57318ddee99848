"""Domain events: small frozen records of what happened. The unit of work turns each into an
outbox row (for the hub) and an audit record (for the chain) in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    event_type: str          # e.g. "mdms.records.upserted", "idgen.ids.generated"
    tenant_id: str
    entity_type: str         # e.g. "MdmsMaster", "IdSequence"
    entity_id: str
    operation: str           # the DIGIT action URL that caused it
    payload: dict[str, Any]  # DIGIT-shaped JSON (camelCase), what the hub receives
    before: Any = None       # for the audit record
    after: Any = None
