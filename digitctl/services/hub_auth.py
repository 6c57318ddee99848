"""Who is calling the hub (sync/PROTOCOL.md "Signed requests"): the counter named in
X-Digit-Counter, its Ed25519 signature over method, path, timestamp, nonce and body, the timestamp
within 5 minutes of the hub's clock, a nonce not seen before, the counter neither revoked nor
flagged. Runs inside the caller's transaction: the counter's row is locked (one counter's batches
one at a time, whichever worker takes them) and the nonce is written with what the request stores."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from digitctl.context import Actor, RequestContext, Role
from digitctl.domain import sync_protocol as sp
from digitctl.errors import Forbidden, Unauthenticated
from local_store.models import HubCounter, HubNonce

_COUNTER = HubCounter.__table__
_NONCE = HubNonce.__table__


@dataclass(frozen=True)
class SignedRequest:
    """A request as the HTTP adapter hands it over: nothing parsed but the headers."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None:
            value = self.headers.get(name.lower())
        return value


def counter_context(app: Any, code: str | None) -> RequestContext:
    """The hub's unit of work acts as the counter (its audit records name it)."""
    name = code or "?"
    return RequestContext(actor=Actor(uuid=f"counter:{name}"[:64], user_name=f"counter {name}", type="SYSTEM",
                                      roles=(Role("SYNC_COUNTER", "*"),)), clock=app.clock, msg_id=f"sync-{name}")


def _now_ms(now: dt.datetime) -> int:
    return int(now.timestamp() * 1000)


def authenticate(conn: Connection, now: dt.datetime, req: SignedRequest, *, lock: bool = True,
                 allow_flagged: bool = False) -> tuple[Any, int]:
    """The calling counter's hub_counter row (locked FOR UPDATE) and its clock skew in ms
    (its timestamp minus the hub's clock), or the refusal PROTOCOL.md names."""
    code, stamp, nonce, signature = (req.header(sp.H_COUNTER), req.header(sp.H_TIMESTAMP),
                                     req.header(sp.H_NONCE), req.header(sp.H_SIGNATURE))
    if not code or not stamp or not nonce or not signature:
        raise Unauthenticated("SYNC_UNAUTHENTICATED", "the request is not signed (X-Digit-Counter, "
                              "X-Digit-Timestamp, X-Digit-Nonce, X-Digit-Signature)")
    try:
        stamp_ms = int(stamp)
    except ValueError:
        raise Unauthenticated("SYNC_UNAUTHENTICATED", "X-Digit-Timestamp is not epoch milliseconds") from None
    stmt = select(_COUNTER).where(_COUNTER.c.code == code)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None or not row.public_key or not sp.signature_ok(row.public_key, signature, req.method, req.path,
                                                                stamp_ms, nonce, req.body):
        raise Unauthenticated("SYNC_UNAUTHENTICATED", "unknown counter or bad signature", {"counterCode": code})
    if row.revoked_at is not None:
        raise Forbidden("SYNC_COUNTER_REVOKED", f"counter {code} was revoked at the hub", {"counterCode": code})
    skew = stamp_ms - _now_ms(now)
    if abs(skew) > sp.REPLAY_WINDOW_MS:
        raise Unauthenticated("SYNC_REPLAYED", "the request's timestamp is more than 5 minutes off the hub's clock",
                              {"counterCode": code, "skewMs": skew})
    if len(nonce) > 64 or conn.execute(select(_NONCE.c.nonce).where(
            _NONCE.c.counter_code == code, _NONCE.c.nonce == nonce)).first() is not None:
        raise Unauthenticated("SYNC_REPLAYED", "this request was seen before (nonce)", {"counterCode": code})
    window = dt.timedelta(milliseconds=2 * sp.REPLAY_WINDOW_MS)
    conn.execute(delete(_NONCE).where(_NONCE.c.counter_code == code, _NONCE.c.seen_at < now - window))
    conn.execute(_NONCE.insert().values(counter_code=code, nonce=nonce, seen_at=now))
    if row.flagged and not allow_flagged:
        raise Forbidden("SYNC_COUNTER_FLAGGED", f"counter {code} is flagged at the hub: {row.flagged}",
                        {"counterCode": code})
    return row, skew
