"""The hub's batch apply path (`hub_apply.apply_events`): a counter's events in order, payments
through SQLAlchemy Core in ONE transaction (bulk reads of the payments, demands, lines and bills
they touch, bulk writes), every other event through `hub_apply.apply_event`.

Same rules as the one-by-one path (hub_apply_payments), same outcome: a payment the batch
cannot take as it is (an actor it cannot place or allow, a receipt number already used, no demand,
a share that no longer fits, an application PAY would move) falls back to `apply_event`, which
applies it or raises its Parked; events after it on one of its entities (hub_apply.entity_keys)
follow it there, in order, and wait behind it when it is parked (SYNC_WAITING). Events that are
only recorded touch nothing and are answered at once.
"""
from __future__ import annotations

import datetime as dt
import gc
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, text, update

from digitctl.context import Actor, Role
from digitctl.domain.events import Event
from digitctl.domain.money import to_paise
from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.services import hub_apply_common as ha
from digitctl.services import hub_apply_one as single
from digitctl.services.bills import bill_lock_key
from digitctl.services.hub_apply_payments import (PaymentFacts, bill_values, check_fit, hub_payment_doc, map_line,
                                                  payment_values)
from digitctl.services.payments import CREATE_URL
from local_store import bulk, seals
from local_store.models import Application, Bill, Demand, DemandDetail, Payment, UserAccount, UserRole

if TYPE_CHECKING:
    from digitctl.ports import App
    from local_store.uow import UnitOfWork

PAYMENT_CREATED = "collection.payment.created"
E_WAITING = "SYNC_WAITING"


def apply_batch(app: "App", events: list[ReceivedEvent], *, counter_tenant: str | None = None) -> list[str | Parked]:
    out: list[str | Parked | None] = [None] * len(events)
    blocked: dict[str, str] = {}             # entity key -> the parked event it waits behind
    run: list[int] = []                      # payments waiting for the Core transaction
    run_keys: set[str] = set()

    def one(i: int) -> None:
        keys = ha.entity_keys(events[i])
        behind = next((blocked[k] for k in keys if k in blocked), None)
        if behind is not None:
            out[i] = Parked(E_WAITING, f"waits behind parked event {behind}", {"behind": behind})
            blocked.update({k: behind for k in keys})
            return
        try:
            out[i] = single.apply_event(app, events[i], counter_tenant=counter_tenant)
        except Parked as parked:
            out[i] = parked
            blocked.update({k: events[i].event_id for k in keys})

    def flush() -> None:
        if run:
            done, fallback = core_payments(app, [events[i] for i in run], counter_tenant)
            for j, i in enumerate(run):
                if j in done:
                    out[i] = done[j]
            for j in fallback:
                one(run[j])
            run.clear()
            run_keys.clear()

    for i, ev in enumerate(events):
        keys = ha.entity_keys(ev)
        if single.applier_for(ev.event_type) is None:
            out[i] = ha.RECORDED
        elif ev.event_type == PAYMENT_CREATED and not any(k in blocked for k in keys):
            run.append(i)
            run_keys.update(keys)
        else:
            if run_keys.intersection(keys):
                flush()
            one(i)
    flush()
    return [o if o is not None else ha.RECORDED for o in out]


