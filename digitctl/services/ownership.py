"""A citizen sees only what is theirs.

DIGIT's module searches restrict a CITIZEN to their own records (TL, PT and PGR search by the
citizen's uuid / mobile number; collection-services had the same rule for payments by payer id).
digitctl applies it to every read a citizen can reach: an application is theirs when they applied
for it (its applicant account or its creator); a demand, bill or payment when its payer is them
(the payer's uuid, or the payer's mobile number equal to the citizen's own, compared by blind
index), or when its consumer code is one of their applications. Anything else is refused with
ACCESS_DENIED (exit 3) before anything is read out or written (a refused receipt print is not
counted). Employees are not concerned here: their access is their roles' and tenants'."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from digitctl.errors import Forbidden
from local_store.models import Application, UserAccount

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext

E_NOT_YOURS = "ACCESS_DENIED"


def applies(ctx: "RequestContext") -> bool:
    """Only a citizen is held to their own records."""
    return ctx.actor.type == "CITIZEN"


def refuse(kind: str, ident: str, tenant_id: str | None = None) -> Forbidden:
    return Forbidden(E_NOT_YOURS, f"{kind} {ident} is not yours: a citizen sees only their own applications, "
                     "bills and payments", {"record": kind, "id": ident, **({"tenantId": tenant_id} if tenant_id
                                                                             else {})})


def own_application(ctx: "RequestContext", appl: Application | None) -> bool:
    return appl is not None and ctx.actor.uuid in (appl.applicant_uuid, appl.created_by)


def _own_mobile_bidx(s: "Session", ctx: "RequestContext") -> str | None:
    row = s.get(UserAccount, ctx.actor.uuid)
    return row.mobile_bidx if row is not None else None


def owns(s: "Session", app: "App", ctx: "RequestContext", *, consumer_code: str | None = None,
         payer_uuid: Any = None, mobile_bidx: str | None = None, mobile_enc: Any = None) -> bool:
    """Is a record with this payer / consumer code the citizen's own?"""
    me = ctx.actor.uuid
    if payer_uuid and payer_uuid == me:
        return True
    mine = _own_mobile_bidx(s, ctx)
    if mine is not None and mobile_bidx and mobile_bidx == mine:
        return True
    if mine is not None and isinstance(mobile_enc, str) and mobile_enc:
        from digitctl.services.crypto import is_ciphertext

        mobile = app.keyring.decrypt(s, mobile_enc) if is_ciphertext(mobile_enc) else mobile_enc
        row = s.get(UserAccount, me)
        if row is not None and mobile and app.keyring.blind_index(row.tenant_id, mobile, "mobile") == mine:
            return True
    if consumer_code:
        return own_application(ctx, s.get(Application, consumer_code))
    return False


def check_application(s: "Session", ctx: "RequestContext", tenant_id: str, business_id: str) -> None:
    """Workflow history and the like of an application: the citizen's own only."""
    if not applies(ctx):
        return
    appl = s.get(Application, business_id)
    if not own_application(ctx, appl) or (appl is not None and appl.tenant_id != tenant_id):
        raise refuse("application", business_id, tenant_id)


def check_payment(s: "Session", app: "App", ctx: "RequestContext", payment: Any) -> None:
    """A payment (a `local_store.models.Payment` row): the citizen's own only."""
    if not applies(ctx):
        return
    from local_store.models import Bill

    doc = payment.payment or {}
    bill = s.get(Bill, payment.bill_id)
    if not owns(s, app, ctx, consumer_code=payment.consumer_code, payer_uuid=doc.get("payerId"),
                mobile_bidx=bill.mobile_bidx if bill is not None else None, mobile_enc=doc.get("mobileNumber")):
        raise refuse("payment", payment.receipt_number, payment.tenant_id)
