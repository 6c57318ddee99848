"""Counter reports. `daybook`: the collection register of one IST calendar day.

The register groups the day's receipts by service and payment mode (count, amount, first and last
receipt number, receipts ordered by receipt time then number), gives the receipt numbers issued as
one range per series (the number without its final sequence part: PT/C01/107/2026-27), lists
cancelled and dishonoured receipts apart (reason, who cancelled and who approved) and leaves them
out of every total, totals by mode and overall, and shows each shift of the day (float, cash
collected, expected, counted, variance). Its last line reconciles: the register's CASH, plus the
cash of receipts reversed (cancelled, dishonoured) after their shift had closed, must equal what
the shifts say they took in cash, less what those shifts took on other days (a shift that runs
past midnight). A closed shift's cash is what it counted at the close; a receipt cancelled later
was in that count, so it is added back rather than reported as missing cash. Any difference is
reported as a MISMATCH; it is not an error, because a supervisor needs to see the register
precisely when it does not add up.

The day is an Indian Standard Time calendar day (receipt_date is stored in UTC, so 00:15 IST on
the 26th is 18:45 UTC on the 25th and belongs to the 26th). Reading the register is a payment
search (`/collection-services/payments/_search`), the URL a counter clerk or supervisor holds.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from digitctl.clock import IST
from digitctl.domain.money import format_inr, from_paise
from digitctl.errors import InvalidInput
from digitctl.services import ownership
from digitctl.services.access import authorize
from digitctl.services.shifts import reversed_after_close
from local_store.models import Payment, Shift, UserAccount

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Connection

    from digitctl.ports import App
    from digitctl.context import RequestContext

SEARCH_URL = "/collection-services/payments/_search"
CANCELLED, DISHONOURED = "CANCELLED", "DISHONOURED"
EXCLUDED = (CANCELLED, DISHONOURED)     # receipts that are not money collected
CASH = "CASH"
CLOSED = "CLOSED"

P = Payment.__table__.c
S = Shift.__table__.c
U = UserAccount.__table__.c


def parse_day(text: str | dt.date | None) -> dt.date | None:
    """A YYYY-MM-DD day, or INVALID_DATE."""
    if text is None or isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("INVALID_DATE", f"not a date: {text!r}; give it as YYYY-MM-DD, e.g. 2026-11-25",
                           {"date": text}) from None


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the IST calendar day, as UTC instants."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=IST)
    return start.astimezone(dt.timezone.utc), (start + dt.timedelta(days=1)).astimezone(dt.timezone.utc)


def _tenant(app: "App", ctx: "RequestContext", explicit: str | None) -> str:
    """The asked tenant, else the request's, else the user's own (first role tenant), else the state."""
    if explicit or ctx.tenant_id:
        return str(explicit or ctx.tenant_id)
    homes = [r.tenant_id for r in ctx.actor.roles if r.tenant_id != "*"]
    return homes[0] if homes else (app.state_tenant or "*")


def _rupees(paise: int | None) -> Any:
    return None if paise is None else from_paise(int(paise))


def _signed(paise: int) -> str:
    return ("+" if paise > 0 else "") + format_inr(from_paise(paise))


def _names(conn: "Connection", uuids: set[str]) -> dict[str, str]:
    if not uuids:
        return {}
    rows = conn.execute(select(U.uuid, U.user_name).where(U.uuid.in_(sorted(uuids)))).all()
    return {r.uuid: r.user_name for r in rows}


def _cancelled_by(doc: Any) -> str | None:
    """Who changed the receipt last (DIGIT's auditDetails.lastModifiedBy), if the JSON says so."""
    audit = doc.get("auditDetails") if isinstance(doc, dict) else None
    who = audit.get("lastModifiedBy") if isinstance(audit, dict) else None
    return str(who) if who else None


def _details(doc: Any) -> dict[str, Any]:
    extra = doc.get("additionalDetails") if isinstance(doc, dict) else None
    return extra if isinstance(extra, dict) else {}


def _text(value: Any) -> str | None:
    return (str(value).strip() or None) if value is not None else None


_SEQUENCE = re.compile(r"^(?P<series>.*?)[/\-_.]?(?P<seq>\d+)$")


def receipt_series(number: str) -> tuple[str, int | None]:
    """(series, sequence) of a receipt number: the series is the number without its final
    sequence part ("PT/C01/107/2026-27/000004" -> ("PT/C01/107/2026-27", 4)); a number that does
    not end in digits is a series of its own, without a sequence."""
    m = _SEQUENCE.match(number or "")
    if m is None or not m["series"]:
        return number, None
    return m["series"], int(m["seq"])


def _series_ranges(rows: "Sequence[Any]") -> list[dict[str, Any]]:
    """The receipt numbers issued, one range per series (first / last by sequence), in series order."""
    by_series: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in rows:
        series, seq = receipt_series(r.receipt_number)
        by_series[series].append((seq if seq is not None else -1, r.receipt_number))
    out = []
    for series in sorted(by_series):
        numbers = sorted(by_series[series])
        out.append({"series": series, "first": numbers[0][1], "last": numbers[-1][1], "issued": len(numbers)})
    return out


def _groups(valid: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Groups by service and mode (rows arrive ordered by time, then number), totals by mode, grand total."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    modes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in valid:
        g = groups.setdefault((r.business_service, r.payment_mode), {
            "businessService": r.business_service, "paymentMode": r.payment_mode, "count": 0, "paise": 0,
            "firstReceipt": r.receipt_number, "lastReceipt": r.receipt_number})
        g["count"] += 1
        g["paise"] += int(r.amount_paid_paise)
        g["lastReceipt"] = r.receipt_number
        modes[r.payment_mode][0] += 1
        modes[r.payment_mode][1] += int(r.amount_paid_paise)
    out = []
    for key in sorted(groups):
        g = groups[key]
        out.append({**{k: v for k, v in g.items() if k != "paise"}, "amount": from_paise(g["paise"])})
    by_mode = [{"paymentMode": m, "count": n, "amount": from_paise(p)} for m, (n, p) in sorted(modes.items())]
    grand = {"count": len(valid), "amount": from_paise(sum(int(r.amount_paid_paise) for r in valid))}
    return out, by_mode, grand


def _receipt_line(r: Any, names: dict[str, str], late: set[str]) -> dict[str, Any]:
    """A cancelled or dishonoured receipt: why (the cancel reason, or the dishonour reason), who
    cancelled it and who approved that (additionalDetails.cancelledBy / cancellationApprovedBy),
    and whether it was reversed after its shift had closed (then it is in that shift's count)."""
    who = _cancelled_by(r.payment)
    extra = _details(r.payment)
    changed_by = names.get(who, who) if who else None
    cancelled_by = approved_by = dishonoured_by = None
    if r.payment_status == DISHONOURED:
        reason = _text(extra.get("dishonourReason")) or r.cancel_reason
        dishonoured_by = _text(extra.get("dishonouredBy")) or changed_by
        approved_by = _text(extra.get("dishonourApprovedBy"))
    else:
        reason = r.cancel_reason or _text(extra.get("cancellationReason"))
        cancelled_by = _text(extra.get("cancelledBy")) or changed_by
        approved_by = _text(extra.get("cancellationApprovedBy"))
    return {"receiptNumber": r.receipt_number, "receiptDate": r.receipt_date,
            "businessService": r.business_service, "consumerCode": r.consumer_code,
            "paymentMode": r.payment_mode, "amount": from_paise(int(r.amount_paid_paise)),
            "instrumentNumber": r.instrument_number, "instrumentStatus": r.instrument_status,
            "reason": reason, "comment": _text(extra.get("cancellationComment") or extra.get("dishonourComment")),
            "shiftId": r.shift_id,
            "collectedBy": names.get(r.collector_uuid, r.collector_uuid),
            "changedBy": changed_by, "cancelledBy": cancelled_by, "approvedBy": approved_by,
            "dishonouredBy": dishonoured_by, "afterShiftClosed": r.id in late}


def _shift_cash(conn: "Connection", shift_ids: list[str], start: dt.datetime,
                end: dt.datetime, late: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Per shift: CASH paise taken on this day, and on other days, as the shift counts them: valid
    receipts, and receipts reversed after their shift closed (`late`: they were in its count)."""
    today: dict[str, int] = defaultdict(int)
    other: dict[str, int] = defaultdict(int)
    if not shift_ids:
        return today, other
    rows = conn.execute(select(P.id, P.shift_id, P.receipt_date, P.amount_paid_paise, P.payment_status)
                        .where(P.shift_id.in_(shift_ids), P.payment_mode == CASH)).all()
    for r in rows:
        if r.payment_status in EXCLUDED and r.id not in late:
            continue
        bucket = today if start <= r.receipt_date < end else other
        bucket[r.shift_id] += int(r.amount_paid_paise)
    return today, other


def _shift_line(s: Any, names: dict[str, str], today: int, other: int) -> tuple[dict[str, Any], int]:
    """One shift as the register shows it, and the cash it says it took (paise).

    A closed shift's cash is what it recorded at the close (expected − float); an open shift's is
    what its receipts add up to so far (the drawer has not been counted)."""
    if s.status == CLOSED and s.expected_cash_paise is not None:
        cash = int(s.expected_cash_paise) - int(s.float_paise)
        expected = int(s.expected_cash_paise)
    else:
        cash = today + other
        expected = int(s.float_paise) + cash
    line = {"id": s.id, "counterCode": s.counter_code, "user": names.get(s.user_uuid, s.user_uuid),
            "status": s.status, "openedAt": s.opened_at, "closedAt": s.closed_at,
            "float": from_paise(int(s.float_paise)), "cashCollected": from_paise(cash),
            "expectedCash": from_paise(expected), "countedCash": _rupees(s.counted_cash_paise),
            "variance": _rupees(s.variance_paise),
            "varianceText": None if s.variance_paise is None else _signed(int(s.variance_paise)),
            "cashThisDay": from_paise(today), "cashOtherDays": from_paise(other)}
    return line, cash


def daybook(app: "App", ctx: "RequestContext", *, tenant_id: str | None = None,
            day: dt.date | str | None = None, counter: str | None = None) -> dict[str, Any]:
    """The collection register of one IST day (default: today by the context's clock)."""
    tenant = _tenant(app, ctx, tenant_id)
    authorize(app, ctx, SEARCH_URL, tenant)
    if ownership.applies(ctx):    # the counter's register lists every payer of the day
        raise ownership.refuse("day book", tenant, tenant)
    the_day = parse_day(day) or ctx.now().astimezone(IST).date()
    start, end = day_bounds(the_day)
    with app.uow(ctx, readonly=True) as uow:
        conn = uow.session.connection()
        # payments taken elsewhere (pulled, read-only here) are not this store's collection
        where = [P.tenant_id == tenant, P.receipt_date >= start, P.receipt_date < end, P.origin.is_(None)]
        if counter:
            where.append(P.counter_code == counter)
        rows = conn.execute(select(P.id, P.receipt_number, P.receipt_date, P.counter_code, P.shift_id, P.collector_uuid,
                                   P.business_service, P.consumer_code, P.payment_mode, P.amount_paid_paise,
                                   P.payment_status, P.instrument_number, P.instrument_status, P.cancel_reason,
                                   P.payment)
                            .where(*where).order_by(P.receipt_date, P.receipt_number)).all()
        shift_where = [S.tenant_id == tenant,
                       or_(S.id.in_(sorted({r.shift_id for r in rows if r.shift_id})),
                           (S.opened_at >= start) & (S.opened_at < end))]
        if counter:
            shift_where.append(S.counter_code == counter)
        shift_rows = conn.execute(select(Shift.__table__).where(*shift_where).order_by(S.opened_at, S.id)).all()
        late = reversed_after_close(conn, [s.id for s in shift_rows])
        today, other = _shift_cash(conn, [s.id for s in shift_rows], start, end, late)
        who = {r.collector_uuid for r in rows} | {s.user_uuid for s in shift_rows}
        who |= {w for w in (_cancelled_by(r.payment) for r in rows) if w}
        names = _names(conn, who)

    valid = [r for r in rows if r.payment_status not in EXCLUDED]
    groups, by_mode, grand = _groups(valid)
    shifts, shift_cash = [], 0
    for s in shift_rows:
        line, cash = _shift_line(s, names, today.get(s.id, 0), other.get(s.id, 0))
        shifts.append(line)
        shift_cash += cash
    register_cash = sum(int(r.amount_paid_paise) for r in valid if r.payment_mode == CASH)
    other_days = sum(other.get(s.id, 0) for s in shift_rows)
    known = {s.id for s in shift_rows}
    outside = sum(int(r.amount_paid_paise) for r in valid if r.payment_mode == CASH and r.shift_id not in known)
    # cash receipts of this day reversed after their shift closed: in that shift's count, not in the register
    reversed_late = [r for r in rows if r.id in late and r.payment_mode == CASH and r.shift_id in known]
    late_cash = sum(int(r.amount_paid_paise) for r in reversed_late)
    difference = register_cash + late_cash - (shift_cash - other_days)
    ok = difference == 0
    variance = sum(int(s.variance_paise) for s in shift_rows if s.variance_paise is not None)
    message = ("cash in the register equals the shifts' cash" if ok else
               f"MISMATCH: the register's cash differs from the shifts' cash by {_signed(difference)}")
    if late_cash:
        message += (f" (with {format_inr(from_paise(late_cash))} of receipts reversed after the shift closed, "
                    "which the shift's count holds)")
    return {
        "tenantId": tenant, "date": the_day.isoformat(), "counterCode": counter,
        "from": start, "to": end, "generatedAt": ctx.now(),
        "groups": groups, "totalsByMode": by_mode, "grandTotal": grand,
        "receiptRange": {"first": rows[0].receipt_number if rows else None,
                         "last": rows[-1].receipt_number if rows else None, "issued": len(rows),
                         "series": _series_ranges(rows)},
        "cancelled": [_receipt_line(r, names, late) for r in rows if r.payment_status == CANCELLED],
        "dishonoured": [_receipt_line(r, names, late) for r in rows if r.payment_status == DISHONOURED],
        "shifts": shifts,
        "reconciliation": {"registerCash": from_paise(register_cash), "shiftsCash": from_paise(shift_cash),
                           "shiftsCashOtherDays": from_paise(other_days),
                           "reversedAfterShiftClosed": from_paise(late_cash),
                           "reversedAfterShiftClosedReceipts": [r.receipt_number for r in reversed_late],
                           "cashOutsideShifts": from_paise(outside),
                           "difference": from_paise(difference), "differenceText": _signed(difference),
                           "ok": ok, "status": "OK" if ok else "MISMATCH", "message": message,
                           # the drawers as counted at close: a register that reconciles can still be short
                           "drawerVariance": from_paise(variance), "drawerVarianceText": _signed(variance),
                           "balanced": ok and variance == 0},
        # the audit chain's head when the book was made: printed, so paper anchors the chain
        "auditHead": _audit_head(app),
    }


def _audit_head(app: "App") -> dict[str, Any]:
    from digitctl.services import audit

    h = audit.head(app)
    return {"seq": h["seq"], "hash": h["hash"], "short": h["short"]}
