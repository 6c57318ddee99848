"""MDMS v2 schema definitions on a real temporary store (SQLite and PostgreSQL, from conftest's
`app`: state pb, counter C01, frozen clock): the 79 real schema files of
../shared/digit-reference/mdms-v2-schemas, idempotency, dry run, outbox/audit, fallback lookup,
validation of real records (which do not all conform), uniqueIdentifier and x-ref-schema."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import App, build
from digitctl.clock import FixedClock
from digitctl.context import Actor, RequestContext
from digitctl.errors import Forbidden, InvalidInput
from digitctl.services import mdms_schema as ms
from digitctl.services.mdms_schema import (SchemaApplyRefused, SchemaDef, SchemaRegistry, apply_schemas,
                                           check_references, parse_schema_file)
from digitctl.services.store import init_store
from local_store.models import AuditRecord, MdmsSchema, OutboxEvent

# the same folder as conftest's `reference` fixture; the pure tests below read it directly
REF = Path(__file__).resolve().parents[3] / "shared" / "digit-reference"
SCHEMAS = REF / "mdms-v2-schemas"
DATA = REF / "mdms" / "data" / "pb"


@pytest.fixture(autouse=True)
def _needs_reference(reference: Path) -> None:
    """Skip (via conftest's `reference`) when ../shared/digit-reference is absent."""
    assert reference == REF


def count(app: App, model: Any, *where: Any) -> int:
    with app.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def registry(app: App) -> SchemaRegistry:
    with app.store.readonly_engine.connect() as conn:
        return SchemaRegistry.load(conn)


def real_schema(code: str) -> SchemaDef:
    items, problems = parse_schema_file(SCHEMAS / f"{code}.json")
    assert problems == [] and len(items) == 1
    return SchemaDef("pb", items[0]["code"], items[0]["definition"])


def real_records(module: str, master: str) -> list[dict[str, Any]]:
    doc = json.loads((DATA / module / f"{master}.json").read_text(encoding="utf-8"))
    records = doc[master]
    assert isinstance(records, list)
    return records


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# -- the real schema files ------------------------------------------------------------------------
def test_all_real_schema_files_apply(app: App) -> None:
    report = apply_schemas(app, app.context(), [SCHEMAS], tenant_id="pb")
    assert report.problems == []
    assert report.files == 79           # the folder holds 79 files (not 81)
    # common-masters.Uom.json and common-masters.UOM.json carry the same code and definition:
    # the second is counted unchanged within the batch.
    assert len(report.added) == 78 and report.changed == []
    assert [(o.code, Path(o.file).name) for o in report.unchanged] == [
        ("common-masters.UOM", "common-masters.Uom.json")]
    assert count(app, MdmsSchema) == 78
    # The search-response files say tenantId "pg" (DIGIT's sandbox): --tenant pb re-targets them,
    # and the 8 bare TradeLicense definitions, which carry no tenant, land there too.
    assert {o.tenant_id for o in report.added} == {"pb"}
    assert len(registry(app)) == 78


def test_schemas_of_another_tenant_are_refused_without_tenant(app: App) -> None:
    with pytest.raises(InvalidInput) as err:
        apply_schemas(app, app.context(), [SCHEMAS])
    assert err.value.code == "MDMS_SCHEMA_TENANT_MISMATCH"
    assert err.value.params["tenants"] == ["pg"]
    assert count(app, MdmsSchema) == 0


def test_second_apply_is_all_unchanged(app: App) -> None:
    apply_schemas(app, app.context(), [SCHEMAS], tenant_id="pb")
    outbox = count(app, OutboxEvent)
    again = apply_schemas(app, app.context(), [SCHEMAS], tenant_id="pb")
    assert again.added == [] and again.changed == [] and again.problems == []
    assert len(again.unchanged) == 79
    assert count(app, OutboxEvent) == outbox
    assert count(app, MdmsSchema) == 78


def test_dry_run_writes_nothing(app: App) -> None:
    rows, outbox, audit = count(app, MdmsSchema), count(app, OutboxEvent), count(app, AuditRecord)
    report = apply_schemas(app, app.context(), [SCHEMAS], tenant_id="pb", dry_run=True)
    assert report.dry_run and len(report.added) == 78
    assert (count(app, MdmsSchema), count(app, OutboxEvent), count(app, AuditRecord)) == (rows, outbox, audit)
    assert report.as_json()["dryRun"] is True


def test_one_outbox_event_and_audit_record_per_schema(app: App) -> None:
    apply_schemas(app, app.context(), [SCHEMAS], tenant_id="pb")
    assert count(app, OutboxEvent, OutboxEvent.event_type == "mdms.schema.upserted") == 78
    assert count(app, AuditRecord, AuditRecord.entity_type == "MdmsSchema") == 78
    with app.store.engine.connect() as conn:
        ev = conn.execute(select(OutboxEvent).where(OutboxEvent.entity_id == "BillingService.TaxHeadMaster")).one()
        audit = conn.execute(select(AuditRecord).where(AuditRecord.event_id == ev.event_id)).one()
    assert ev.tenant_id == "pb" and ev.entity_type == "MdmsSchema"
    assert {"tenantId", "code", "description", "definition", "isActive"} <= set(ev.payload)
    assert ev.payload["code"] == "BillingService.TaxHeadMaster"
    assert ev.payload["definition"]["x-ref-schema"] == [
        {"fieldPath": "service", "schemaCode": "BillingService.BusinessService"}]
    assert audit.operation == "/mdms-v2/schema/v1/_create" and audit.before is None
    assert audit.after["code"] == "BillingService.TaxHeadMaster"


def test_changed_definition_updates_in_place(app: App, tmp_path: Path) -> None:
    bare = json.loads((SCHEMAS / "TradeLicense.TradeType.json").read_text())
    apply_schemas(app, app.context(), [write(tmp_path / "TradeLicense.TradeType.json", bare)])
    bare["required"] = [r for r in bare["required"] if r != "name"]
    report = apply_schemas(app, app.context(), [write(tmp_path / "TradeLicense.TradeType.json", bare)])
    assert [o.code for o in report.changed] == ["TradeLicense.TradeType"] and report.added == []
    assert count(app, MdmsSchema) == 1
    schema = registry(app).find("pb", "TradeLicense", "TradeType")
    assert schema is not None and "name" not in schema.definition["required"]
    with app.store.engine.connect() as conn:
        audits = conn.execute(select(AuditRecord).where(AuditRecord.entity_type == "MdmsSchema")
                              .order_by(AuditRecord.seq)).all()
    assert len(audits) == 2
    assert "name" in audits[1].before["definition"]["required"]
    assert "name" not in audits[1].after["definition"]["required"]


def test_three_shapes_and_yaml(app: App, tmp_path: Path) -> None:
    definition = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                  "properties": {"code": {"type": "string"}}, "required": ["code"], "x-unique": ["code"]}
    write(tmp_path / "Demo.Bare.json", definition)
    write(tmp_path / "request.json", {"RequestInfo": {"apiId": "x"},
                                      "SchemaDefinition": {"tenantId": "pb", "code": "Demo.Request",
                                                           "definition": definition}})
    write(tmp_path / "search.json", {"ResponseInfo": {}, "SchemaDefinitions": [
        {"tenantId": "pb.amritsar", "code": "Demo.Search", "description": "d", "definition": definition,
         "isActive": True}]})
    import yaml

    (tmp_path / "Demo.Yaml.yaml").write_text(yaml.safe_dump(
        {"SchemaDefinition": {"code": "Demo.Yaml", "definition": definition}}), encoding="utf-8")
    report = apply_schemas(app, app.context(), [tmp_path])
    assert report.problems == []
    # like DIGIT, a schema is always kept at the state-level tenant
    assert sorted((o.code, o.tenant_id) for o in report.added) == [
        ("Demo.Bare", "pb"), ("Demo.Request", "pb"), ("Demo.Search", "pb"), ("Demo.Yaml", "pb")]


