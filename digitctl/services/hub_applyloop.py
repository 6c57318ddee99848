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
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.domain.tenancy import state_of
from digitctl.errors import DigitError
from digitctl.services.hub_events import received_event
from local_store.models import HubCounter, HubEvent

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

_EVENT = HubEvent.__table__
log = logging.getLogger("digitctl.hub")
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
WAIT_S = 30.0            # how long an applier waits for another one of the same counter
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
def exclusive(app: "App", code: str, wait: float = WAIT_S) -> Iterator[bool]:
    """True while this caller is the only applier of the counter's events; False when another
    held it for `wait` seconds (a push waits, so its batch is applied before it answers)."""
    with _LOCKS_GUARD:
        local = _LOCKS.setdefault(f"{app.store_url}|{code}", threading.Lock())
    if not local.acquire(timeout=wait) if wait > 0 else not local.acquire(blocking=False):
        yield False
        return
    try:
        if app.store.dialect != "postgresql":
            yield True
            return
        deadline = time.monotonic() + wait
        with app.store.engine.connect() as conn:
            while True:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(code)}).scalar())
                conn.rollback()
                if got or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(code)})
                    conn.rollback()
    finally:
        local.release()


class Outcome(NamedTuple):
    seq: int
    status: str
    code: str | None = None
    reason: str | None = None
    params: dict[str, Any] | None = None       # a Parked's params (EXCESS_COLLECTION: consumerCode, amount ...)


PARAMS_KEY = "parkedParams"                    # where a parked event's params are kept in hub_event.body
CHUNK = 200


def _write(app: "App", code: str, outcomes: list[Outcome]) -> None:
    """Move events out of `stored` (one executemany per call)."""
    if not outcomes:
        return
    now = app.clock.now()
    stmt = update(_EVENT).where(_EVENT.c.counter_code == bindparam("b_code"), _EVENT.c.seq == bindparam("b_seq"),
                                _EVENT.c.status == "stored").values(
        status=bindparam("b_status"), reason_code=bindparam("b_rc"), reason=bindparam("b_reason"),
        applied_at=bindparam("b_at"))
    with app.store.engine.begin() as conn:
        conn.execute(stmt, [{"b_code": code, "b_seq": seq, "b_status": status, "b_rc": rc,
                             "b_reason": (reason or "")[:4000] or None,
                             "b_at": now if status in ("applied", "recorded") else None}
                            for seq, status, rc, reason, _params in outcomes])
        _keep_params(conn, code, [o for o in outcomes if o.params])


def _keep_params(conn: Any, code: str, outcomes: list[Outcome]) -> None:
    """A parked event's params beside its sealed payload (reconcile lists excess collections by them)."""
    for o in outcomes:
        body = conn.execute(select(_EVENT.c.body).where(_EVENT.c.counter_code == code, _EVENT.c.seq == o.seq)).scalar()
        if isinstance(body, dict):
            conn.execute(update(_EVENT).where(_EVENT.c.counter_code == code, _EVENT.c.seq == o.seq).values(
                body={**body, PARAMS_KEY: json.loads(json.dumps(o.params, default=str))}))


def _keys(mod: ModuleType, ev: ReceivedEvent) -> set[str]:
    return {str(k) for k in mod.entity_keys(ev)}


def _blocked(app: "App", mod: ModuleType, code: str) -> set[str]:
    out: set[str] = set()
    with app.store.readonly_engine.connect() as conn, Session(bind=conn) as session:
        bodies = conn.execute(select(_EVENT.c.body).where(
            _EVENT.c.counter_code == code, _EVENT.c.status.in_(("parked", "waiting")))).scalars().all()
        for body in bodies:
            out |= _keys(mod, received_event(app, session, body))
    return out


def _outcome(seq: int, result: Any) -> Outcome:
    if isinstance(result, (Parked, DigitError)):
        # the batch path holds an event behind a parked one of its own batch as SYNC_WAITING
        status = "waiting" if result.code == "SYNC_WAITING" else "parked"
        return Outcome(seq, status, result.code, result.message, dict(result.params) or None)
    return Outcome(seq, "recorded" if result == "recorded" else "applied")


def _apply_one(app: "App", mod: ModuleType, seq: int, ev: ReceivedEvent) -> Outcome:
    try:
        return _outcome(seq, mod.apply_event(app, ev))
    except (Parked, DigitError) as err:
        return _outcome(seq, err)
    except DBAPIError:
        raise                  # the store is unwell: the event stays stored, the next run retries it
    except Exception as err:   # a bug in applying one event must not stop the counter's others
        return Outcome(seq, "parked", "HUB_APPLY_FAILED", f"{type(err).__name__}: {err}")


def _apply_chunk(app: "App", mod: ModuleType, chunk: list[tuple[int, ReceivedEvent]]) -> list[Outcome]:
    """Events with pairwise disjoint entities: through hub_apply.apply_events (the batch path)
    when it exists, else (or when the batch path fails on something) one by one."""
    batch = getattr(mod, "apply_events", None)
    if batch is not None and len(chunk) > 1:
        try:
            results = batch(app, [ev for _seq, ev in chunk])
            if len(results) == len(chunk):
                return [_outcome(seq, r) for (seq, _ev), r in zip(chunk, results)]
        except DBAPIError:
            raise
        except Exception:  # noqa: BLE001 - retried one by one below, where the culprit is parked alone
            log.exception("the batch apply path failed; applying one by one")
    return [_apply_one(app, mod, seq, ev) for seq, ev in chunk]


