"""ID generation: DIGIT's `/egov-idgen/id/_generate` over the store's sequences.

The format comes from `common-masters.IdFormat` (city -> state fallback; it overrides a format the
caller passes, as in egov-idgen). A name with no IdFormat is ID_NOT_FOUND; with the caller's
format it may use only sequences that exist (SEQ_DOES_NOT_EXIST otherwise, egov-idgen's
autoCreateNewSeqFlag): `generate` never starts a new series for an unknown name. A block of `count` numbers is taken from each sequence with one
`UPDATE id_sequence SET value = value + :count ... RETURNING value` inside the unit of work, so:

- two processes (or two counters on one PostgreSQL) never get the same number: SQLite writers
  start with BEGIN IMMEDIATE, PostgreSQL row-locks the sequence row;
- a block is issued only when the transaction that took it commits, together with its outbox event
  and audit record. If the caller's transaction rolls back (or the process dies before commit),
  nothing was issued and the same numbers come out again; a committed block is never reused.
"""
from __future__ import annotations

import re

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from digitctl.domain import idformat
from digitctl.domain.events import Event
from digitctl.errors import InvalidInput, NotFound
from digitctl.services.access import authorize
from local_store.models import IdSequence

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

ACTION = "/egov-idgen/id/_generate"
EVENT_TYPE = "idgen.ids.generated"
MAX_COUNT = 10_000

_SEQ = IdSequence.__table__


@dataclass(frozen=True)
class IdPlan:
    """What a request will render, resolved before any write: format, city code, block size."""

    format: idformat.IdFormat
    count: int
    city_code: str | None
    configured: bool = True        # the format is the MDMS IdFormat's, not the caller's


def plan(app: "App", id_name: str, tenant_id: str, count: int = 1, fmt: str | None = None,
         conn: Connection | None = None) -> IdPlan:
    """Validate a request and resolve its format and city code from master data (reads only)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput("IDGEN_INVALID_COUNT", f"count must be 1..{MAX_COUNT}, got {count!r}",
                           {"count": count})
    if conn is None:
        with app.store.readonly_engine.connect() as own:
            return plan(app, id_name, tenant_id, count, fmt, own)
    tenants = app.mdms.master(tenant_id, "tenant", "tenants", conn=conn)
    tenant = next((t for t in tenants if isinstance(t, dict) and t.get("code") == tenant_id), None)
    if tenant is None:
        raise InvalidInput("INVALID_TENANTID", f"tenant {tenant_id!r} is not in tenant.tenants"
                           + ("" if tenants else " (no tenant.tenants master is loaded: run `digitctl mdms apply`)"),
                           {"tenantId": tenant_id})
    configured = next((r.get("format") for r in app.mdms.master(tenant_id, "common-masters", "IdFormat", conn=conn)
                       if isinstance(r, dict) and r.get("idname") == id_name), None)
    chosen = configured or fmt
    if not chosen:
        raise NotFound("ID_NOT_FOUND", "No Format is available in the MDMS for the given name and tenant",
                       {"idName": id_name, "tenantId": tenant_id})
    parsed = idformat.parse(chosen, tenant_id, id_name)
    city = tenant.get("city") if isinstance(tenant.get("city"), dict) else {}
    code = city.get("code") if city else None
    return IdPlan(parsed, count, str(code) if code not in (None, "") else None, configured=configured is not None)


def issue(uow: "UnitOfWork", plan_: IdPlan) -> list[str]:
    """Take the blocks, render the ids and record the event, inside `uow` (not committed here)."""
    fmt, count = plan_.format, plan_.count
    counter = uow.meta("counter_code") if fmt.needs_counter else None
    fmt.require(city_code=plan_.city_code, counter_code=counter)   # before any sequence moves
    last = {name: take_block(uow, name, count) for name in fmt.sequence_names}
    ids = fmt.render(now=uow.ctx.now(), last_values=last, count=count, city_code=plan_.city_code,
                     counter_code=counter)
    uow.record(Event(
        event_type=EVENT_TYPE, tenant_id=fmt.tenant_id, entity_type="IdSequence", entity_id=fmt.id_name,
        operation=ACTION,
        payload={"idName": fmt.id_name, "tenantId": fmt.tenant_id, "format": fmt.raw, "count": count,
                 "idResponses": [{"id": i} for i in ids]},
        before={name: value - count for name, value in last.items()} or None,
        after=last or None))
    return ids


def take_block(uow: "UnitOfWork", name: str, count: int) -> int:
    """Advance sequence `name` by `count` in uow's transaction; returns the block's last value.

    UPDATE ... RETURNING first (the common case, one statement); a new sequence is created with
    INSERT ... ON CONFLICT DO NOTHING (a concurrent creator wins harmlessly) and updated again."""
    conn = uow.session.connection()     # Core on the session's transaction: this is a hot path
    bump = (update(_SEQ).where(_SEQ.c.name == name)
            .values(value=_SEQ.c.value + count).returning(_SEQ.c.value))
    value = conn.execute(bump).scalar()
    if value is None:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            conn.execute(pg_insert(_SEQ).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"]))
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert
            conn.execute(sqlite_insert(_SEQ).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"]))
        value = conn.execute(bump).scalar_one()
    return int(value)


def generate_in(uow: "UnitOfWork", app: "App", id_name: str, tenant_id: str, count: int = 1,
                fmt: str | None = None) -> list[str]:
    """Generate ids inside a caller's unit of work (e.g. a receipt number in the payment's own
    transaction): they are issued when, and only if, the caller commits. The caller's operation
    is the one authorized; this building block adds no access check of its own."""
    return issue(uow, plan(app, id_name, tenant_id, count, fmt, conn=uow.session.connection()))


def formats(app: "App", tenant_id: str, conn: Connection) -> dict[str, str]:
    """idname -> format of the tenant's common-masters.IdFormat (with the state fallback)."""
    return {str(r.get("idname")): str(r.get("format") or "")
            for r in app.mdms.master(tenant_id, "common-masters", "IdFormat", conn=conn) if isinstance(r, dict)}


