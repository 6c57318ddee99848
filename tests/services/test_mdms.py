"""MDMS apply and search on a real temporary store, with the real Punjab tree as it is."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digitctl.errors import InvalidInput
from digitctl.services import mdms
from local_store.models import AuditRecord, MdmsRecord, OutboxEvent


def _count(app, model) -> int:
    with app.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def _pb(reference: Path) -> Path:
    return reference / "mdms" / "data" / "pb"


def _real_records(reference: Path) -> int:
    n = 0
    for f in _pb(reference).rglob("*"):
        if f.is_file() and f.suffix in (".json", ""):
            try:
                doc = json.loads(f.read_text())
            except ValueError:
                continue
            n += sum(len(v) for k, v in doc.items() if isinstance(v, list))
    return n


def test_whole_pb_tree_applies_with_warnings_only_and_reapplies_as_noop(app, reference):
    ctx = app.context("pb")
    events_before = _count(app, OutboxEvent)
    first = mdms.apply(app, ctx, [_pb(reference)])
    assert first.errors == []
    assert first.total("added") > 20000
    # a record is skipped only where DIGIT ignores its whole file: a second file for a master
    # master-config does not let merge (the Sanitation/ copies of FSM, Vehicle, tenant ...)
    ignored_files = [p for p in first.warnings if p.code == "MDMS_MERGE_NOT_ALLOWED"]
    assert any("Sanitation" in str(p.file) for p in ignored_files)
    assert first.total("skipped") == sum(
        len(json.loads(Path(str(p.file)).read_text(encoding="utf-8-sig"))[p.master]) for p in ignored_files)
    assert first.total("added") <= _real_records(reference)
    codes = Counter(p.code for p in first.warnings)
    for expected in ("DUPLICATE_RECORD", "MDMS_KEY_CASE_MISMATCH", "MDMS_STRING_BOOLEAN",
                     "TAXPERIOD_INVALID_CYCLE", "IDGEN_INVALID_FORMAT", "ROLEACTION_UNKNOWN_ACTION",
                     "MDMS_TENANT_FOLDER_MISMATCH", "MDMS_MERGE_NOT_ALLOWED", "MDMS_STATE_LEVEL_IGNORED"):
        assert codes[expected] >= 1, expected
    for p in first.warnings:
        assert p.file and p.module, p     # each warning says where
    bad_idformat = [p for p in first.warnings if p.code == "IDGEN_INVALID_FORMAT"]
    assert [p.record for p in bad_idformat] == ["rev_grants.receipt.id"]
    assert sorted(Path(f).name for f in first.ignored) == ["README.md", "readme.txt"]

    stored = _count(app, MdmsRecord)
    events = _count(app, OutboxEvent)
    assert first.master_config_changed     # the tree's master-config.json is now the one in force
    assert events - events_before == sum(1 for m in first.masters if m.added or m.changed) + 1
    assert _count(app, AuditRecord) == events

    second = mdms.apply(app, ctx, [_pb(reference)])
    assert (second.total("added"), second.total("changed"), second.total("removed")) == (0, 0, 0)
    assert not second.master_config_changed
    assert second.total("unchanged") == stored
    assert _count(app, OutboxEvent) == events      # a no-op writes no events


def test_dry_run_writes_nothing(app, reference):
    report = mdms.apply(app, app.context("pb"), [_pb(reference) / "BillingService"], dry_run=True)
    assert report.total("added") > 300
    assert _count(app, MdmsRecord) == 0
    assert _count(app, OutboxEvent) == 2     # init's two store.configured events only


def test_strict_refuses_on_warnings_and_writes_nothing(app, reference):
    with pytest.raises(InvalidInput) as err:
        mdms.apply(app, app.context("pb"), [_pb(reference) / "BillingService"], strict=True)
    assert err.value.code == "MDMS_STRICT_REFUSED"
    assert any("TAXPERIOD_INVALID_CYCLE" in line for line in err.value.params["problems"])
    assert _count(app, MdmsRecord) == 0


def test_broken_files_are_reported_and_the_rest_loads(app, tmp_path):
    tree = tmp_path / "data" / "xx"
    (tree / "M").mkdir(parents=True)
    (tree / "M" / "good.json").write_text(json.dumps(
        {"tenantId": "xx", "moduleName": "M", "Things": [{"code": "A"}, {"code": "B"}]}))
    (tree / "M" / "broken.json").write_text('{"tenantId": "xx", "moduleName": "M", "Other": [')
    (tree / "M" / "tabbed.yaml").write_text("tenantId: xx\nmoduleName: M\nY:\n\t- code: C\n")
    (tree / "M" / "fine.yml").write_text("tenantId: xx\nmoduleName: M\nZ:\n  - code: D\n    active: 'true'\n")
    report = mdms.apply(app, app.context("xx"), [tmp_path / "data"])
    errors = {Path(str(p.file)).name: p.code for p in report.errors}
    assert errors == {"broken.json": "MDMS_PARSE_ERROR", "tabbed.yaml": "MDMS_PARSE_ERROR"}
    assert report.total("added") == 3
    res = mdms.search(app, app.context("xx"), "xx", "M")
    assert [r["code"] for r in res["MdmsRes"]["M"]["Things"]] == ["A", "B"]
    assert res["MdmsRes"]["M"]["Z"] == [{"code": "D", "active": "true"}]   # stored as given


def test_v2_export_and_changed_records(app, tmp_path):
    export = tmp_path / "common-masters.Department.json"
    export.write_text(json.dumps([{"tenantId": "pb", "data": {"code": "DEPT_1", "name": "Revenue", "active": True}},
                                  {"tenantId": "pb", "data": {"code": "DEPT_2", "name": "Health", "active": True}}]))
    cfg = tmp_path / "master-config.json"
    cfg.write_text(json.dumps({"common-masters": {"Department": {"masterName": "Department",
                                                                  "uniqueKeys": ["$.code"]}}}))
    first = mdms.apply(app, app.context("pb"), [export], master_config=cfg)
    assert first.total("added") == 2
    export.write_text(json.dumps([{"tenantId": "pb", "data": {"code": "DEPT_1", "name": "Revenue Dept", "active": True}},
                                  {"tenantId": "pb", "data": {"code": "DEPT_2", "name": "Health", "active": True}}]))
    second = mdms.apply(app, app.context("pb"), [export], master_config=cfg)
    assert (second.total("added"), second.total("changed"), second.total("unchanged")) == (0, 1, 1)
    names = [d["name"] for d in mdms.search(app, app.context("pb"), "pb", "common-masters",
                                              ["Department"])["MdmsRes"]["common-masters"]["Department"]]
    assert names == ["Revenue Dept", "Health"]
    with app.store.engine.connect() as conn:
        last = conn.execute(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
    assert last.before == {'["DEPT_1"]': {"code": "DEPT_1", "name": "Revenue", "active": True}}


def test_search_state_level_masters_and_filters(app, reference):
    mdms.apply(app, app.context("pb"), [_pb(reference) / "BillingService", _pb(reference) / "nawanshahr"])
    state_heads = json.loads((_pb(reference) / "BillingService" / "TaxHeadMaster.json").read_text())["TaxHeadMaster"]
    expected = [h["code"] for h in state_heads if h.get("service") == "TL"]
    res = mdms.search(app, app.context("pb.amritsar"), "pb.amritsar", "BillingService", ["TaxHeadMaster"],
                      "[?(@.service=='TL')]")
    assert [h["code"] for h in res["MdmsRes"]["BillingService"]["TaxHeadMaster"]] == expected
    # TaxHeadMaster is isStateLevel in master-config: pb.nawanshahr's own 18 heads are never served
    city = mdms.search(app, app.context("pb.nawanshahr"), "pb.nawanshahr", "BillingService", ["TaxHeadMaster"])
    assert [h["code"] for h in city["MdmsRes"]["BillingService"]["TaxHeadMaster"]] == [h["code"] for h in state_heads]
    both = mdms.search(app, app.context("pb"), "pb", "BillingService", ["TaxHeadMaster"],
                       "[?(@.service=='TL' && @.isDebit==true)]")
    assert {h["code"] for h in both["MdmsRes"]["BillingService"]["TaxHeadMaster"]} == \
        {h["code"] for h in state_heads if h.get("service") == "TL" and h.get("isDebit") is True}
    with pytest.raises(InvalidInput) as err:
        mdms.search(app, app.context("pb"), "pb", "BillingService", ["TaxHeadMaster"], "[?(@.service=='TL'")
    assert err.value.code == "MDMS_INVALID_FILTER"


def test_file_tenant_is_authoritative_and_duplicates_are_kept(app, reference):
    report = mdms.apply(app, app.context("pb"), [_pb(reference) / "nawanshahr" / "ACCESSCONTROL-ROLEACTIONS",
                                                 _pb(reference) / "ACCESSCONTROL-ROLES"])
    assert {m.tenant_id for m in report.masters} == {"pb.amritsar", "pb"}
    roles = mdms.search(app, app.context("pb"), "pb", "ACCESSCONTROL-ROLES", ["roles"])["MdmsRes"]
    codes = Counter(r["code"] for r in roles["ACCESSCONTROL-ROLES"]["roles"])
    source = Counter(r["code"] for r in json.loads(
        (_pb(reference) / "ACCESSCONTROL-ROLES" / "roles.json").read_text())["roles"])
    assert codes == source    # DIGIT serves both TL_APPROVER records; so do we
    assert any(p.code == "DUPLICATE_RECORD" and p.master == "roles" for p in report.warnings)


def test_registered_v2_schemas_validate_records_and_references(app, reference, tmp_path):
    from digitctl.services.mdms_schema import apply_schemas

    schemas = reference / "mdms-v2-schemas"
    apply_schemas(app, app.context("pb"), [schemas / "BillingService.BusinessService.json",
                                           schemas / "BillingService.TaxHeadMaster.json"], tenant_id="pb")
    real = json.loads((_pb(reference) / "BillingService" / "BusinessService.json").read_text())["BusinessService"]
    tl = next(b for b in real if b["code"] == "TL")
    heads = json.loads((_pb(reference) / "BillingService" / "TaxHeadMaster.json").read_text())["TaxHeadMaster"]
    tl_tax = next(h for h in heads if h["code"] == "TL_TAX")
    broken = dict(tl, code="XX")
    del broken["partPaymentAllowed"]                       # required by the schema
    orphan = dict(tl_tax, code="ZZ_TAX", service="ZZ")      # x-ref-schema: no BusinessService ZZ
    folder = tmp_path / "data" / "pb" / "BillingService"
    folder.mkdir(parents=True)
    (folder / "BusinessService.json").write_text(json.dumps(
        {"tenantId": "pb", "moduleName": "BillingService", "BusinessService": [tl, broken]}))
    (folder / "TaxHeadMaster.json").write_text(json.dumps(
        {"tenantId": "pb", "moduleName": "BillingService", "TaxHeadMaster": [tl_tax, orphan]}))
    report = mdms.apply(app, app.context("pb"), [tmp_path / "data"])
    refused = {(p.code, p.record) for p in report.errors}
    assert ("SCHEMA_VALIDATION_ERR", "code=XX") in refused
    assert ("REFERENCE_VALIDATION_ERR", "code=ZZ_TAX") in refused
    stored = mdms.search(app, app.context("pb"), "pb", "BillingService")["MdmsRes"]["BillingService"]
    assert [b["code"] for b in stored["BusinessService"]] == ["TL"]
    assert [h["code"] for h in stored["TaxHeadMaster"]] == ["TL_TAX"]   # its reference TL exists
