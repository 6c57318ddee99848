"""A stored payment: found by receipt number, shown as the actor may see it.

Shared by taking a payment (`services.collection`) and its lifecycle (`services.payment_lifecycle`).
Payer name and mobile are ciphertext in the stored JSON; what is returned is shown as the actor's
roles may see it (DataSecurity, model "User")."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain.collection import E_PAYMENT_NOT_FOUND
from digitctl.errors import Conflict, NotFound
from digitctl.services import billing, masking, ownership
from digitctl.services.access import authorize
from local_store.models import Payment

if TYPE_CHECKING:
    from collections.abc import Callable

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

CREATE_URL = "/collection-services/payments/_create"
SEARCH_URL = "/collection-services/payments/_search"
WORKFLOW_URL = "/collection-services/payments/_workflow"


PAYER_FIELDS = ("payerName", "mobileNumber")       # ciphertext in a stored Payment and its bills


def payer_fields(doc: dict[str, Any], fn: "Callable[[Any], Any]") -> dict[str, Any]:
    """A copy of a Payment JSON with `fn` applied to the payer's personal fields: payerName,
    mobileNumber and paidBy when a name was given (not "OWNER"), on the payment and on the copy of
    each bill it paid. How they are opened for a trip and sealed again on either side."""
    out = dict(doc)
    named = out.get("paidBy") not in (None, "OWNER")
    for key in PAYER_FIELDS:
        out[key] = fn(out.get(key))
    if named:
        out["paidBy"] = out["payerName"]
    pds = []
    for pd in out.get("paymentDetails") or []:
        if isinstance(pd, dict) and isinstance(pd.get("bill"), dict):
            pd = {**pd, "bill": {**pd["bill"], **{k: fn(pd["bill"].get(k)) for k in PAYER_FIELDS}}}
        pds.append(pd)
    if "paymentDetails" in out:
        out["paymentDetails"] = pds
    return out


def payment_row(uow: "UnitOfWork", tenant_id: str, receipt_no: str, *, taken_here: bool = False) -> Payment:
    """The payment of a receipt number (or id) at `tenant_id`; `taken_here`: refuse one taken
    elsewhere (PAYMENT_TAKEN_ELSEWHERE), for what only the counter that took it may do."""
    row = uow.session.execute(select(Payment).where(Payment.tenant_id == tenant_id,
                                                    Payment.receipt_number == receipt_no)).scalars().first()
    if row is None:
        row = uow.session.get(Payment, receipt_no)
        if row is not None and row.tenant_id != tenant_id:
            row = None
    if row is None:
        raise NotFound(E_PAYMENT_NOT_FOUND, f"no payment with receipt number {receipt_no} at {tenant_id}",
                       {"receiptNumber": receipt_no, "tenantId": tenant_id})
    if taken_here:
        check_taken_here(row)
    return row


E_TAKEN_ELSEWHERE = "PAYMENT_TAKEN_ELSEWHERE"


def check_taken_here(row: Payment) -> None:
    """A payment taken at another counter or at the hub (it came down with `sync pull`) is read-only
    here: it is cancelled, dishonoured or deposited where it was taken (its new status comes down)."""
    if row.origin is not None:
        where = "the hub" if row.origin == "HUB" else f"counter {row.origin}"
        raise Conflict(E_TAKEN_ELSEWHERE, f"receipt {row.receipt_number} was taken at {where}, not at this counter: "
                       f"only {where} (or the hub) can cancel, dishonour or deposit it; its status comes down "
                       "with `sync pull`", {"receiptNumber": row.receipt_number, "takenAt": row.origin})


def get_payment(app: "App", ctx: "RequestContext", tenant_id: str, receipt_no: str) -> dict[str, Any]:
    """`/collection-services/payments/_search` by receipt number: DIGIT's Payment JSON."""
    authorize(app, ctx, SEARCH_URL, tenant_id)
    with app.uow(ctx) as uow:
        row = payment_row(uow, tenant_id, receipt_no)
        ownership.check_payment(uow.session, app, ctx, row)
        doc = present(app, uow, ctx, row.payment)
        uow.commit()          # masking may have recorded a disclosure
    return doc


def present(app: "App", uow: "UnitOfWork", ctx: "RequestContext", doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored Payment JSON with the payer as the actor may see it (model "User")."""
    tenant = doc.get("tenantId") or ""
    masker = masking.masker_for(app, tenant, conn=uow.session.connection())
    out = dict(doc)
    shown = masking.present(app, uow, ctx, "User", {"uuid": doc.get("payerId"), "tenantId": tenant,
                                                    "name": doc.get("payerName"),
                                                    "mobileNumber": doc.get("mobileNumber")},
                            masker=masker, purpose="collection")
    out["payerName"], out["mobileNumber"] = shown.get("name"), shown.get("mobileNumber")
    out["paidBy"] = out["payerName"] if doc.get("paidBy") == doc.get("payerName") else doc.get("paidBy")
    pds = []
    for pd in doc.get("paymentDetails") or []:
        pd = dict(pd)
        if isinstance(pd.get("bill"), dict):
            pd["bill"] = billing.present_bill(app, uow, ctx, pd["bill"], masker)
        pds.append(pd)
    out["paymentDetails"] = pds
    return out
