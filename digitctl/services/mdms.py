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
from digitctl.domain.canonical import canonical_json
from digitctl.domain.mdms import MasterConfigs, Problem, unique_key
from digitctl.domain.tenancy import state_of
from digitctl.domain.mdms_checks import check_master, record_label
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.mdms_files import MasterBatch, ReadResult, read_paths
from digitctl.services.mdms_reader import MASTER_CONFIG, MASTER_CONFIG_SOURCE, MDMS_VERSION, stored_master_config
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
    removed: int = 0      # gone from the files of a master the files wholly define: no longer served
    vanished: int = 0     # in the store, not in the files (keyed master): kept, and reported
    vanished_keys: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"tenantId": self.tenant_id, "moduleName": self.module, "masterName": self.master,
                "added": self.added, "changed": self.changed, "unchanged": self.unchanged,
                "skipped": self.skipped, "removed": self.removed, "vanished": self.vanished,
                **({"vanishedKeys": self.vanished_keys[:20]} if self.vanished_keys else {})}


@dataclass
class ApplyReport:
    dry_run: bool
    masters: list[MasterSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    ignored: list[str] = field(default_factory=list)
    master_config_files: list[str] = field(default_factory=list)
    master_config_changed: bool = False

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
            "masterConfigChanged": self.master_config_changed,
            "totals": {k: self.total(k) for k in TOTALS},
            "masters": [m.as_json() for m in self.masters],
            "warnings": [p.as_json() for p in self.warnings],
            "errors": [p.as_json() for p in self.errors],
        }


TOTALS = ("added", "changed", "unchanged", "skipped", "removed", "vanished")


@dataclass
class _Group:
    """All records of one (tenant, module, master) in this apply, merged across files."""

    tenant_id: str
    module: str
    master: str
    keyed: dict[str, tuple[Any, str]] = field(default_factory=dict)   # key -> (record, file)
    skipped: int = 0
    files: list[str] = field(default_factory=list)
    key_paths: list[str] = field(default_factory=list)


def apply(app: "App", ctx: "RequestContext", paths: list[Path], *, dry_run: bool = False,
          strict: bool = False, master_config: Path | None = None) -> ApplyReport:
    """Load MDMS data from files/folders. Idempotent; --strict refuses on any warning."""
    read = read_paths(paths, master_config)
    if not read.batches and read.errors():
        # nothing loadable at all: say why (file and line), whoever asks
        first = read.errors()[0]
        raise InvalidInput(first.code, f"nothing to apply: {first.message} ({first.file})",
                           {"problems": [p.line() for p in read.errors()[:20]]})
    tenants = sorted({b.tenant_id for b in read.batches}) or [ctx.tenant_id or app.state_tenant or "*"]
    for t in {t.split(".")[0] for t in tenants}:
        authorize(app, ctx, APPLY_ACTION, t)
    report = ApplyReport(dry_run=dry_run, files_read=read.files_read, ignored=read.ignored,
                         master_config_files=read.master_config_files)
    report.problems.extend(read.problems)
    with app.uow(ctx) as uow:
        configs = _config_in_force(uow, read, report)
        schemas = _load_schemas(uow)
        groups = _merge(uow, read, report, schemas, configs)
        if schemas is not None:
            _check_schema_refs(uow.session, schemas, groups, report)
        _cross_checks(uow.session, groups, report)
        if strict and report.problems:
            raise InvalidInput("MDMS_STRICT_REFUSED",
                               f"--strict: {len(report.warnings)} warning(s) and {len(report.errors)} error(s); nothing written",
                               {"problems": [p.line() for p in report.problems[:50]]})
        changed_any = report.master_config_changed
        for g in groups.values():
            summary = _write_group(uow, g)
            report.masters.append(summary)
            changed_any |= bool(summary.added or summary.changed or summary.removed)
        report.masters.sort(key=lambda m: (m.tenant_id, m.module, m.master))
        if changed_any:
            uow.set_meta(MDMS_VERSION, str(uuid.uuid4()))
        if not dry_run:
            uow.commit()
    if changed_any and not dry_run:
        app.mdms.invalidate()
    return report


