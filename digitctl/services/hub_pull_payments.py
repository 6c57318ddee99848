"""How payments taken elsewhere travel down to a counter (`sync pull`, stream `payments`): the
payments of the counter's tenant (and the cities below it) that it did not take itself, those
other counters took (applied here from their pushes) and those taken at the hub, as DIGIT's
Payment JSON with its paymentDetails, receipt number and status. The payer travels opened for the
trip (sealed with the counter's keys on arrival, services.payments_pulled); `origin` says who took
it: the counter code, or HUB. hub_pull never selects a counter's own payments for it
(`Payment.counter_code` is the requesting counter's): what it took never comes back to it.

A delta names payments by the hub's `Payment` events (taken, cancelled, dishonoured, printed)
and `Remittance` events (a deposit changes the status of the payments it lists)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitctl.services.crypto import is_ciphertext
from digitctl.services.payments import payer_fields
from local_store.models import HubCounter, Payment

if TYPE_CHECKING:
    from digitctl.ports import App

ENTITIES = ("Payment", "Remittance")
HUB = "HUB"


def changed(s: Session, events: list[Any]) -> set[str]:
    ids = {str(e.entity_id) for e in events if e.entity_type == "Payment"}
    slips = [str(e.entity_id) for e in events if e.entity_type == "Remittance"]
    if slips:
        ids |= set(s.execute(select(Payment.id).where(Payment.remittance_id.in_(slips))).scalars())
    return ids


def docs(app: "App", uow: Any, s: Session, rows: list[Payment]) -> list[dict[str, Any]]:
    if not rows:
        return []
    counters = set(s.execute(select(HubCounter.code)).scalars())

    def opened(value: Any) -> Any:
        return app.keyring.decrypt(uow, value) if is_ciphertext(value) else value

    return [{"payment": payer_fields(r.payment, opened),
             "origin": r.counter_code if r.counter_code in counters else HUB}
            for r in rows]
