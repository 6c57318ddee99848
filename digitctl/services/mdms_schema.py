"""MDMS v2 schema definitions in a store: the registry of active schemas and
`digitctl mdms schema apply`. The schema engine itself (definitions, validation, x-unique,
x-ref-schema: DIGIT mdms-v2's rules) is `digitctl.domain.mdms_schema`, reading schema files
`digitctl.domain.mdms_schema_files`; their names are re-exported here.

Where this toolkit differs on purpose: applying an identical definition again is a no-op and a
changed one updates in place (DIGIT refuses both with DUPLICATE_SCHEMA_CODE and has no update),
because `digitctl mdms schema apply` must be idempotent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from digitctl.clock import epoch_millis
from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.mdms import Problem
from digitctl.domain import mdms_schema as _engine
from digitctl.domain.mdms_schema import (  # noqa: F401  (re-exported: callers import them from here)
    DUPLICATE_RECORD, DUPLICATE_SCHEMA_CODE, INVALID_JSON, INVALID_REF_SCHEMA, INVALID_REQUEST,
    INVALID_REQUEST_JSON, INVALID_SCHEMA_CODE, INVALID_SCHEMA_DEFINITION, MASTER_DATA_VALIDATION_ERR,
    MDMS_SCHEMA_INVALID, REFERENCE_VALIDATION_ERR, REQUIRED_ATTRIBUTE_LIST_ERR, SCHEMA_DEFINITION_NOT_FOUND_ERR,
    UNIQUE_ATTRIBUTE_LIST_ERR, UNIQUE_IDENTIFIER_EMPTY_ERR, UNIQUE_KEY_UPDATE_ERR, SchemaDef, check_references)
from digitctl.domain.mdms_schema_files import SCHEMA_SUFFIXES, parse_schema_file, schema_files  # noqa: F401
from digitctl.domain.tenancy import state_of
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from local_store.models import MdmsSchema

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

CREATE_ACTION = "/mdms-v2/schema/v1/_create"
EVENT_TYPE = "mdms.schema.upserted"


class SchemaRegistry(_engine.SchemaRegistry):
    """The active schemas of a store, looked up with DIGIT's tenant fallback."""

    @classmethod
    def load(cls, conn: Connection) -> "SchemaRegistry":
        rows = conn.execute(select(MdmsSchema.tenant_id, MdmsSchema.code, MdmsSchema.definition,
                                   MdmsSchema.description)
                            .where(MdmsSchema.is_active.is_(True))).all()
        return cls(SchemaDef(r.tenant_id, r.code, r.definition, r.description) for r in rows)


# -- applying ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaOutcome:
    tenant_id: str
    code: str
    file: str

    def as_json(self) -> dict[str, str]:
        return {"tenantId": self.tenant_id, "code": self.code, "file": self.file}


