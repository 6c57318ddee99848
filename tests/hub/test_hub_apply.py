"""The hub's apply loop: stored events go through hub_apply.apply_event in sequence order per
counter; a parked event holds back later events on its entities only; a tenant the counter was
not enrolled for is parked without being applied. hub_apply is replaced by a fake here (the
real one is another module's business: only its interface is relied on)."""
from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from sqlalchemy import select

from digitctl.bootstrap import App
from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.services import hub_applyloop, hub_reconcile
from local_store.models import HubEvent
from tests.hub.fake_counter import FakeCounter


@pytest.fixture
def applied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fake hub_apply: parks an event whose payload says so, records logins, applies the rest."""
    seen: list[int] = []
    fake = types.ModuleType("digitctl.services.hub_apply")

    def apply_event(app: App, ev: ReceivedEvent) -> str | None:
        seen.append(ev.seq)
        if ev.payload.get("park"):
            raise Parked("EXCESS_COLLECTION", "the bill was paid already at another counter")
        return "recorded" if ev.event_type == "user.login" else None

    def entity_keys(ev: ReceivedEvent) -> list[str]:
        return [f"{ev.entity_type}:{ev.entity_id}"]

    fake.apply_event = apply_event  # type: ignore[attr-defined]
    fake.entity_keys = entity_keys  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "digitctl.services.hub_apply", fake)
    return seen


def _statuses(hub: App, code: str) -> list[tuple[int, str, str | None]]:
    with hub.store.readonly_engine.connect() as conn:
        return [(r.seq, r.status, r.reason_code) for r in conn.execute(
            select(HubEvent.seq, HubEvent.status, HubEvent.reason_code).where(HubEvent.counter_code == code)
            .order_by(HubEvent.seq))]


def test_a_parked_event_holds_back_only_its_entity(hub: App, counter: FakeCounter, push: Any,
                                                   applied: list[int]) -> None:
    events = [counter.event(entity_id="P1", payload={"park": True}),   # parked
              counter.event(entity_id="P2"),                           # other entity: applied
              counter.event("collection.payment.cancelled", entity_id="P1"),   # waits behind seq 1
              counter.event("user.login", entity_id="U1"),             # recorded
              counter.event(entity_id="P3", tenant="pb.jalandhar")]    # not the counter's tenant
    push(counter, events)
    counts = hub_applyloop.apply_pending(hub)
    assert counts == {"applied": 1, "recorded": 1, "parked": 2, "waiting": 1}
    assert _statuses(hub, counter.code) == [(1, "parked", "EXCESS_COLLECTION"), (2, "applied", None),
                                            (3, "waiting", hub_applyloop.WAITING), (4, "recorded", None),
                                            (5, "parked", hub_applyloop.NOT_ENROLLED)]
    assert applied == [1, 2, 4]          # the waiting and the foreign-tenant events never reached apply
    report = hub_reconcile.reconcile(hub, hub.context())
    assert [(p["seq"], p["status"], p["code"]) for p in report["Parked"]] == [
        (1, "parked", "EXCESS_COLLECTION"), (3, "waiting", hub_applyloop.WAITING),
        (5, "parked", hub_applyloop.NOT_ENROLLED)]
    assert [e["seq"] for e in report["ExcessCollections"]] == [1]
    # a later batch: an event on the parked entity still waits, others apply
    more = [counter.event("collection.payment.cancelled", entity_id="P1"), counter.event(entity_id="P4")]
    push(counter, more, events[-1]["audit"]["seq"])
    hub_applyloop.apply_pending(hub, counter.code)
    assert _statuses(hub, counter.code)[5:] == [(6, "waiting", hub_applyloop.WAITING), (7, "applied", None)]


def test_apply_is_resumable_and_applies_each_event_once(hub: App, counter: FakeCounter, push: Any,
                                                        applied: list[int]) -> None:
    push(counter, [counter.event() for _ in range(5)])
    hub_applyloop.apply_pending(hub, limit=2)
    hub_applyloop.apply_pending(hub)
    hub_applyloop.apply_pending(hub)
    assert applied == [1, 2, 3, 4, 5]


def test_without_hub_apply_events_stay_stored(hub: App, counter: FakeCounter, push: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_applyloop, "applier", lambda: None)
    push(counter, [counter.event()])
    assert hub_applyloop.apply_pending(hub) == {"applied": 0, "recorded": 0, "parked": 0, "waiting": 0}
    assert _statuses(hub, counter.code) == [(1, "stored", None)]


def test_a_citizen_at_the_state_is_the_city_counters_business() -> None:
    assert hub_applyloop.tenant_covered("pb.amritsar", "pb", "user.created")
    assert not hub_applyloop.tenant_covered("pb.amritsar", "pb", "collection.payment.created")
    assert not hub_applyloop.tenant_covered("pb.amritsar", "pb.amritsarx", "collection.payment.created")
