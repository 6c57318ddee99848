"""The real `digitctl` commands through Typer's runner: output, exit codes, JSON shapes."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

runner = CliRunner()


def run(store: str, *args: str):
    return runner.invoke(cli, ["--store", store, *args], env={"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"})


@pytest.fixture
def store(templated_store) -> str:
    """`digitctl init --state pb --counter C01`'s store (run once per test process, then copied)."""
    def build_store(url: str) -> None:
        assert run(url, "init", "--state", "pb", "--counter", "C01").exit_code == 0

    return str(templated_store("cli-mdms-init", build_store))


@pytest.fixture(scope="module")
def pb_store(tmp_path_factory, reference) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('pb') / 'pb.db'}"
    assert run(url, "init", "--state", "pb").exit_code == 0
    res = run(url, "mdms", "apply", str(reference / "mdms" / "data" / "pb"))
    assert res.exit_code == 0, res.output
    return url


def test_commands_refuse_a_store_that_was_never_initialized(tmp_path):
    res = run(f"sqlite:///{tmp_path / 'none.db'}", "tenant", "list", "-o", "json")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["Errors"][0]["code"] == "STORE_NOT_INITIALIZED"


def test_apply_prints_a_summary_and_json_totals(store, reference):
    res = run(store, "mdms", "apply", str(reference / "mdms" / "data" / "pb" / "BillingService"))
    assert res.exit_code == 0, res.output
    assert "TAXPERIOD_INVALID_CYCLE" in res.stdout
    assert "added" in res.stdout
    again = run(store, "mdms", "apply", str(reference / "mdms" / "data" / "pb" / "BillingService"), "-o", "json")
    doc = json.loads(again.stdout)
    assert doc["totals"]["added"] == 0 and doc["totals"]["changed"] == 0
    assert doc["totals"]["unchanged"] > 300


def test_strict_and_dry_run_write_nothing(store, reference):
    folder = str(reference / "mdms" / "data" / "pb" / "common-masters")
    strict = run(store, "mdms", "apply", folder, "--strict", "-o", "json")
    assert strict.exit_code == 2
    assert json.loads(strict.stdout)["Errors"][0]["code"] == "MDMS_STRICT_REFUSED"
    dry = run(store, "mdms", "apply", folder, "--dry-run", "-o", "json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["totals"]["added"] > 100
    search = run(store, "mdms", "search", "--tenant", "pb", "--module", "common-masters", "--master", "IdFormat",
                 "-o", "json")
    # nothing was written, so no file names pb: DIGIT's MDMS answers Invalid_tenantId
    assert search.exit_code == 2
    assert json.loads(search.stdout)["Errors"][0]["code"] == "Invalid_tenantId.MdmsCriteria.tenantId"


def test_missing_path_is_refused(store, tmp_path):
    res = run(store, "mdms", "apply", str(tmp_path / "nope"))
    assert res.exit_code == 2
    assert "MDMS_PATH_NOT_FOUND" in res.output


def test_search_with_filter_prints_digit_mdmsres(pb_store):
    res = run(pb_store, "mdms", "search", "--tenant", "pb.amritsar", "--module", "BillingService",
              "--master", "TaxHeadMaster", "--filter", "[?(@.service=='TL')]", "-o", "json")
    assert res.exit_code == 0, res.output
    heads = json.loads(res.stdout)["MdmsRes"]["BillingService"]["TaxHeadMaster"]
    assert heads and all(h["service"] == "TL" for h in heads)
    assert "TL_TAX" in {h["code"] for h in heads}
    table = run(pb_store, "mdms", "search", "--tenant", "pb.amritsar", "--module", "BillingService",
                "--master", "TaxHeadMaster", "--filter", "[?(@.service=='TL')]")
    assert "TL_TAX" in table.stdout and "PT_TAX" not in table.stdout


def test_tenants_and_boundaries(pb_store):
    listed = json.loads(run(pb_store, "tenant", "list", "-o", "json").stdout)["tenants"]
    assert [t["code"] for t in listed][:2] == ["pb", "pb.amritsar"]
    assert len(listed) == 8
    show = run(pb_store, "tenant", "show", "pb.amritsar")
    assert "107" in show.stdout and "REVENUE" in show.stdout
    tree = run(pb_store, "boundary", "show", "--tenant", "pb.amritsar", "--hierarchy", "REVENUE")
    assert tree.exit_code == 0
    assert "Zone: Zone 1 (Z1)" in tree.stdout and "Locality: Ajit Nagar - Area1 (SUN04)" in tree.stdout
    as_json = json.loads(run(pb_store, "boundary", "show", "--tenant", "pb.amritsar", "-o", "json").stdout)
    assert {b["hierarchyType"]["code"] for b in as_json["TenantBoundary"]} == {"REVENUE", "ADMIN"}
    unknown = run(pb_store, "boundary", "show", "--tenant", "pb.mohali", "--hierarchy", "ADMIN", "-o", "json")
    assert unknown.exit_code == 2
    assert json.loads(unknown.stdout)["Errors"][0]["code"] == "BOUNDARY_NOT_FOUND"
    missing = run(pb_store, "tenant", "show", "pb.atlantis")
    assert missing.exit_code == 2 and "INVALID_TENANTID" in missing.output


def test_global_options_work_after_the_subcommand(pb_store):
    res = runner.invoke(cli, ["tenant", "list", "--store", pb_store, "-o", "csv"])
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0] == "code,name,cityCode,district/city,type"


