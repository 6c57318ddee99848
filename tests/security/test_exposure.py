"""Issue 16.5 and 16.6, who sees whose data, tried through the real CLI on a quickstart demo
store: a citizen reads only their own bills, payments, receipts and workflow histories (refused
with ACCESS_DENIED, exit 3, nothing written: a refused receipt print is not counted); a GRO
at pb.amritsar sees users masked, as DataSecurity's SecurityPolicy says for GRO."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services import quickstart

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
TENANT = "pb.amritsar"
CITIZEN = "9876543210"                       # Simran Kaur, the demo citizen
TL_FROM, TL_TO = 1585679399000, 1617172199000


def run(store: str, *args: str, token: str | None = None, stdin: str | None = None):
    env = {"DIGITCTL_NOW": NOW, **({"DIGIT_TOKEN": token} if token else {})}
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env=env)


def token_of(store: str, user: str) -> str:
    res = run(store, "login", "--username", user, "--password-stdin", "--print-token",
              stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    return res.stdout.strip()


def code_of(res) -> str:
    return json.loads(res.stdout)["Errors"][0]["code"]


@pytest.fixture
def world(quickstart_url: str):
    """(store, clerk token, citizen token, someone else's application waiting for payment, the
    citizen's own application)."""
    from digitctl.services import quickstart  # noqa: F401

    url = quickstart_url
    clerk, citizen = token_of(url, "clerk.amritsar"), token_of(url, CITIZEN)
    apps = json.loads(run(url, "-o", "json", "application", "list", "--tenant", TENANT, token=clerk).stdout)
    others = [a["applicationNo"] for a in apps["Applications"] if a["applicationStatus"] == "PENDINGPAYMENT"]
    own = json.loads(run(url, "-o", "json", "application", "list", "--tenant", TENANT, token=citizen).stdout)
    mine = [a["applicationNo"] for a in own["Applications"] if a["businessService"] == "NewTL"]
    return url, clerk, citizen, others[0], mine[0]


def pay(store: str, clerk: str, **fetch: str) -> str:
    args = [x for k, v in fetch.items() for x in (f"--{k.replace('_', '-')}", v)]
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, *args, token=clerk)
    assert res.exit_code == 0, res.output
    bill = json.loads(res.stdout)["Bill"][0]
    res = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", TENANT, "--mode", "CASH",
              "--amount", str(bill["totalAmount"]), token=clerk)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"]


def refused(res, *secrets: str) -> None:
    assert res.exit_code == 3, res.output
    assert code_of(res) == "ACCESS_DENIED"
    for s in secrets:
        assert s not in res.stdout and s not in res.stderr


def test_a_citizen_cannot_read_someone_elses_bill_payment_history_or_daybook(world, tmp_path):
    store, clerk, citizen, other, _ = world
    payer_mobile = "9812345673"                 # the other applicant's
    refused(run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--application", other, token=citizen),
            payer_mobile)
    refused(run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--mobile", payer_mobile, token=citizen),
            payer_mobile)
    refused(run(store, "-o", "json", "workflow", "history", other, "--tenant", TENANT, token=citizen))
    receipt = pay(store, clerk, application=other)
    refused(run(store, "-o", "json", "payment", "show", receipt, "--tenant", TENANT, token=citizen), payer_mobile)
    refused(run(store, "-o", "json", "report", "daybook", "--tenant", TENANT, token=citizen), payer_mobile)
    # a refused receipt print writes no file and is not counted: the clerk's print is the original
    stolen = tmp_path / "stolen.pdf"
    refused(run(store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "--out", str(stolen),
                token=citizen))
    assert not stolen.exists()
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "--out",
              str(tmp_path / "original.pdf"), token=clerk)
    assert res.exit_code == 0 and json.loads(res.stdout)["Receipt"]["marks"] == [], res.output
    # the clerk still reads all of it
    assert run(store, "-o", "json", "payment", "show", receipt, "--tenant", TENANT, token=clerk).exit_code == 0
    assert run(store, "-o", "json", "workflow", "history", other, "--tenant", TENANT, token=clerk).exit_code == 0
    assert run(store, "-o", "json", "report", "daybook", "--tenant", TENANT, token=clerk).exit_code == 0


def test_a_citizen_reads_what_is_theirs(world, tmp_path):
    store, clerk, citizen, _, mine = world
    demand = tmp_path / "demand.json"
    demand.write_text(json.dumps({"Demands": [{
        "tenantId": TENANT, "consumerCode": "TL-OWN-1", "businessService": "TL", "taxPeriodFrom": TL_FROM,
        "taxPeriodTo": TL_TO, "payer": {"name": "Simran Kaur", "mobileNumber": CITIZEN},
        "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": "500", "collectionAmount": "0"}]}]}))
    assert run(store, "demand", "create", "-f", str(demand), token=clerk).exit_code == 0
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--consumer-code", "TL-OWN-1",
              "--service", "TL", token=citizen)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["Bill"][0]["mobileNumber"] == CITIZEN
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--mobile", CITIZEN, token=citizen)
    assert res.exit_code == 0, res.output
    receipt = pay(store, clerk, consumer_code="TL-OWN-1", service="TL")
    assert run(store, "-o", "json", "payment", "show", receipt, "--tenant", TENANT, token=citizen).exit_code == 0
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "--out",
              str(tmp_path / "mine.pdf"), token=citizen)
    assert res.exit_code == 0, res.output
    res = run(store, "-o", "json", "workflow", "history", mine, "--tenant", TENANT, token=citizen)
    assert res.exit_code == 0, res.output


# -- 16.6: masking by the role's tenant ------------------------------------------------------------
def test_a_gro_at_a_city_sees_citizens_masked_as_the_security_policy_says(world):
    """pb's SecurityPolicy "User": GRO sees name and mobileNumber MASKED at the first level. A
    GRO@pb.amritsar listing users used to get the citizen (a state-level record) plain, because
    the GRO role was dropped for a record outside pb.amritsar and the PLAIN default applied."""
    store, *_ = world
    gro = token_of(store, "supervisor.amritsar")                # GRO@pb.amritsar
    for args in (("user", "list", "--tenant", TENANT), ("user", "list", "--tenant", TENANT, "--type", "CITIZEN"),
                 ("user", "list", "--tenant", TENANT, "--mobile", CITIZEN)):
        res = run(store, "-o", "json", *args, token=gro)
        assert res.exit_code == 0, res.output
        found = [u for u in json.loads(res.stdout)["user"] if u["type"] == "CITIZEN"]
        assert found, args
        for u in found:
            assert u["mobileNumber"] == "******3210" and u["name"] == "S***** K***", (args, u)
            assert u["userName"] == "******3210"             # a citizen's user name is their mobile
        assert "Simran" not in res.stdout and CITIZEN not in res.stdout
    # their own city's employees are masked for them too
    res = run(store, "-o", "json", "user", "show", "clerk.amritsar", token=gro)
    assert json.loads(res.stdout)["Employees"][0]["user"]["name"] == "H******* S****"
