"""`digitctl shift open|status|close` through Typer's runner, as a logged-in counter clerk."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.resources import bundled

runner = CliRunner()
ADMIN_PW = "Admin@12345"
CLERK_PW = "Clerk@12345"


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli, ["--store", store, *args], input=stdin,
                         env={"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"})


def login(store: str, user: str, password: str) -> None:
    res = run(store, "login", "--username", user, "--password-stdin", "-o", "json", stdin=password + "\n")
    assert res.exit_code == 0, res.output


def build_store(url: str) -> None:
    """An admin, the bundled state, a clerk and an LME, made through the commands."""
    res = run(url, "init", "--state", "pb", "--counter", "C01", "--admin-username", "admin",
              "--admin-password-stdin", stdin=ADMIN_PW + "\n")
    assert res.exit_code == 0, res.output
    login(url, "admin", ADMIN_PW)
    configs = bundled("configs") / "mdms"
    res = run(url, "mdms", "apply", str(configs / "data" / "pb"), "--master-config", str(configs / "master-config.json"))
    assert res.exit_code == 0, res.output
    for user, role, mobile in (("clerk1", "TL_CEMP@pb.amritsar", "9814012345"),
                               ("lme1", "PGR_LME@pb.amritsar", "9814012346")):
        res = run(url, "user", "create", "--type", "EMPLOYEE", "--username", user, "--name", "Harpreet Singh",
                  "--mobile", mobile, "--role", role, "--tenant", "pb.amritsar", "--password-stdin",
                  stdin=CLERK_PW + "\n")
        assert res.exit_code == 0, res.output


@pytest.fixture
def store(templated_store) -> str:
    url = templated_store("cli-shifts", build_store)
    login(url, "clerk1", CLERK_PW)
    return url


def test_open_status_close_as_a_clerk(store):
    res = run(store, "shift", "open", "--float", "12500")
    assert res.exit_code == 0, res.output
    assert "₹12,500.00" in res.stdout and "C01" in res.stdout

    again = run(store, "shift", "open", "--float", "100", "-o", "json")
    assert again.exit_code == 2
    assert json.loads(again.stdout)["Errors"][0]["code"] == "SHIFT_ALREADY_OPEN"

    st = json.loads(run(store, "shift", "status", "-o", "json").stdout)["Shift"]
    assert st["status"] == "OPEN" and st["tenantId"] == "pb.amritsar" and st["counterCode"] == "C01"
    assert st["float"] == "12500.00" and st["expectedCash"] == "12500.00" and st["receiptCount"] == 0
    table = run(store, "shift", "status")
    assert table.exit_code == 0 and "expected cash" in table.stdout and "₹12,500.00" in table.stdout

    bad = run(store, "shift", "close", "--count", "500x3,300x1", "-o", "json")
    assert bad.exit_code == 2
    err = json.loads(bad.stdout)["Errors"][0]
    assert err["code"] == "SHIFT_INVALID_COUNT" and "300x1" in err["message"]

    res = run(store, "shift", "close", "--count", "2000x6, 200x2", "--note", "short by 100")
    assert res.exit_code == 0, res.output
    assert "-₹100.00" in res.stdout and "₹12,400.00" in res.stdout and "₹2000" in res.stdout

    gone = run(store, "shift", "close", "--count", "500x1", "-o", "json")
    assert gone.exit_code == 2
    assert json.loads(gone.stdout)["Errors"][0]["code"] == "SHIFT_NOT_OPEN"
    status = run(store, "shift", "status")
    assert status.exit_code == 2 and "digitctl shift open --float" in status.stderr


def test_close_json_is_camel_case(store):
    run(store, "shift", "open", "--float", "2000")
    doc = json.loads(run(store, "shift", "close", "--count", "2000x1", "-o", "json").stdout)["Shift"]
    assert doc["status"] == "CLOSED" and doc["variance"] == "0.00" and doc["countedCash"] == "2000.00"
    assert doc["denominations"] == [{"denomination": 2000, "count": 1, "amount": "2000.00"}]


def test_bad_float_and_no_collection_role(store):
    res = run(store, "shift", "open", "--float", "-1", "-o", "json")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["Errors"][0]["code"] == "SHIFT_INVALID_FLOAT"
    login(store, "lme1", CLERK_PW)
    res = run(store, "shift", "open", "--float", "2000", "-o", "json")
    assert res.exit_code == 3
    assert json.loads(res.stdout)["Errors"][0]["code"] == "ACCESS_DENIED"


def test_a_float_with_paise_is_refused_and_nothing_is_written(store):
    """`--count` counts rupee notes and coins: a ₹100.50 float would close ₹0.50 short for ever."""
    res = run(store, "shift", "open", "--float", "100.50", "-o", "json")
    assert res.exit_code == 2, res.output
    err = json.loads(res.stdout)["Errors"][0]
    assert err["code"] == "SHIFT_INVALID_FLOAT" and "whole rupees" in err["message"]
    status = run(store, "shift", "status", "-o", "json")
    assert status.exit_code == 2 and json.loads(status.stdout)["Errors"][0]["code"] == "SHIFT_NOT_OPEN"
    human = run(store, "shift", "open", "--float", "100.50")
    assert human.exit_code == 2 and "SHIFT_INVALID_FLOAT" in human.stderr
    assert run(store, "shift", "open", "--float", "100.00").exit_code == 0


def test_status_leaves_a_dishonoured_cheque_out(store):
    import uuid

    from sqlalchemy import insert, select

    from digitctl.bootstrap import build
    from local_store.models import Payment, Shift

    run(store, "shift", "open", "--float", "1000")
    application = build(store)
    try:
        with application.store.engine.begin() as conn:
            sid = conn.execute(select(Shift.id).where(Shift.status == "OPEN")).scalar_one()
            now = application.clock.now()
            for i, (mode, paise, status) in enumerate([("CASH", 50000, "NEW"), ("CHEQUE", 125000, "DISHONOURED"),
                                                       ("CASH", 10000, "CANCELLED")]):
                conn.execute(insert(Payment).values(
                    id=str(uuid.uuid4()), tenant_id="pb.amritsar", receipt_number=f"R-{i}", receipt_date=now,
                    counter_code="C01", shift_id=sid, collector_uuid="x", bill_id=str(uuid.uuid4()),
                    business_service="TL", consumer_code="PB-1", payment_mode=mode, total_due_paise=paise,
                    amount_paid_paise=paise, instrument_status=status if status != "NEW" else "APPROVED",
                    payment_status=status, payment={}, created_at=now, updated_at=now))
    finally:
        application.close()
    st = json.loads(run(store, "shift", "status", "-o", "json").stdout)["Shift"]
    assert st["cashCollected"] == "500.00" and st["otherModes"] == [] and st["expectedCash"] == "1500.00"
    assert st["receiptCount"] == 1 and st["cancelledCount"] == 1 and st["dishonouredCount"] == 1
    table = run(store, "shift", "status")
    assert "1 (1 cancelled, 1 dishonoured)" in table.stdout
    closed = json.loads(run(store, "shift", "close", "--count", "500x3", "-o", "json").stdout)["Shift"]
    assert closed["variance"] == "0.00"
