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


@pytest.fixture(params=["one by one", "batch path"])
def applied(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fake hub_apply: parks an event whose payload says so, records logins, applies the rest;
    with or without the batch path (apply_events)."""
    seen: list[int] = []
    batches: list[list[int]] = []
    fake = types.ModuleType("digitctl.services.hub_apply")

    def apply_event(app: App, ev: ReceivedEvent) -> str | None:
        seen.append(ev.seq)
        if ev.payload.get("park"):
            raise Parked("EXCESS_COLLECTION", "the bill was paid already at another counter",
                         {"consumerCode": "TL-CC-9", "receiptNumber": "PB-TL-C02-1", "amount": "100.00"})
        return "recorded" if ev.event_type == "user.login" else None

    def entity_keys(ev: ReceivedEvent) -> list[str]:
        return [f"{ev.entity_type}:{ev.entity_id}"]

    def apply_events(app: App, events: list[ReceivedEvent]) -> list[Any]:
        batches.append([ev.seq for ev in events])
        out: list[Any] = []
        for ev in events:
            try:
                out.append(apply_event(app, ev))
            except Parked as p:
                out.append(p)
        return out

    fake.apply_event = apply_event  # type: ignore[attr-defined]
    fake.entity_keys = entity_keys  # type: ignore[attr-defined]
    if request.param == "batch path":
        fake.apply_events = apply_events  # type: ignore[attr-defined]
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
    assert report["Parked"][0]["params"] == {"consumerCode": "TL-CC-9", "receiptNumber": "PB-TL-C02-1",
                                             "amount": "100.00"}
    assert [(p["seq"], p["status"], p["code"]) for p in report["Parked"]] == [
        (1, "parked", "EXCESS_COLLECTION"), (3, "waiting", hub_applyloop.WAITING),
        (5, "parked", hub_applyloop.NOT_ENROLLED)]
    assert [(e["seq"], e["consumerCode"], e["receiptNumber"], e["amount"], e["counterCode"])
            for e in report["ExcessCollections"]] == [(1, "TL-CC-9", "PB-TL-C02-1", "100.00", counter.code)]
    # reconcile for one tenant: the foreign-tenant event is another tenant's business
    assert [p["seq"] for p in hub_reconcile.reconcile(hub, hub.context(), "pb.jalandhar")["Parked"]] == [5]
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
    # the operator is not told all is well while an event waits unapplied
    [waiting] = hub_reconcile.reconcile(hub, hub.context())["Parked"]
    assert (waiting["seq"], waiting["status"], waiting["code"]) == (1, "stored", hub_reconcile.NOT_APPLIED)
    assert "digitctl hub apply" in waiting["message"]


def test_a_citizen_at_the_state_is_the_city_counters_business() -> None:
    assert hub_applyloop.tenant_covered("pb.amritsar", "pb", "user.created")
    assert not hub_applyloop.tenant_covered("pb.amritsar", "pb", "collection.payment.created")
    assert not hub_applyloop.tenant_covered("pb.amritsar", "pb.amritsarx", "collection.payment.created")


def test_a_released_event_is_tried_again_with_its_waiters(hub: App, counter: FakeCounter, push: Any,
                                                          applied: list[int]) -> None:
    from digitctl.errors import NotFound

    push(counter, [counter.event(entity_id="P1", payload={"park": True}),
                   counter.event("collection.payment.cancelled", entity_id="P1")])
    hub_applyloop.apply_pending(hub)
    assert [s for _seq, s, _rc in _statuses(hub, counter.code)] == ["parked", "waiting"]
    with pytest.raises(NotFound):
        hub_applyloop.release(hub, hub.context(), counter.code, seq=2)      # 2 waits, it is not parked
    # still unfixable: it parks again and its waiter waits again
    again = hub_applyloop.release(hub, hub.context(), counter.code, seq=1)
    assert (again["released"], again["parked"], again["waiting"]) == (2, 1, 1)
    # the cause fixed at the hub: both go through, in order
    sys.modules["digitctl.services.hub_apply"].apply_event = lambda app, ev: applied.append(ev.seq)  # type: ignore[attr-defined]
    sys.modules["digitctl.services.hub_apply"].__dict__.pop("apply_events", None)
    done = hub_applyloop.release(hub, hub.context(), counter.code)
    assert (done["released"], done["applied"]) == (2, 2)
    assert [s for _seq, s, _rc in _statuses(hub, counter.code)] == ["applied", "applied"]
    assert applied[-2:] == [1, 2]


def test_one_applier_per_counter_and_the_next_waits_for_it(hub: App) -> None:
    import threading

    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with hub_applyloop.exclusive(hub, "C09") as mine:
            assert mine
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(10)
    with hub_applyloop.exclusive(hub, "C09", wait=0.2) as mine:
        assert not mine                                 # busy: another applier has the counter
    with hub_applyloop.exclusive(hub, "C10", wait=0.2) as mine:
        assert mine                                     # other counters are not held up
    threading.Timer(0.3, release.set).start()
    with hub_applyloop.exclusive(hub, "C09", wait=10) as mine:
        assert mine                                     # it waited for the holder to finish
    t.join()


@pytest.fixture
def pg_hub(pg_url: str, frozen_clock: Any, store_templates: Any) -> Any:
    """A hub store on PostgreSQL only (the cross-process lock is PostgreSQL's advisory lock)."""
    from tests.conftest import _build_state, _templated_app

    yield from _templated_app(store_templates, "state", _build_state, pg_url, frozen_clock)


@pytest.mark.postgres
def test_another_hub_process_holding_the_counter_is_respected(pg_hub: App) -> None:
    from sqlalchemy import create_engine, text

    hub = pg_hub
    other = create_engine(hub.store_url)            # another worker process's connection
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": hub_applyloop._lock_key("C09")})
            with hub_applyloop.exclusive(hub, "C09", wait=0.3) as mine:
                assert not mine
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": hub_applyloop._lock_key("C09")})
        with hub_applyloop.exclusive(hub, "C09", wait=0.3) as mine:
            assert mine
    finally:
        other.dispose()


def test_a_hub_that_stopped_before_applying_applies_at_its_next_start(hub: App, counter: FakeCounter, push: Any,
                                                                     applied: list[int],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    import sync.hub_app as hub_app_module

    push(counter, [counter.event(), counter.event()])          # stored; the process "died" before applying
    assert _statuses(hub, counter.code) == [(1, "stored", None), (2, "stored", None)]
    monkeypatch.setattr(hub_app_module.bootstrap, "build", lambda url: hub)
    monkeypatch.setattr(hub, "close", lambda: None)             # the fixture closes it
    with TestClient(hub_app_module.create_app(str(hub.store.engine.url))) as client:
        assert client.get("/health").status_code == 200
    assert _statuses(hub, counter.code) == [(1, "applied", None), (2, "applied", None)]
    assert hub_reconcile.reconcile(hub, hub.context())["Parked"] == []
