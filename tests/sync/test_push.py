"""`sync push` and `sync status` against the fake hub: in order, exactly once, acknowledged only
after a 200; retries on network errors, 5xx and cut-off answers, none on a refusal; a sequence
gap resumes where the hub says; an unreachable hub is exit 1 with nothing lost."""
from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from digitctl.bootstrap import App
from digitctl.cli.main import app as cli
from digitctl.services import sync_outbox
from digitctl.services.quickstart import DEMO_PASSWORD
from local_store.models import OutboxEvent
from sync.client import HubRefused, HubUnreachable
from sync.push import client_for, push
from tests.sync.fake_hub import FakeHub, fail_with
from tests.sync.support import counter_seqs, pay, register

HUB = "http://hub.test"
NOW = "2026-11-25T11:00:00+05:30"
runner = CliRunner()


@pytest.fixture
def registered(counter: App, fake_hub: FakeHub) -> App:
    register(counter, HUB, fake_hub.enrol("E1", "C01"))
    return counter


def published(app: App) -> int:
    with app.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(OutboxEvent)
                                .where(OutboxEvent.published_at.is_not(None))).scalar_one())


def do_push(app: App, batch: int = 500):
    with client_for(app) as client:
        return push(app, client, batch)


def test_push_sends_every_event_once_in_order_and_marks_them_after_the_answer(registered: App,
                                                                              fake_hub: FakeHub) -> None:
    pay(registered, "P-1")
    total = len(counter_seqs(registered))
    summary = do_push(registered, batch=7)
    hub = fake_hub.counters["C01"]
    assert sorted(hub.events) == list(range(1, total + 1))
    assert summary.sent == summary.accepted == total and summary.duplicates == 0 and summary.unsynced == 0
    assert summary.batches == -(-total // 7)
    assert published(registered) == total and sync_outbox.status(registered)["unsynced"] == 0
    # PII travels in plain inside the batch only: the stored payload keeps ciphertext
    payments = [e for _h, e in hub.events.values() if e["eventType"] == "collection.payment.created"]
    paid = payments[-1]["payload"]["Payments"][0]
    assert paid["payerName"] == "Simran Kaur" and paid["mobileNumber"] == "9876543210"
    with registered.store.engine.connect() as conn:
        stored = conn.execute(select(OutboxEvent.payload).where(
            OutboxEvent.event_id == payments[-1]["eventId"])).scalar_one()
    assert "|" in stored["Payments"][0]["mobileNumber"]
    # the audit trail sent chains: every record once, in order
    assert sorted(hub.audit) == list(range(min(hub.audit), max(hub.audit) + 1))

    again = do_push(registered)
    assert again.sent == 0 and again.batches == 0


def test_lost_answers_resets_and_5xx_are_retried_and_nothing_counts_twice(registered: App, fake_hub: FakeHub) -> None:
    pay(registered, "P-2")
    total = len(counter_seqs(registered))
    fake_hub.faults = ["drop", "500", "drop-answer", None, "truncate", None, "drop-answer"]
    summary = do_push(registered, batch=10)
    hub = fake_hub.counters["C01"]
    assert sorted(hub.events) == list(range(1, total + 1))
    assert summary.unsynced == 0 and published(registered) == total
    # the batch whose answer was lost was stored once; its retry (same batch id) got the same answer
    assert len(fake_hub.batches) == summary.batches


def test_a_refusal_is_not_retried_and_marks_nothing(registered: App, fake_hub: FakeHub) -> None:
    pay(registered, "P-3")
    fake_hub.faults = [fail_with(403, "SYNC_COUNTER_REVOKED")]
    with pytest.raises(HubRefused) as err:
        do_push(registered)
    assert err.value.code == "SYNC_COUNTER_REVOKED" and err.value.exit_code == 3
    assert len([r for r in fake_hub.requests if r.endswith("_push")]) == 1
    assert published(registered) == 0 and fake_hub.counters["C01"].events == {}


def test_a_sequence_gap_resumes_from_the_sequence_the_hub_expects(registered: App, fake_hub: FakeHub) -> None:
    pay(registered, "P-4")
    do_push(registered)
    total = len(counter_seqs(registered))
    hub = fake_hub.counters["C01"]
    for seq in range(total - 5, total + 1):                  # the hub lost its last six (a restore)
        del hub.events[seq]
    pay(registered, "P-5")
    summary = do_push(registered)
    assert summary.restarts == 1
    assert sorted(hub.events) == list(range(1, len(counter_seqs(registered)) + 1))


def test_hub_down_is_exit_1_with_nothing_lost_then_a_later_push_sends_all(registered: App, fake_hub: FakeHub,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pay(registered, "P-6")
    total = len(counter_seqs(registered))
    fake_hub.up = False
    store = registered.store_url
    res = invoke(["--store", store, "-o", "json", "sync", "push"])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["Errors"][0]["code"] == "SYNC_HUB_UNREACHABLE"
    assert published(registered) == 0
    status = invoke(["--store", store, "-o", "json", "sync", "status"])
    assert status.exit_code == 0, status.output
    doc = json.loads(status.stdout)
    assert doc["unsynced"] == total and doc["hubReachable"] is False and doc["lastPush"] is None
    assert doc["counterCode"] == "C01" and doc["hub"] == HUB and doc["parked"] == [] and doc["lastPull"] is None

    fake_hub.up = True
    res = invoke(["--store", store, "-o", "json", "sync", "push", "--batch", "25"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["sent"] == total and out["unsynced"] == 0 and out["batches"] == -(-total // 25)
    doc = json.loads(invoke(["--store", store, "-o", "json", "sync", "status"]).stdout)
    assert doc["unsynced"] == 0 and doc["hubReachable"] is True and doc["lastPush"] is not None


def test_cli_register_and_refusals(counter: App, fake_hub: FakeHub) -> None:
    store = counter.store_url
    alone = json.loads(invoke(["--store", store, "-o", "json", "sync", "status"]).stdout)
    assert alone["hub"] is None and alone["unsynced"] == 0 and alone["hubReachable"] is None
    res = invoke(["--store", store, "-o", "json", "sync", "push"])
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "SYNC_NOT_REGISTERED"
    reg = ["--store", store, "-o", "json", "sync", "register", "--hub", HUB, "--code"]
    res = invoke([*reg, "WRONG"])
    assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == "NOT_LOGGED_IN"
    login(store, "clerk.amritsar")
    res = invoke([*reg, "WRONG"])             # a clerk may not register the store
    assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == "ACCESS_DENIED"
    assert fake_hub.requests == []
    login(store, "admin")
    res = invoke([*reg, "WRONG"])
    assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == "SYNC_ENROLMENT_INVALID"
    fake_hub.enrol("GOOD", "C01")
    res = invoke([*reg, "GOOD"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["Counter"]["counterCode"] == "C01"
    res = invoke(["--store", store, "sync", "status"])
    assert res.exit_code == 0 and "C01" in res.stdout and HUB in res.stdout


def invoke(args: list[str], input: str | None = None):
    return runner.invoke(cli, args, input=input, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str) -> None:
    invoke(["--store", store, "logout"])
    res = invoke(["--store", store, "login", "--username", user, "--password-stdin"],
                        input=DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def test_a_non_json_answer_with_200_is_retried_then_unreachable(registered: App, fake_hub: FakeHub) -> None:
    pay(registered, "P-7")
    fake_hub.faults = [lambda r: httpx.Response(200, content=b"<html>proxy</html>")] * 10
    with pytest.raises(HubUnreachable):
        do_push(registered)
    assert published(registered) == 0
