"""`digitctl hub enrol | counters | revoke | reconcile` through Typer's runner, as the state's
administrator (SUPERUSER@pb) on a hub store; a counter clerk is refused."""
from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services import hub_ingest, quickstart
from tests.hub.fake_counter import PUSH, FakeCounter

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str) -> None:
    res = run(store, "login", "--username", user, "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def test_operator_enrols_lists_reconciles_and_revokes(demo_users_url: str) -> None:
    from digitctl.bootstrap import build
    from digitctl.clock import FixedClock, parse_instant

    store = demo_users_url
    login(store, "admin")
    res = run(store, "hub", "enrol", "--tenant", "pb.amritsar", "--name", "Amritsar counter 2", "-o", "json")
    assert res.exit_code == 0, res.output
    enrolled = json.loads(res.stdout)
    assert set(enrolled) == {"counterCode", "enrolmentCode", "expiresAt"} and enrolled["counterCode"] == "C02"
    # the counter registers and pushes two events, then says it has written five
    hub = build(store, FixedClock(parse_instant(NOW)))
    try:
        counter = FakeCounter()
        counter.code = hub_ingest.register(hub, counter.register_body(enrolled["enrolmentCode"]))["counterCode"]
        doc = counter.batch([counter.event(), counter.event()], counter.setup_records, head_seq=5)
        assert hub_ingest.push(hub, counter.signed(PUSH, doc, hub.clock.now()))[0] == 200
    finally:
        hub.close()
    res = run(store, "hub", "counters", "-o", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"Counters": [{
        "counterCode": "C02", "tenantId": "pb.amritsar", "name": "Amritsar counter 2",
        "lastSeen": "2026-11-25T05:30:00+00:00", "lastSequence": 2, "lag": 3, "parked": 0, "clockSkewMs": 0}]}
    # stored by the push, not applied (hub_ingest.push alone: the endpoint applies after it)
    res = run(store, "hub", "reconcile", "-o", "json")
    assert res.exit_code == 1, res.output
    report = json.loads(res.stdout)
    assert [(p["seq"], p["status"], p["code"]) for p in report["Parked"]] == [
        (1, "stored", "SYNC_NOT_APPLIED"), (2, "stored", "SYNC_NOT_APPLIED")]
    assert {k: v for k, v in report.items() if k != "Parked"} == {
        "ExcessCollections": [], "IncompleteDayEnds": [], "SilentCounters": []}
    res = run(store, "hub", "reconcile")
    assert res.exit_code == 1 and "digitctl hub apply" in res.output, res.output
    res = run(store, "hub", "revoke", "C02", "-o", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)["revokedAt"], res.output
    res = run(store, "hub", "revoke", "C09", "-o", "json")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "SYNC_COUNTER_NOT_FOUND"


def test_a_silent_counter_makes_reconcile_exit_non_zero(demo_users_url: str) -> None:
    from digitctl.bootstrap import build
    from digitctl.clock import FixedClock, parse_instant

    login(demo_users_url, "admin")
    code = json.loads(run(demo_users_url, "hub", "enrol", "--tenant", "pb.amritsar", "--name", "A2", "-o",
                          "json").stdout)["enrolmentCode"]
    hub = build(demo_users_url, FixedClock(parse_instant("2026-11-23T11:00:00+05:30")))   # two days ago
    try:
        hub_ingest.register(hub, FakeCounter().register_body(code))
    finally:
        hub.close()
    res = run(demo_users_url, "hub", "reconcile", "-o", "json")
    assert res.exit_code == 1
    assert [c["counterCode"] for c in json.loads(res.stdout)["SilentCounters"]] == ["C02"]


def test_a_clerk_may_not_run_the_hub(demo_users_url: str, error_of: Any) -> None:
    login(demo_users_url, "clerk.amritsar")
    for args in (["hub", "enrol", "--tenant", "pb.amritsar", "--name", "X"], ["hub", "counters"],
                 ["hub", "reconcile"], ["hub", "revoke", "C02"], ["hub", "release", "C02"], ["hub", "apply"]):
        res = run(demo_users_url, *args, "-o", "json")
        assert res.exit_code == 3, (args, res.output)
        assert error_of(res)[0] == "ACCESS_DENIED"


def test_nobody_logged_in_is_told_to_log_in(demo_users_url: str, error_of: Any) -> None:
    run(demo_users_url, "logout")
    res = run(demo_users_url, "hub", "counters", "-o", "json")
    assert res.exit_code == 3 and error_of(res)[0] == "NOT_LOGGED_IN"
