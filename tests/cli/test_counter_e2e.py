"""A day at the counter, end to end, through the real `digitctl` commands only (Typer's runner on
digitctl.cli.main.app, a fresh SQLite store in tmp_path, the clock frozen by DIGITCTL_NOW):

init → mdms apply (the bundled state, FeeRates included) → workflow apply → the employees →
a NewTL application for a Punjabi applicant walked to APPROVE by the right users → the fee demand →
bill fetch → shift open → a cheque payment → receipt PDF → the application APPROVED → the day
book lists the receipt → shift close reconciles."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.resources import bundled

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
TODAY = dt.date(2026, 11, 25)
CHEQUE_DATE = (TODAY - dt.timedelta(days=10)).isoformat()          # 2026-11-15: valid, not post-dated
CONFIGS = bundled("configs")
TENANT = "pb.amritsar"
ADMIN_PW = "Admin@12345"
STAFF_PW = "Staff@12345"
APPLICANT = "ਗੁਰਪ੍ਰੀਤ ਕੌਰ"
STAFF = [
    ("clerk.amritsar", "Harpreet Singh", "9800000002", ["EMPLOYEE", "TL_CEMP", "UC_EMP", "CSR"]),
    ("verifier.amritsar", "Amandeep Kaur", "9800000003", ["EMPLOYEE", "TL_DOC_VERIFIER"]),
    ("inspector.amritsar", "Baljit Singh", "9800000004", ["EMPLOYEE", "TL_FIELD_INSPECTOR"]),
    ("approver.amritsar", "Charanjit Kaur", "9800000005", ["EMPLOYEE", "TL_APPROVER"]),
]


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def ok(store: str, *args: str, stdin: str | None = None):
    res = run(store, *args, stdin=stdin)
    assert res.exit_code == 0, f"digitctl {' '.join(args)} → exit {res.exit_code}\n{res.output}"
    return res


def js(store: str, *args: str) -> dict:
    return json.loads(ok(store, "-o", "json", *args).stdout, parse_float=Decimal)


def login(store: str, user: str, password: str = STAFF_PW) -> None:
    run(store, "logout")            # `login` takes its default --tenant from the current session
    ok(store, "login", "--username", user, "--password-stdin", stdin=password + "\n")


def test_a_counter_day_end_to_end(tmp_path):
    store = f"sqlite:///{tmp_path / 'counter.db'}"

    # -- a new store: the state, the workflows, the employees ---------------------------------------
    ok(store, "init", "--state", "pb", "--counter", "C01", "--admin-username", "admin", "--admin-password-stdin",
       stdin=ADMIN_PW + "\n")
    login(store, "admin", ADMIN_PW)
    ok(store, "mdms", "apply", str(CONFIGS / "mdms" / "data" / "pb"),
       "--master-config", str(CONFIGS / "mdms" / "master-config.json"))
    applied = js(store, "workflow", "apply", str(CONFIGS / "workflows"), "--tenant", "pb")
    assert ("NewTL", "pb") in {(b["businessService"], b["tenantId"]) for b in applied["businessServices"]}
    for user, name, mobile, roles in STAFF:
        ok(store, "user", "create", "--type", "EMPLOYEE", "--username", user, "--name", name, "--mobile", mobile,
           "--tenant", TENANT, "--department", "DEPT_1", "--designation", "DESIG_1",
           *[a for r in roles for a in ("--role", f"{r}@{TENANT}")], "--password-stdin", stdin=STAFF_PW + "\n")

    # -- the application, walked to APPROVE by the right users --------------------------------------
    login(store, "clerk.amritsar")
    created = js(store, "application", "create", "--service", "NewTL", "--tenant", TENANT,
                 "--applicant-name", APPLICANT, "--applicant-mobile", "9812345673", "--locality", "SUN04",
                 "--details", json.dumps({"tradeType": "GOODS.RETAIL.TST-29"}))["Applications"][0]
    no = created["applicationNo"]
    assert created["applicationStatus"] == "INITIATED"
    for user, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                         ("inspector.amritsar", "FORWARD"), ("approver.amritsar", "APPROVE")):
        login(store, user)
        ok(store, "workflow", "transition", no, "--action", action, "--tenant", TENANT)
    shown = js(store, "application", "show", no)["Applications"][0]
    assert shown["workflow"]["state"] == "PENDINGPAYMENT"

    # -- the fee demand and its bill ------------------------------------------------------------------
    login(store, "clerk.amritsar")
    demands = js(store, "demand", "list", "--tenant", TENANT, "--consumer-code", no)
    [demand] = demands["Demands"]
    assert demand["consumerCode"] == no and demand["businessService"] == "TL" and demand["status"] == "ACTIVE"
    [bill] = js(store, "bill", "fetch", "--tenant", TENANT, "--application", no)["Bill"]
    total = Decimal(bill["totalAmount"])
    assert bill["consumerCode"] == no and bill["status"] == "ACTIVE" and total > 0
    assert total == sum(Decimal(d["taxAmount"]) for d in demand["demandDetails"])
    amount = str(int(total))                     # --amount is whole rupees (the round-off line sees to that)
    assert Decimal(amount) == total

    # -- the shift, the cheque, the receipt -----------------------------------------------------------
    ok(store, "shift", "open", "--float", "2000")
    payment = js(store, "pay", "--bill", bill["id"], "--tenant", TENANT, "--mode", "CHEQUE", "--amount", amount,
                 "--instrument-number", "123456", "--instrument-date", CHEQUE_DATE, "--bank", "State Bank of India",
                 "--branch", "Hall Bazar", "--ifsc", "SBIN0001234", "--payer-name", APPLICANT)["Payments"][0]
    receipt = payment["paymentDetails"][0]["receiptNumber"]
    assert receipt.startswith("C01/")
    assert payment["paymentMode"] == "CHEQUE" and payment["instrumentNumber"] == "123456"
    assert Decimal(payment["totalAmountPaid"]) == total and payment["paymentDetails"][0]["bill"]["status"] == "PAID"

    pdf = tmp_path / "receipt.pdf"
    ok(store, "receipt", "print", receipt, "--tenant", TENANT, "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")

    # -- the application is APPROVED --------------------------------------------------------------------
    history = js(store, "workflow", "history", no, "--tenant", TENANT)["ProcessInstances"]
    steps = [(h["action"], h["state"]["state"]) for h in history][::-1]        # DIGIT lists newest first
    assert steps[-2:] == [("APPROVE", "PENDINGPAYMENT"), ("PAY", "APPROVED")], steps
    assert [h["assigner"]["userName"] for h in history][::-1][:5] == [
        "clerk.amritsar", "clerk.amritsar", "verifier.amritsar", "inspector.amritsar", "approver.amritsar"]
    shown = js(store, "application", "show", no)["Applications"][0]
    assert shown["applicationStatus"] == "APPROVED" and shown["workflow"]["state"] == "APPROVED"

    # -- the day book lists the receipt ------------------------------------------------------------------
    rows = list(csv.DictReader(io.StringIO(ok(store, "report", "daybook", "--format", "csv").stdout)))
    [group] = [r for r in rows if r["section"] == "group"]
    assert (group["businessService"], group["paymentMode"], group["count"]) == ("TL", "CHEQUE", "1")
    assert Decimal(group["amount"]) == total and group["firstReceipt"] == receipt == group["lastReceipt"]
    [grand] = [r for r in rows if r["section"] == "grand total"]
    assert grand["count"] == "1" and Decimal(grand["amount"]) == total

    # -- closing: no cash taken, the float of ₹2000 is in the drawer ----------------------------------------
    shift = js(store, "shift", "close", "--count", "500x4")["Shift"]
    assert shift["status"] == "CLOSED" and shift["receiptCount"] == 1 and shift["cashCollected"] == "0.00"
    assert shift["otherModes"] == [{"paymentMode": "CHEQUE", "amount": f"{total:.2f}"}]
    assert shift["expectedCash"] == shift["countedCash"] == "2000.00" and shift["variance"] == "0.00"

    # -- the receipt PDF, read back -------------------------------------------------------------------
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: the receipt PDF's text was not checked")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = " ".join(text.split())
    assert receipt in flat, text
    assert re.search(r"Rupees [A-Z][A-Za-z ]+ Only", flat), text       # the amount in words
    assert APPLICANT in flat, text
