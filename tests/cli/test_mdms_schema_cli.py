"""`digitctl mdms schema apply` through the root command: output formats, exit codes, --dry-run,
--strict, --tenant, and nothing written when refused."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from digitctl.bootstrap import build
from digitctl.cli.main import app as root
from digitctl.services.mdms_schema import SchemaRegistry
from digitctl.services.store import init_store

REF = Path(__file__).resolve().parents[2].parent / "shared" / "digit-reference"
SCHEMAS = REF / "mdms-v2-schemas"
GOOD = {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"], "x-unique": ["code"]}


def make_store(tmp_path: Path, state: str | None = "pb") -> str:
    url = f"sqlite:///{tmp_path}/s.db"
    app = build(url)
    try:
        init_store(app, app.context(), state, "C01")
    finally:
        app.close()
    return url


@pytest.fixture
def store(templated_store) -> str:
    """make_store's store (state pb), made once per test process and copied per test."""
    return str(templated_store("cli-mdms-schema", init_pb))


def init_pb(url: str) -> None:
    app = build(url)
    try:
        init_store(app, app.context(), "pb", "C01")
    finally:
        app.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(root, list(args), env={"COLUMNS": "200", "DIGIT_TENANT": None,
                                                     "DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"})


def schemas_in(url: str) -> SchemaRegistry:
    app = build(url)
    try:
        with app.store.readonly_engine.connect() as conn:
            return SchemaRegistry.load(conn)
    finally:
        app.close()


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_apply_real_folder_prints_a_table(store: str) -> None:
    result = run("--store", store, "mdms", "schema", "apply", str(SCHEMAS), "--tenant", "pb")
    assert result.exit_code == 0, result.output
    assert "BillingService.TaxHeadMaster" in result.stdout
    assert "79 file(s): 78 added, 0 changed, 1 unchanged, 0 problem(s)" in result.stdout
    assert len(schemas_in(store)) == 78


def test_json_report_and_idempotent_second_run(store: str) -> None:
    first = run("--store", store, "mdms", "schema", "apply", str(SCHEMAS), "--tenant", "pb", "-o", "json")
    assert first.exit_code == 0, first.output
    doc = as_json(first)
    assert doc["summary"] == {"added": 78, "changed": 0, "unchanged": 1, "problems": 0}
    assert doc["dryRun"] is False and doc["files"] == 79
    assert {"tenantId", "code", "file"} <= set(doc["added"][0])
    second = as_json(run("--store", store, "-o", "json", "mdms", "schema", "apply", str(SCHEMAS), "--tenant", "pb"))
    assert second["summary"] == {"added": 0, "changed": 0, "unchanged": 79, "problems": 0}


def test_dry_run_writes_nothing(store: str) -> None:
    result = run("--store", store, "mdms", "schema", "apply", str(SCHEMAS), "--tenant", "pb", "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.output
    assert as_json(result)["dryRun"] is True and as_json(result)["summary"]["added"] == 78
    assert len(schemas_in(store)) == 0


def test_csv_rows(store: str) -> None:
    result = run("--store", store, "-o", "csv", "mdms", "schema", "apply",
                 str(SCHEMAS / "TradeLicense.TradeType.json"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "code,tenantId,status,file"
    assert lines[1].startswith("TradeLicense.TradeType,pb,added,")


def test_problems_are_reported_and_the_rest_applies(store: str, tmp_path: Path) -> None:
    (tmp_path / "A.Good.json").write_text(json.dumps(GOOD))
    (tmp_path / "A.Bad.json").write_text(json.dumps(dict(GOOD, **{"x-unique": ["name"]})))
    result = run("--store", store, "mdms", "schema", "apply", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "UNIQUE_ATTRIBUTE_LIST_ERR" in result.stdout
    assert "1 added" in result.stdout and "2 problem(s)" in result.stdout   # not required, not a property
    assert [s.code for s in schemas_in(store)] == ["A.Good"]


def test_strict_with_problems_exits_2_and_writes_nothing(store: str, tmp_path: Path, error_of) -> None:
    (tmp_path / "A.Good.json").write_text(json.dumps(GOOD))
    (tmp_path / "A.Bad.json").write_text(json.dumps({"type": "objekt", "required": ["code"], "x-unique": ["code"],
                                                     "properties": {"code": {}}}))
    result = run("--store", store, "mdms", "schema", "apply", str(tmp_path), "--strict")
    assert result.exit_code == 2, result.output
    assert "MDMS_SCHEMA_INVALID" in result.stderr and "INVALID_SCHEMA_DEFINITION" in result.stderr
    as_json_result = run("--store", store, "mdms", "schema", "apply", str(tmp_path), "--strict", "-o", "json")
    assert as_json_result.exit_code == 2
    code, _, params = error_of(as_json_result)
    assert code == "MDMS_SCHEMA_INVALID"
    problems = json.loads(error_of.params_dict(params)["problems"])
    assert [p["code"] for p in problems] == ["INVALID_SCHEMA_DEFINITION"]
    assert len(schemas_in(store)) == 0


def test_strict_without_problems_applies(store: str) -> None:
    result = run("--store", store, "mdms", "schema", "apply", str(SCHEMAS), "--tenant", "pb", "--strict", "-o", "json")
    assert result.exit_code == 0, result.output
    assert len(schemas_in(store)) == 78


def test_tenant_option_for_bare_definitions(tmp_path: Path) -> None:
    url = make_store(tmp_path, state=None)
    bare = str(SCHEMAS / "TradeLicense.TradeType.json")
    refused = run("--store", url, "-o", "json", "mdms", "schema", "apply", bare)
    assert refused.exit_code == 2 and as_json(refused)["Errors"][0]["code"] == "INVALID_TENANTID"
    ok = run("--store", url, "-o", "json", "mdms", "schema", "apply", bare, "--tenant", "pb.amritsar")
    assert ok.exit_code == 0, ok.output
    assert [(a["code"], a["tenantId"]) for a in as_json(ok)["added"]] == [("TradeLicense.TradeType", "pb")]


def test_uninitialized_store_is_refused(tmp_path: Path) -> None:
    result = run("--store", f"sqlite:///{tmp_path}/none.db", "-o", "json", "mdms", "schema", "apply", str(SCHEMAS), "--tenant", "pb")
    assert result.exit_code == 2
    assert as_json(result)["Errors"][0]["code"] == "STORE_NOT_INITIALIZED"


def test_missing_path_is_a_usage_error(store: str, tmp_path: Path) -> None:
    result = run("--store", store, "-o", "json", "mdms", "schema", "apply", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert as_json(result)["Errors"][0]["code"] == "PATH_NOT_FOUND"
