"""What a counter front door (the TUI) asks of the store beyond single operations: the status
line, which screen a user starts on, one search box that finds a bill by whatever the clerk typed,
the payment modes a bill takes, and the receipts of a day or of a consumer code / mobile.

Every answer goes through the same access checks as the CLI; nothing here writes except what
`billing.fetch_bill` writes (a bill made from demands, as DIGIT's _fetchbill does)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from digitctl.clock import IST
from digitctl.domain.collection import MODES
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.money import from_paise
from digitctl.errors import DigitError, Forbidden, InvalidInput
from digitctl.services import billing, ownership
from digitctl.services.access import authorize
from digitctl.services.payments import CREATE_URL, SEARCH_URL, present
from digitctl.services.shifts import current_shift
from local_store.models import Demand, OutboxEvent, Payment
from local_store.uow import SYNC_HUB_URL

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

HUB_META_KEYS = (SYNC_HUB_URL,)         # where `sync register` keeps the hub it registered with
MAX_RECEIPTS = 200


def status_line(app: "App", ctx: "RequestContext") -> dict[str, Any]:
    """{"userName", "tenantId", "counterCode", "shift": {...} | None, "hub": URL | None, "unsynced"}."""
    with app.uow(ctx, readonly=True) as uow:
        s = uow.session
        counter = uow.meta("counter_code")
        hub = next((v for k in HUB_META_KEYS if (v := uow.meta(k))), None)
        shift = current_shift(s, counter, ctx.actor.uuid) if counter else None
        # what `sync push` has still to send: numbered events the hub has not acknowledged (none
        # before the store registers with a hub: its set-up stays local)
        unsynced = 0
        if hub:
            from digitctl.services.sync_outbox import ACKED_SEQ   # the sync machinery: only once registered

            acked = int(uow.meta(ACKED_SEQ) or 0)
            unsynced = s.execute(select(func.count()).select_from(OutboxEvent)
                                 .where(OutboxEvent.counter_seq > acked)).scalar_one()
        open_shift = None if shift is None else {"id": shift.id, "float": from_paise(shift.float_paise),
                                                 "openedAt": shift.opened_at}
    return {"userName": ctx.actor.user_name, "tenantId": ctx.tenant_id, "counterCode": counter,
            "shift": open_shift, "hub": hub, "unsynced": int(unsynced)}


def may(app: "App", ctx: "RequestContext", action_url: str, tenant_id: str | None) -> bool:
    try:
        authorize(app, ctx, action_url, tenant_id)
    except Forbidden:
        return False
    return True


COUNTER_ROLE_SUFFIX = "_CEMP"       # DIGIT's counter employees: TL_CEMP, PT_CEMP, WS_CEMP ...
COUNTER_ROLES = frozenset({"UC_EMP"})   # miscellaneous (urban) collections at the counter


def is_collector(ctx: "RequestContext") -> bool:
    """A counter clerk: holds a counter-employee role at their tenant. (DIGIT's role-actions let
    every EMPLOYEE create payments, so the access check alone cannot tell a clerk from an approver.)"""
    return any(r.code.endswith(COUNTER_ROLE_SUFFIX) or r.code in COUNTER_ROLES for r in ctx.actor.roles
               if r.tenant_id in (ctx.tenant_id, "*"))


def first_screen(app: "App", ctx: "RequestContext") -> str:
    """'counter' for a collector who may take payments at their tenant, else 'inbox'."""
    return "counter" if is_collector(ctx) and may(app, ctx, CREATE_URL, ctx.tenant_id) else "inbox"


def find_bills(app: "App", ctx: "RequestContext", tenant_id: str, text: str) -> list[dict[str, Any]]:
    """The bills behind what the clerk typed: a mobile number, a receipt number (its consumer
    code's bill now), an application number or a consumer code."""
    typed = (text or "").strip()
    if not typed:
        raise InvalidInput("EG_BS_FETCHBILL_CRITERIA", "type a consumer code, an application number, a mobile "
                           "number or a receipt number")
    mobile = normalize_mobile(typed)
    if typed.replace(" ", "").replace("-", "").lstrip("+").isdigit() and valid_mobile(mobile):
        return billing.fetch_bill(app, ctx, tenant_id, mobile=mobile)
    if "/" in typed:            # receipt numbers carry the counter code and slashes; consumer codes do not
        authorize(app, ctx, SEARCH_URL, tenant_id)
        with app.uow(ctx, readonly=True) as uow:
            row = uow.session.execute(select(Payment.consumer_code, Payment.business_service).where(
                Payment.tenant_id == tenant_id, Payment.receipt_number == typed)).first()
        if row is not None:
            return billing.fetch_bill(app, ctx, tenant_id, consumer_code=row.consumer_code,
                                      business_service=row.business_service)
    return billing.fetch_bill(app, ctx, tenant_id, consumer_code=typed)


def allowed_modes(app: "App", tenant_id: str, bill: dict[str, Any]) -> list[str]:
    """The counter's payment modes this bill takes (the bill's and its business service's
    collectionModesNotAllowed removed), in the order the counter offers them."""
    masters = billing.billing_masters(app, tenant_id)
    config = masters.business_services.get(str(bill.get("businessService") or ""))
    refused = set(bill.get("collectionModesNotAllowed") or []) | set(
        config.collection_modes_not_allowed if config else ())
    return [m for m in MODES if m not in refused]


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=IST)
    return start, start + dt.timedelta(days=1)


def search_receipts(app: "App", ctx: "RequestContext", tenant_id: str, *, text: str | None = None,
                    day: dt.date | None = None) -> list[dict[str, Any]]:
    """Receipts by receipt number, consumer code or mobile (`text`), else those of `day` (default
    today by the context's clock), newest first, as DIGIT's Payment JSON shown to the actor."""
    authorize(app, ctx, SEARCH_URL, tenant_id)
    typed = (text or "").strip()
    with app.uow(ctx) as uow:
        s = uow.session
        q = select(Payment).where(Payment.tenant_id == tenant_id)
        mobile = normalize_mobile(typed)
        if typed and typed.replace(" ", "").lstrip("+").isdigit() and valid_mobile(mobile):
            bidx = app.keyring.blind_index(tenant_id, mobile, "mobile")
            codes = select(Demand.consumer_code).where(Demand.tenant_id == tenant_id,
                                                       Demand.payer_mobile_bidx == bidx)
            q = q.where(Payment.consumer_code.in_(codes))
        elif typed:
            q = q.where((Payment.receipt_number == typed) | (Payment.consumer_code == typed))
        else:
            start, end = _day_bounds(day or ctx.now().astimezone(IST).date())
            q = q.where(Payment.receipt_date >= start, Payment.receipt_date < end)
        rows = s.execute(q.order_by(Payment.receipt_date.desc(), Payment.receipt_number.desc())
                         .limit(MAX_RECEIPTS)).scalars().all()
        out = []
        for row in rows:
            try:
                ownership.check_payment(s, app, ctx, row)
            except DigitError:
                continue
            out.append(present(app, uow, ctx, row.payment))
        uow.commit()        # masking may have recorded a disclosure
    return out
