"""Counter shifts: a clerk opens a shift with a cash float, takes payments in it, and closes it by
counting the drawer note by note; the variance (counted − expected) is recorded and shown.

One OPEN shift per clerk per counter; the counter is this store's `counter_code` (set by
`digitctl init --counter C01`). A close is final. The payment service calls `require_open_shift`
inside its own unit of work, so "a payment needs an open shift" holds in the same transaction
that writes the payment.

DIGIT has no shift service, so these operations are authorized with the collection URLs a
counter clerk already holds (TL_CEMP, UC_EMP, EMPLOYEE in pb's role-actions): opening and closing
a shift are part of taking payments (`/collection-services/payments/_create`); looking at one is
a payment search (`/collection-services/payments/_search`). A digitctl-only URL would be
reserved to SUPERUSER and lock the clerks out of their own drawer."""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from digitctl.domain import cash
from digitctl.domain.canonical import canonical_json
from digitctl.domain.events import Event
from digitctl.domain.money import format_inr, from_paise, is_whole_rupees, money, number, to_paise
from digitctl.clock import IST
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from local_store.models import AuditRecord, Payment, Shift, StoreMeta

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

OPEN, CLOSED = "OPEN", "CLOSED"
OPEN_URL = CLOSE_URL = "/collection-services/payments/_create"
STATUS_URL = "/collection-services/payments/_search"
CANCELLED, DISHONOURED = "CANCELLED", "DISHONOURED"
# payment statuses whose money is not in the drawer (any more): a cancelled receipt was handed
# back, a dishonoured cheque bounced. Both reverse the payment; while the shift is OPEN its
# takings leave them out. Once the shift is CLOSED its count stands: a receipt reversed after the
# close still belongs to that count (see reversed_after_close).
NOT_IN_DRAWER = (CANCELLED, DISHONOURED)


def _tenant(app: "App", ctx: "RequestContext") -> str:
    """The request's tenant, else the clerk's own (first role tenant), else the store's state."""
    if ctx.tenant_id:
        return ctx.tenant_id
    homes = [r.tenant_id for r in ctx.actor.roles if r.tenant_id != "*"]
    return homes[0] if homes else (app.state_tenant or "*")


def _counter(uow: "UnitOfWork") -> str:
    counter = uow.meta("counter_code")
    if not counter:
        raise InvalidInput("SHIFT_NO_COUNTER", "this store has no counter code; set it once with "
                           "`digitctl init --counter C01`")
    return counter


def current_shift(session: "Session", counter_code: str, user_uuid: str) -> Shift | None:
    """The user's OPEN shift at this counter, if any."""
    return session.scalars(select(Shift).where(
        Shift.counter_code == counter_code, Shift.user_uuid == user_uuid, Shift.status == OPEN)
        .order_by(Shift.opened_at.desc()).limit(1)).first()


def require_open_shift(uow: "UnitOfWork", ctx: "RequestContext") -> Shift:
    """The acting clerk's open shift at this counter, or SHIFT_NOT_OPEN (nothing is written)."""
    counter = _counter(uow)
    shift = current_shift(uow.session, counter, ctx.actor.uuid)
    if shift is None:
        raise InvalidInput("SHIFT_NOT_OPEN", "open a shift first: digitctl shift open --float N",
                           {"counterCode": counter, "user": ctx.actor.user_name})
    return shift


def _parse_float(value: str | Decimal | int) -> int:
    """The float in paise: whole rupees ≥ 0 (the drawer is counted in notes and coins of whole
    rupees, so a float with paise could never be counted back: its close would always show a
    variance of those paise)."""
    try:
        amount = number(value)
    except (ValueError, TypeError) as err:
        raise InvalidInput("SHIFT_INVALID_FLOAT", f"--float: {err}", {"float": str(value)}) from None
    if amount < 0 or amount != money(amount):
        raise InvalidInput("SHIFT_INVALID_FLOAT", "the float is an amount of rupees ≥ 0 with at most "
                           f"two decimals (paise), not {value}", {"float": str(value)})
    if not is_whole_rupees(amount):
        raise InvalidInput("SHIFT_INVALID_FLOAT", f"the float must be whole rupees, not {value}: the drawer is "
                           "counted in rupee notes and coins (--count), so paise in the float could never be "
                           "counted back at the close", {"float": str(value)})
    return to_paise(amount)


