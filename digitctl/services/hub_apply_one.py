"""One event applied at the hub (`hub_apply.apply_event`): the applier of its type, in one unit of
work, after the tenant, actor and access checks of hub_apply_common."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.errors import DigitError
from digitctl.services.hub_apply_common import (APPLIED, RECORDED, RUN_BY, Applier, access_tenant, apply_context,
                                                as_parked, authorize_event, check_tenant, hub_actor, operation_of)

if TYPE_CHECKING:
    from digitctl.ports import App


def _appliers() -> dict[str, Applier]:
    from digitctl.services import hub_apply_payments as pay
    from digitctl.services import hub_apply_records as rec
    from digitctl.services import hub_apply_users as usr

    return {
        "collection.payment.created": pay.payment_created,
        "collection.payment.cancelled": pay.payment_reversed,
        "collection.payment.dishonoured": pay.payment_reversed,
        "collection.payments.remitted": pay.payments_remitted,
        "billing.demand.created": rec.demand_created,
        "billing.demand.updated": rec.demand_updated,
        "application.created": rec.application_created,
        "application.payment.reversed": rec.application_payment_reversed,
        "workflow.transitioned": rec.workflow_transitioned,
        "shift.opened": rec.shift_recorded,
        "shift.closed": rec.shift_recorded,
        "user.created": usr.user_created,
        "user.updated": usr.user_updated,
        "user.locked": usr.user_locked,
        "user.unlocked": usr.user_locked,
        "user.password.changed": usr.password_changed,
    }


_APPLIERS: dict[str, Applier] | None = None


def applier_for(event_type: str) -> Applier | None:
    """The function that applies `event_type` at the hub; None: the hub records it only."""
    global _APPLIERS
    if _APPLIERS is None:
        _APPLIERS = _appliers()
    return _APPLIERS.get(event_type)


# -- one event --------------------------------------------------------------------------------
def apply_event(app: "App", ev: ReceivedEvent, *, counter_tenant: str | None = None) -> str:
    """Apply one event at the hub: "applied" or "recorded"; raises Parked. Idempotent."""
    applier = applier_for(ev.event_type)
    if applier is None:
        return RECORDED
    with app.uow(app.base_context(ev.tenant_id)) as uow:
        try:
            check_tenant(ev, counter_tenant)
            operation = operation_of(ev)
            actor = hub_actor(app, uow, ev)
            ctx = apply_context(app, actor, ev)
            authorize_event(app, ctx, ev, RUN_BY.get(operation, operation), access_tenant(ev, actor, counter_tenant))
        except Parked:
            # its effect is at the hub already (applied before the actor left, say): still a no-op
            from digitctl.services.hub_apply_records import already_applied

            if already_applied(uow, ev):
                return APPLIED
            raise
        # the hub's outbox and audit record name the counter's actor, at the hub's time; what the
        # services write carries the counter's (ctx)
        uow.ctx = replace(ctx, clock=app.clock)
        try:
            outcome = applier(app, uow, ctx, ev)
        except DigitError as err:
            raise as_parked(err) from None
        uow.commit()
    return outcome


