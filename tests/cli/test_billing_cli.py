"""`digitctl demand create|list` and `digitctl bill fetch` through Typer's runner, logged in as the
demo counter clerk, on the bundled state (TL 2020-21 period: the real periods end in 2021)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli_app
from digitctl.resources import bundled

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
CONFIGS = bundled("configs")
TL_FROM, TL_TO = 1585679399000, 1617172199000


CLI = cli_app


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(CLI, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


@pytest.fixture
def store(clerk_cli_store) -> str:
    return clerk_cli_store


def demand_file(tmp_path: Path, consumer: str = "TL-CLI-1", head: str = "TL_TAX") -> Path:
    # amounts as JSON numbers, as DIGIT clients send them: read with parse_float=Decimal; the
    # round-off line is the caller's (a calculator's): demand create adds none
    text = ('{"RequestInfo": {}, "Demands": [{"tenantId": "pb.amritsar", "consumerCode": "%s", '
            '"businessService": "TL", "taxPeriodFrom": %d, "taxPeriodTo": %d, '
            '"payer": {"name": "Simran Kaur", "mobileNumber": "9876543210"}, '
            '"demandDetails": [{"taxHeadMasterCode": "%s", "taxAmount": 1250.40, "collectionAmount": 0.10}, '
            '{"taxHeadMasterCode": "TL_ROUNDOFF", "taxAmount": -0.40, "collectionAmount": 0}]}]}'
            % (consumer, TL_FROM, TL_TO, head))
    path = tmp_path / f"{consumer}.json"
    path.write_text(text)
    return path


def test_create_list_and_fetch(store, tmp_path):
    res = run(store, "-o", "json", "demand", "create", "-f", str(demand_file(tmp_path)))
    assert res.exit_code == 0, res.output
    [doc] = json.loads(res.stdout, parse_float=Decimal)["Demands"]       # DIGIT's JSON numbers, exact
    assert [(d["taxHeadMasterCode"], d["taxAmount"], d["collectionAmount"]) for d in doc["demandDetails"]] == [
        ("TL_TAX", Decimal("1250.40"), Decimal("0.10")), ("TL_ROUNDOFF", Decimal("-0.40"), Decimal("0.00"))]
    assert "TL_ROUNDOFF" in demand_file(tmp_path).read_text()          # the caller's line: create adds none
    listed = run(store, "demand", "list", "--tenant", "pb.amritsar", "--consumer-code", "TL-CLI-1")
    assert listed.exit_code == 0 and "TL-CLI-1" in listed.stdout and "₹1,250.40" in listed.stdout
    table = run(store, "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code", "TL-CLI-1", "--service", "TL")
    assert table.exit_code == 0, table.output
    assert "C01/BILL-000001" in table.stdout and "₹1,249.90" in table.stdout and "25/11/2026 23:59:59" in table.stdout
    js = run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--mobile", "9876543210")
    [bill] = json.loads(js.stdout, parse_float=Decimal)["Bill"]
    assert bill["billNumber"] == "C01/BILL-000001" and bill["totalAmount"] == Decimal("1249.90")      # reused, not remade
    by_app = run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--application", "TL-CLI-1")
    assert json.loads(by_app.stdout)["Bill"][0]["id"] == bill["id"]


def test_refusals_exit_2_with_digit_errors(store, tmp_path):
    res = run(store, "-o", "json", "demand", "create", "-f", str(demand_file(tmp_path, head="PT_TAX")))
    assert res.exit_code == 2
    assert json.loads(res.stdout)["Errors"][0]["code"] == "EG_BS_TAXHEADS_NOTFOUND"
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code", "X")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "EG_BS_FETCHBILL_CRITERIA"
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code", "NONE",
              "--service", "TL")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "EG_BS_BILL_NO_DEMANDS_FOUND"


def test_a_paid_consumer_code_is_said_to_owe_nothing_not_to_have_no_demands(store, tmp_path):
    """After a pull, the clerk looks up a demand another counter was paid for: DIGIT's code, but
    told that the demands are there and paid, not "No Demands Found"."""
    path = tmp_path / "paid.json"
    path.write_text('{"Demands": [{"tenantId": "pb.amritsar", "consumerCode": "TL-PAID-1", "businessService": "TL", '
                    f'"taxPeriodFrom": {TL_FROM}, "taxPeriodTo": {TL_TO}, "payer": {{"name": "Simran Kaur"}}, '
                    '"demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": 700, "collectionAmount": 0}]}]}')
    assert run(store, "demand", "create", "-f", str(path)).exit_code == 0
    fetch = ["-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code", "TL-PAID-1", "--service", "TL"]
    [bill] = json.loads(run(store, *fetch).stdout)["Bill"]
    run(store, "shift", "open", "--float", "0")
    paid = run(store, "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH", "--amount", "700")
    assert paid.exit_code == 0, paid.output
    again = run(store, *fetch)
    [err] = json.loads(again.stdout)["Errors"]
    assert again.exit_code == 2 and err["code"] == "EG_BS_BILL_NO_DEMANDS_FOUND"
    assert err["message"] == "Nothing is due: the 1 demand(s) found are paid" and "demandsPaid: 1" in err["params"]
    never = run(store, *fetch[:7], "NO-SUCH-CODE", "--service", "TL")
    assert json.loads(never.stdout)["Errors"][0]["message"] == "No Demands Found for the given bill generate criteria"


@pytest.mark.parametrize("args, code", [
    (["--mobile", "123"], "INVALID_MOBILE_NUMBER"),
    (["--consumer-code", "TL-1", "--service", "ZZ"], "EG_BS_BUSINESSSERVICE_NOTFOUND"),
])
def test_a_bad_search_is_named_not_answered_with_no_demands(store, args, code):
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", *args)
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == code, res.output


def _demand(consumer: str, lines: list[tuple[str, str, str]], payer: dict | None = None) -> dict:
    return {"tenantId": "pb.amritsar", "consumerCode": consumer, "businessService": "TL", "taxPeriodFrom": TL_FROM,
            "taxPeriodTo": TL_TO, "payer": payer or {"name": "Simran Kaur", "mobileNumber": "9876543210"},
            "demandDetails": [{"taxHeadMasterCode": h, "taxAmount": t, "collectionAmount": c} for h, t, c in lines]}


def _uuid_of(store: str, user_name: str) -> str:
    from sqlalchemy import create_engine, select

    from local_store.models import UserAccount
    engine = create_engine(store)
    try:
        with engine.connect() as conn:
            return conn.execute(select(UserAccount.uuid).where(UserAccount.user_name == user_name)).scalar_one()
    finally:
        engine.dispose()


def test_create_takes_the_lines_as_given(store, tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"Demands": [_demand("TL-CLI-9", [("TL_TAX", "1250.40", "0")])]}))
    res = run(store, "-o", "json", "demand", "create", "-f", str(path))
    assert res.exit_code == 0, res.output
    [doc] = json.loads(res.stdout)["Demands"]
    assert [d["taxHeadMasterCode"] for d in doc["demandDetails"]] == ["TL_TAX"]        # no TL_ROUNDOFF added


@pytest.mark.parametrize("case, code", [
    ("negative line part-used", "EG_DEMAND_DEATIL_INVALID"),
    ("unknown payer", "EG_BS_USER_UUID_NOTFOUND"),
    ("employee payer", "EG_BS_EMPLOYEE_UUID_NOTALLOWED"),
])
def test_demand_refusals_name_digits_codes(store, tmp_path, case, code):
    lines = [("TL_TAX", "1250", "0")]
    payer = None
    if case == "negative line part-used":
        lines.append(("TL_ADHOC_REBATE", "-50", "-20"))
    elif case == "unknown payer":
        payer = {"uuid": "9c6f1a52-0000-4000-8000-000000000000"}
    else:
        payer = {"uuid": _uuid_of(store, "clerk.amritsar")}
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"Demands": [_demand("TL-CLI-R", lines, payer)]}))
    res = run(store, "-o", "json", "demand", "create", "-f", str(path))
    assert res.exit_code == 2, res.output
    assert json.loads(res.stdout)["Errors"][0]["code"] == code
    listed = run(store, "-o", "json", "demand", "list", "--tenant", "pb.amritsar", "--consumer-code", "TL-CLI-R")
    assert json.loads(listed.stdout)["Demands"] == []                                 # nothing written
