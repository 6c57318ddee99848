"""MDMS: apply master data (idempotent, reporting every defect) and search it as DIGIT's
`/egov-mdms-service/v1/_search` does (tenant fallback per master, JSONPath filters)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.mdms import Problem, unique_key
from digitctl.domain.mdms_checks import check_master, record_label
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.mdms_files import MasterBatch, ReadResult, read_paths
from digitctl.services.mdms_reader import MDMS_VERSION
from local_store.models import MdmsRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.bootstrap import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

APPLY_ACTION = "/egov-mdms-service/v1/_create"
SEARCH_ACTION = "/egov-mdms-service/v1/_search"


@dataclass
class MasterSummary:
    tenant_id: str
    module: str
    master: str
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"tenantId": self.tenant_id, "moduleName": self.module, "masterName": self.master,
                "added": self.added, "changed": self.changed, "unchanged": self.unchanged,
                "skipped": self.skipped}


@dataclass
class ApplyReport:
    dry_run: bool
    masters: list[MasterSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    ignored: list[str] = field(default_factory=list)
    master_config_files: list[str] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(m, attr) for m in self.masters)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def as_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "filesRead": self.files_read,
            "filesIgnored": self.ignored,
            "masterConfig": self.master_config_files,
            "totals": {k: self.total(k) for k in ("added", "changed", "unchanged", "skipped")},
            "masters": [m.as_json() for m in self.masters],
            "warnings": [p.as_json() for p in self.warnings],
            "errors": [p.as_json() for p in self.errors],
        }


@dataclass
class _Group:
    """All records of one (tenant, module, master) in this apply, merged across files."""

    tenant_id: str
    module: str
    master: str
    keyed: dict[str, tuple[Any, str]] = field(default_factory=dict)   # key -> (record, file)
    skipped: int = 0


def apply(app: "App", ctx: "RequestContext", paths: list[Path], *, dry_run: bool = False,
          strict: bool = False, master_config: Path | None = None) -> ApplyReport:
    """Load MDMS data from files/folders. Idempotent; --strict refuses on any warning."""
    read = read_paths(paths, master_config)
    tenants = sorted({b.tenant_id for b in read.batches}) or [ctx.tenant_id or "*"]
    for t in {t.split(".")[0] for t in tenants}:
        authorize(app, ctx, APPLY_ACTION, t)
    report = ApplyReport(dry_run=dry_run, files_read=read.files_read, ignored=read.ignored,
                         master_config_files=read.master_config_files)
    report.problems.extend(read.problems)
    with app.uow(ctx) as uow:
        schemas = _load_schemas(uow)
        groups = _merge(uow, read, report, schemas)
        if schemas is not None:
            _check_schema_refs(uow.session, schemas, groups, report)
        _cross_checks(uow.session, groups, report)
        if strict and report.problems:
            raise InvalidInput("MDMS_STRICT_REFUSED",
                               f"--strict: {len(report.warnings)} warning(s) and {len(report.errors)} error(s); nothing written",
                               {"problems": [p.line() for p in report.problems[:50]]})
        changed_any = False
        for g in groups.values():
            summary = _write_group(uow, g)
            report.masters.append(summary)
            changed_any |= bool(summary.added or summary.changed)
        report.masters.sort(key=lambda m: (m.tenant_id, m.module, m.master))
        if changed_any:
            uow.set_meta(MDMS_VERSION, str(uuid.uuid4()))
        if not dry_run:
            uow.commit()
    if changed_any and not dry_run:
        app.mdms.invalidate()
    return report


def _key_paths(read: ReadResult, schemas: Any, g: MasterBatch) -> tuple[list[str], str]:
    schema = schemas.find(g.tenant_id, g.module, g.master) if schemas is not None else None
    if schema is not None and schema.unique_fields:
        return ["$." + f for f in schema.unique_fields], "x-unique"
    cfg = read.master_configs.get(g.module, g.master)
    if cfg is not None and cfg.unique_keys:
        return list(cfg.unique_keys), "uniqueKeys"
    return [], "record hash"


def _load_schemas(uow: "UnitOfWork") -> Any:
    try:
        from digitctl.services.mdms_schema import SchemaRegistry
    except ImportError:  # pragma: no cover - schema support is part of the same package
        return None
    registry = SchemaRegistry.load(uow.session.connection())
    return registry if len(registry) else None


def _merge(uow: "UnitOfWork", read: ReadResult, report: ApplyReport,
           schemas: Any) -> dict[tuple[str, str, str], _Group]:
    groups: dict[tuple[str, str, str], _Group] = {}
    for batch in read.batches:
        key = (batch.tenant_id, batch.module, batch.master)
        g = groups.setdefault(key, _Group(*key))
        report.problems.extend(check_master(*key, batch.records, batch.file))
        paths, source = _key_paths(read, schemas, batch)
        schema = schemas.find(*key) if schemas is not None else None
        where = dict(file=batch.file, tenant_id=batch.tenant_id, module=batch.module, master=batch.master)
        missing_counts: dict[tuple[str, ...], int] = defaultdict(int)
        for i, rec in enumerate(batch.records):
            label = record_label(rec, i)
            if schema is not None:
                messages = schema.validate(rec)
                if messages:
                    report.problems.append(Problem("SCHEMA_VALIDATION_ERR", "; ".join(messages[:3]),
                                                   record=label, severity="error", **where))
                    g.skipped += 1
                    continue
            k, missing = unique_key(rec, paths)
            if missing:
                missing_counts[tuple(missing)] += 1
                if len(missing) == len(paths):   # nothing to key by: the record is its own identity
                    k, _ = unique_key(rec, [])
            prior = g.keyed.get(k)
            if prior is None:
                g.keyed[k] = (rec, batch.file)
            elif content_hash(prior[0]) == content_hash(rec):
                if prior[1] == batch.file:
                    report.problems.append(Problem("DUPLICATE_RECORD",
                                                   "the same record appears twice in the file; stored once",
                                                   record=label, **where))
            else:
                # DIGIT serves both records; keep both (the second identified by its content) and say so.
                same_file = prior[1] == batch.file
                report.problems.append(Problem(
                    "DUPLICATE_RECORD",
                    f"{source} {k} already given {'earlier in this file' if same_file else 'by ' + prior[1]} "
                    "with different content; both kept, this one identified by its content",
                    record=label, **where))
                g.keyed.setdefault(unique_key(rec, [])[0], (rec, batch.file))
        for missing, n in missing_counts.items():
            report.problems.append(Problem(
                "MDMS_UNIQUE_KEY_MISSING",
                f"{n} record(s) lack {', '.join(missing)} of the master's {source}; "
                + ("identified by their content" if len(missing) == len(paths) else "keyed by the fields they have"),
                **where))
    return groups


def _check_schema_refs(session: "Session", schemas: Any, groups: dict[tuple[str, str, str], _Group],
                       report: ApplyReport) -> None:
    """x-ref-schema: a referenced record must exist (in this apply or the store, with tenant
    fallback); a record whose reference points nowhere is refused (REFERENCE_VALIDATION_ERR)."""
    from digitctl.domain.tenancy import fallback_chain
    from digitctl.services.mdms_schema import check_references

    known: dict[tuple[str, str], set[str]] = {}

    def identifiers(tenant: str, code: str) -> set[str]:
        if (tenant, code) not in known:
            target = schemas.find_code(tenant, code)
            module, _, master = code.partition(".")
            ids: set[str] = set()
            if target is not None:
                g = groups.get((tenant, module, master))
                batch = [r for r, _ in g.keyed.values()] if g else []
                stored = session.execute(select(MdmsRecord.data).where(
                    MdmsRecord.tenant_id == tenant, MdmsRecord.module == module,
                    MdmsRecord.master == master)).scalars().all()
                ids = {i for i in (target.unique_identifier(r) for r in [*batch, *stored]) if i is not None}
            known[(tenant, code)] = ids
        return known[(tenant, code)]

    def exists(tenant: str, code: str, identifier: str) -> bool:
        return any(identifier in identifiers(t, code) for t in fallback_chain(tenant))

    for (tenant, module, master), g in groups.items():
        schema = schemas.find(tenant, module, master)
        if schema is None or not schema.refs:
            continue
        for k, (rec, f) in list(g.keyed.items()):
            messages = check_references(schema, tenant, rec, exists)
            if messages:
                report.problems.append(Problem("REFERENCE_VALIDATION_ERR", "; ".join(messages[:3]), file=f,
                                               tenant_id=tenant, module=module, master=master,
                                               record=record_label(rec, 0), severity="error"))
                del g.keyed[k]
                g.skipped += 1


def _cross_checks(session: "Session", groups: dict[tuple[str, str, str], _Group], report: ApplyReport) -> None:
    """Role-actions that name actions the action master does not have (the real pb data has them)."""
    action_ids: set[str] = set()
    for (t, m, ms), g in groups.items():
        if m == "ACCESSCONTROL-ACTIONS-TEST":
            action_ids |= {str(r.get("id")) for r, _ in g.keyed.values() if isinstance(r, dict)}
    stored = session.execute(select(MdmsRecord.data).where(MdmsRecord.module == "ACCESSCONTROL-ACTIONS-TEST")).scalars()
    action_ids |= {str(d.get("id")) for d in stored if isinstance(d, dict)}
    if not action_ids:
        return
    for (t, m, ms), g in groups.items():
        if m != "ACCESSCONTROL-ROLEACTIONS":
            continue
        by_file: dict[str, set[str]] = defaultdict(set)
        for rec, f in g.keyed.values():
            aid = str(rec.get("actionid")) if isinstance(rec, dict) else None
            if aid is not None and aid not in action_ids:
                by_file[f].add(aid)
        for f, missing in by_file.items():
            sample = ", ".join(sorted(missing, key=lambda x: (len(x), x))[:10])
            report.problems.append(Problem("ROLEACTION_UNKNOWN_ACTION",
                                           f"{len(missing)} action id(s) named by role-actions are not in "
                                           f"ACCESSCONTROL-ACTIONS-TEST (e.g. {sample}); they grant nothing",
                                           file=f, tenant_id=t, module=m, master=ms))


def _write_group(uow: "UnitOfWork", g: _Group) -> MasterSummary:
    s = uow.session
    now = uow.ctx.now()
    summary = MasterSummary(g.tenant_id, g.module, g.master, skipped=g.skipped)
    existing = {row.unique_key: row for row in s.execute(
        select(MdmsRecord.id, MdmsRecord.unique_key, MdmsRecord.data_hash, MdmsRecord.data, MdmsRecord.position)
        .where(MdmsRecord.tenant_id == g.tenant_id, MdmsRecord.module == g.module,
               MdmsRecord.master == g.master))}
    next_pos = max((r.position for r in existing.values()), default=-1) + 1
    inserts: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    changed_records: list[tuple[str, Any]] = []
    for k, (rec, f) in g.keyed.items():
        h = content_hash(rec)
        old = existing.get(k)
        if old is None:
            inserts.append(dict(tenant_id=g.tenant_id, module=g.module, master=g.master, unique_key=k,
                                position=next_pos, data=rec, data_hash=h, source=f, is_active=True,
                                created_at=now, updated_at=now))
            next_pos += 1
            summary.added += 1
            after[k] = rec
            changed_records.append((k, rec))
        elif old.data_hash != h:
            s.execute(update(MdmsRecord).where(MdmsRecord.id == old.id)
                      .values(data=rec, data_hash=h, source=f, updated_at=now, is_active=True))
            summary.changed += 1
            before[k] = old.data
            after[k] = rec
            changed_records.append((k, rec))
        else:
            summary.unchanged += 1
    if inserts:
        s.execute(MdmsRecord.__table__.insert(), inserts)
    if changed_records:
        code = f"{g.module}.{g.master}"
        uow.record(Event(
            "mdms.records.upserted", g.tenant_id, "MdmsMaster", f"{g.tenant_id}:{code}", APPLY_ACTION,
            {"Mdms": [{"tenantId": g.tenant_id, "schemaCode": code, "uniqueIdentifier": k, "data": rec,
                       "isActive": True} for k, rec in changed_records]},
            before=before or None, after={"added": summary.added, "changed": summary.changed, "records": after}))
    return summary


# -- search -----------------------------------------------------------------------------------
def _filter(records: list[Any], expression: str) -> list[Any]:
    import jsonpath

    expr = expression.strip()
    if expr.startswith("["):
        expr = "$" + expr
    elif expr.startswith("."):
        expr = "$" + expr
    elif not expr.startswith("$"):
        expr = "$." + expr
    try:
        return list(jsonpath.findall(expr, records))
    except Exception as err:
        raise InvalidInput("MDMS_INVALID_FILTER", f"filter {expression!r} is not a JSONPath DIGIT accepts: {err}",
                           {"filter": expression}) from None


def search(app: "App", ctx: "RequestContext", tenant_id: str, module: str,
           masters: list[str] | None = None, filter_expr: str | None = None) -> dict[str, Any]:
    """DIGIT's MdmsRes: {"MdmsRes": {module: {master: [records]}}} with per-master fallback."""
    authorize(app, ctx, SEARCH_ACTION, tenant_id)
    if not tenant_id:
        raise InvalidInput("INVALID_TENANT_ID", "a tenant is needed (--tenant pb.amritsar)")
    if not masters:
        masters = _masters_of(app, tenant_id, module)
    result: dict[str, list[Any]] = {}
    for master in masters:
        records = app.mdms.master(tenant_id, module, master)
        if filter_expr:
            records = _filter(records, filter_expr)
        result[master] = records
    return {"MdmsRes": {module: result}}


def _masters_of(app: "App", tenant_id: str, module: str) -> list[str]:
    from digitctl.domain.tenancy import fallback_chain

    with app.store.readonly_engine.connect() as conn:
        rows = conn.execute(select(MdmsRecord.master).where(
            MdmsRecord.module == module, MdmsRecord.tenant_id.in_(fallback_chain(tenant_id))).distinct())
        return sorted(r[0] for r in rows)