# -- the Core transaction ---------------------------------------------------------------------
class _Batch:
    """What one batch of payments reads up front and then changes in memory."""

    def __init__(self, app: "App", uow: "UnitOfWork", events: list[ReceivedEvent]) -> None:
        self.app, self.uow = app, uow
        self.conn = uow.session.connection()
        self.facts: dict[int, PaymentFacts] = {}
        for j, ev in enumerate(events):
            try:
                self.facts[j] = PaymentFacts(ev)
            except Parked:
                pass                    # one by one: parked there, with what follows it
        fs = list(self.facts.values())
        self.now = app.clock.now()
        self.lock(fs)
        self.actors = self.read_actors([ev.actor_uuid for ev in events if ev.actor_uuid])
        self.existing = self.ids_in(Payment.__table__.c.id, [f.id for f in fs])
        p = Payment.__table__
        self.receipts = {(r.tenant_id, r.receipt_number) for r in self.conn.execute(
            select(p.c.tenant_id, p.c.receipt_number).where(p.c.receipt_number.in_([f.receipt for f in fs])))}
        self.applications = self.ids_in(Application.__table__.c.application_no, [f.consumer_code for f in fs])
        self.read_demands(fs)
        self.read_bills(fs)
        self.decisions: dict[tuple[str, str, str], bool] = {}
        self.payments: list[dict[str, Any]] = []
        self.new_lines: list[dict[str, Any]] = []
        self.changed_lines: set[str] = set()
        self.bill_changes: dict[str, dict[str, Any]] = {}
        self.new_bills: list[dict[str, Any]] = []

    def ids_in(self, col: Any, values: list[str]) -> set[str]:
        return set(self.conn.execute(select(col).where(col.in_(values))).scalars()) if values else set()

    def lock(self, fs: list[PaymentFacts]) -> None:
        """PostgreSQL: the consumer codes' advisory locks (as bill fetch and pay take them), in
        their order, in one statement."""
        if self.uow.store.dialect != "postgresql" or not fs:
            return
        keys = sorted({(f.tenant_id, f.consumer_code, f.service) for f in fs})
        self.conn.execute(text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) "
                               "WITH ORDINALITY AS t(k, i) ORDER BY i"),
                          {"keys": [bill_lock_key(t, svc, cc) for t, cc, svc in keys]})

    def read_actors(self, uuids: list[str]) -> dict[str, Actor]:
        u, r = UserAccount.__table__, UserRole.__table__
        wanted = sorted(set(uuids))
        if not wanted:
            return {}
        roles: dict[str, list[Role]] = {}
        for row in self.conn.execute(select(r.c.user_uuid, r.c.code, r.c.tenant_id).where(r.c.user_uuid.in_(wanted))):
            roles.setdefault(row.user_uuid, []).append(Role(row.code, row.tenant_id))
        return {row.uuid: Actor(uuid=row.uuid, user_name=row.user_name, type=row.type,
                                roles=tuple(roles.get(row.uuid, ())))
                for row in self.conn.execute(select(u.c.uuid, u.c.user_name, u.c.type, u.c.active)
                                             .where(u.c.uuid.in_(wanted))) if row.active}

    def read_demands(self, fs: list[PaymentFacts]) -> None:
        d, dd = Demand.__table__, DemandDetail.__table__
        codes = sorted({f.consumer_code for f in fs})
        self.demands: dict[tuple[str, str, str], list[Any]] = {}
        rows = self.conn.execute(select(d).where(d.c.consumer_code.in_(codes), d.c.status == "ACTIVE")).all() \
            if codes else []
        self.demand_rows = {row.id: dict(row._mapping) for row in rows}       # every column: for its seal
        for row in rows:
            self.demands.setdefault((row.tenant_id, row.business_service, row.consumer_code), []).append(row)
        q = select(dd).where(dd.c.demand_id.in_([row.id for row in rows]))
        if self.uow.store.dialect == "postgresql":
            q = q.with_for_update()
        self.lines = {row.id: _Line.of(row) for row in self.conn.execute(q)} if rows else {}
        self.lines_of: dict[str, list[str]] = {}
        for line in self.lines.values():
            self.lines_of.setdefault(line.demand_id, []).append(line.id)

    def read_bills(self, fs: list[PaymentFacts]) -> None:
        b = Bill.__table__
        codes = sorted({f.consumer_code for f in fs})
        ids = sorted({f.bill_id for f in fs})
        self.bills = {row.id: dict(row._mapping) for row in self.conn.execute(
            select(b).where(b.c.consumer_code.in_(codes), (b.c.id.in_(ids)) | b.c.status.in_(("ACTIVE", "PARTIALLY_PAID"))))}
        self.bills_of: dict[tuple[str, str, str], list[str]] = {}
        for bill in self.bills.values():
            self.bills_of.setdefault((bill["tenant_id"], bill["business_service"], bill["consumer_code"]),
                                     []).append(bill["id"])

    # -- one payment ------------------------------------------------------------------------
    def allowed(self, actor: Actor, operation: str, tenant: str) -> bool:
        key = (actor.uuid, operation, tenant)
        if key not in self.decisions:
            self.decisions[key] = bool(self.app.authorizer.decide(actor, operation, tenant).allowed)  # type: ignore[attr-defined]
        return self.decisions[key]

    def take(self, ev: ReceivedEvent, f: PaymentFacts, counter_tenant: str | None) -> str | None:
        """APPLIED, or None: this one goes the one-by-one way (which applies or parks it)."""
        if f.id in self.existing:
            return ha.APPLIED
        actor = self.actors.get(ev.actor_uuid or "")
        operation = ev.audit.get("operation")
        if actor is None or not isinstance(operation, str) or not self.allowed(actor, operation, ev.tenant_id):
            return None
        if counter_tenant and ev.tenant_id != counter_tenant and not ev.tenant_id.startswith(counter_tenant + "."):
            return None
        if (f.tenant_id, f.receipt) in self.receipts or f.consumer_code in self.applications:
            return None
        demands = self.demands.get((f.tenant_id, f.service, f.consumer_code))
        if not demands:
            return None
        by_id = {r.id: r for r in demands}
        by_period = {(r.tax_period_from, r.tax_period_to): r for r in demands}
        details = {i: self.lines[i] for r in demands for i in self.lines_of.get(r.id, [])}
        periods = f.periods()
        mapped = [map_line(line, by_id, by_period, details, periods) for line in f.lines]
        if any(m is None for m in mapped):
            return None
        lines = [m for m in mapped if m is not None]
        try:
            check_fit(f, lines, details)
        except Parked:
            return None
        self.write(ev, f, actor, lines, details)
        return ha.APPLIED

    def write(self, ev: ReceivedEvent, f: PaymentFacts, actor: Actor, lines: list[dict[str, Any]],
              details: dict[str, "_Line"]) -> None:
        when = ev.occurred_at
        for line in lines:
            held = self.lines.get(line["demandDetailId"])
            if held is None:            # an advance line the counter added
                held = _Line.new(line, when)
                self.lines[held.id] = held
                self.lines_of.setdefault(held.demand_id, []).append(held.id)
                self.new_lines.append({"id": held.id})
            if "collection" in line:
                held.collection += to_paise(line["collection"])
            if "credit" in line:
                held.tax -= to_paise(line["credit"])
            held.updated_at = when
            self.changed_lines.add(held.id)
        doc = hub_payment_doc(self.app, self.uow, f, lines)
        self.payments.append(payment_values(f, doc, ev))
        self.settle_bill(f, when)
        self.existing.add(f.id)
        self.receipts.add((f.tenant_id, f.receipt))
        self.uow.record(Event(ev.event_type, f.tenant_id, "Payment", f.id, CREATE_URL, {"Payments": [doc]},
                              before=None, after={**(ev.audit.get("after") or {}), "apportionment": lines,
                                                  "counterCode": f.counter_code},
                              actor=(actor.uuid, actor.user_name)))

    def settle_bill(self, f: PaymentFacts, when: dt.datetime) -> None:
        held = self.bills.get(f.bill_id)
        if held is None:
            values = bill_values(self.app, self.uow, f, when)
            self.new_bills.append(values)
            self.bills[f.bill_id] = values
            self.bills_of.setdefault((f.tenant_id, f.service, f.consumer_code), []).append(f.bill_id)
        elif held["status"] in ("ACTIVE", "EXPIRED") and f.bill_status in ("PAID", "PARTIALLY_PAID"):
            held.update(status=f.bill_status, bill={**held["bill"], "status": f.bill_status}, updated_at=self.now)
            self.bill_changes[f.bill_id] = held
        for other in (self.bills[i] for i in self.bills_of.get((f.tenant_id, f.service, f.consumer_code), [])):
            if other["id"] != f.bill_id and other["status"] in ("ACTIVE", "PARTIALLY_PAID"):
                other.update(status="EXPIRED", bill={**other["bill"], "status": "EXPIRED"}, updated_at=self.now)
                self.bill_changes[other["id"]] = other

    # -- the writes -----------------------------------------------------------------------------
    def flush(self) -> None:
        c = self.conn
        dd, d, b = DemandDetail.__table__, Demand.__table__, Bill.__table__
        new_ids = {n["id"] for n in self.new_lines}
        if new_ids:
            bulk.insert_rows(c, dd, [self.lines[i].insert_values() for i in sorted(new_ids)])
        changed = [self.lines[i] for i in sorted(self.changed_lines - new_ids)]
        if changed:
            c.execute(update(dd).where(dd.c.id == bindparam("b_id")).values(
                tax_amount_paise=bindparam("b_tax"), collection_amount_paise=bindparam("b_col"),
                updated_at=bindparam("b_at")),
                [{"b_id": x.id, "b_tax": x.tax, "b_col": x.collection, "b_at": x.updated_at} for x in changed])
        demand_ids = sorted({self.lines[i].demand_id for i in self.changed_lines})
        for did in demand_ids:
            self.demand_rows[did].update(updated_at=self.now, is_payment_completed=sum(
                self.lines[i].tax - self.lines[i].collection for i in self.lines_of[did]) <= 0)
        if demand_ids:
            c.execute(update(d).where(d.c.id == bindparam("b_id")).values(
                is_payment_completed=bindparam("b_done"), updated_at=bindparam("b_at")),
                [{"b_id": did, "b_at": self.now, "b_done": self.demand_rows[did]["is_payment_completed"]}
                 for did in demand_ids])
        if self.payments:
            bulk.insert_rows(c, Payment.__table__, self.payments)
        if self.new_bills:
            bulk.insert_rows(c, b, self.new_bills)
        if self.bill_changes:
            c.execute(update(b).where(b.c.id == bindparam("b_id")).values(
                status=bindparam("b_status"), bill=bindparam("b_bill"), updated_at=bindparam("b_at")),
                [{"b_id": x["id"], "b_status": x["status"], "b_bill": x["bill"], "b_at": x["updated_at"]}
                 for x in self.bill_changes.values()])
        self.seal(demand_ids)

    def seal(self, demand_ids: list[str]) -> None:
        """The seals of every row the batch wrote, from the values it wrote (seals.row_seal), so
        the commit does not read them back."""
        d, dd, b, p = Demand.__table__, DemandDetail.__table__, Bill.__table__, Payment.__table__
        for row in self.payments:
            self.uow.seal_as("Payment", row["id"], {f"payment:{row['id']}": seals.row_seal(p, row)})
        for did in demand_ids:
            seal = {f"demand:{did}": seals.row_seal(d, self.demand_rows[did])}
            for lid in self.lines_of[did]:
                seal[f"demand_detail:{lid}"] = seals.row_seal(dd, self.lines[lid].insert_values())
            self.uow.seal_as("Demand", did, seal)
        for bill in {*(x["id"] for x in self.new_bills), *self.bill_changes}:
            self.uow.seal_as("Bill", bill, {f"bill:{bill}": seals.row_seal(b, self.bills[bill])})