def test_quickstart_builds_a_demo_store_and_refuses_a_real_one(tmp_path, pb_store):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    res = run(url, "quickstart")
    assert res.exit_code == 0, res.output
    assert "Demo store ready" in res.stdout and "clerk.amritsar" in res.stdout
    assert run(url, "tenant", "list").exit_code == 3          # demo users exist: log in first
    assert run(url, "login", "--username", "admin", "--password-stdin").exit_code == 2   # nothing on stdin
    login = runner.invoke(cli, ["--store", url, "login", "--username", "admin", "--password-stdin"], input="Demo@1234\n")
    assert login.exit_code == 0, login.output
    codes = [t["code"] for t in json.loads(run(url, "tenant", "list", "-o", "json").stdout)["tenants"]]
    assert codes == ["pb", "pb.amritsar", "pb.jalandhar"]
    again = json.loads(run(url, "quickstart", "-o", "json").stdout)
    assert again["mdms"]["totals"]["added"] == 0
    assert again["demoApplications"] == []          # made once only
    verifier = runner.invoke(cli, ["--store", url, "login", "--username", "verifier.amritsar", "--password-stdin"],
                             input="Demo@1234\n")
    assert verifier.exit_code == 0
    inbox = json.loads(run(url, "inbox", "-o", "json").stdout)
    assert [(i["businessService"], i["applicationStatus"]) for i in inbox["items"]] == [("NewTL", "APPLIED")]
    refused = run(pb_store, "quickstart", "-o", "json")
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["Errors"][0]["code"] == "STORE_NOT_EMPTY"


def test_unexpected_failures_exit_1_without_traceback(store, monkeypatch):
    from digitctl.services import tenants

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tenants, "list_tenants", boom)
    res = run(store, "tenant", "list")
    assert res.exit_code == 1
    assert "INTERNAL_ERROR" in res.output and "Traceback" not in res.output


def test_a_folder_of_malformed_files_is_a_parse_error_naming_file_and_line(store, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.json").write_text('{"tenantId": "pb",\n"moduleName": "M", "X": [}')
    res = run(store, "-o", "json", "mdms", "apply", str(tmp_path / "bad"))
    assert res.exit_code == 2
    err = json.loads(res.stdout)["Errors"][0]
    assert err["code"] == "MDMS_PARSE_ERROR" and "x.json" in err["message"] and "line 2" in err["message"]


def test_config_shows_the_master_config_the_last_apply_found(pb_store):
    res = run(pb_store, "-o", "json", "mdms", "config")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["source"].endswith("digit-reference/mdms/master-config.json")
    assert doc["masterConfig"]["BillingService"]["TaxHeadMaster"]["isStateLevel"] is True
    table = run(pb_store, "mdms", "config")
    assert "TaxHeadMaster" in table.stdout and "isStateLevel" in table.stdout


def test_search_at_a_city_serves_the_states_state_level_master(pb_store, reference):
    res = run(pb_store, "-o", "json", "mdms", "search", "--tenant", "pb.nawanshahr", "--module", "BillingService",
              "--master", "TaxPeriod")
    assert res.exit_code == 0, res.output
    state = json.loads((reference / "mdms" / "data" / "pb" / "BillingService" / "TaxPeriod.json").read_text())
    assert json.loads(res.stdout) == {"MdmsRes": {"BillingService": {"TaxPeriod": state["TaxPeriod"]}}}
    bogus = run(pb_store, "-o", "json", "mdms", "search", "--tenant", "pb.bogus", "--module", "BillingService")
    assert bogus.exit_code == 2
    assert json.loads(bogus.stdout)["Errors"][0]["code"] == "Invalid_tenantId.MdmsCriteria.tenantId"


def test_schema_apply_of_another_states_files_says_so(store, reference):
    res = run(store, "-o", "json", "mdms", "schema", "apply", str(reference / "mdms-v2-schemas"))
    assert res.exit_code == 2
    err = json.loads(res.stdout)["Errors"][0]
    assert err["code"] == "MDMS_SCHEMA_TENANT_MISMATCH" and "--tenant pb" in err["message"]


def test_apply_groups_warnings_by_code_with_a_few_examples(store, tmp_path):
    """Ten repeated records are one DUPLICATE_RECORD group with a count and three examples; every
    one with --verbose and in -o json (issue 14: 219 such lines on a full-tree apply)."""
    folder = tmp_path / "pb" / "common-masters"
    folder.mkdir(parents=True)
    records = [{"code": f"DEPT_{i}", "name": f"Department {i}", "active": True} for i in range(10)]
    (folder / "Department.json").write_text(json.dumps(
        {"tenantId": "pb", "moduleName": "common-masters", "Department": records + records}))
    res = run(store, "mdms", "apply", str(tmp_path / "pb"), "--dry-run")
    assert res.exit_code == 0, res.output
    assert "DUPLICATE_RECORD × 10" in res.stdout, res.stdout
    assert res.stdout.count("DUPLICATE_RECORD:") == 3 and "7 more (--verbose or -o json" in res.stdout
    verbose = run(store, "mdms", "apply", str(tmp_path / "pb"), "--dry-run", "--verbose")
    assert verbose.stdout.count("DUPLICATE_RECORD:") == 10
    doc = json.loads(run(store, "-o", "json", "mdms", "apply", str(tmp_path / "pb"), "--dry-run").stdout)
    assert sum(1 for w in doc["warnings"] if w["code"] == "DUPLICATE_RECORD") == 10


def test_apply_reports_progress_master_by_master(app, reference):
    """The callback a front door draws its bar with: every master, in order, up to the total."""
    from digitctl.services import mdms

    seen: list[tuple[int, int]] = []
    report = mdms.apply(app, app.context("pb"), [reference / "mdms" / "data" / "pb" / "BillingService"],
                        progress=lambda done, total: seen.append((done, total)))
    total = len(report.masters)
    assert total > 3 and seen == [(i, total) for i in range(1, total + 1)]
