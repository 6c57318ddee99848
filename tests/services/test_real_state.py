"""The WHOLE real Punjab tree (../shared/digit-reference/mdms/data/pb, applied once per test
process and copied per test): DIGIT's MDMS tenant rule as egov-mdms-service answers it, access
control read at the state, and the counter and administration working at every city of
tenant.tenants, whatever files a city has of its own (pb.amritsar's and pb.jalandhar's
role-action files, pb.nawanshahr's BillingService files)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digitctl.errors import InvalidInput, NotFound
from digitctl.services import access_check, mdms, users, workflow
from local_store.models import MdmsRecord

# One xdist worker runs this module (make test: --dist loadgroup), so the whole-tree templates
# (SQLite and PostgreSQL, ~5-6 s each to build) are built by one worker instead of each.
pytestmark = pytest.mark.xdist_group("pb-tree")

PB_CITIES = ["pb.jalandhar", "pb.phagwara", "pb.amritsar", "pb.nawanshahr", "pb.mohali", "pb.nayagaon",
             "pb.derabassi"]
COUNTER_ACTIONS = ["/billing-service/bill/v2/_fetchbill", "/collection-services/payments/_create",
                   "/egov-workflow-v2/egov-wf/process/_transition", "/egov-idgen/id/_generate"]

# Each city on SQLite; on PostgreSQL the two cities with files of their own (pb.jalandhar's
# role-actions, pb.nawanshahr's BillingService): what differs per city is the data, and the
# backend runs the same queries whichever city asks (a whole-tree copy costs seconds on PostgreSQL).
PG_CITIES = ["pb.jalandhar", "pb.nawanshahr"]
BY_CITY = pytest.mark.parametrize(
    "store_backend,city",
    [("sqlite", c) for c in PB_CITIES] + [pytest.param("postgres", c, marks=pytest.mark.postgres) for c in PG_CITIES],
    indirect=["store_backend"])


def _records(reference: Path, relative: str, master: str) -> list[Any]:
    doc = json.loads((reference / "mdms" / "data" / "pb" / relative).read_text(encoding="utf-8-sig"))
    return doc[master]


def _search(app, tenant: str, module: str, masters: list[str] | None = None, flt: str | None = None) -> dict:
    return mdms.search(app, app.context(tenant), tenant, module, masters, flt)["MdmsRes"]


def test_pb_tenants_are_the_ones_tested(pb_tree_app):
    codes = [t["code"] for t in pb_tree_app.mdms.master("pb", "tenant", "tenants")]
    assert codes == ["pb", *PB_CITIES]


# -- DIGIT's MDMS search rule -------------------------------------------------------------------
def test_a_state_level_master_at_a_city_is_the_states_whatever_the_city_has(pb_tree_app, reference):
    app = pb_tree_app
    state = {m: _records(reference, f"BillingService/{m}.json", m)
             for m in ("TaxHeadMaster", "TaxPeriod", "BusinessService")}
    own = _records(reference, "nawanshahr/BillingService/TaxHeadMaster.json", "TaxHeadMaster")
    assert len(own) == 18 and len(state["TaxHeadMaster"]) == 246
    res = _search(app, "pb.nawanshahr", "BillingService", ["TaxHeadMaster", "TaxPeriod", "BusinessService"])
    for master, records in state.items():
        assert res["BillingService"][master] == records, master
    # role-actions: pb.amritsar's own file (6,990 grants) is never served, the state's 4,457 are
    roleactions = _search(app, "pb.amritsar", "ACCESSCONTROL-ROLEACTIONS", ["roleactions"])
    assert len(roleactions["ACCESSCONTROL-ROLEACTIONS"]["roleactions"]) == len(
        _records(reference, "ACCESSCONTROL-ROLEACTIONS/roleactions.json", "roleactions"))


def test_a_city_master_is_the_citys_own_and_a_master_the_city_lacks_is_left_out(pb_tree_app, reference):
    app = pb_tree_app
    # egov-location is not in master-config: each city answers with its own boundaries
    amritsar = _search(app, "pb.amritsar", "egov-location", ["TenantBoundary"])
    assert amritsar == {"egov-location": {"TenantBoundary": _records(
        reference, "amritsar/egov-location/boundary-data.json", "TenantBoundary")}}
    # FSM.PeriodicService is isStateLevel false: pb.amritsar has its own, pb.jalandhar none and
    # does NOT get the state's (no fallback); the module stays, the master is left out
    assert _search(app, "pb.amritsar", "FSM", ["PeriodicService"])["FSM"]["PeriodicService"] == _records(
        reference, "amritsar/FSM/PeriodicService.json", "PeriodicService")
    assert _search(app, "pb.jalandhar", "FSM", ["PeriodicService"]) == {"FSM": {}}
    assert _search(app, "pb", "FSM", ["PeriodicService"])["FSM"]["PeriodicService"] == _records(
        reference, "FSM/PeriodicService.json", "PeriodicService")
    # a module neither the city nor the state has is left out altogether
    assert _search(app, "pb.mohali", "NoSuchModule", ["X"]) == {}


def test_a_tenant_no_file_names_is_invalid(pb_tree_app):
    for tenant in ("pb.bogus", "xx", "xx.amritsar"):
        with pytest.raises(InvalidInput) as err:
            _search(pb_tree_app, tenant, "BillingService", ["TaxHeadMaster"])
        assert err.value.code == "Invalid_tenantId.MdmsCriteria.tenantId"


def test_of_two_files_for_one_non_mergeable_master_the_first_read_wins(app, reference):
    # amritsar/egf-master/FinancialYear.json (25 years) and Sanitation/amritsar/... (17) both say
    # pb.amritsar; master-config does not allow merging FinancialYear: the first file read wins,
    # the other is reported by name and never stored
    pb = reference / "mdms" / "data" / "pb"
    report = mdms.apply(app, app.context("pb"), [pb / "Sanitation" / "amritsar" / "egf-master",
                                                 pb / "amritsar" / "egf-master"])
    [ignored] = [p for p in report.warnings if p.code == "MDMS_MERGE_NOT_ALLOWED"]
    assert str(ignored.file).endswith("amritsar/egf-master/FinancialYear.json") and "Sanitation" in ignored.message
    assert report.total("skipped") == 25
    with app.store.engine.connect() as conn:
        stored = conn.execute(select(MdmsRecord.data).where(
            MdmsRecord.tenant_id == "pb.amritsar", MdmsRecord.master == "FinancialYear")
            .order_by(MdmsRecord.position)).scalars().all()
    assert stored == _records(reference, "Sanitation/amritsar/egf-master/FinancialYear.json", "FinancialYear")


def test_a_city_file_for_a_state_level_master_is_reported(app, reference):
    pb = reference / "mdms" / "data" / "pb"
    report = mdms.apply(app, app.context("pb"), [pb / "nawanshahr" / "BillingService"])
    ignored = {p.master for p in report.warnings if p.code == "MDMS_STATE_LEVEL_IGNORED"}
    assert ignored == {"TaxHeadMaster", "TaxPeriod", "BusinessService"}


# -- the services read where DIGIT's services read ----------------------------------------------
@BY_CITY
def test_a_collector_at_any_city_may_fetch_bills_pay_transition_and_generate_ids(pb_tree_app, as_user, city):
    app = pb_tree_app
    name = f"collector.{city.split('.')[1]}"
    users.create_user(app, as_user(app, "admin"), users.NewUser(
        user_name=name, name="Harpreet Singh", type="EMPLOYEE", tenant_id=city, mobile="9814012345",
        roles=[("UC_EMP", city), ("EMPLOYEE", city)], password="Counter@123"))
    clerk = as_user(app, name)
    for url in COUNTER_ACTIONS:
        _, decision = access_check.check(app, clerk, url, city)
        assert decision.allowed, (city, url, decision.reason)


@BY_CITY
def test_the_state_superuser_manages_employees_and_workflows_at_every_city(pb_tree_app, as_user, reference, city):
    app = pb_tree_app
    admin = as_user(app, "admin")
    name = f"employee.{city.split('.')[1]}"
    spec = users.NewUser(user_name=name, name="Simran Kaur", type="EMPLOYEE", tenant_id=city, mobile="9814012346",
                         roles=[("EMPLOYEE", city), ("TL_CEMP", city)], password="Counter@123",
                         employee=users.EmployeeSpec(department="DEPT_1", designation="DESIG_1"))
    users.create_user(app, admin, spec)
    users.set_locked(app, admin, name, True, tenant_id=city)
    assert users.set_locked(app, admin, name, False, tenant_id=city)
    report = workflow.apply(app, admin, [reference / "workflow" / "PGR.businessservice.json"], tenant_id=city)
    assert [r["tenantId"] for r in report.rows] == [city]


# -- re-applying is safe --------------------------------------------------------------------------
def _department_copy(reference: Path, folder: Path, change=None, drop: int | None = None) -> Path:
    doc = json.loads((reference / "mdms" / "data" / "pb" / "common-masters" / "Department.json").read_text())
    if change:
        doc["Department"][0]["name"] = change
    if drop is not None:
        del doc["Department"][drop]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Department.json").write_text(json.dumps(doc))
    return folder


def test_a_copy_from_another_folder_is_the_same_master_not_a_second_one(pb_tree_app, reference, tmp_path):
    app = pb_tree_app
    real = _records(reference, "common-masters/Department.json", "Department")
    same = mdms.apply(app, app.context("pb"), [_department_copy(reference, tmp_path / "a")])
    assert (same.total("added"), same.total("changed"), same.total("unchanged")) == (0, 0, len(real))
    renamed = mdms.apply(app, app.context("pb"), [_department_copy(reference, tmp_path / "b", change="Revenue Dept")])
    assert (renamed.total("added"), renamed.total("changed"), renamed.total("unchanged")) == (0, 1, len(real) - 1)
    served = _search(app, "pb.amritsar", "common-masters", ["Department"])["common-masters"]["Department"]
    assert [d["code"] for d in served] == [d["code"] for d in real]       # DEPT_1 once, 13 in all
    assert served[0]["name"] == "Revenue Dept"
    # a record missing from the files is reported (kept: Department is keyed by master-config)
    fewer = mdms.apply(app, app.context("pb"), [_department_copy(reference, tmp_path / "c", change="Revenue Dept",
                                                                 drop=1)], dry_run=True)
    [summary] = fewer.masters
    assert (summary.added, summary.changed, summary.vanished, summary.removed) == (0, 0, 1, 0)
    assert summary.vanished_keys and real[1]["code"] in summary.vanished_keys[0]


def test_schemas_registered_between_two_applies_change_no_identity(pb_tree_app, reference):
    from digitctl.services.mdms_schema import apply_schemas

    app = pb_tree_app
    periods = len(_records(reference, "BillingService/TaxPeriod.json", "TaxPeriod"))
    apply_schemas(app, app.context("pb"), [reference / "mdms-v2-schemas"], tenant_id="pb")
    again = mdms.apply(app, app.context("pb"), [reference / "mdms" / "data" / "pb"])
    assert (again.total("added"), again.total("changed"), again.total("removed")) == (0, 0, 0)
    served = _search(app, "pb.amritsar", "BillingService", ["TaxPeriod"])["BillingService"]["TaxPeriod"]
    assert len(served) == periods == 65


def test_a_master_without_keys_is_wholly_defined_by_its_files(pb_tree_app, reference, tmp_path):
    app = pb_tree_app
    # common-masters.IdFormat has uniqueKeys [] in master-config: a changed record replaces the old
    doc = json.loads((reference / "mdms" / "data" / "pb" / "common-masters" / "IdFormat.json").read_text())
    doc["IdFormat"][0]["format"] = doc["IdFormat"][0]["format"] + "-X"
    (tmp_path / "IdFormat.json").write_text(json.dumps(doc))
    report = mdms.apply(app, app.context("pb"), [tmp_path / "IdFormat.json"])
    [summary] = report.masters
    assert (summary.added, summary.changed, summary.removed) == (1, 0, 1)
    served = app.mdms.master("pb", "common-masters", "IdFormat")
    assert served == doc["IdFormat"]


def test_a_folder_of_broken_files_is_a_parse_error_not_access_denied(app, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.json").write_text('{"tenantId": "pb", "moduleName": "M",\n "X": [')
    with pytest.raises(InvalidInput) as err:
        mdms.apply(app, app.context("pb"), [folder])
    assert err.value.code == "MDMS_PARSE_ERROR"
    assert "line 2" in err.value.message and "a.json" in err.value.message


def test_schemas_of_another_state_are_refused_unless_retargeted(app, reference):
    from digitctl.services.mdms_schema import apply_schemas

    with pytest.raises(InvalidInput) as err:
        apply_schemas(app, app.context("pb"), [reference / "mdms-v2-schemas" / "common-masters.Department.json"])
    assert err.value.code == "MDMS_SCHEMA_TENANT_MISMATCH"
    assert "'pg'" in err.value.message and "--tenant pb" in err.value.message


PT_PERIOD = (1554076799000, 1585679399000)      # PTAN2019, the real pb TaxPeriod


@BY_CITY
def test_a_collector_at_any_city_fetches_a_bill_and_takes_cash(pb_tree_app, as_user, city):
    from decimal import Decimal

    from digitctl.services import billing, collection, shifts

    app = pb_tree_app
    admin = as_user(app, "admin")
    name = f"cashier.{city.split('.')[1]}"
    users.create_user(app, admin, users.NewUser(
        user_name=name, name="Harpreet Singh", type="EMPLOYEE", tenant_id=city, mobile="9814012347",
        roles=[("UC_EMP", city), ("EMPLOYEE", city)], password="Counter@123"))
    billing.create_demands(app, admin, [{
        "tenantId": city, "consumerCode": f"PT-{city}-1", "businessService": "PT",
        "taxPeriodFrom": PT_PERIOD[0], "taxPeriodTo": PT_PERIOD[1],
        "payer": {"name": "Simran Kaur", "mobileNumber": "9876543210"},
        "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": Decimal("1250"),
                           "collectionAmount": Decimal("0")}]}])
    cashier = as_user(app, name)
    shifts.open_shift(app, cashier, "1000")
    [bill] = billing.fetch_bill(app, cashier, city, consumer_code=f"PT-{city}-1", business_service="PT")
    assert bill["totalAmount"] == "1250.00"
    payment = collection.pay(app, cashier, tenant_id=city, bill_id=bill["id"], mode="CASH", amount="1250")
    assert payment["paymentDetails"][0]["receiptNumber"]
    with pytest.raises(NotFound) as settled:
        billing.fetch_bill(app, cashier, city, consumer_code=f"PT-{city}-1", business_service="PT")
    assert settled.value.code == "EG_BS_BILL_NO_DEMANDS_FOUND"


def test_a_workflow_is_looked_up_where_business_service_master_config_says(pb_tree_app, as_user, reference):
    """egov-workflow-v2's BusinessServiceRepository: NewTL is isStatelevel "true" in the real
    Workflow.BusinessServiceMasterConfig (state's definition at every city, a city's own never used);
    DisconnectSWConnection1 is "false" (the city's own, no fallback to the state's)."""
    from digitctl.errors import NotFound as Missing

    app = pb_tree_app
    admin = as_user(app, "admin")
    doc = json.loads((reference / "workflow" / "NewTL.businessservice.json").read_text())["BusinessServices"][0]
    city_copy = dict(doc, businessService="NewTL", tenantId="pb.jalandhar")
    folder = Path(app.store_url.split("///")[-1]).parent if app.store_url.startswith("sqlite") else None
    path = (folder or Path("/tmp")) / f"wf-{id(app)}.json"
    path.write_text(json.dumps({"BusinessServices": [city_copy]}))
    report = workflow.apply(app, admin, [path], tenant_id="pb.jalandhar")
    assert any("state-level" in w and "--tenant pb" in w for w in report.warnings)
    defn, _ = workflow.get_definition(app, admin, "NewTL", "pb.jalandhar")
    assert defn["tenantId"] == "pb"
    disconnect = dict(doc, businessService="DisconnectSWConnection1")
    path.write_text(json.dumps({"BusinessServices": [disconnect]}))
    workflow.apply(app, admin, [path], tenant_id="pb")
    with pytest.raises(Missing) as err:
        workflow.get_definition(app, admin, "DisconnectSWConnection1", "pb.amritsar")
    assert err.value.code == "BUSINESSSERVICE_NOT_FOUND" and err.value.params["definitionTenant"] == "pb.amritsar"
    workflow.apply(app, admin, [path], tenant_id="pb.amritsar")
    defn, _ = workflow.get_definition(app, admin, "DisconnectSWConnection1", "pb.amritsar")
    assert defn["tenantId"] == "pb.amritsar"
