"""`demand update`: DIGIT's demand/_update from the command line (change a tax head's amount, add
a line, cancel), with the refusals a create has and those an update needs; audited; the store
still checks."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services.quickstart import DEMO_PASSWORD

runner = CliRunner()


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"})


def login(store: str, user: str) -> None:
    run(store, "logout")
    assert run(store, "login", "--username", user, "--password-stdin", stdin=DEMO_PASSWORD + "\n").exit_code == 0


def update(store: str, tmp_path: Path, *demands: dict[str, Any]) -> Any:
    file = tmp_path / "update.json"
    file.write_text(json.dumps({"Demands": list(demands)}))
    return run(store, "-o", "json", "demand", "update", "-f", str(file))


def code(res: Any) -> str:
    assert res.exit_code != 0, res.output
    return str(json.loads(res.stdout)["Errors"][0]["code"])


def test_demand_update_changes_adds_and_cancels(quickstart_url: str, tmp_path: Path):
    store = quickstart_url
    login(store, "clerk.amritsar")
    [demand] = json.loads(run(store, "-o", "json", "demand", "list", "--tenant", "pb.amritsar").stdout,
                          parse_float=Decimal)["Demands"]
    tax = next(d for d in demand["demandDetails"] if d["taxHeadMasterCode"] == "TL_TAX")
    ref = {"id": demand["id"], "tenantId": "pb.amritsar"}

    # refusals: nothing written
    assert code(update(store, tmp_path, {**ref, "id": "nope"})) == "EG_BS_DEMAND_ID_NOT_FOUND"
    assert code(update(store, tmp_path, {**ref, "taxPeriodFrom": 1})) == "EG_BS_DEMAND_IMMUTABLE"
    assert code(update(store, tmp_path, {**ref, "demandDetails": [
        {"id": tax["id"], "taxAmount": "1500.40", "collectionAmount": "100"}]})) == "EG_BS_COLLECTION_CHANGED"
    foreign = update(store, tmp_path, {**ref, "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": "10"}]})
    assert foreign.exit_code == 2 and "PT_TAX" in json.loads(foreign.stdout)["Errors"][0]["message"]
    unchanged = json.loads(run(store, "-o", "json", "demand", "list", "--tenant", "pb.amritsar").stdout,
                           parse_float=Decimal)["Demands"][0]

    def lines(d: dict[str, Any]) -> dict[str, Decimal]:
        return {x["taxHeadMasterCode"]: Decimal(str(x["taxAmount"])) for x in d["demandDetails"]}

    assert lines(unchanged) == lines(demand) and unchanged["status"] == "ACTIVE"

    # a fee raised and a penalty added: the bill follows
    res = update(store, tmp_path, {**ref, "demandDetails": [
        {"id": tax["id"], "taxAmount": "1500.40"}, {"taxHeadMasterCode": "TL_ADHOC_PENALTY", "taxAmount": "100"}]})
    assert res.exit_code == 0, res.output
    [after] = json.loads(res.stdout, parse_float=Decimal)["Demands"]
    amounts = {d["taxHeadMasterCode"]: Decimal(str(d["taxAmount"])) for d in after["demandDetails"]}
    assert amounts["TL_TAX"] == Decimal("1500.40") and amounts["TL_ADHOC_PENALTY"] == Decimal("100")
    bill = json.loads(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code",
                          demand["consumerCode"], "--service", "TL").stdout, parse_float=Decimal)["Bill"][0]
    assert Decimal(str(bill["totalAmount"])) == Decimal("1600.00")

    # cancelled: nothing left to bill
    res = update(store, tmp_path, {**ref, "status": "CANCELLED"})
    assert res.exit_code == 0 and json.loads(res.stdout)["Demands"][0]["status"] == "CANCELLED", res.output
    gone = run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code",
               demand["consumerCode"], "--service", "TL")
    assert gone.exit_code == 2, gone.output

    login(store, "admin")
    log = json.loads(run(store, "-o", "json", "audit", "log", "--limit", "30").stdout)
    updates = [r for r in log if r["operation"] == "/billing-service/demand/_update"]
    assert len(updates) == 2 and updates[-1]["before"]["status"] == "ACTIVE"
    check = run(store, "store", "check")
    assert check.exit_code == 0, check.output


def test_a_demand_with_money_collected_is_not_cancelled(quickstart_url: str, tmp_path: Path):
    store = quickstart_url
    login(store, "clerk.amritsar")
    [demand] = json.loads(run(store, "-o", "json", "demand", "list", "--tenant", "pb.amritsar").stdout)["Demands"]
    bill = json.loads(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code",
                          demand["consumerCode"], "--service", "TL").stdout)["Bill"][0]
    assert run(store, "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH", "--amount",
               str(bill["totalAmount"]).split(".")[0]).exit_code == 0
    res = update(store, tmp_path, {"id": demand["id"], "tenantId": "pb.amritsar", "status": "CANCELLED"})
    assert code(res) == "EG_BS_DEMAND_COLLECTED"
