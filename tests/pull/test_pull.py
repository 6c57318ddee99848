"""Issue 12 from the counter's side, against the real hub app in process (FastAPI's test
transport): the state's demands come down with `sync pull`; two counters offline pay the same
demands; after push the hub lists exactly those excesses, after pull both counters show the demands
paid, and their demands match the hub's."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from sqlalchemy import select

from digitctl.bootstrap import App, build
from digitctl.clock import FixedClock
from digitctl.services import billing, collection, hub_counters, hub_reconcile, shifts, sync_outbox, sync_pull
from local_store.models import Demand, DemandDetail
from sync.pull import pull
from sync.push import client_for, push, refresh_status
from tests.helpers import AMRITSAR, ctx_as, demand
from tests.sync.support import quickstart_copy, register

HUB = "http://testserver"


@pytest.fixture
def world(tmp_path: Path, store_templates: Any, frozen_clock: FixedClock,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from fastapi.testclient import TestClient

    import sync.hub_app as hub_app_module

    hub_url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = quickstart_copy(store_templates, hub_url, frozen_clock)
    counters = [quickstart_copy(store_templates, f"sqlite:///{tmp_path / f'c{i}.db'}", frozen_clock) for i in (1, 2)]
    monkeypatch.setattr(hub_app_module.bootstrap, "build", lambda url: build(url, frozen_clock))
    client = TestClient(hub_app_module.create_app(hub_url))
    monkeypatch.setattr("sync.client.default_transport", client._transport)
    with stamina.set_testing(True, attempts=2):
        try:
            yield {"hub": hub, "counters": counters}
        finally:
            client.close()
            for app in [hub, *counters]:
                app.close()


def enrol(hub: App, counter: App, name: str) -> str:
    enrolled = hub_counters.enrol(hub, hub.context(), AMRITSAR, name)
    return str(register(counter, HUB, enrolled["enrolmentCode"])["counterCode"])


def pull_all(app: App) -> Any:
    """Every stream, demands in pages of 2 (many pages: resumable steps to test); the other streams
    (a thousand masters) in the client's own pages, as a counter pulls them."""
    from sync.pull import STREAMS, PullSummary

    at = STREAMS.index("demands")
    summary = PullSummary()
    with client_for(app) as client:
        for streams, size in ((STREAMS[:at], 1000), (("demands",), 2), (STREAMS[at + 1:], 1000)):
            part = pull(app, client, streams=streams, page_size=size)
            summary.pages += part.pages
            summary.received.update(part.received)
            summary.written.update(part.written)
    return summary


def demands_of(app: App, codes: list[str]) -> list[tuple[Any, ...]]:
    with app.store.engine.connect() as conn:
        return sorted(conn.execute(select(Demand.id, Demand.consumer_code, Demand.status, DemandDetail.id,
                                          DemandDetail.tax_head_code, DemandDetail.tax_amount_paise,
                                          DemandDetail.collection_amount_paise)
                                   .join(DemandDetail, DemandDetail.demand_id == Demand.id)
                                   .where(Demand.consumer_code.in_(codes))).all())


def pay_cash(app: App, consumer: str, rupees: str) -> str:
    clerk = ctx_as(app, "clerk.amritsar")
    [bill] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code=consumer, business_service="TL")
    doc = collection.pay(app, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount=rupees)
    return str(doc["paymentDetails"][0]["receiptNumber"])


