"""`receipt search`: a receipt found without its number (consumer code, payer's mobile, day)."""
from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services.quickstart import DEMO_PASSWORD

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str) -> None:
    run(store, "logout")
    assert run(store, "login", "--username", user, "--password-stdin", stdin=DEMO_PASSWORD + "\n").exit_code == 0


def found(store: str, *criteria: str) -> list[str]:
    res = run(store, "-o", "json", "receipt", "search", "--tenant", "pb.amritsar", *criteria)
    assert res.exit_code == 0, res.output
    return [p["paymentDetails"][0]["receiptNumber"] for p in json.loads(res.stdout)["Payments"]]


def test_a_lost_receipt_is_found_by_consumer_code_mobile_or_day(quickstart_url: str):
    store = quickstart_url
    login(store, "clerk.amritsar")
    apps = json.loads(run(store, "-o", "json", "application", "list").stdout)["Applications"]
    app_doc = next(a for a in apps if a.get("applicationStatus") == "PENDINGPAYMENT")
    bill = json.loads(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--application",
                          app_doc["applicationNo"]).stdout)["Bill"][0]
    paid = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
               "--amount", str(bill["totalAmount"]).split(".")[0])
    receipt = json.loads(paid.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"]
    mobile = app_doc["applicant"]["mobileNumber"]

    assert found(store, "--consumer-code", bill["consumerCode"]) == [receipt]
    assert found(store, "--mobile", mobile) == [receipt]
    assert found(store, "--date", "25/11/2026") == [receipt] == found(store, "--date", "2026-11-25")
    assert found(store, "--date", "24/11/2026") == []
    assert found(store, "--consumer-code", bill["consumerCode"], "--date", "24/11/2026") == []
    table = run(store, "receipt", "search", "--tenant", "pb.amritsar", "--mobile", mobile)
    assert receipt in table.stdout and "₹" in table.stdout

    none = run(store, "-o", "json", "receipt", "search", "--tenant", "pb.amritsar")
    assert none.exit_code == 2 and json.loads(none.stdout)["Errors"][0]["code"] == "INVALID_SEARCH_CRITERIA"
    bad = run(store, "-o", "json", "receipt", "search", "--tenant", "pb.amritsar", "--mobile", "12345")
    assert bad.exit_code == 2 and json.loads(bad.stdout)["Errors"][0]["code"] == "INVALID_MOBILE_NUMBER"


def test_a_citizen_finds_only_their_own_receipts(quickstart_url: str):
    store = quickstart_url
    login(store, "clerk.amritsar")
    apps = json.loads(run(store, "-o", "json", "application", "list").stdout)["Applications"]
    app_doc = next(a for a in apps if a.get("applicationStatus") == "PENDINGPAYMENT")
    bill = json.loads(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--application",
                          app_doc["applicationNo"]).stdout)["Bill"][0]
    assert run(store, "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
               "--amount", str(bill["totalAmount"]).split(".")[0]).exit_code == 0
    login(store, "9876543210")       # the demo citizen: not this bill's payer
    assert found(store, "--date", "25/11/2026") == []
