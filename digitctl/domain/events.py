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
    # (uuid, user name) of who did it, when not the unit of work's actor: the hub applies the
    # events of several employees of a counter in one transaction
    actor: tuple[str, str] | None = None
