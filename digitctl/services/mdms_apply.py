"""MDMS apply: load master data from files, idempotently, reporting every defect (merge across
files, master-config and v2 schema checks, x-ref-schema, role-action cross checks). Writing a
master's records is `mdms_write`; search is `mdms`."""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain.canonical import canonical_json, content_hash
from digitctl.domain.events import Event
from digitctl.domain.mdms import MasterConfigs, Problem
from digitctl.domain.mdms_checks import check_master, record_label
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.mdms_files import MasterBatch, ReadResult, read_paths
from digitctl.services.mdms_reader import MASTER_CONFIG, MASTER_CONFIG_SOURCE, MDMS_VERSION, stored_master_config
from digitctl.services.mdms_write import APPLY_ACTION, MasterSummary, _assign, _Group, _identity, _write_group
from local_store.models import MdmsRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork


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


def apply(app: "App", ctx: "RequestContext", paths: list[Path], *, dry_run: bool = False,
          strict: bool = False, master_config: Path | None = None,
          progress: "Callable[[int, int], None] | None" = None) -> ApplyReport:
    """Load MDMS data from files/folders. Idempotent; --strict refuses on any warning.
    `progress(done, total)` is called as each master is written (a front door draws a bar)."""
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
        for i, g in enumerate(groups.values(), start=1):
            summary = _write_group(uow, g)
            report.masters.append(summary)
            changed_any |= bool(summary.added or summary.changed or summary.removed)
            if progress is not None:
                progress(i, len(groups))
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