# -- problems -------------------------------------------------------------------------------------
def test_invalid_definitions_are_problems_not_crashes(app: App, tmp_path: Path) -> None:
    good = {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"],
            "x-unique": ["code"]}
    write(tmp_path / "A.NotDraft7.json", dict(good, type="objekt"))
    write(tmp_path / "A.NoRequired.json", {k: v for k, v in good.items() if k != "required"})
    write(tmp_path / "A.NoUnique.json", {k: v for k, v in good.items() if k != "x-unique"})
    write(tmp_path / "A.UniqueNotRequired.json", dict(good, **{"x-unique": ["name"]}))
    write(tmp_path / "A.UniqueNotProperty.json", dict(good, required=["code", "name"],
                                                      **{"x-unique": ["name"]}))
    write(tmp_path / "A.BadRef.json", dict(good, **{"x-ref-schema": [{"fieldPath": "code"}]}))
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    write(tmp_path / "other.json", {"hello": "world"})
    write(tmp_path / "A.Good.json", good)
    report = apply_schemas(app, app.context(), [tmp_path])
    by_file = {Path(p.file or "").name: p.code for p in report.problems}
    assert by_file == {
        "A.NotDraft7.json": ms.INVALID_SCHEMA_DEFINITION,
        "A.NoRequired.json": ms.REQUIRED_ATTRIBUTE_LIST_ERR,
        "A.NoUnique.json": ms.UNIQUE_ATTRIBUTE_LIST_ERR,
        "A.UniqueNotRequired.json": ms.UNIQUE_ATTRIBUTE_LIST_ERR,
        "A.UniqueNotProperty.json": ms.UNIQUE_ATTRIBUTE_LIST_ERR,
        "A.BadRef.json": ms.INVALID_REF_SCHEMA,
        "broken.json": ms.INVALID_JSON,
        "other.json": ms.INVALID_REQUEST_JSON,
    }
    assert all(p.severity == "error" for p in report.problems)
    not_prop = next(p for p in report.problems if (p.file or "").endswith("A.UniqueNotProperty.json"))
    assert "not among properties" in not_prop.message
    assert [o.code for o in report.added] == ["A.Good"]          # the good one still applies
    assert count(app, MdmsSchema) == 1