def _key_paths(configs: MasterConfigs, schemas: Any, g: MasterBatch) -> tuple[list[str], str]:
    """How a master's records are told apart: the v2 schema's x-unique, else master-config's
    uniqueKeys; neither, and the files are the master's whole truth at that tenant. The same
    paths identify the stored records at write time, so identity never depends on which folder a
    record came from or on what was keyed how before."""
    schema = schemas.find(g.tenant_id, g.module, g.master) if schemas is not None else None
    if schema is not None and schema.unique_fields:
        return ["$." + f for f in schema.unique_fields], "x-unique"
    cfg = configs.get(g.module, g.master)
    if cfg is not None and cfg.unique_keys:
        return list(cfg.unique_keys), "uniqueKeys"
    return [], "record hash"


def _config_in_force(uow: "UnitOfWork", read: ReadResult, report: ApplyReport) -> MasterConfigs:
    """The master-config this apply follows: the one beside the data or --master-config (which
    then becomes the store's), else the store's, else the bundled real one."""
    stored = uow.meta(MASTER_CONFIG)
    if not read.master_config_files:
        return stored_master_config(uow.session.connection())
    text = canonical_json(read.master_configs.doc)
    if text != stored:
        uow.set_meta(MASTER_CONFIG, text)
        uow.set_meta(MASTER_CONFIG_SOURCE, ", ".join(read.master_config_files))
        report.master_config_changed = True
        uow.record(Event("mdms.masterconfig.applied", uow.meta("state_tenant") or "*", "MdmsMasterConfig",
                         "master-config", APPLY_ACTION, {"masterConfig": read.master_configs.doc},
                         before=None, after={"files": read.master_config_files}))
    return read.master_configs


def _load_schemas(uow: "UnitOfWork") -> Any:
    try:
        from digitctl.services.mdms_schema import SchemaRegistry
    except ImportError:  # pragma: no cover - schema support is part of the same package
        return None
    registry = SchemaRegistry.load(uow.session.connection())
    return registry if len(registry) else None


