"""`-o json` as DIGIT's services write it, each object checked against its contract in
../shared/digit-reference/contracts (issue 9, item 12): the error envelope, idgen, workflow
history and BusinessService search, HRMS employees, demands and bills."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
NOW_MS = int(dt.datetime.fromisoformat(NOW).timestamp() * 1000)


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def js(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_float=Decimal)


# -- the error envelope: tracer's ErrorRes ---------------------------------------------------------
def test_an_error_is_digits_error_response_with_params_as_strings(tmp_path, error_of, contract):
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert run(url, "init", "--state", "pb", "--counter", "C01").exit_code == 0
    res = run(url, "-o", "json", "init", "--counter", "C02")
    assert res.exit_code == 2, res.output
    doc = json.loads(res.stdout)
    assert contract("common-contract.yml", "ErrorRes", doc, closed=True) == []
    [err] = doc["Errors"]
    assert contract("common-contract.yml", "Error", err, closed=True) == []
    assert set(err) == {"code", "message", "description", "params"}
    assert error_of(res) == ("COUNTER_MISMATCH", err["message"], ["counterCode: C01", "requested: C02"])
    info = doc["ResponseInfo"]
    assert info["status"] == "FAILED" and info["ts"] == NOW_MS
    assert contract("common-contract.yml", "ResponseInfo", info, closed=True) == []
    # people read the same params, one a line
    human = run(url, "init", "--counter", "C02")
    assert human.exit_code == 2 and "counterCode: C01" in human.stderr and "requested: C02" in human.stderr


def test_usage_errors_use_the_same_envelope(tmp_path, error_of, contract):
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = run(url, "-o", "json", "pay", "--no-such-option")
    assert res.exit_code == 2, res.output
    code, _, params = error_of(res)
    assert code == "INVALID_USAGE" and len(params) == 1 and params[0].startswith("command: ")
    assert params[0].endswith(" pay")
    assert contract("common-contract.yml", "ErrorRes", json.loads(res.stdout), closed=True) == []


# -- a state with its workflows and demo users ---------------------------------------------------
@pytest.fixture
def world(templated_store, store_templates, demo_users_builder) -> str:
    """The demo-users template with the bundled workflows applied by `digitctl workflow apply`
    (made once per test process, copied per test), admin logged in."""
    from digitctl.resources import bundled

    def build_world(url: str) -> None:
        store_templates.materialize("demo-users", demo_users_builder, url)
        login(url, "admin")
        js(run(url, "workflow", "apply", str(bundled("configs") / "workflows"), "--tenant", "pb", "-o", "json"))

    url = str(templated_store("cli-digit-json-world", build_world))
    login(url, "admin")
    return url


def login(store: str, user: str) -> None:
    from digitctl.services import quickstart

    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def new_tl(store: str) -> str:
    login(store, "clerk.amritsar")
    doc = js(run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
                 "--applicant-name", "Simran Kaur", "--applicant-mobile", "9876543210", "--locality", "SUN04",
                 "--details", '{"tradeName": "Kaur Sweets", "tradeType": "GOODS.RETAIL.TST-29"}', "-o", "json"))
    no = doc["Applications"][0]["applicationNo"]
    js(run(store, "workflow", "transition", no, "--action", "APPLY", "--tenant", "pb.amritsar", "-o", "json"))
    login(store, "verifier.amritsar")
    js(run(store, "workflow", "transition", no, "--action", "FORWARD", "--tenant", "pb.amritsar", "-o", "json"))
    return no


# DIGIT's ProcessInstance (egov-workflow-v2 web/models) has `state` as a State object and
# `nextActions` as Action objects where the old contract says strings; its assigner/assignes are
# egov-user's users as the workflow's user search fills them: digitctl gives uuid, userName and
# type (no PII in a timeline), so the User contract's required PII is not asked for.
PROCESS_INSTANCE_AS_DIGIT_WRITES_IT = {
    "ProcessInstance.state": {"$ref": "#State"},
    "ProcessInstance.nextActions": {"type": "array", "items": {"$ref": "#Action"}},
    "egov-user-contract.yml:User!required": [],
}


def test_workflow_history_is_newest_first_with_previous_status(world, contract):
    no = new_tl(world)
    doc = js(run(world, "workflow", "history", no, "--tenant", "pb.amritsar", "-o", "json"))
    assert set(doc) == {"ResponseInfo", "ProcessInstances"} and doc["ResponseInfo"]["status"] == "SUCCESSFUL"
    assert contract("egov-workflow-v2.yml", "ProcessIntanceResponse", doc, closed=True,
                    patch=PROCESS_INSTANCE_AS_DIGIT_WRITES_IT) == []
    items = doc["ProcessInstances"]
    # egov-workflow-v2's search with history: ORDER BY lastModifiedTime DESC
    assert [(i["action"], i["previousStatus"], i["state"]["state"]) for i in items] == [
        ("FORWARD", "APPLIED", "FIELDINSPECTION"), ("APPLY", "INITIATED", "APPLIED"), ("INITIATE", None, "INITIATED")]
    times = [i["auditDetails"]["lastModifiedTime"] for i in items]
    assert times == sorted(times, reverse=True)
    assert "nextActions" in items[0] and "nextActions" not in items[1]       # the live one is the newest
    login(world, "inspector.amritsar")
    table = run(world, "workflow", "history", no, "--tenant", "pb.amritsar")
    assert table.exit_code == 0 and table.stdout.index("FORWARD") < table.stdout.index("INITIATE")
    assert "next actions for you:" in table.stdout and "SENDBACKTOCITIZEN" in table.stdout


def test_workflow_show_is_a_business_service_search_result_with_uuids(world, contract):
    doc = js(run(world, "workflow", "show", "NewTL", "--tenant", "pb.amritsar", "-o", "json"))
    assert set(doc) == {"ResponseInfo", "BusinessServices"}
    # the contract's BusinessService requires a `url` it never defines (DIGIT's Java has none)
    assert contract("egov-workflow-v2.yml", "BusinessService", doc["BusinessServices"][0],
                    patch={"BusinessService!required": ["tenantId", "businessService"]}) == []
    [bs] = doc["BusinessServices"]
    # NewTL is state-level (DIGIT's default): pb.amritsar is answered with the state's definition
    assert bs["businessService"] == "NewTL" and bs["tenantId"] == "pb"
    uuid_of = {s["state"]: s["uuid"] for s in bs["states"]}
    assert len(set(uuid_of.values())) == len(bs["states"]) and bs["uuid"] not in uuid_of.values()
    assert all(s["businessServiceId"] == bs["uuid"] and s["tenantId"] == "pb" for s in bs["states"])
    actions = [(s["state"], a) for s in bs["states"] for a in s["actions"] or []]
    assert len({a["uuid"] for _, a in actions}) == len(actions)
    for state, a in actions:                   # as DIGIT stores them: actions name states by uuid
        assert a["currentState"] == uuid_of[state]
        assert a["nextState"] in uuid_of.values()
    approve = next(a for s, a in actions if s == "PENDINGAPPROVAL" and a["action"] == "APPROVE")
    assert approve["nextState"] == uuid_of["PENDINGPAYMENT"]
    # the same uuids on every read (a script may keep them)
    again = js(run(world, "workflow", "show", "NewTL", "--tenant", "pb.amritsar", "-o", "json"))
    assert again["BusinessServices"] == doc["BusinessServices"]
    table = run(world, "workflow", "show", "NewTL", "--tenant", "pb.amritsar")
    assert table.exit_code == 0 and "PENDINGPAYMENT" in table.stdout


# -- employees: egov-hrms -------------------------------------------------------------------------
# HRMS's EmployeeResponse writes the list as "Employees" (the contract's EmployeeRes says "Employee").
EMPLOYEES_AS_HRMS_WRITES_THEM = {"EmployeeRes.Employees": {"type": "array", "items": {"$ref": "#Employee"}}}


def test_an_employee_is_hrms_employees_with_epoch_dates(world, contract):
    created = js(run(world, "user", "create", "--type", "EMPLOYEE", "--username", "clerk9", "--name", "Harpreet Singh",
                     "--mobile", "9814012345", "--role", "TL_CEMP@pb.amritsar", "--tenant", "pb.amritsar",
                     "--department", "DEPT_1", "--designation", "DESIG_1", "-o", "json"))
    shown = js(run(world, "user", "show", "clerk9", "--tenant", "pb.amritsar", "-o", "json"))
    for doc in (created, shown):
        assert set(doc) == {"ResponseInfo", "Employees"}
        assert contract("hrms-v1.0.0.yaml", "EmployeeRes", doc, closed=True,
                        patch=EMPLOYEES_AS_HRMS_WRITES_THEM) == []
        [emp] = doc["Employees"]
        assert emp["tenantId"] == "pb.amritsar" and emp["isActive"] is True
        assert emp["uuid"] == emp["user"]["uuid"] and emp["user"]["userName"] == "clerk9"
        assert "employee" not in emp["user"]
        [a] = emp["assignments"]
        midnight = int(dt.datetime(2026, 11, 25, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
                       .timestamp() * 1000)
        assert (a["department"], a["designation"], a["fromDate"], a["toDate"]) == ("DEPT_1", "DESIG_1", midnight,
                                                                                  None)
        assert [j["boundary"] for j in emp["jurisdictions"]] == ["pb.amritsar"]
    # a user without an HRMS record stays egov-user's {"user": [...]}
    citizen = js(run(world, "user", "create", "--type", "CITIZEN", "--username", "cit9", "--name", "Simran",
                     "--mobile", "9876500001", "-o", "json"))
    assert set(citizen) == {"user"}
    table = run(world, "user", "show", "clerk9", "--tenant", "pb.amritsar")
    assert table.exit_code == 0 and "DEPT_1 / DESIG_1" in table.stdout


# -- demands and bills: billing-service v2 --------------------------------------------------------
# Contract defects (README of the reference folder): Demand requires `owner` and DemandDetail
# `taxHead`, which neither defines; the payer is egov-user's User, of which a demand keeps uuid,
# name and mobile number; Demand.businessService says minLength 4, DIGIT's own codes are "TL", "PT".
BILLING_AS_DIGIT_WRITES_IT = {
    "Demand.businessService": {"type": "string"},
    "Demand!required": ["taxPeriodFrom", "taxPeriodTo", "demandDetails", "consumerCode", "businessService",
                        "minimumAmountPayable", "tenantId", "consumerType"],
    "DemandDetail!required": ["taxHeadMasterCode", "taxAmount", "collectionAmount"],
    "egov-user-contract.yml:User!required": [],
}
TL_FROM, TL_TO = 1585679399000, 1617172199000


def test_demand_and_bill_details_name_their_parent_and_tenant(clerk_cli_store, tmp_path, contract):
    store = clerk_cli_store
    path = tmp_path / "demand.json"
    path.write_text('{"Demands": [{"tenantId": "pb.amritsar", "consumerCode": "TL-JS-1", "businessService": "TL", '
                    '"taxPeriodFrom": %d, "taxPeriodTo": %d, "payer": {"name": "Simran Kaur", '
                    '"mobileNumber": "9876543210"}, "demandDetails": [{"taxHeadMasterCode": "TL_TAX", '
                    '"taxAmount": 1250, "collectionAmount": 0}]}]}' % (TL_FROM, TL_TO))
    created = js(run(store, "-o", "json", "demand", "create", "-f", str(path)))
    listed = js(run(store, "-o", "json", "demand", "list", "--tenant", "pb.amritsar", "--consumer-code", "TL-JS-1"))
    for doc in (created, listed):
        assert contract("billing-service-v2.yml", "DemandResponse", doc, closed=True,
                        patch=BILLING_AS_DIGIT_WRITES_IT) == []
        [demand] = doc["Demands"]
        for line in demand["demandDetails"]:
            assert line["demandId"] == demand["id"] and line["tenantId"] == "pb.amritsar"
            assert line["auditDetails"]["createdTime"] == NOW_MS and line["auditDetails"]["createdBy"]
    bill_doc = js(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code", "TL-JS-1",
                      "--service", "TL"))
    assert contract("billing-service-v2.yml", "BillResponse", bill_doc, patch=BILLING_AS_DIGIT_WRITES_IT) == []
    [bill] = bill_doc["Bill"]
    for detail in bill["billDetails"]:
        assert detail["tenantId"] == "pb.amritsar" and detail["billId"] == bill["id"]
        for account in detail["billAccountDetails"]:
            assert account["tenantId"] == "pb.amritsar" and account["billDetailId"] == detail["id"]
