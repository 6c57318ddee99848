"""MDMS apply, the writing half: how records are told apart (identity, key assignment, re-keying
stored rows) and writing one master's merged records with their event. `mdms_apply` merges
and checks the files and calls `_write_group` per master."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.mdms import unique_key
from local_store.models import MdmsRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from local_store.uow import UnitOfWork

APPLY_ACTION = "/egov-mdms-service/v1/_create"


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
class _Group:
    """All records of one (tenant, module, master) in this apply, merged across files."""

    tenant_id: str
    module: str
    master: str
    keyed: dict[str, tuple[Any, str]] = field(default_factory=dict)   # key -> (record, file)
    skipped: int = 0
    files: list[str] = field(default_factory=list)
    key_paths: list[str] = field(default_factory=list)



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
