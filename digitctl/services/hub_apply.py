"""The hub applies what counters did (sync/PROTOCOL.md "Applying at the hub").

`apply_event(app, ev)` applies one event a counter pushed to the hub's own store, through the
services the CLI uses (their `*_in` cores), in one unit of work that also records the event in the
hub's outbox and audit chain under the counter's actor:

- "recorded": nothing to apply (the counter's set-up, logins, prints, idgen, OTPs, bills: they are
  derived, a payment brings the bill it paid ...);
- "applied": its effect is in the hub's store now, or was already (idempotent: a crash between
  the apply and the ingest marking it must not double anything);
- `Parked(code, message, params)` when the hub cannot apply it: the actor is unknown at the hub
  (SYNC_ACTOR_UNKNOWN: found by uuid, else by user name), may not do the event's operation at
  its tenant by the hub's role-action masters (the access refusal's code), the tenant is not the
  counter's (SYNC_TENANT_NOT_ENROLLED), or the per-kind reasons in hub_apply_payments /
  hub_apply_records (BILLING_DEMAND_NOT_FOUND, EXCESS_COLLECTION, STATE_CHANGED ...).

`entity_keys(ev)` names the entities an event touches, so that the ingest holds later events on
one of them behind a parked one. `apply_events` is the batch path (hub_apply_batch): payments in
one transaction through SQLAlchemy Core, the rest one by one; an event it holds behind a parked
one comes back as Parked SYNC_WAITING with params {"behind": eventId} (status `waiting`).

What the services write carries the counter's instants (ctx's clock stands at the event's
occurredAt: receipt dates, shift times, workflow times); the hub's own outbox row and audit
record of it carry the hub's time and the counter's actor.

Users: created, updated, locked and unlocked are applied (hub_apply_users); a password change
is recorded only (TODO: no hash travels yet).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.services.hub_apply_batch import apply_batch
# the appliers' shared pieces and the one-event path, named here as `hub_apply.X` for callers
from digitctl.services.hub_apply_common import (APPLIED, E_ACTOR_UNKNOWN, E_EVENT_MALFORMED,  # noqa: F401
                                                E_PII_UNREADABLE, E_TENANT_NOT_ENROLLED, RECORDED, RUN_BY, Applier,
                                                access_tenant, apply_context, as_parked, authorize_event,
                                                check_tenant, entity_keys, hub_actor, operation_of, opened, reseal)
from digitctl.services.hub_apply_one import applier_for, apply_event  # noqa: F401

if TYPE_CHECKING:
    from digitctl.ports import App


def apply_events(app: "App", events: list[ReceivedEvent], *,
                 counter_tenant: str | None = None) -> list[str | Parked]:
    """The batch path: each event's outcome ("applied" / "recorded" / the Parked), in order.
    Payments go in one transaction through SQLAlchemy Core (hub_apply_batch); any other event,
    and a payment the batch cannot take as it is, through apply_event."""
    return apply_batch(app, events, counter_tenant=counter_tenant)