def _takings(session: "Session", shift_id: str) -> dict[str, Any]:
    """What the (open) shift's payments add up to, by mode; cancelled receipts and dishonoured
    cheques apart: neither is money in the drawer."""
    rows = session.execute(select(Payment.payment_mode, Payment.payment_status,
                                  func.count(), func.coalesce(func.sum(Payment.amount_paid_paise), 0))
                           .where(Payment.shift_id == shift_id)
                           .group_by(Payment.payment_mode, Payment.payment_status)).all()
    by_mode: dict[str, int] = defaultdict(int)
    receipts = cancelled = dishonoured = 0
    for mode, status, n, paise in rows:
        if status == CANCELLED:
            cancelled += n
            continue
        if status in NOT_IN_DRAWER:
            dishonoured += n
            continue
        receipts += n
        by_mode[mode] += int(paise)
    return {"cash": by_mode.pop("CASH", 0), "other": dict(sorted(by_mode.items())),
            "receipts": receipts, "cancelled": cancelled, "dishonoured": dishonoured}


def _epoch_ms(instant: Any) -> int | None:
    return None if instant is None else int(instant.timestamp() * 1000)


def _reversed_at_ms(payment_doc: Any, updated_at: Any) -> int | None:
    """When the payment was cancelled / dishonoured, from its JSON (auditDetails.lastModifiedTime,
    which only the workflow actions set; a reprint changes updated_at, not that)."""
    audit = payment_doc.get("auditDetails") if isinstance(payment_doc, dict) else None
    when = audit.get("lastModifiedTime") if isinstance(audit, dict) else None
    if isinstance(when, int) and not isinstance(when, bool):
        return when
    return _epoch_ms(updated_at)