def test_two_counters_pay_the_same_pulled_demands_and_converge(world: dict[str, Any]) -> None:
    hub, (c1, c2) = world["hub"], world["counters"]
    codes = [f"PULL-{i}" for i in range(5)]
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"),
                           [demand(c, lines=(("TL_TAX", str(500 + i), "0"),)) for i, c in enumerate(codes)])
    assert [enrol(hub, c1, "Counter 1"), enrol(hub, c2, "Counter 2")] == ["C02", "C03"]
    for counter in (c1, c2):
        first = pull_all(counter)
        assert first.received["demands"] >= 5 and first.pages >= 3          # pages of 2: resumable steps
        assert demands_of(counter, codes) == demands_of(hub, codes)
        assert sync_pull.cursor_of(counter, "demands")
        shifts.open_shift(counter, ctx_as(counter, "clerk.amritsar"), "0")

    # both offline: each pays PULL-0 and PULL-1 (the same dues); C03 also PULL-2 alone
    r1 = [pay_cash(c1, codes[i], str(500 + i)) for i in (0, 1)]
    r2 = [pay_cash(c2, codes[i], str(500 + i)) for i in (0, 1, 2)]
    for counter in (c1, c2):
        with client_for(counter) as client:
            assert push(counter, client).unsynced == 0

    report = hub_reconcile.reconcile(hub, hub.context())
    assert sorted((x["counterCode"], x["receiptNumber"], x["consumerCode"], x["amount"])
                  for x in report["ExcessCollections"]) == [("C03", r2[0], "PULL-0", "500.00"),
                                                            ("C03", r2[1], "PULL-1", "501.00")]
    assert report["Parked"] == []
    assert r1

    for counter in (c1, c2):
        pull_all(counter)
        got = demands_of(counter, codes)
        assert got == demands_of(hub, codes)                                  # converged
        paid = {row[1] for row in got if row[5] == row[6]}
        assert {"PULL-0", "PULL-1", "PULL-2"} <= paid and "PULL-3" not in paid
    with client_for(c2) as client:
        refresh_status(c2, client)
    assert sorted(x["receiptNumber"] for x in sync_outbox.status(c2)["excess"]) == sorted(r2[:2])
    assert sync_outbox.status(c1)["excess"] == []

    # the state's day book: the consolidated register adds up to each counter's own day book
    from decimal import Decimal

    from digitctl.services import hub_daybook, reports

    state_book = hub_daybook.daybook(hub, hub.context(), AMRITSAR, None)
    assert state_book["addsUp"]
    by_code = {c["counterCode"]: c for c in state_book["Counters"]}
    for counter, code in ((c1, "C02"), (c2, "C03")):
        own = reports.daybook(counter, ctx_as(counter, "supervisor.amritsar"), tenant_id=AMRITSAR, counter=code)
        assert Decimal(by_code[code]["grandTotal"]) == Decimal(own["grandTotal"]["amount"]) > 0
        assert by_code[code]["dayEnd"]["status"] == "shiftOpen"          # pushed, but its shift is not closed
    assert Decimal(by_code["C03"]["grandTotal"]) == Decimal("1503.00")   # both excess receipts stand in it

    # nothing new at the hub: a delta pull brings nothing, and pulled rows never travel back as events
    again = pull_all(c1)
    assert again.received["demands"] == 0

    # the pulled rows (demands new and changed, bills expired) are sealed: the chain vouches for them
    from digitctl.services import audit, store_health

    for counter in (c1, c2):
        assert audit.verify(counter, counter.context()).problem is None
        assert store_health.money(counter).problems == []


