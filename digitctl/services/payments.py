"""A stored payment: found by receipt number, shown as the actor may see it.

Shared by taking a payment (`services.collection`) and its lifecycle (`services.payment_lifecycle`).
Payer name and mobile are ciphertext in the stored JSON; what is returned is shown as the actor's
roles may see it (DataSecurity, model "User")."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain.collection import E_PAYMENT_NOT_FOUND
from digitctl.errors import NotFound
from digitctl.services import billing, masking, ownership
from digitctl.services.access import authorize
from local_store.models import Payment

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

CREATE_URL = "/collection-services/payments/_create"
SEARCH_URL = "/collection-services/payments/_search"
WORKFLOW_URL = "/collection-services/payments/_workflow"


def payment_row(uow: "UnitOfWork", tenant_id: str, receipt_no: str) -> Payment:
    row = uow.session.execute(select(Payment).where(Payment.tenant_id == tenant_id,
                                                    Payment.receipt_number == receipt_no)).scalars().first()
    if row is None:
        row = uow.session.get(Payment, receipt_no)
        if row is not None and row.tenant_id != tenant_id:
            row = None
    if row is None:
        raise NotFound(E_PAYMENT_NOT_FOUND, f"no payment with receipt number {receipt_no} at {tenant_id}",
                       {"receiptNumber": receipt_no, "tenantId": tenant_id})
    return row


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
