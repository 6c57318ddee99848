"""A user's notification preferences: the language messages reach them in (DIGIT's user
`locale`) and the channels they opted out of. Changed as any user update is (the same action,
the same manage rule), with a "user.notification.updated" event and its audit record."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from digitctl.domain.events import Event
from digitctl.domain.localization import check_locale
from digitctl.domain.notify_rules import CHANNELS
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.user_grants import check_manage
from digitctl.services.user_lookup import find, own_user_name
from digitctl.services.users import UPDATE_ACTION
from local_store.models_notify import NotificationOptOut

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext


def _channels(values: list[str]) -> set[str]:
    bad = [v for v in values if v not in CHANNELS]
    if bad:
        raise InvalidInput("INVALID_CHANNEL", f"a channel is one of {', '.join(CHANNELS)}", {"channel": bad[0][:16]})
    return set(values)


def update(app: "App", ctx: "RequestContext", who: str, tenant_id: str | None, *, locale: str | None = None,
           opt_out: list[str], opt_in: list[str]) -> dict[str, Any]:
    if locale is not None:
        check_locale(locale)
    outs, ins = _channels(opt_out), _channels(opt_in)
    if outs & ins:
        raise InvalidInput("INVALID_CHANNEL", "a channel cannot be opted out of and into at once",
                           {"channel": sorted(outs & ins)[0]})
    with app.uow(ctx) as uow:
        s = uow.session
        row = find(s, who, tenant_id)
        authorize(app, ctx, UPDATE_ACTION, row.tenant_id)
        check_manage(ctx, s, row)
        have = set(s.execute(select(NotificationOptOut.channel).where(NotificationOptOut.user_uuid == row.uuid)).scalars())
        before = {"locale": row.locale, "optedOut": sorted(have)}
        for ch in outs - have:
            s.add(NotificationOptOut(user_uuid=row.uuid, channel=ch, created_at=ctx.now()))
        if ins:
            s.execute(delete(NotificationOptOut).where(NotificationOptOut.user_uuid == row.uuid,
                                                       NotificationOptOut.channel.in_(sorted(ins))))
        if locale is not None:
            row.locale = locale
        row.updated_at = ctx.now()
        after = {"locale": row.locale, "optedOut": sorted((have | outs) - ins)}
        uow.record(Event("user.notification.updated", row.tenant_id, "User", row.uuid, UPDATE_ACTION,
                         {"uuid": row.uuid, **after}, before=before, after=after))
        out = {"uuid": row.uuid, "userName": own_user_name(app, s, row), "tenantId": row.tenant_id, **after}
        uow.commit()
    return out