def test_strict_refuses_the_whole_batch(app: App, tmp_path: Path) -> None:
    write(tmp_path / "A.Good.json", {"type": "object", "properties": {"code": {"type": "string"}},
                                     "required": ["code"], "x-unique": ["code"]})
    write(tmp_path / "A.Bad.json", {"type": "object", "properties": {}, "required": [], "x-unique": []})
    with pytest.raises(SchemaApplyRefused) as err:
        apply_schemas(app, app.context(), [tmp_path], strict=True)
    assert err.value.code == "MDMS_SCHEMA_INVALID" and err.value.exit_code == 2
    assert {p["code"] for p in err.value.params["problems"]} == {"REQUIRED_ATTRIBUTE_LIST_ERR",
                                                                 "UNIQUE_ATTRIBUTE_LIST_ERR"}
    assert count(app, MdmsSchema) == 0 and count(app, OutboxEvent, OutboxEvent.entity_type == "MdmsSchema") == 0


def test_same_code_different_definition_in_one_batch(app: App, tmp_path: Path) -> None:
    base = {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"],
            "x-unique": ["code"]}
    write(tmp_path / "a.json", {"SchemaDefinition": {"code": "A.Same", "definition": base}})
    write(tmp_path / "b.json", {"SchemaDefinition": {"code": "A.Same", "definition": dict(base, title="x")}})
    report = apply_schemas(app, app.context(), [tmp_path])
    assert [p.code for p in report.problems] == [ms.DUPLICATE_SCHEMA_CODE]
    assert [Path(o.file).name for o in report.added] == ["a.json"]


def test_no_tenant_anywhere_is_invalid_tenant_id(store_url: str, frozen_clock: FixedClock) -> None:
    app = build(store_url, frozen_clock)
    try:
        init_store(app, app.context(), None, "C01")          # a store without a state tenant
        with pytest.raises(InvalidInput) as err:
            apply_schemas(app, app.context(), [SCHEMAS / "TradeLicense.TradeType.json"])
        assert err.value.code == "INVALID_TENANTID"
        report = apply_schemas(app, app.context(), [SCHEMAS / "TradeLicense.TradeType.json"], tenant_id="pb")
        assert [(o.code, o.tenant_id) for o in report.added] == [("TradeLicense.TradeType", "pb")]
    finally:
        app.close()