def generate_for_counter(uow: "UnitOfWork", app: "App", id_name: str, tenant_id: str,
                         fmt: str | None = None) -> str:
    """One id that no other offline counter can issue: a format with [COUNTER] says so itself;
    one without (DIGIT's one-server series: BILL-[SEQ..], PT/[CITY.CODE]/..) gets this store's
    counter code in front ("C01/BILL-000001")."""
    configured = formats(app, tenant_id, uow.session.connection()).get(id_name) or fmt or ""
    got = generate_in(uow, app, id_name, tenant_id, fmt=fmt)[0]
    counter = uow.meta("counter_code")
    return got if "[COUNTER]" in configured.upper() or not counter else f"{counter}/{got}"


RECEIPT_SERIES = re.compile(r"counter\.(?:[a-z0-9_.]+\.)?receipt\.id")     # collection's receipt books


def generate(app: "App", ctx: "RequestContext", id_name: str, tenant_id: str, count: int = 1,
             fmt: str | None = None) -> list[str]:
    """`/egov-idgen/id/_generate` for one IdRequest: `count` ids of `id_name` at `tenant_id`."""
    authorize(app, ctx, ACTION, tenant_id)
    # Master data is read before the write transaction so the write lock is held only for the
    # sequence update and the event rows.
    request = plan(app, id_name, tenant_id, count, fmt)
    if RECEIPT_SERIES.fullmatch(id_name) and request.format.needs_counter:
        # a counter series ([COUNTER]) is the counter's receipt book: its numbers are issued with
        # the payments they number, never by hand (a number taken here is a gap in the day book)
        raise InvalidInput("IDGEN_RESERVED_SERIES", f"{id_name} numbers this counter's receipts: they are issued "
                           "only with a payment (digitctl pay)", {"idName": id_name, "tenantId": tenant_id})
    with app.uow(ctx) as uow:
        if not request.configured:
            _require_sequences(uow, request)
        ids = issue(uow, request)
        uow.commit()
    return ids


def _require_sequences(uow: "UnitOfWork", request: IdPlan) -> None:
    """egov-idgen with the caller's format (no IdFormat for the name) does not auto-create a
    sequence (autoCreateNewSeqFlag false): the format may only draw on sequences that exist, so a
    mistyped id name never starts a new series silently."""
    names = list(request.format.sequence_names)
    if not names:
        return
    have = set(uow.session.connection().execute(select(_SEQ.c.name).where(_SEQ.c.name.in_(names))).scalars())
    missing = [n for n in names if n not in have]
    if missing:
        fmt = request.format
        raise NotFound("SEQ_DOES_NOT_EXIST", f"{fmt.id_name!r} has no IdFormat at {fmt.tenant_id} and sequence "
                       f"{', '.join(missing)} does not exist: auto creation of a sequence is allowed only for an "
                       "id name configured in common-masters.IdFormat",
                       {"idName": fmt.id_name, "tenantId": fmt.tenant_id, "sequences": missing})


def response_info(ctx: "RequestContext", status: str = "SUCCESSFUL") -> dict[str, Any]:
    """DIGIT's ResponseInfo for a request made with `ctx`."""
    return ctx.response_info(status)


def response(ctx: "RequestContext", ids: Sequence[str]) -> dict[str, Any]:
    """egov-idgen's IdGenerationResponse: {"responseInfo", "idResponses": [{"id"}]} (its own
    spelling: lower-case r, as the contract and IdGenerationResponse.java have it)."""
    return {"responseInfo": response_info(ctx), "idResponses": [{"id": i} for i in ids]}
