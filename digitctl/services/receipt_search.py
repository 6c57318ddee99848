"""Finding a receipt without its number (`/collection-services/payments/_search` by consumer code,
by the payer's mobile number through the bill's blind index, or by the IST day it was issued):
a citizen who lost it, a clerk asked to reprint it. A citizen finds only their own."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.clock import IST
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.errors import Forbidden, InvalidInput
from digitctl.services import ownership
from digitctl.services.access import authorize
from digitctl.services.payments import SEARCH_URL, present
from local_store.models import Bill, Payment

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

LIMIT = 200


def _day(value: str | dt.date) -> tuple[dt.datetime, dt.datetime]:
    if isinstance(value, str):
        text = value.strip()
        try:
            day = (dt.datetime.strptime(text, "%d/%m/%Y") if "/" in text else dt.datetime.strptime(text, "%Y-%m-%d"))
        except ValueError:
            raise InvalidInput("INVALID_DATE", f"--date {value!r}: give DD/MM/YYYY or YYYY-MM-DD",
                               {"date": value}) from None
        value = day.date()
    start = dt.datetime.combine(value, dt.time(0), IST)
    return start, start + dt.timedelta(days=1)


def search(app: "App", ctx: "RequestContext", tenant_id: str, *, consumer_code: str | None = None,
           mobile: str | None = None, date: str | dt.date | None = None) -> list[dict[str, Any]]:
    """Payments at `tenant_id` matching every criterion given (at least one), newest first, as
    DIGIT's Payment JSON shown as the actor may see it."""
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    if not (consumer_code or mobile or date):
        raise InvalidInput("INVALID_SEARCH_CRITERIA", "give --consumer-code, --mobile or --date")
    authorize(app, ctx, SEARCH_URL, tenant_id)
    q = select(Payment).where(Payment.tenant_id == tenant_id)
    if consumer_code:
        q = q.where(Payment.consumer_code == consumer_code.strip())
    if mobile:
        m = normalize_mobile(mobile)
        if not valid_mobile(m):
            raise InvalidInput("INVALID_MOBILE_NUMBER", f"{mobile!r} is not a mobile number: 10 digits starting "
                               "with 6-9", {"mobileNumber": mobile})
        bidx = app.keyring.blind_index(tenant_id, m, "mobile")
        q = q.join(Bill, Bill.id == Payment.bill_id).where(Bill.mobile_bidx == bidx)
    if date:
        start, end = _day(date)
        q = q.where(Payment.receipt_date >= start, Payment.receipt_date < end)
    out = []
    with app.uow(ctx) as uow:
        for row in uow.session.execute(q.order_by(Payment.receipt_date.desc(), Payment.receipt_number.desc())
                                       .limit(LIMIT)).scalars():
            try:
                ownership.check_payment(uow.session, app, ctx, row)
            except Forbidden:
                continue               # a citizen sees their own receipts only
            out.append(present(app, uow, ctx, row.payment))
        uow.commit()                   # masking may have recorded a disclosure
    return out