class _Run:
    """One pass over a counter's stored events, in sequence order."""

    def __init__(self, app: "App", mod: ModuleType, code: str, enrolled: str, blocked: set[str]) -> None:
        self.app, self.mod, self.code, self.enrolled, self.blocked = app, mod, code, enrolled, blocked
        self.chunk: list[tuple[int, ReceivedEvent]] = []
        self.chunk_keys: dict[int, set[str]] = {}
        self.counts = {"applied": 0, "recorded": 0, "parked": 0, "waiting": 0}

    def _done(self, outcomes: list[Outcome], keys: dict[int, set[str]]) -> None:
        for seq, status, *_rest in outcomes:
            self.counts[status] += 1
            if status in ("parked", "waiting"):
                self.blocked |= keys.get(seq, set())
        _write(self.app, self.code, outcomes)

    def flush(self) -> None:
        if self.chunk:
            chunk, keys = self.chunk, self.chunk_keys
            self.chunk, self.chunk_keys = [], {}
            self._done(_apply_chunk(self.app, self.mod, chunk), keys)

    def add(self, seq: int, ev: ReceivedEvent) -> None:
        keys = _keys(self.mod, ev)
        if any(keys & k for k in self.chunk_keys.values()):
            self.flush()                   # an earlier event on the same entity must be settled first
        held = sorted(keys & self.blocked)
        if held:
            self._done([Outcome(seq, "waiting", WAITING, f"waits behind a parked event on {held[0]}")], {seq: keys})
        elif not tenant_covered(self.enrolled, ev.tenant_id, ev.event_type):
            reason = f"counter {ev.counter_code} is enrolled at {self.enrolled}, not {ev.tenant_id}"
            self._done([Outcome(seq, "parked", NOT_ENROLLED, reason)], {seq: keys})
        else:
            self.chunk.append((seq, ev))
            self.chunk_keys[seq] = keys
            if len(self.chunk) >= CHUNK:
                self.flush()


def apply_counter(app: "App", code: str, limit: int = 1000) -> dict[str, int]:
    """Apply up to `limit` stored events of one counter, in sequence order: counts by outcome."""
    mod = applier()
    if mod is None:
        return {"applied": 0, "recorded": 0, "parked": 0, "waiting": 0}
    with exclusive(app, code) as mine:
        if not mine:
            return {"applied": 0, "recorded": 0, "parked": 0, "waiting": 0}
        with app.store.readonly_engine.connect() as conn, Session(bind=conn) as session:
            enrolled = conn.execute(select(HubCounter.tenant_id).where(HubCounter.code == code)).scalar()
            rows = [(int(seq), received_event(app, session, body)) for seq, body in conn.execute(
                select(_EVENT.c.seq, _EVENT.c.body).where(_EVENT.c.counter_code == code, _EVENT.c.status == "stored")
                .order_by(_EVENT.c.seq).limit(limit))]
        run = _Run(app, mod, code, str(enrolled), _blocked(app, mod, code) if rows else set())
        if enrolled is not None:
            for seq, ev in rows:
                run.add(seq, ev)
            run.flush()
    return run.counts


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


RELEASE_ACTION = "/digitctl/hub/events/_release"


def release(app: "App", ctx: "RequestContext", counter_code: str, seq: int | None = None) -> dict[str, Any]:
    """`digitctl hub release`: once the cause is fixed at the hub (a user created, a demand
    raised), try the counter's parked events again (only `seq`, when given) and every event
    waiting behind one; those still held back park or wait again. Audited; then applied."""
    from digitctl.domain.events import Event
    from digitctl.errors import NotFound
    from digitctl.services.access import authorize

    authorize(app, ctx, RELEASE_ACTION, app.state_tenant or ctx.tenant_id)
    with app.uow(ctx) as uow:
        counter = uow.session.get(HubCounter, counter_code, with_for_update=True)
        if counter is None:
            raise NotFound("SYNC_COUNTER_NOT_FOUND", f"no counter {counter_code!r} was enrolled at this hub",
                           {"counterCode": counter_code})
        which = (_EVENT.c.status == "waiting") | ((_EVENT.c.status == "parked") &
                                                  (_EVENT.c.seq == seq if seq is not None else _EVENT.c.seq > 0))
        released = list(uow.session.execute(select(_EVENT.c.seq).where(
            _EVENT.c.counter_code == counter_code, which).order_by(_EVENT.c.seq)).scalars())
        if seq is not None and uow.session.execute(select(_EVENT.c.seq).where(
                _EVENT.c.counter_code == counter_code, _EVENT.c.seq == seq, _EVENT.c.status == "parked")).first() is None:
            raise NotFound("SYNC_EVENT_NOT_PARKED", f"counter {counter_code} has no parked event {seq}",
                           {"counterCode": counter_code, "seq": seq})
        uow.session.execute(update(_EVENT).where(_EVENT.c.counter_code == counter_code, which).values(
            status="stored", reason_code=None, reason=None))
        after = {"counterCode": counter_code, "released": released}
        uow.record(Event("hub.events.released", counter.tenant_id, "HubCounter", counter_code, RELEASE_ACTION,
                         after, after=after))
        uow.commit()
    return {"counterCode": counter_code, "released": len(released), **apply_counter(app, counter_code)}