def test_sync_run_pushes_and_pulls_and_stays_quiet_while_the_hub_is_away(world: dict[str, Any],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from sync.run import run

    hub, (c1, _c2) = world["hub"], world["counters"]
    enrol(hub, c1, "Counter 1")
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"), [demand("RUN-1", lines=(("TL_TAX", "700", "0"),))])
    said: list[str] = []
    assert run(c1, 0, rounds=1, say=said.append, sleep=lambda _s: None) == 1
    assert demands_of(c1, ["RUN-1"]) == demands_of(hub, ["RUN-1"]) and said and "pulled" in said[0]

    def down(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host")

    monkeypatch.setattr("sync.client.default_transport", httpx.MockTransport(down))
    said.clear()
    shifts.open_shift(c1, ctx_as(c1, "clerk.amritsar"), "0")
    pay_cash(c1, "RUN-1", "700")                       # the counter keeps working offline
    assert run(c1, 0, rounds=3, say=said.append, sleep=lambda _s: None) == 3
    assert said == ["hub unreachable: working offline, will retry"]      # once, not every round
    assert sync_outbox.status(c1)["unsynced"] > 0


def test_an_employee_enrolled_at_the_state_logs_in_at_the_counter_offline(world: dict[str, Any]) -> None:
    from digitctl import session
    from digitctl.domain.identity import NewUser
    from digitctl.errors import DigitError
    from digitctl.services import users

    hub, (c1, c2) = world["hub"], world["counters"]
    enrol(hub, c1, "Counter 1")
    users.create_user(hub, hub.context(), NewUser(
        user_name="clerk2.amritsar", name="Harpreet Singh", type="EMPLOYEE", tenant_id=AMRITSAR,
        mobile="9876511111", roles=[("EMPLOYEE", AMRITSAR), ("CSR", AMRITSAR)], password="Counter@2026"))
    users.create_user(hub, hub.context(), NewUser(
        user_name="clerk.jalandhar2", name="Not Amritsar", type="EMPLOYEE", tenant_id="pb.jalandhar",
        roles=[("EMPLOYEE", "pb.jalandhar")], password="Counter@2026"))
    done = pull_all(c1)
    assert done.received["users"] >= 1
    ok = session.login(c1, c1.context(AMRITSAR), "clerk2.amritsar", "Counter@2026", AMRITSAR)
    assert ok.user_name == "clerk2.amritsar" and ("CSR", AMRITSAR) in ok.roles
    shown = users.show_user(c1, c1.context(), "clerk2.amritsar", AMRITSAR)
    assert "Harpreet Singh" in str(shown) and "9876511111" in str(shown)     # opened with the counter's keys
    with pytest.raises(DigitError):                       # another tenant's people never come down
        users.show_user(c1, c1.context(), "clerk.jalandhar2", "pb.jalandhar")

    # locked at the hub: after the next pull the counter refuses the login and its sessions end
    users.set_locked(hub, hub.context(), "clerk2.amritsar", True, AMRITSAR)
    assert pull_all(c1).received["users"] == 1
    with pytest.raises(DigitError):
        session.login(c1, c1.context(AMRITSAR), "clerk2.amritsar", "Counter@2026", AMRITSAR)
    with pytest.raises(DigitError):
        session.actor_for_token(c1, c1.context(), ok.token)


def test_from_the_commands_enrol_register_pull_run_and_the_state_day_book(world: dict[str, Any]) -> None:
    from tests.sync.support import cli_ok, login_admin

    hub, (c1, _c2) = world["hub"], world["counters"]
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"),
                           [demand(f"CLI-{i}", lines=(("TL_TAX", "300", "0"),)) for i in range(3)])
    login_admin(hub.store_url)
    enrolled = cli_ok(hub.store_url, "-o", "json", "hub", "enrol", "--tenant", AMRITSAR, "--name", "Counter 1")
    login_admin(c1.store_url)
    cli_ok(c1.store_url, "-o", "json", "sync", "register", "--hub", HUB, "--code", enrolled["enrolmentCode"])
    pulled = cli_ok(c1.store_url, "-o", "json", "sync", "pull", "--page", "2")
    assert pulled["received"]["demands"] >= 3 and pulled["pages"] >= 3
    assert demands_of(c1, ["CLI-0", "CLI-1", "CLI-2"]) == demands_of(hub, ["CLI-0", "CLI-1", "CLI-2"])
    again = cli_ok(c1.store_url, "-o", "json", "sync", "pull")
    assert again["received"] == {"mdms": 0, "workflow": 0, "users": 0, "demands": 0, "payments": 0,
                                 "applications": 0}
    ran = cli_ok(c1.store_url, "-o", "json", "sync", "run", "--interval", "1", "--rounds", "1")
    assert ran == {"rounds": 1}

    # the state's day book: the hub's own demo shift (C01) is still open, so the day end is not complete
    book = cli_ok(hub.store_url, "-o", "json", "hub", "daybook", "--tenant", AMRITSAR, code=1)
    assert book["addsUp"] is True and book["complete"] is False
    by_code = {c["counterCode"]: c["dayEnd"]["status"] for c in book["Counters"]}
    assert by_code["C01"] == "shiftOpen" and by_code[enrolled["counterCode"]] in ("complete", "shiftOpen")


def test_masters_changed_at_the_state_come_down_with_its_mdms_version(world: dict[str, Any], tmp_path: Path) -> None:
    import json

    from digitctl.services import mdms
    from local_store.models import MdmsRecord
    from tests.helpers import FEE_RATES

    hub, (c1, _c2) = world["hub"], world["counters"]
    enrol(hub, c1, "Counter 1")
    pull_all(c1)

    def records(app: App) -> list[tuple[Any, ...]]:
        with app.store.engine.connect() as conn:
            return sorted(conn.execute(select(MdmsRecord.tenant_id, MdmsRecord.module, MdmsRecord.master,
                                              MdmsRecord.unique_key, MdmsRecord.data_hash, MdmsRecord.is_active)
                                       .where(MdmsRecord.tenant_id.in_(("pb", AMRITSAR)))).all())

    rates = json.loads(FEE_RATES.read_text())
    rates["FeeRates"][1]["rate"] = "950"                         # the state changes a fee rate
    changed = tmp_path / "TradeLicense" / "FeeRates.json"
    changed.parent.mkdir()
    changed.write_text(json.dumps(rates))
    mdms.apply(hub, hub.context("pb"), [changed])
    assert records(c1) != records(hub)
    done = pull_all(c1)
    assert done.written["mdms"] > 0
    a, b = set(records(c1)), set(records(hub))
    assert not (a ^ b), sorted(a ^ b)[:6]                          # converged
    assert c1.store_meta("mdms_version") == hub.store_meta("mdms_version")
    assert pull_all(c1).received["mdms"] == 0


def test_a_new_workflow_version_at_the_state_becomes_current_at_the_counter(world: dict[str, Any],
                                                                              tmp_path: Path) -> None:
    import json

    from digitctl.services import workflow_definitions
    from local_store.models import WfBusinessService

    hub, (c1, _c2) = world["hub"], world["counters"]
    enrol(hub, c1, "Counter 1")
    pull_all(c1)
    doc = json.loads((Path(__file__).resolve().parents[2] / "configs" / "workflows" /
                      "PGR.businessservice.json").read_text())
    for bs in doc["BusinessServices"]:
        bs["businessServiceSla"] = int(bs.get("businessServiceSla") or 0) + 3_600_000   # the state's new SLA
    changed = tmp_path / "PGR.businessservice.json"
    changed.write_text(json.dumps(doc))
    workflow_definitions.apply(hub, hub.context("pb"), [changed])

    def current(app: App) -> list[tuple[Any, ...]]:
        with app.store.engine.connect() as conn:
            return sorted(conn.execute(select(WfBusinessService.tenant_id, WfBusinessService.code,
                                              WfBusinessService.version, WfBusinessService.definition_hash)
                                       .where(WfBusinessService.is_current.is_(True))).all())

    assert current(c1) != current(hub)
    assert pull_all(c1).written["workflow"] >= 1
    assert current(c1) == current(hub)


def test_an_action_on_a_stale_copy_is_parked_marked_in_the_inbox_and_the_hubs_state_comes_down(
        world: dict[str, Any]) -> None:
    from digitctl.services import inbox
    from local_store.models import WfCurrent
    from tests.helpers import act, new_tl

    hub, (c1, _c2) = world["hub"], world["counters"]
    enrol(hub, c1, "Counter 1")
    no = new_tl(hub)
    act(hub, "clerk.amritsar", no, "APPLY")                     # made and applied for at the state
    pull_all(c1)
    verifier = ctx_as(c1, "verifier.amritsar")
    [item] = [i for i in inbox.inbox(c1, verifier)["items"] if i["applicationNo"] == no]
    assert "syncConflict" not in item

    act(hub, "verifier.amritsar", no, "FORWARD")                 # someone at the state acts first
    act(c1, "verifier.amritsar", no, "FORWARD")                  # the counter, offline, on its stale copy
    with client_for(c1) as client:
        pushed = push(c1, client)
    assert [p["code"] for p in pushed.parked] == ["STATE_CHANGED"]
    with client_for(c1) as client:
        refresh_status(c1, client)
    assert [p["code"] for p in sync_outbox.status(c1)["parked"]] == ["STATE_CHANGED"]
    [item] = [i for i in inbox.inbox(c1, ctx_as(c1, "inspector.amritsar"))["items"] if i["applicationNo"] == no]
    assert item["syncConflict"]["code"] == "STATE_CHANGED"

    pull_all(c1)                                                 # the hub's history replaces the stale one

    def wf(app: App) -> Any:
        with app.store.engine.connect() as conn:
            return conn.execute(select(WfCurrent.state, WfCurrent.seq_no, WfCurrent.last_action)
                                .where(WfCurrent.business_id == no)).one()

    assert wf(c1) == wf(hub)


def test_a_pull_cut_off_mid_page_resumes_without_skipping(world: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from digitctl.services import demands_pulled

    hub, (c1, _c2) = world["hub"], world["counters"]
    codes = [f"CUT-{i}" for i in range(7)]
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"),
                           [demand(c, lines=(("TL_TAX", "100", "0"),)) for c in codes])
    enrol(hub, c1, "Counter 1")
    real = demands_pulled.store
    calls = {"n": 0}

    def crashing(*args: Any, **kw: Any) -> int:
        calls["n"] += 1
        written = real(*args, **kw)                  # the rows are written ...
        if calls["n"] == 3:
            raise RuntimeError("power cut")          # ... and the transaction dies before its commit
        return written

    monkeypatch.setattr(demands_pulled, "store", crashing)
    with pytest.raises(RuntimeError):
        pull_all(c1)
    cursor = sync_pull.cursor_of(c1, "demands")
    assert cursor                                    # two pages were applied and checkpointed
    monkeypatch.setattr(demands_pulled, "store", real)
    again = pull_all(c1)                             # resumes at the third page
    with hub.store.engine.connect() as conn:
        total = len(conn.execute(select(Demand.id).where(Demand.tenant_id == AMRITSAR)).all())
    assert again.received["demands"] == total - 4    # pages 1-2 not again; page 3 again (never skipped)
    assert demands_of(c1, codes) == demands_of(hub, codes)
