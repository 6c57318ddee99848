"""Small things people meet at the command line: --version, Ctrl-C, CSV numbers."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services.quickstart import DEMO_PASSWORD

runner = CliRunner()


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"})


def test_version():
    from digitctl import __version__

    res = runner.invoke(cli, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"digitctl {__version__}"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_ctrl_c_says_interrupted_nothing_written(quickstart_url: str, monkeypatch: pytest.MonkeyPatch, fmt: str):
    from digitctl.services import tenants

    def interrupted(*_a: Any, **_k: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(tenants, "list_tenants", interrupted)
    res = run(quickstart_url, "-o", fmt, "tenant", "list")
    assert res.exit_code == 130, res.output
    if fmt == "json":
        err = json.loads(res.stdout)["Errors"][0]
        assert err["code"] == "INTERRUPTED" and err["message"] == "interrupted, nothing written"
    else:
        assert "interrupted, nothing written" in res.stderr


def test_csv_holds_numbers_not_rupee_text(quickstart_url: str):
    run(quickstart_url, "logout")
    assert run(quickstart_url, "login", "--username", "clerk.amritsar", "--password-stdin",
               stdin=DEMO_PASSWORD + "\n").exit_code == 0
    res = run(quickstart_url, "-o", "csv", "demand", "list", "--tenant", "pb.amritsar")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and "₹" not in res.stdout, res.stdout
    assert all(float(r["total"]) > 0 for r in rows) and rows[0]["total"] == "1250.00", rows[0]
    assert rows[0]["taxHeads"] == "TL_TAX 1250.40, TL_ROUNDOFF -0.40"


def test_a_citizen_sees_their_own_name_in_the_inbox(quickstart_url: str):
    """The demo citizen (9876543210) applied for PB-TL-...-000001 as Gurdeep Singh: plain to them,
    masked to the employees; the pseudonym the store keeps for a citizen is never printed."""
    store = quickstart_url
    run(store, "logout")
    assert run(store, "login", "--username", "9876543210", "--password-stdin", stdin=DEMO_PASSWORD + "\n").exit_code == 0
    own = json.loads(run(store, "-o", "json", "inbox").stdout)["items"]
    mine = [i for i in own if i["applicant"]["mobileNumber"] == "9876543210"]
    assert mine and mine[0]["applicant"]["name"] == "Gurdeep Singh", own
    table = run(store, "inbox")
    assert "Gurdeep Singh" in table.stdout and "bidx:" not in table.output, table.output
    run(store, "logout")
    assert run(store, "login", "--username", "clerk.amritsar", "--password-stdin",
               stdin=DEMO_PASSWORD + "\n").exit_code == 0
    items = json.loads(run(store, "-o", "json", "inbox").stdout)["items"]
    theirs = [i for i in items if i["applicationNo"] == mine[0]["applicationNo"]]
    assert theirs and theirs[0]["applicant"]["name"] != "Gurdeep Singh"


def _waiting_bill(store: str) -> dict[str, Any]:
    run(store, "logout")
    assert run(store, "login", "--username", "clerk.amritsar", "--password-stdin",
               stdin=DEMO_PASSWORD + "\n").exit_code == 0
    apps = json.loads(run(store, "-o", "json", "application", "list").stdout)["Applications"]
    no = next(a["applicationNo"] for a in apps if a.get("applicationStatus") == "PENDINGPAYMENT")
    bill: dict[str, Any] = json.loads(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar",
                                          "--application", no).stdout)["Bill"][0]
    return bill


def test_cash_tendered_shows_the_change_and_pay_print_prints_the_receipt(quickstart_url: str, tmp_path, monkeypatch):
    store = quickstart_url
    bill = _waiting_bill(store)
    amount = str(bill["totalAmount"]).split(".")[0]                       # ₹1,250 in the demo
    base = ["pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH", "--amount", amount]
    short = run(store, "-o", "json", *base, "--tendered", "1000")
    assert short.exit_code == 2 and json.loads(short.stdout)["Errors"][0]["code"] == "INVALID_TENDERED_AMOUNT"
    cheque = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CHEQUE",
                 "--amount", amount, "--tendered", "2000")
    assert cheque.exit_code == 2 and json.loads(cheque.stdout)["Errors"][0]["code"] == "INVALID_TENDERED_AMOUNT"
    assert json.loads(run(store, "-o", "json", "shift", "status").stdout)["Shift"]["receiptCount"] == 0
    monkeypatch.chdir(tmp_path)
    paid = run(store, *base, "--tendered", "2,000", "--print")
    assert paid.exit_code == 0, paid.output
    assert "change due" in paid.stdout and "₹750.00" in paid.stdout, paid.stdout
    [pdf] = list(tmp_path.glob("C01-*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.name in paid.stdout.replace("\n", "")
