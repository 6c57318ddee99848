"""Hub fixtures: a hub store (the bundled state's masters; the operator acts as the local
administrator) and a counter enrolled and registered with it."""
from __future__ import annotations

from typing import Any

import pytest

from digitctl.bootstrap import App
from digitctl.services import hub_counters, hub_ingest
from tests.hub.fake_counter import FakeCounter


@pytest.fixture
def hub(state_app: App) -> App:
    return state_app


def enrol_and_register(hub: App, tenant: str = "pb.amritsar", name: str = "Amritsar counter 2") -> FakeCounter:
    enrolled = hub_counters.enrol(hub, hub.context(), tenant, name)
    counter = FakeCounter(tenant)
    answer = hub_ingest.register(hub, counter.register_body(enrolled["enrolmentCode"]))
    counter.code = answer["counterCode"]
    return counter


@pytest.fixture
def counter(hub: App) -> FakeCounter:
    return enrol_and_register(hub)


@pytest.fixture
def push(hub: App) -> Any:
    """push(counter, events, audit_after=None, **batch_kw) -> (status, response) through the service."""
    def run(counter: FakeCounter, events: list[dict[str, Any]], audit_after: int | None = None,
            **kw: Any) -> tuple[int, dict[str, Any]]:
        after = counter.setup_records if audit_after is None else audit_after
        doc = counter.batch(events, after, **kw)
        return hub_ingest.push(hub, counter.signed("/sync/v1/events/_push", doc, hub.clock.now()))

    return run
