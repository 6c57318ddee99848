"""The hub applies what counters did (sync/PROTOCOL.md "Applying at the hub"): after a batch is
stored, per counter in sequence order, each `stored` event goes through
`digitctl.services.hub_apply.apply_event(app, ReceivedEvent)`:

- an event sharing an entity (`hub_apply.entity_keys`) with an earlier parked or waiting event of
  the counter waits behind it (`waiting`);
- an event for a tenant the counter was not enrolled for is parked SYNC_TENANT_NOT_ENROLLED
  without being applied;
- else `applied`, `recorded` (apply_event returned "recorded": nothing to apply) or `parked` with
  the code and reason of the `Parked` (or DigitError) it raised.

apply_event is idempotent, so a crash between its commit and the status update re-applies
harmlessly. One applier per counter at a time: a lock per counter in the process, and a
PostgreSQL advisory lock across workers and hosts (on SQLite a second process may apply the same
event twice; idempotency makes that a no-op)."""
from __future__ import annotations

import hashlib
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.domain.tenancy import state_of
from digitctl.errors import DigitError
from local_store.models import HubCounter, HubEvent

if TYPE_CHECKING:
    from digitctl.bootstrap import App
    from digitctl.context import RequestContext

_EVENT = HubEvent.__table__
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
NOT_ENROLLED = "SYNC_TENANT_NOT_ENROLLED"
WAITING = "SYNC_WAITING_BEHIND_PARKED"


def applier() -> ModuleType | None:
    """`digitctl.services.hub_apply` when it is installed, else None (events stay `stored`)."""
    try:
        return importlib.import_module("digitctl.services.hub_apply")
    except ModuleNotFoundError as err:
        if err.name != "digitctl.services.hub_apply":
            raise
        return None


def tenant_covered(enrolled: str, tenant_id: str, event_type: str) -> bool:
    """A counter enrolled at a city acts at that city (and below it); citizens it registers live at
    the state (DIGIT keeps citizens state-level), so user events at the state are its too."""
    if tenant_id == enrolled or tenant_id.startswith(enrolled + "."):
        return True
    return event_type.startswith("user.") and tenant_id == state_of(enrolled)


def _lock_key(code: str) -> int:
    return int.from_bytes(hashlib.sha256(f"digitctl-hub-apply:{code}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(app: "App", code: str) -> Iterator[bool]:
    """True while this caller is the only applier of the counter's events (else False at once)."""
    with _LOCKS_GUARD:
        local = _LOCKS.setdefault(f"{app.store_url}|{code}", threading.Lock())
    if not local.acquire(blocking=False):
        yield False
        return
    try:
        if app.store.dialect != "postgresql":
            yield True
            return
        with app.store.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(code)}).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(code)})
                conn.rollback()
    finally:
        local.release()


def _set(app: "App", code: str, seq: int, status: str, reason_code: str | None = None,
         reason: str | None = None) -> None:
    with app.store.engine.begin() as conn:
        conn.execute(update(_EVENT).where(_EVENT.c.counter_code == code, _EVENT.c.seq == seq,
                                          _EVENT.c.status == "stored").values(
            status=status, reason_code=reason_code, reason=(reason or "")[:4000] or None,
            applied_at=app.clock.now() if status in ("applied", "recorded") else None))


def _keys(mod: ModuleType, ev: ReceivedEvent) -> set[str]:
    return {str(k) for k in mod.entity_keys(ev)}


def _blocked(app: "App", mod: ModuleType, code: str) -> set[str]:
    with app.store.readonly_engine.connect() as conn:
        bodies = conn.execute(select(_EVENT.c.body).where(
            _EVENT.c.counter_code == code, _EVENT.c.status.in_(("parked", "waiting")))).scalars().all()
    out: set[str] = set()
    for body in bodies:
        out |= _keys(mod, ReceivedEvent.from_wire(body))
    return out


def _apply_one(app: "App", mod: ModuleType, enrolled: str, ev: ReceivedEvent,
               blocked: set[str]) -> tuple[str, str | None, str | None]:
    keys = _keys(mod, ev)
    held = sorted(keys & blocked)
    if held:
        blocked |= keys
        return "waiting", WAITING, f"waits behind a parked event on {held[0]}"
    if not tenant_covered(enrolled, ev.tenant_id, ev.event_type):
        blocked |= keys
        return "parked", NOT_ENROLLED, f"counter {ev.counter_code} is enrolled at {enrolled}, not {ev.tenant_id}"
    try:
        result = mod.apply_event(app, ev)
    except Parked as p:
        blocked |= keys
        return "parked", p.code, p.message
    except DigitError as err:
        blocked |= keys
        return "parked", err.code, err.message
    return ("recorded" if result == "recorded" else "applied"), None, None


def apply_counter(app: "App", code: str, limit: int = 1000) -> dict[str, int]:
    """Apply up to `limit` stored events of one counter, in sequence order: counts by outcome."""
    counts = {"applied": 0, "recorded": 0, "parked": 0, "waiting": 0}
    mod = applier()
    if mod is None:
        return counts
    with exclusive(app, code) as mine:
        if not mine:
            return counts
        with app.store.readonly_engine.connect() as conn:
            enrolled = conn.execute(select(HubCounter.tenant_id).where(HubCounter.code == code)).scalar()
            rows = conn.execute(select(_EVENT.c.seq, _EVENT.c.body).where(
                _EVENT.c.counter_code == code, _EVENT.c.status == "stored").order_by(_EVENT.c.seq).limit(limit)).all()
        if enrolled is None or not rows:
            return counts
        blocked = _blocked(app, mod, code)
        for seq, body in rows:
            try:
                status, reason_code, reason = _apply_one(app, mod, str(enrolled), ReceivedEvent.from_wire(body),
                                                         blocked)
            except DBAPIError:
                raise                  # the store is unwell: the event stays stored, the next run retries it
            except Exception as err:   # a bug in applying one event must not stop the counter's others
                status, reason_code, reason = "parked", "HUB_APPLY_FAILED", f"{type(err).__name__}: {err}"
            _set(app, code, int(seq), status, reason_code, reason)
            counts[status] += 1
    return counts


def apply_pending(app: "App", counter_code: str | None = None, limit: int = 1000) -> dict[str, int]:
    """Apply stored events of one counter or of every counter that has some (a worker or an
    operator runs this; the push endpoint runs it for the pushing counter after storing)."""
    if counter_code is not None:
        codes = [counter_code]
    else:
        with app.store.readonly_engine.connect() as conn:
            codes = list(conn.execute(select(_EVENT.c.counter_code).where(_EVENT.c.status == "stored")
                                      .distinct().order_by(_EVENT.c.counter_code)).scalars())
    total: dict[str, Any] = {"applied": 0, "recorded": 0, "parked": 0, "waiting": 0}
    for code in codes:
        for key, n in apply_counter(app, code, limit).items():
            total[key] += n
    return total


APPLY_ACTION = "/digitctl/hub/events/_apply"


def run(app: "App", ctx: "RequestContext", counter_code: str | None = None, limit: int = 1000) -> dict[str, int]:
    """`digitctl hub apply`: an operator (or a scheduled worker) applies what is still stored."""
    from digitctl.services.access import authorize

    authorize(app, ctx, APPLY_ACTION, app.state_tenant or ctx.tenant_id)
    return apply_pending(app, counter_code, limit)