def _merge(uow: "UnitOfWork", read: ReadResult, report: ApplyReport, schemas: Any,
           configs: MasterConfigs) -> dict[tuple[str, str, str], _Group]:
    groups: dict[tuple[str, str, str], _Group] = {}
    for batch in read.batches:
        key = (batch.tenant_id, batch.module, batch.master)
        g = groups.setdefault(key, _Group(*key))
        where = dict(file=batch.file, tenant_id=batch.tenant_id, module=batch.module, master=batch.master)
        if g.files and batch.file not in g.files and not configs.is_merge_allowed(batch.module, batch.master):
            # DIGIT: the first file read wins, the other is logged as an error and never served
            report.problems.append(Problem(
                "MDMS_MERGE_NOT_ALLOWED",
                f"{g.files[0]} already gives this master and master-config does not allow merging "
                f"(isMergeAllowed); DIGIT serves the first file only: {len(batch.records)} record(s) of "
                "this file ignored", **where))
            g.skipped += len(batch.records)
            continue
        g.files.append(batch.file)
        if "." in batch.tenant_id and configs.is_state_level(batch.module, batch.master):
            report.problems.append(Problem(
                "MDMS_STATE_LEVEL_IGNORED",
                f"master-config marks {batch.module}.{batch.master} isStateLevel: a search at "
                f"{batch.tenant_id} is answered with the state's records, never this city file's "
                f"{len(batch.records)} (stored, not served)", **where))
        report.problems.extend(check_master(*key, batch.records, batch.file))
        paths, source = _key_paths(configs, schemas, batch)
        g.key_paths = paths
        schema = schemas.find(*key) if schemas is not None else None
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
            k, missing = _identity(rec, paths)
            if missing:
                missing_counts[tuple(missing)] += 1
            prior = g.keyed.get(k)
            if prior is not None:
                # DIGIT serves every record of the file, a repeated one as often as it is written;
                # so do we: the repeat is known by its content (and its occurrence)
                same_file = prior[1] == batch.file
                alike = content_hash(prior[0]) == content_hash(rec)
                report.problems.append(Problem(
                    "DUPLICATE_RECORD",
                    (f"the same record appears again {'in the file' if same_file else 'in ' + prior[1]}"
                     if alike else
                     f"{source} {k} already given {'earlier in this file' if same_file else 'by ' + prior[1]} "
                     "with different content") + "; DIGIT serves both, so both are kept",
                    record=label, **where))
                k = _assign(g.keyed, rec, paths)
            g.keyed[k] = (rec, batch.file)
        for lacking, n in missing_counts.items():
            report.problems.append(Problem(
                "MDMS_UNIQUE_KEY_MISSING",
                f"{n} record(s) lack {', '.join(lacking)} of the master's {source}; "
                + ("identified by their content" if len(lacking) == len(paths) else "keyed by the fields they have"),
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


def _identity(rec: Any, paths: list[str]) -> tuple[str, list[str]]:
    """A record's key under `paths` (its content hash when it has none of them) and the paths it
    lacks."""
    k, missing = unique_key(rec, paths)
    if paths and len(missing) == len(paths):     # nothing to key by: the record is its own identity
        k, _ = unique_key(rec, [])
    return k, missing


def _assign(taken: Any, rec: Any, paths: list[str]) -> str:
    """The key of a record among those already `taken`: its identity; when another record has
    that, its content hash; when a record of the same content has that too, the hash with the
    occurrence (`#2`, `#3` ...). Files and stored rows are keyed by this one rule, in order."""
    k, _ = _identity(rec, paths)
    if k not in taken:
        return k
    h = unique_key(rec, [])[0]
    if h not in taken:
        return h
    n = 2
    while f"{h}#{n}" in taken:
        n += 1
    return f"{h}#{n}"


def _stored_identities(rows: list[Any], paths: list[str]) -> tuple[dict[str, Any], list[Any]]:
    """The stored records keyed the way this apply keys the files (`_assign`, in position order,
    active rows first). Returns (key -> row, rows left over: none today, kept for symmetry)."""
    by_key: dict[str, Any] = {}
    for row in rows:
        by_key[_assign(by_key, row.data, paths)] = row
    return by_key, []


def _rekey(s: "Session", rows: dict[str, Any], duplicates: list[Any]) -> None:
    """Bring stored unique_key values in line with today's identities (two steps, so that two
    rows swapping keys never collide on the unique constraint)."""
    moves = [(row.id, k) for k, row in rows.items() if row.unique_key != k]
    dupes = [row.id for row in duplicates]
    for rid in [*[m[0] for m in moves], *dupes]:
        s.execute(update(MdmsRecord).where(MdmsRecord.id == rid).values(unique_key=f"rekey:{rid}"))
    for rid, k in moves:
        s.execute(update(MdmsRecord).where(MdmsRecord.id == rid).values(unique_key=k))
    if dupes:
        s.execute(update(MdmsRecord).where(MdmsRecord.id.in_(dupes)).values(is_active=False))


def _write_group(uow: "UnitOfWork", g: _Group) -> MasterSummary:
    s = uow.session
    now = uow.ctx.now()
    summary = MasterSummary(g.tenant_id, g.module, g.master, skipped=g.skipped)
    rows = s.execute(
        select(MdmsRecord.id, MdmsRecord.unique_key, MdmsRecord.data_hash, MdmsRecord.data,
               MdmsRecord.position, MdmsRecord.is_active)
        .where(MdmsRecord.tenant_id == g.tenant_id, MdmsRecord.module == g.module, MdmsRecord.master == g.master)
        .order_by(MdmsRecord.is_active.desc(), MdmsRecord.position, MdmsRecord.id)).all()
    existing, duplicates = _stored_identities(list(rows), g.key_paths)
    _rekey(s, existing, duplicates)
    # records are served in the order the files give them (DIGIT serves the file's array);
    # records kept though the files no longer give them come after
    order = {k: i for i, k in enumerate(g.keyed)}
    kept = [k for k, row in existing.items() if k not in order and row.is_active]
    order.update({k: len(g.keyed) + i for i, k in enumerate(kept)})
    moved = [(row.id, order[k]) for k, row in existing.items() if k in order and row.position != order[k]]
    inserts: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    changed_records: list[tuple[str, Any, bool]] = []
    for k, (rec, f) in g.keyed.items():
        h = content_hash(rec)
        old = existing.get(k)
        if old is None:
            inserts.append(dict(tenant_id=g.tenant_id, module=g.module, master=g.master, unique_key=k,
                                position=order[k], data=rec, data_hash=h, source=f, is_active=True,
                                created_at=now, updated_at=now))
            summary.added += 1
            after[k] = rec
            changed_records.append((k, rec, True))
        elif old.data_hash != h or not old.is_active:
            s.execute(update(MdmsRecord).where(MdmsRecord.id == old.id)
                      .values(data=rec, data_hash=h, source=f, updated_at=now, is_active=True))
            if old.is_active:
                summary.changed += 1
                before[k] = old.data
            else:
                summary.added += 1
            after[k] = rec
            changed_records.append((k, rec, True))
        else:
            summary.unchanged += 1
    gone = [(k, row) for k, row in existing.items() if row.is_active and k not in g.keyed]
    if gone and not g.key_paths:
        # no key tells these records apart: the files are the master's whole truth at this tenant
        s.execute(update(MdmsRecord).where(MdmsRecord.id.in_([row.id for _, row in gone]))
                  .values(is_active=False, updated_at=now))
        summary.removed = len(gone)
        for k, row in gone:
            before[k] = row.data
            changed_records.append((k, row.data, False))
    elif gone:
        summary.vanished = len(gone)
        summary.vanished_keys = [k for k, _ in gone]
    if inserts:
        s.execute(MdmsRecord.__table__.insert(), inserts)
    for rid, pos in moved:
        s.execute(update(MdmsRecord).where(MdmsRecord.id == rid).values(position=pos))
    if changed_records:
        code = f"{g.module}.{g.master}"
        uow.record(Event(
            "mdms.records.upserted", g.tenant_id, "MdmsMaster", f"{g.tenant_id}:{code}", APPLY_ACTION,
            {"Mdms": [{"tenantId": g.tenant_id, "schemaCode": code, "uniqueIdentifier": k, "data": rec,
                       "isActive": active} for k, rec, active in changed_records]},
            before=before or None, after={"added": summary.added, "changed": summary.changed,
                                          "removed": summary.removed, "records": after}))
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


INVALID_TENANT = "Invalid_tenantId.MdmsCriteria.tenantId"


def search(app: "App", ctx: "RequestContext", tenant_id: str, module: str,
           masters: list[str] | None = None, filter_expr: str | None = None) -> dict[str, Any]:
    """DIGIT's MdmsRes: {"MdmsRes": {module: {master: [records]}}}, answered by DIGIT's rule
    (MDMSService.searchMaster): a state-level master from the state's records, any other from the
    tenant's own; a master nobody gives is left out, and so is a module neither the tenant nor its
    state has. A tenant no applied file names is Invalid_tenantId, as in DIGIT."""
    authorize(app, ctx, SEARCH_ACTION, tenant_id)
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    known = app.mdms.known_tenants()
    if tenant_id not in known or state_of(tenant_id) not in known:
        raise InvalidInput(INVALID_TENANT, "Invalid Tenant Id",
                           {"tenantId": tenant_id, "hint": "no applied MDMS file names this tenant"})
    if not _module_known(app, tenant_id, module):
        return {"MdmsRes": {}}
    if not masters:
        masters = app.mdms.modules_at(tenant_id, module)
    result: dict[str, list[Any]] = {}
    for master in masters:
        served_at, records = app.mdms.resolve(tenant_id, module, master)
        if served_at is None:
            continue
        if filter_expr:
            records = _filter(records, filter_expr)
        result[master] = records
    return {"MdmsRes": {module: result}}


def _module_known(app: "App", tenant_id: str, module: str) -> bool:
    with app.store.readonly_engine.connect() as conn:
        return conn.execute(select(MdmsRecord.id).where(
            MdmsRecord.module == module, MdmsRecord.is_active.is_(True),
            MdmsRecord.tenant_id.in_({tenant_id, state_of(tenant_id)})).limit(1)).first() is not None


def master_config(app: "App", ctx: "RequestContext") -> dict[str, Any]:
    """`mdms config`: the master-config in force and where it came from."""
    authorize(app, ctx, SEARCH_ACTION, app.state_tenant)
    return {"source": app.store_meta(MASTER_CONFIG_SOURCE) or "bundled (configs/mdms/master-config.json)",
            "masterConfig": app.mdms.config().doc}
