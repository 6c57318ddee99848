"""Row seals: what the audit chain remembers of the live rows of money, users and roles.

A signed audit record proves that a change was made; it says nothing about the row the change
left behind, which somebody with the store file can edit afterwards. So every unit of work that
writes a payment, a demand (or its details), a bill, a user or a user's roles puts a *seal* of
the entity's rows as they stand at commit into its audit record (`audit_record.row_hashes`,
covered by the record's hash and signature):

    {"Payment:<id>": {"payment:<id>": {"amount_paid_paise": "<16 hex>", ...}},
     "User:<uuid>": {"user_account:<uuid>": {...}, "user_role:12": {...}}, ...}

one short hash per column, so `audit verify` can name the table, key and field that no longer
match; an entity whose rows were deleted is sealed as null. `audit verify` compares the live rows
with the last seal of each entity (see digitctl.services.audit)."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select

from digitctl.domain.canonical import canonical_json
from local_store.models import Bill, Demand, DemandDetail, Payment, UserAccount, UserRole

Seal = dict[str, dict[str, str]]          # "table:key" -> column -> short hash


@dataclass(frozen=True)
class Part:
    table: Table
    key: str          # the row's own key column
    parent: str       # the column naming the entity the row belongs to


KINDS: dict[str, tuple[Part, ...]] = {
    "Payment": (Part(Payment.__table__, "id", "id"),),
    "Demand": (Part(Demand.__table__, "id", "id"), Part(DemandDetail.__table__, "id", "demand_id")),
    "Bill": (Part(Bill.__table__, "id", "id"),),
    "User": (Part(UserAccount.__table__, "uuid", "uuid"), Part(UserRole.__table__, "id", "user_uuid")),
}
# ORM class -> (entity kind, attribute naming the entity): how the unit of work sees a touched row.
ORM_KINDS: dict[type, tuple[str, str]] = {
    Payment: ("Payment", "id"), Demand: ("Demand", "id"), DemandDetail: ("Demand", "demand_id"),
    Bill: ("Bill", "id"), UserAccount: ("User", "uuid"), UserRole: ("User", "user_uuid"),
}


def entity_key(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def split_key(entity: str) -> tuple[str, str]:
    kind, _, key = entity.partition(":")
    return kind, key


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    return value


_encode_str = json.encoder.encode_basestring      # what json.dumps(ensure_ascii=False) does to a str


def _scalar_json(value: Any) -> str | None:
    """canonical_json of a plain scalar, without the encoder's set-up (seals hash every field of
    every row a payment writes); None for anything else."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return _encode_str(value)
    return None


@functools.lru_cache(maxsize=8192)
def _text_hash(text: str) -> str:
    """Many fields repeat (tenants, services, statuses, flags): their hashes are kept."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def field_hash(value: Any) -> str:
    value = _value(value)
    text = _scalar_json(value)
    if text is not None:
        return _text_hash(text) if len(text) < 80 else hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:16]


def row_seal(table: Table, row: Any) -> dict[str, str]:
    return {c.name: field_hash(row[c.name]) for c in table.columns}


def seal_of(conn: Connection, kind: str, key: str) -> Seal | None:
    """The entity's rows as they stand (in `conn`'s transaction); None when it has none."""
    seal: Seal = {}
    for part in KINDS[kind]:
        t = part.table
        for row in conn.execute(select(t).where(t.c[part.parent] == key)).mappings():
            seal[f"{t.name}:{row[part.key]}"] = row_seal(t, row)
    return seal or None


def seals_of(conn: Connection, entities: Iterable[str]) -> dict[str, Seal | None]:
    """seal_of for many entities at once: one query per table of each kind (a unit of work that
    wrote hundreds of payments seals them in a handful of statements)."""
    wanted: dict[str, list[str]] = {}
    for entity in entities:
        kind, key = split_key(entity)
        wanted.setdefault(kind, []).append(key)
    out: dict[str, Seal | None] = {}
    for kind, keys in wanted.items():
        found: dict[str, Seal] = {}
        for part in KINDS[kind]:
            t = part.table
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                for row in conn.execute(select(t).where(t.c[part.parent].in_(chunk))).mappings():
                    found.setdefault(str(row[part.parent]), {})[f"{t.name}:{row[part.key]}"] = row_seal(t, row)
        for key in keys:
            out[entity_key(kind, key)] = found.get(key) or None
    return out


def digest(seal: Seal | None) -> str | None:
    """One hash of a seal, to keep in memory while the chain is walked."""
    return None if seal is None else hashlib.sha256(canonical_json(seal).encode("utf-8")).hexdigest()


def live_seals(conn: Connection, kind: str) -> Iterator[tuple[str, Seal]]:
    """Every live entity of a kind with its seal, by key (children are read per kind, grouped)."""
    main, *children = KINDS[kind]
    grouped: dict[str, Seal] = {}
    for part in children:
        t = part.table
        for row in conn.execute(select(t)).mappings():
            grouped.setdefault(str(row[part.parent]), {})[f"{t.name}:{row[part.key]}"] = row_seal(t, row)
    t = main.table
    for row in conn.execute(select(t).order_by(t.c[main.key])).mappings():
        key = str(row[main.key])
        seal = {f"{t.name}:{key}": row_seal(t, row)}
        seal.update(grouped.pop(key, {}))
        yield key, seal
    for key, orphan in sorted(grouped.items()):     # child rows whose parent row is gone
        yield key, orphan


def first_difference(sealed: Seal | None, live: Seal | None) -> tuple[str, str, str, str]:
    """(table, key, field, what) of the first difference between a sealed and a live entity."""
    sealed, live = sealed or {}, live or {}
    for row_key in sorted(set(sealed) | set(live)):
        table, _, key = row_key.partition(":")
        if row_key not in live:
            return table, key, "*", "the row was deleted"
        if row_key not in sealed:
            return table, key, "*", "the row is not in its audited state: it was inserted"
        for column in sorted(set(sealed[row_key]) | set(live[row_key])):
            if sealed[row_key].get(column) != live[row_key].get(column):
                return table, key, column, "the value differs from its audited state"
    return "", "", "", "no difference"


def touched_by(objects: Iterable[object]) -> set[str]:
    out: set[str] = set()
    for obj in objects:
        found = ORM_KINDS.get(type(obj))
        if found is not None:
            key = getattr(obj, found[1], None)
            if key is not None:
                out.add(entity_key(found[0], str(key)))
    return out
