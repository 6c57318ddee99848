"""The counter's side of `digitctl sync pull` (sync/PROTOCOL.md, "Down"): where each stream's
cursor stands, and applying one page the hub sent.

A page is applied in ONE unit of work that also moves the stream's cursor (store_meta
`sync_pull_cursor.<stream>`): a crash before its commit leaves the old cursor, so the page is
pulled again (applying is idempotent: upserts by the hub's ids), never skipped. The rows go
through the owning service (demands_pulled for demands, payments_pulled for payments taken
elsewhere ...) and are sealed with the page's audit record; the page writes one `sync.pull.applied`
event (stream, count, cursor: the audit trail of what came down), not one event per row, so what
came from the hub is never pushed back as this counter's doing (it would loop)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain.events import Event
from digitctl.services import (applications_pulled, demands_pulled, mdms_pulled, payments_pulled, users_pulled,
                               workflow_pulled)
from local_store.models import OutboxEvent, Payment, StoreMeta

if TYPE_CHECKING:
    from digitctl.ports import App
    from local_store.uow import UnitOfWork

CURSOR_KEY = "sync_pull_cursor.{stream}"
LAST_PULL = "sync_last_pull"
ACKED_SEQ = "sync_acked_seq"
PULL_OPERATION = "/sync/v1/changes/_pull"


def cursor_of(app: "App", stream: str) -> str | None:
    with app.store.readonly_engine.connect() as conn:
        value = conn.execute(select(StoreMeta.value).where(
            StoreMeta.key == CURSOR_KEY.format(stream=stream))).scalar_one_or_none()
    return None if value in (None, "") else str(value)


ACCOUNT_CHANGES = ("user.created", "user.updated", "user.locked", "user.unlocked", "user.password.changed")


def _unacked(uow: "UnitOfWork", entity_type: str) -> set[str]:
    """Ids of `entity_type` this counter changed (a login is no change) that the hub has not
    acknowledged yet."""
    acked = int(uow.meta(ACKED_SEQ) or 0)
    return set(uow.session.execute(select(OutboxEvent.entity_id).where(
        OutboxEvent.entity_type == entity_type, OutboxEvent.event_type.in_(ACCOUNT_CHANGES),
        OutboxEvent.counter_seq.is_not(None), OutboxEvent.counter_seq > acked)).scalars())


def _held(uow: "UnitOfWork") -> set[tuple[str, str, str]]:
    """(tenant, service, consumer code) of payments here the hub has not acknowledged yet."""
    s = uow.session
    acked = int(uow.meta(ACKED_SEQ) or 0)
    ids = list(s.execute(select(OutboxEvent.entity_id).where(
        OutboxEvent.entity_type == "Payment", OutboxEvent.counter_seq.is_not(None),
        OutboxEvent.counter_seq > acked)).scalars())
    if not ids:
        return set()
    rows = s.execute(select(Payment.tenant_id, Payment.business_service, Payment.consumer_code)
                     .where(Payment.id.in_(ids))).all()
    return {(str(t), str(b), str(c)) for t, b, c in rows}


def apply_page(app: "App", stream: str, page: dict[str, Any]) -> int:
    """Apply one page of `stream` and move its cursor, in one transaction; rows written."""
    items = page.get("items") or []
    with app.uow(app.base_context()) as uow:
        now = uow.ctx.now()
        if stream == "demands":
            written = demands_pulled.store(app, uow, items, now, _held(uow))
        elif stream == "mdms":
            written = mdms_pulled.store(uow, page, now)
        elif stream == "workflow":
            written = workflow_pulled.store(uow, items, now)
        elif stream == "applications":
            written = applications_pulled.store(app, uow, items,
                                                applications_pulled.unacked(uow, int(uow.meta(ACKED_SEQ) or 0)))
        elif stream == "payments":
            written = payments_pulled.store(app, uow, items, now, uow.meta("counter_code"))
        elif stream == "users":
            written = users_pulled.store(app, uow, items, now, _unacked(uow, "User"))
        else:
            raise ValueError(f"no such stream {stream}")
        cursor = str(page.get("cursor") or "")
        uow.set_meta(CURSOR_KEY.format(stream=stream), cursor)
        uow.set_meta(LAST_PULL, now.isoformat())
        if items:
            uow.record(Event("sync.pull.applied", str(page.get("tenantId") or app.state_tenant or "*"), "SyncPull", stream, PULL_OPERATION,
                             {"stream": stream, "received": len(items), "written": written},
                             after={"stream": stream, "received": len(items), "written": written}))
        uow.commit()
    if stream == "mdms" and written:
        app.mdms.invalidate()                # the cached masters are the old ones
    return written


def cursors(app: "App", streams: tuple[str, ...]) -> dict[str, str | None]:
    return {s: cursor_of(app, s) for s in streams}


__all__ = ["apply_page", "cursor_of", "cursors"]