@dataclass
class SchemaApplyReport:
    added: list[SchemaOutcome] = field(default_factory=list)
    changed: list[SchemaOutcome] = field(default_factory=list)
    unchanged: list[SchemaOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    dry_run: bool = False

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(code, tenantId, status, file) in file order, for tables and csv."""
        rows = [(o.code, o.tenant_id, status, o.file)
                for status, items in (("added", self.added), ("changed", self.changed),
                                      ("unchanged", self.unchanged)) for o in items]
        return sorted(rows, key=lambda r: (r[3], r[0]))

    def as_json(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "files": self.files,
                "summary": {"added": len(self.added), "changed": len(self.changed),
                            "unchanged": len(self.unchanged), "problems": len(self.problems)},
                "added": [o.as_json() for o in self.added],
                "changed": [o.as_json() for o in self.changed],
                "unchanged": [o.as_json() for o in self.unchanged],
                "problems": [p.as_json() for p in self.problems]}


class SchemaApplyRefused(InvalidInput):
    """--strict: the batch had problems, nothing was written. `report` says what was found."""

    def __init__(self, report: SchemaApplyReport) -> None:
        n = len(report.problems)
        super().__init__(MDMS_SCHEMA_INVALID,
                         f"{n} problem{'s' if n != 1 else ''} in the schema files; nothing was written",
                         {"problems": [p.as_json() for p in report.problems]})
        self.report = report


def _payload(tenant_id: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"tenantId": tenant_id, "code": item["code"], "description": item["description"],
            "definition": item["definition"], "isActive": item["isActive"]}


def apply_schemas(app: "App", ctx: "RequestContext", paths: list[Path], *, tenant_id: str | None = None,
                  dry_run: bool = False, strict: bool = False) -> SchemaApplyReport:
    """Register the schema definitions in `paths` (files or folders), idempotently.

    Tenant of a definition: `tenant_id` when given (an administrator re-targets schemas
    exported from another deployment: the reference set says tenantId "pg", DIGIT's sandbox),
    else its own tenantId, else the store's state tenant; like DIGIT, the schema is kept at that
    tenant's state level. An identical definition is
    unchanged; a changed one is updated in place. One event per added/changed schema.
    `dry_run` computes everything and commits nothing; `strict` refuses the whole batch
    (SchemaApplyRefused, MDMS_SCHEMA_INVALID) when any file had a problem."""
    report = SchemaApplyReport(dry_run=dry_run)
    parsed: list[tuple[str, list[dict[str, Any]]]] = []
    for f in schema_files(paths):
        items, problems = parse_schema_file(f)
        parsed.append((str(f), items))
        report.problems.extend(problems)
    report.files = len(parsed)

    with app.uow(ctx) as uow:
        default = tenant_id or uow.meta("state_tenant")
        planned: list[tuple[str, str, dict[str, Any]]] = []      # (file, tenant, item)
        for src, items in parsed:
            for item in items:
                tenant = tenant_id or item["tenantId"] or default
                if not tenant:
                    raise InvalidInput("INVALID_TENANTID",
                                       f"{src}: {item['code']} names no tenantId; pass --tenant or "
                                       "initialize the store with a state (digitctl init --state pb)",
                                       {"file": src, "code": item["code"]})
                planned.append((src, state_of(tenant), item))
        store_state = uow.meta("state_tenant")
        foreign = sorted({(t, src) for src, t, _ in planned if store_state and t != store_state})
        if foreign and not tenant_id:
            # DIGIT's reference schemas say "pg" (its sandbox): registered there they would never
            # validate this state's records, so say it instead of storing them where nothing looks
            raise InvalidInput("MDMS_SCHEMA_TENANT_MISMATCH",
                               f"{len(foreign)} schema file(s) name tenant {foreign[0][0]!r} "
                               f"(e.g. {Path(foreign[0][1]).name}), not this store's state {store_state!r}; "
                               f"pass --tenant {store_state} to register them for {store_state}",
                               {"storeState": store_state, "tenants": sorted({t for t, _ in foreign}),
                                "files": [f for _, f in foreign[:10]]})
        tenants = sorted({t for _, t, _ in planned})
        scopes: list[str | None] = [*tenants] or [state_of(default) if default else None]
        for t in scopes:
            authorize(app, ctx, CREATE_ACTION, t)

        existing: dict[tuple[str, str], MdmsSchema] = {}
        if planned:
            rows = uow.session.execute(select(MdmsSchema).where(MdmsSchema.tenant_id.in_(tenants))).scalars()
            existing = {(r.tenant_id, r.code): r for r in rows}
        in_batch: dict[tuple[str, str], tuple[str, str]] = {}     # key -> (payload hash, file)
        now = ctx.now()
        for src, tenant, item in planned:
            key = (tenant, item["code"])
            payload = _payload(tenant, item)
            outcome = SchemaOutcome(tenant, item["code"], src)
            seen = in_batch.get(key)
            if seen is not None:
                if seen[0] == content_hash(payload):
                    report.unchanged.append(outcome)
                else:
                    report.problems.append(Problem(
                        DUPLICATE_SCHEMA_CODE, f"Schema code already exists in this batch ({seen[1]}) "
                        "with a different definition; this one was skipped", file=src, tenant_id=tenant,
                        module=item["code"].split(".", 1)[0], master=item["code"].split(".", 1)[1],
                        severity="error"))
                continue
            in_batch[key] = (content_hash(payload), src)
            row = existing.get(key)
            def_hash = content_hash(item["definition"])
            if row is None:
                before = None
                uow.session.add(MdmsSchema(tenant_id=tenant, code=item["code"], description=item["description"],
                                           definition=item["definition"], definition_hash=def_hash,
                                           is_active=item["isActive"], created_at=now, updated_at=now))
                report.added.append(outcome)
            elif (row.definition_hash, row.description, row.is_active) == (def_hash, item["description"],
                                                                           item["isActive"]):
                report.unchanged.append(outcome)
                continue
            else:
                before = {"tenantId": row.tenant_id, "code": row.code, "description": row.description,
                          "definition": row.definition, "isActive": row.is_active}
                row.definition, row.definition_hash = item["definition"], def_hash
                row.description, row.is_active, row.updated_at = item["description"], item["isActive"], now
                report.changed.append(outcome)
            digit = dict(payload, auditDetails={"createdBy": ctx.actor.uuid, "lastModifiedBy": ctx.actor.uuid,
                                                "createdTime": epoch_millis(row.created_at if row else now),
                                                "lastModifiedTime": epoch_millis(now)})
            uow.record(Event(EVENT_TYPE, tenant, "MdmsSchema", item["code"], CREATE_ACTION, digit,
                             before=before, after=payload))
        if strict and report.problems:
            raise SchemaApplyRefused(report)
        if not dry_run:
            uow.commit()
    return report