class _Line:
    """A demand line as the batch holds it (paise)."""

    __slots__ = ("id", "demand_id", "tax_head_code", "tax", "collection", "created_at", "updated_at")

    def __init__(self, id_: str, demand_id: str, tax_head_code: str, tax: int, collection: int,
                 created_at: dt.datetime, updated_at: dt.datetime) -> None:
        self.id, self.demand_id, self.tax_head_code = id_, demand_id, tax_head_code
        self.tax, self.collection = tax, collection
        self.created_at, self.updated_at = created_at, updated_at

    @classmethod
    def of(cls, row: Any) -> "_Line":
        return cls(row.id, row.demand_id, row.tax_head_code, int(row.tax_amount_paise),
                   int(row.collection_amount_paise), row.created_at, row.updated_at)

    @classmethod
    def new(cls, line: dict[str, Any], when: dt.datetime) -> "_Line":
        return cls(str(line["demandDetailId"]), str(line["demandId"]), str(line["taxHeadCode"]), 0, 0, when, when)

    @property
    def tax_amount_paise(self) -> int:
        return self.tax

    @property
    def collection_amount_paise(self) -> int:
        return self.collection

    def insert_values(self) -> dict[str, Any]:
        return {"id": self.id, "demand_id": self.demand_id, "tax_head_code": self.tax_head_code,
                "tax_amount_paise": self.tax, "collection_amount_paise": self.collection,
                "created_at": self.created_at, "updated_at": self.updated_at}


