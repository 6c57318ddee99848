"""Reopening a shift closed by mistake (a wrong count, closed before the last payment): another
person holding the collection workflow action (`/collection-services/payments/_workflow`, as a
cancel or a remittance) reopens the clerk's latest shift, with a reason, before its cash went to
the bank. The closed figures go into the audit record, so the first count is never lost."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import safetext
from digitctl.domain.events import Event
from digitctl.domain.money import from_paise
from digitctl.errors import Conflict, InvalidInput, NotFound
from digitctl.services.access import authorize
from digitctl.services.shifts import CLOSED, OPEN, _plain, current_shift, shift_json
from local_store.models import Payment, Shift

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

REOPEN_URL = "/collection-services/payments/_workflow"


def _closed_figures(shift: Shift) -> dict[str, Any]:
    return {"status": CLOSED, "closedAt": shift.closed_at.isoformat() if shift.closed_at else None,
            "expectedCash": str(from_paise(shift.expected_cash_paise or 0)),
            "countedCash": str(from_paise(shift.counted_cash_paise or 0)),
            "variance": str(from_paise(shift.variance_paise or 0)), "denominations": shift.denominations}


def reopen(app: "App", ctx: "RequestContext", shift_id: str, reason: str) -> dict[str, Any]:
    """Reopen CLOSED shift `shift_id`; refused for one's own shift, a shift that is not the
    clerk's latest, a clerk with another shift open, or a shift whose money was remitted."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("SHIFT_REOPEN_REASON", "say why the shift is reopened (--reason)")
    safetext.check_text(reason, "reason", max_length=safetext.COMMENT_MAX)
    with app.uow(ctx) as uow:
        shift = uow.session.get(Shift, shift_id, with_for_update=True)
        if shift is None:
            raise NotFound("SHIFT_NOT_FOUND", f"no shift {shift_id}", {"shiftId": shift_id})
        authorize(app, ctx, REOPEN_URL, shift.tenant_id)
        if shift.status != CLOSED:
            raise Conflict("SHIFT_NOT_CLOSED", f"shift {shift_id} is {shift.status}: only a closed shift is reopened",
                           {"shiftId": shift_id, "status": shift.status})
        if shift.user_uuid == ctx.actor.uuid:
            raise InvalidInput("SHIFT_REOPEN_OWN", "a supervisor reopens a shift, not the clerk who closed it",
                               {"shiftId": shift_id})
        later = uow.session.execute(select(Shift.id).where(
            Shift.counter_code == shift.counter_code, Shift.user_uuid == shift.user_uuid,
            Shift.opened_at > shift.opened_at)).first()
        if later is not None or current_shift(uow.session, shift.counter_code, shift.user_uuid) is not None:
            raise Conflict("SHIFT_NOT_LATEST", "the clerk has opened another shift since: only the latest shift, "
                           "with none open, can be reopened", {"shiftId": shift_id})
        remitted = uow.session.execute(select(Payment.receipt_number).where(
            Payment.shift_id == shift.id, Payment.remittance_id.is_not(None)).limit(1)).scalar()
        if remitted is not None:
            raise Conflict("SHIFT_REMITTED", f"the shift's money has gone to the bank (receipt {remitted} was "
                           "remitted): it cannot be reopened", {"shiftId": shift_id, "receiptNumber": remitted})
        before = _closed_figures(shift)
        shift.status, shift.closed_at = OPEN, None
        shift.expected_cash_paise = shift.counted_cash_paise = shift.variance_paise = None
        shift.denominations = None
        uow.session.flush()
        doc = {**shift_json(shift), "reopenedBy": ctx.actor.user_name, "reopenReason": reason}
        uow.record(Event("shift.reopened", shift.tenant_id, "Shift", shift.id, REOPEN_URL,
                         {"Shift": _plain(doc)},
                         before=before, after={"status": OPEN, "reason": reason, "reopenedBy": ctx.actor.user_name}))
        uow.commit()
    return doc
