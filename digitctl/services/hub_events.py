"""A received event as the hub keeps it in `hub_event.body`: the wire form with its payload sealed
under the hub's data key of the counter's state (`payloadSealed`, `<keyId>|<base64>`). A counter
opens PII for the trip (sync/PROTOCOL.md); the hub must not keep it in plain on disk, and cannot
tell which payload fields are personal, so the whole payload is sealed. Readers open it with
`received_event`."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from digitctl.domain.canonical import canonical_json
from digitctl.domain.sync_events import ReceivedEvent

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App

SEALED = "payloadSealed"


def sealed_body(app: "App", session: "Session", state_tenant: str, wire: dict[str, Any],
                payload_text: str | None = None) -> dict[str, Any]:
    """The wire form to store: payload replaced by its ciphertext under the hub's key of the state
    (`payload_text`: its canonical JSON, when the caller has it already)."""
    body = dict(wire)
    payload = body.pop("payload", {}) or {}
    body[SEALED] = app.keyring.encrypt(session, state_tenant, payload_text or canonical_json(payload))
    return body


def opened_wire(app: "App", session: "Session", body: dict[str, Any]) -> dict[str, Any]:
    """The wire form back, payload opened (a body stored before sealing is taken as it is)."""
    if SEALED not in body:
        return dict(body)
    wire = {k: v for k, v in body.items() if k != SEALED}
    wire["payload"] = json.loads(app.keyring.decrypt(session, str(body[SEALED])))
    return wire


def received_event(app: "App", session: "Session", body: dict[str, Any]) -> ReceivedEvent:
    return ReceivedEvent.from_wire(opened_wire(app, session, body))