def core_payments(app: "App", events: list[ReceivedEvent],
                  counter_tenant: str | None) -> tuple[dict[int, str | Parked], list[int]]:
    """Apply the payments it can in one transaction: ({index: outcome}, [indexes to take one by one])."""
    done: dict[int, str | Parked] = {}
    fallback: list[int] = []
    # the batch holds thousands of small dicts at once: the cyclic collector would walk them again
    # and again (it ran for a third of the batch's time); nothing here makes cycles
    collecting = gc.isenabled()
    gc.disable()
    try:
        _core_payments_in(app, events, counter_tenant, done, fallback)
    finally:
        if collecting:
            gc.enable()
    return done, fallback


def _core_payments_in(app: "App", events: list[ReceivedEvent], counter_tenant: str | None,
                      done: dict[int, str | Parked], fallback: list[int]) -> None:
    with app.uow(app.base_context()) as uow:
        batch = _Batch(app, uow, events)
        away: set[str] = set()
        for j, ev in enumerate(events):
            f = batch.facts.get(j)
            keys = set(ha.entity_keys(ev))
            outcome = None if f is None or keys & away else batch.take(ev, f, counter_tenant)
            if outcome is None:
                fallback.append(j)
                away |= keys
            else:
                done[j] = outcome
        batch.flush()
        uow.commit()