def test_missing_path_is_refused(app: App, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        apply_schemas(app, app.context(), [tmp_path / "nope.json"])
    assert err.value.code == "PATH_NOT_FOUND"


def test_unauthorized_actor_is_refused_and_nothing_written(app: App) -> None:
    ctx = RequestContext(actor=Actor(uuid="u-1", user_name="clerk", type="EMPLOYEE"), clock=app.clock)
    with pytest.raises(Forbidden):
        apply_schemas(app, ctx, [SCHEMAS / "TradeLicense.TradeType.json"])
    assert count(app, MdmsSchema) == 0


# -- lookup ----------------------------------------------------------------------------------------
def test_find_falls_back_from_city_to_state(app: App) -> None:
    apply_schemas(app, app.context(), [SCHEMAS], tenant_id="pb")
    reg = registry(app)
    found = reg.find("pb.amritsar", "TradeLicense", "TradeType")
    assert found is not None and found.tenant_id == "pb"
    assert (found.module, found.master) == ("TradeLicense", "TradeType")
    # the search-response schemas, re-targeted to pb, are seen from a pb city too
    assert reg.find("pb.amritsar", "BillingService", "TaxHeadMaster") is not None
    assert reg.find("pg", "BillingService", "TaxHeadMaster") is None
    assert reg.find("pb.amritsar", "TradeLicense", "NoSuchMaster") is None


def test_find_prefers_the_tenant_over_its_state() -> None:
    definition = {"type": "object", "required": ["code"], "x-unique": ["code"]}
    reg = SchemaRegistry([SchemaDef("pb", "M.X", definition, "state"),
                          SchemaDef("pb.amritsar", "M.X", definition, "city")])
    assert len(reg) == 2
    hit_city, hit_other = reg.find("pb.amritsar", "M", "X"), reg.find("pb.jalandhar", "M", "X")
    assert hit_city is not None and hit_city.description == "city"
    assert hit_other is not None and hit_other.description == "state"


# -- validating records ----------------------------------------------------------------------------
def test_validate_trade_type_catches_missing_field_and_wrong_type() -> None:
    schema = real_schema("TradeLicense.TradeType")
    good = {"name": "Cloth shop", "code": "GOODS.RETAIL.CLOTH", "uom": None, "applicationDocument": [
        {"applicationType": "NEW", "documentList": ["OWNERIDPROOF"]}], "verificationDocument": [],
        "active": True, "type": "TL", "validityPeriod": None}
    assert schema.validate(good) == []
    missing = {k: v for k, v in good.items() if k != "type"}
    assert schema.validate(missing) == ["$.type: 'type' is a required property"]
    wrong = dict(good, active="yes", applicationDocument=[{"applicationType": "NEW", "documentList": [5]}])
    assert schema.validate(wrong) == ["$.active: 'yes' is not of type 'boolean'",
                                      "$.applicationDocument[0].documentList[0]: 5 is not of type 'string'"]
    assert [c for c, _ in schema.violations(wrong)] == ["INVALID_REQUEST_TYPE", "INVALID_REQUEST_TYPE"]


def test_real_trade_type_records_do_not_conform_to_the_v2_schema() -> None:
    """The v2 TradeType schema requires `name`; none of pb's 230 real records has one. With a
    name supplied, 221 pass; 9 still fail (uom given where the schema says null; BPA-style
    records with applicationDocument as a list of strings and a numeric validityPeriod)."""
    schema = real_schema("TradeLicense.TradeType")
    records = real_records("TradeLicense", "TradeType")
    assert len(records) == 230
    assert all("$.name: 'name' is a required property" in schema.validate(r) for r in records)
    named = [dict(r, name=r["code"]) for r in records]
    still_failing = {r["code"]: schema.validate(r) for r in named if schema.validate(r)}
    assert len(named) - len(still_failing) == 221
    assert still_failing["GOODS.RETAIL.TST-39"] == ["$.uom: 'GROSSUNITS' is not of type 'null'"]
    assert "$.validityPeriod: 5 is not of type 'null'" in still_failing["ARCHITECT.CLASSA"]
    # a real record, completed with its missing name, passes
    assert schema.validate(named[0]) == []


def test_real_tax_head_records_pass_their_schema() -> None:
    schema = real_schema("BillingService.TaxHeadMaster")
    records = real_records("BillingService", "TaxHeadMaster")
    assert records and all(schema.validate(r) == [] for r in records)


def test_unique_identifier_and_store_key() -> None:
    tax_period = real_schema("BillingService.TaxPeriod")
    assert tax_period.unique_fields == ["code", "financialYear"]
    record = real_records("BillingService", "TaxPeriod")[0]
    assert record["code"] == "PTAN2019"
    assert tax_period.unique_identifier(record) == "PTAN2019.2019-20"
    assert tax_period.store_key(record) == ('["PTAN2019","2019-20"]', [])
    partial = {"code": "PTAN2019"}
    assert tax_period.unique_identifier(partial) is None
    assert tax_period.store_key(partial) == ('["PTAN2019",null]', ["$.financialYear"])
    assert tax_period.unique_identifier({"code": "X", "financialYear": ""}) is None
    # numbers and booleans as Jackson's asText() writes them; nested x-unique paths as pointers
    schema = SchemaDef("pb", "M.N", {"x-unique": ["n", "flag", "a.b"]})
    assert schema.unique_identifier({"n": 5, "flag": True, "a": {"b": "c"}}) == "5.true.c"
    assert schema.unique_identifier({"n": 5, "flag": True, "a": {"b": {"deep": 1}}}) is None


def test_validator_is_compiled_once() -> None:
    schema = real_schema("BillingService.TaxHeadMaster")
    schema.validate({})
    first = schema.__dict__["_validator"]
    schema.validate({"code": "X"})
    assert schema.__dict__["_validator"] is first


# -- references -------------------------------------------------------------------------------------
def test_check_references_on_tax_head_master() -> None:
    schema = real_schema("BillingService.TaxHeadMaster")
    assert schema.refs == [("service", "BillingService.BusinessService")]
    record = real_records("BillingService", "TaxHeadMaster")[0]
    assert record["service"] == "PT"
    asked: list[tuple[str, str, str]] = []

    def knows_pt(tenant: str, code: str, ident: str) -> bool:
        asked.append((tenant, code, ident))
        return (code, ident) == ("BillingService.BusinessService", "PT")

    assert check_references(schema, "pb.amritsar", record, knows_pt) == []
    assert asked == [("pb.amritsar", "BillingService.BusinessService", "PT")]
    messages = check_references(schema, "pb", record, lambda t, c, i: False)
    assert len(messages) == 1 and messages[0].startswith("$.service:") and "'PT'" in messages[0]
    # DIGIT reads a missing definite path as an error, and refuses non-string/number references
    no_service = {k: v for k, v in record.items() if k != "service"}
    assert "missing" in check_references(schema, "pb", no_service, knows_pt)[0]
    assert "string, number" in check_references(schema, "pb", dict(record, service=True), knows_pt)[0]
    assert check_references(schema, "pb", dict(record, service=7), lambda t, c, i: i == "7") == []


def test_check_references_with_wildcard_and_list_paths() -> None:
    schema = SchemaDef("pb", "M.N", {"x-ref-schema": [
        {"fieldPath": "documents.*.code", "schemaCode": "common-masters.DocumentType"},
        {"fieldPath": "roles", "schemaCode": "ACCESSCONTROL-ROLES.roles"}]})
    known = {("common-masters.DocumentType", "OWNERIDPROOF"), ("ACCESSCONTROL-ROLES.roles", "EMPLOYEE")}

    def exists(tenant: str, code: str, ident: str) -> bool:
        return (code, ident) in known

    record: dict[str, Any] = {"documents": [{"code": "OWNERIDPROOF"}, {"code": "OWNERIDPROOF"}, {"name": "no code"}],
              "roles": ["EMPLOYEE"]}
    assert check_references(schema, "pb", record, exists) == []
    record["documents"].append({"code": "PHOTO"})
    record["roles"].append("CITIZEN")
    messages = check_references(schema, "pb", record, exists)
    assert len(messages) == 2
    assert messages[0].startswith("$.documents.*.code:") and "'PHOTO'" in messages[0]
    assert messages[1].startswith("$.roles:") and "'CITIZEN'" in messages[1]
    # a wildcard that matches nothing has nothing to check (Jayway returns an empty list)
    assert check_references(schema, "pb", {"documents": [], "roles": []}, exists) == []
