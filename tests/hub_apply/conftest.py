"""A COUNTER store and a HUB store made from the same template (the world: the bundled state,
the real access records, workflows and demo users, plus the TL fee rates), so that the hub knows
the counter's users; `push(counter, hub)` carries the counter's new outbox events (as the wire
has them: hub_apply_wire.outbox_events) to hub_apply.apply_event."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from digitctl.bootstrap import build
from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.services import hub_apply, mdms, shifts
from digitctl.services.hub_apply_wire import outbox_events
from local_store.models import StoreMeta
from tests.helpers import FEE_RATES, ctx_as

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def hub_url(store_backend: str, tmp_path: Path) -> Iterator[str]:
    """A second store on the same backend as the counter's (store_backend)."""
    if store_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    import psycopg

    name = f"digitctl_hub_{uuid.uuid4().hex[:8]}"
    server = PG_SERVER.replace("+psycopg", "")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_fee_rates(app: Any) -> Any:
    mdms.apply(app, app.context("pb"), [FEE_RATES])
    return app


@pytest.fixture
def counter(world_app: Any) -> Any:
    return _with_fee_rates(world_app)


@pytest.fixture
def hub(hub_url: str, frozen_clock: Any, store_templates: Any, world_builder: Any) -> Iterator[Any]:
    store_templates.materialize("world", world_builder, hub_url)
    app = build(hub_url, frozen_clock)
    with app.store.engine.begin() as conn:      # the hub takes payments of its own under another code
        conn.execute(update(StoreMeta).where(StoreMeta.key == "counter_code").values(value="H01"))
    try:
        yield _with_fee_rates(app)
    finally:
        app.close()


class Wire:
    """The counter's events after the fixtures' set-up, in order, as the hub receives them."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.since = max([e.seq for e in outbox_events(counter, 0, 100_000)] or [0])
        self.start = self.since

    def all(self) -> list[ReceivedEvent]:
        """Every event since the set-up again (a retry after a crash)."""
        return outbox_events(self.counter, self.start, 100_000)

    def take(self) -> list[ReceivedEvent]:
        events = outbox_events(self.counter, self.since, 100_000)
        if events:
            self.since = events[-1].seq
        return events


def apply_all(hub: Any, events: list[ReceivedEvent], **kw: Any) -> list[str | Parked]:
    out: list[str | Parked] = []
    for ev in events:
        try:
            out.append(hub_apply.apply_event(hub, ev, **kw))
        except Parked as parked:
            out.append(parked)
    return out


@pytest.fixture
def wire(counter: Any) -> Wire:
    return Wire(counter)


@pytest.fixture
def clerk(counter: Any, wire: Wire) -> Any:
    """clerk.amritsar with a shift open at the counter (its event waits on the wire)."""
    ctx = ctx_as(counter, "clerk.amritsar")
    shifts.open_shift(counter, ctx, "1000")
    return ctx