def reversed_after_close(conn: "Connection", shift_ids: "Iterable[str]") -> set[str]:
    """Ids of the cancelled / dishonoured payments of these shifts that were reversed after their
    shift had CLOSED. Such a receipt's cash was in the drawer when it was counted: it stays in the
    shift's recorded count (expected cash), so a register that leaves it out has to add it back.

    The order is the store's own recording order (audit_record.seq of the shift's close and of the
    payment's CANCELLED / DISHONOURED change), which holds when the clock stands still; rows without
    those audit records (brought in from elsewhere) fall back to the times: the payment's
    auditDetails.lastModifiedTime against the shift's closed_at."""
    S, P, A = Shift.__table__.c, Payment.__table__.c, AuditRecord.__table__.c
    ids = sorted({i for i in shift_ids if i})
    if not ids:
        return set()
    closed = {r.id: r.closed_at for r in conn.execute(select(S.id, S.closed_at).where(S.id.in_(ids),
                                                                                       S.status == CLOSED))}
    if not closed:
        return set()
    pays = conn.execute(select(P.id, P.shift_id, P.payment, P.updated_at).where(
        P.shift_id.in_(sorted(closed)), P.payment_status.in_(NOT_IN_DRAWER))).all()
    if not pays:
        return set()
    close_seq: dict[str, int] = {}
    for r in conn.execute(select(A.entity_id, A.seq, A.after).where(A.entity_type == "Shift",
                                                                     A.entity_id.in_(sorted(closed)))):
        if isinstance(r.after, dict) and r.after.get("status") == CLOSED:
            close_seq[r.entity_id] = max(close_seq.get(r.entity_id, 0), int(r.seq))
    reversal_seq: dict[str, int] = {}
    for r in conn.execute(select(A.entity_id, A.seq, A.after).where(A.entity_type == "Payment",
                                                                     A.entity_id.in_(sorted(p.id for p in pays)))):
        if isinstance(r.after, dict) and r.after.get("paymentStatus") in NOT_IN_DRAWER:
            reversal_seq[r.entity_id] = max(reversal_seq.get(r.entity_id, 0), int(r.seq))
    late: set[str] = set()
    for p in pays:
        closed_seq, rev_seq = close_seq.get(p.shift_id), reversal_seq.get(p.id)
        if closed_seq is not None and rev_seq is not None:
            after = rev_seq > closed_seq
        else:
            rev_ms, close_ms = _reversed_at_ms(p.payment, p.updated_at), _epoch_ms(closed[p.shift_id])
            after = rev_ms is not None and close_ms is not None and rev_ms > close_ms
        if after:
            late.add(p.id)
    return late


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as JSON holds it (amounts as strings, instants ISO-8601), for the outbox."""
    out = json.loads(canonical_json(doc))
    assert isinstance(out, dict)
    return out


def _rupees(paise: int | None) -> Decimal | None:
    return None if paise is None else from_paise(int(paise))


def signed_inr(paise: int) -> str:
    """+₹12.00 / -₹1,500.00 / ₹0.00: a variance with its sign always shown."""
    return ("+" if paise > 0 else "") + format_inr(from_paise(paise))


def shift_json(shift: Shift, takings: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": shift.id, "tenantId": shift.tenant_id, "counterCode": shift.counter_code,
        "userUuid": shift.user_uuid, "status": shift.status, "float": _rupees(shift.float_paise),
        "openedAt": shift.opened_at, "closedAt": shift.closed_at,
    }
    if takings is not None:
        doc.update({
            "cashCollected": _rupees(takings["cash"]),
            "otherModes": [{"paymentMode": m, "amount": _rupees(p)} for m, p in takings["other"].items()],
            "receiptCount": takings["receipts"], "cancelledCount": takings["cancelled"],
            "dishonouredCount": takings.get("dishonoured", 0),
            "expectedCash": _rupees(shift.float_paise + takings["cash"]),
        })
    if shift.status == CLOSED:
        den = shift.denominations or {}
        doc.update({
            "expectedCash": _rupees(shift.expected_cash_paise),
            "countedCash": _rupees(shift.counted_cash_paise),
            "variance": _rupees(shift.variance_paise),
            "varianceText": signed_inr(int(shift.variance_paise or 0)),
            "denominations": [{"denomination": int(k), "count": int(v), "amount": from_paise(to_paise(int(k)) * int(v))}
                              for k, v in sorted(den.items(), key=lambda kv: -int(kv[0]))],
        })
    return doc


def open_shift(app: "App", ctx: "RequestContext", float_amount: str | Decimal | int) -> dict[str, Any]:
    """Open the acting clerk's shift at this store's counter with `float_amount` rupees in the drawer."""
    tenant = _tenant(app, ctx)
    authorize(app, ctx, OPEN_URL, tenant)
    float_paise = _parse_float(float_amount)
    with app.uow(ctx) as uow:
        counter = _counter(uow)
        # serialize opens on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)
        uow.session.execute(select(StoreMeta.key).where(StoreMeta.key == "counter_code").with_for_update())
        existing = current_shift(uow.session, counter, ctx.actor.uuid)
        if existing is not None:
            raise InvalidInput("SHIFT_ALREADY_OPEN",
                               f"{ctx.actor.user_name} already has shift {existing.id} open at counter "
                               f"{counter} since {existing.opened_at.astimezone(IST):%d/%m/%Y %H:%M} IST; close it first: "
                               "digitctl shift close --count ...",
                               {"shiftId": existing.id, "counterCode": counter})
        shift = Shift(id=str(uuid.uuid4()), tenant_id=tenant, counter_code=counter, user_uuid=ctx.actor.uuid,
                      status=OPEN, float_paise=float_paise, opened_at=ctx.now())
        uow.session.add(shift)
        uow.session.flush()
        doc = shift_json(shift)
        uow.record(Event("shift.opened", tenant, "Shift", shift.id, OPEN_URL, {"Shift": _plain(doc)},
                         before=None, after={"status": OPEN, "float": str(from_paise(float_paise))}))
        uow.commit()
    return doc


def status(app: "App", ctx: "RequestContext") -> dict[str, Any]:
    """The open shift with its takings so far and the cash the drawer should hold."""
    tenant = _tenant(app, ctx)
    authorize(app, ctx, STATUS_URL, tenant)
    with app.uow(ctx, readonly=True) as uow:
        shift = require_open_shift(uow, ctx)
        return shift_json(shift, _takings(uow.session, shift.id))


def close_shift(app: "App", ctx: "RequestContext", count: str, *, note: str | None = None,
                dry_run: bool = False) -> dict[str, Any]:
    """Close the open shift with the drawer's count ("500x3,100x7,..."); records the variance.
    `dry_run`: the same figures (expected, counted, variance) with nothing written ("preview": true)."""
    tenant = _tenant(app, ctx)
    authorize(app, ctx, CLOSE_URL, tenant)
    try:
        drawer = cash.parse_count(count)
    except ValueError as err:
        raise InvalidInput("SHIFT_INVALID_COUNT", f"--count: {err}", {"count": count}) from None
    with app.uow(ctx) as uow:
        shift = require_open_shift(uow, ctx)
        takings = _takings(uow.session, shift.id)
        expected = shift.float_paise + takings["cash"]
        counted = drawer.total_paise
        shift.status = CLOSED
        shift.closed_at = ctx.now()
        shift.expected_cash_paise = expected
        shift.counted_cash_paise = counted
        shift.variance_paise = cash.variance_paise(counted, expected)
        shift.denominations = drawer.as_dict()
        uow.session.flush()
        doc = shift_json(shift, takings)
        if note:
            doc["note"] = note
        if dry_run:              # the unit of work is not committed: it rolls back
            return {**doc, "status": OPEN, "closedAt": None, "preview": True}
        uow.record(Event("shift.closed", shift.tenant_id, "Shift", shift.id, CLOSE_URL, {"Shift": _plain(doc)},
                         before={"status": OPEN},
                         after={"status": CLOSED, "expectedCash": str(from_paise(expected)),
                                "countedCash": str(from_paise(counted)),
                                "variance": str(from_paise(shift.variance_paise)),
                                "denominations": drawer.as_dict(), "note": note}))
        uow.commit()
    from digitctl.services import audit

    h = audit.head(app)      # the chain's head after the close: the slip prints it (paper anchors the chain)
    doc["auditHead"] = {"seq": h["seq"], "hash": h["hash"], "short": h["short"]}
    return doc
