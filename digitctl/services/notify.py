"""Notifications from the outbox (DIGIT's egov-notification-sms / -mail, fed by module events).

`plan()` reads the outbox after the notifier's own cursor (store_meta `notify_cursor`) and, in the
same transaction that moves the cursor, writes one `notification` row per (event, channel,
recipient): the send intent, address and text encrypted. So an event is composed once, whatever
crashes when. `notify_send` delivers the rows. Texts are digitctl-notifications templates in the
recipient's locale (the user's `locale`, else en_IN); a user who opted out of a channel
(`notification_optout`) gets nothing on it, except an OTP they asked for.

Only events this store wrote are told about: an event the hub wrote while applying a counter's
batch (same type, entity and instant as one in `hub_event`) was told by the counter already."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import notify_rules as rules
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.localization import ENGLISH, LOCALE
from digitctl.domain.tenancy import state_of
from digitctl.errors import DigitError
from digitctl.services.crypto import is_ciphertext
from digitctl.services.localization import Translator, translator
from local_store.models import Application, HubEvent, OutboxEvent, StoreMeta, UserAccount
from local_store.models_notify import Notification, NotificationOptOut

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

CURSOR = "notify_cursor"
UNRESOLVED = "-"                  # channel and recipient of an event that could not be composed (dead)
RUN_URL = "/digitctl/notify/_run"           # not DIGIT actions: digitctl reserves them to SUPERUSER
STATUS_URL = "/digitctl/notify/_status"
RETRY_URL = "/digitctl/notify/_retry"


@dataclass
class Recipient:
    name: str
    mobile: str | None
    email: str | None
    locale: str
    opted_out: frozenset[str]


@dataclass
class Composed:
    recipient: str
    channel: str
    locale: str
    address: str
    subject: str
    body: str
    template: str

    def shown(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "channel": self.channel, "locale": self.locale,
                "address": rules.masked_address(self.channel, self.address), "template": self.template,
                "subject": self.subject, "message": self.body}


# -- who is told ------------------------------------------------------------------------------
def _plain(uow: "UnitOfWork", app: "App", value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return app.keyring.decrypt(uow, value) if is_ciphertext(value) else value


def _user_facts(uow: "UnitOfWork", app: "App", user: UserAccount) -> tuple[str | None, str | None, str | None, str | None, frozenset[str]]:
    out = frozenset(uow.session.execute(select(NotificationOptOut.channel)
                                        .where(NotificationOptOut.user_uuid == user.uuid)).scalars())
    return (_plain(uow, app, user.name_enc), _plain(uow, app, user.mobile_enc), _plain(uow, app, user.email_enc),
            user.locale, out)


def _citizen_by_mobile(uow: "UnitOfWork", app: "App", tenant: str, mobile: str) -> UserAccount | None:
    bidx = app.keyring.blind_index(state_of(tenant), mobile, "mobile")
    u = UserAccount.__table__
    found = uow.session.connection().execute(select(u.c.uuid).where(u.c.mobile_bidx == bidx, u.c.type == "CITIZEN")
                                             .limit(1)).scalar()
    return uow.session.get(UserAccount, found) if found else None


def resolve(uow: "UnitOfWork", app: "App", tenant: str, intent: rules.Intent) -> Recipient | None:
    """The recipient's name, contacts, locale and opt-outs (plain text, in memory only)."""
    c = intent.contact
    name = _plain(uow, app, c.name_enc)
    mobile = _plain(uow, app, c.mobile_enc)
    email = _plain(uow, app, c.email_enc)
    user: UserAccount | None = None
    if c.application_no:
        appl = uow.session.get(Application, c.application_no)
        if appl is None:
            return None
        name, mobile = _plain(uow, app, appl.applicant_name_enc), _plain(uow, app, appl.applicant_mobile_enc)
        user = uow.session.get(UserAccount, appl.applicant_uuid) if appl.applicant_uuid else None
    elif c.user_uuid:
        user = uow.session.get(UserAccount, c.user_uuid)
    if user is None and mobile:
        user = _citizen_by_mobile(uow, app, tenant, normalize_mobile(mobile))
    locale, opted = None, frozenset[str]()
    if user is not None:
        u_name, u_mobile, u_email, locale, opted = _user_facts(uow, app, user)
        name, mobile, email = name or u_name, mobile or u_mobile, email or u_email
    if mobile is not None and not valid_mobile(normalize_mobile(mobile)):
        mobile = None
    locale = intent.locale or locale
    return Recipient(name or "", normalize_mobile(mobile) if mobile else None, email,
                     locale if locale and LOCALE.fullmatch(locale) else ENGLISH, opted)


# -- what they are told -----------------------------------------------------------------------
def _service_name(tr: Translator, locale: str, tenant: str, service: Any) -> str:
    code = str(service or "")
    return (tr.lookup(f"DIGITCTL_NOTIF_SERVICE_{code.upper()}", locale, tenant)
            or tr.lookup("BILLINGSERVICE_BUSINESSSERVICE_" + code.upper().replace(".", "_"), locale, tenant) or code)


def _tenant_name(uow: "UnitOfWork", app: "App", tenant: str) -> str:
    """The tenant's MDMS name (tenant.tenants), for a language with no TENANT_TENANTS_* message."""
    names = uow.info.get("tenant_names")
    if names is None:
        records = app.mdms.at_state(tenant, "tenant", "tenants", conn=uow.session.connection())
        names = {str(r["code"]): str(r.get("name") or r.get("city", {}).get("name") or r["code"])
                 for r in records if isinstance(r, dict) and r.get("code")}
        uow.info["tenant_names"] = names
    return str(names.get(tenant) or tenant)


def _params(uow: "UnitOfWork", app: "App", tr: Translator, locale: str, tenant: str,
            params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out["service"] = _service_name(tr, locale, tenant, params.get("businessService"))
    out["city"] = tr.lookup("TENANT_TENANTS_" + tenant.upper().replace(".", "_"), locale, tenant) or \
        _tenant_name(uow, app, tenant)
    if params.get("paymentMode"):
        out["paymentMode"] = tr.t(f"COMMON_MASTERS_PAYMENTMODE_{params['paymentMode']}", locale, tenant)
    return out


def compose(uow: "UnitOfWork", app: "App", tr: Translator, tenant: str, found: list[rules.Intent]) -> list[Composed]:
    """Every (recipient, channel) message of one event; one message per address per channel
    (the owner who paid hears it once, as the payer)."""
    out: list[Composed] = []
    seen: set[tuple[str, str]] = set()
    payer_name = ""
    for intent in found:
        who = resolve(uow, app, tenant, intent)
        if who is None:
            continue
        if intent.recipient == "payer":
            payer_name = who.name
        params = _params(uow, app, tr, who.locale, tenant, {**intent.params, "payerName": payer_name})
        body = _plain(uow, app, intent.text_enc) if intent.text_enc else \
            tr.t(intent.template, who.locale, tenant, who.name, **params)
        subject = tr.t(intent.subject, who.locale, tenant, **params)
        for channel in intent.channels:
            address = who.mobile if channel == rules.SMS else who.email
            if not address or (channel in who.opted_out and not intent.transactional):
                continue
            if (channel, address) in seen:
                continue
            seen.add((channel, address))
            out.append(Composed(intent.recipient, channel, who.locale, address, subject, body or "", intent.template))
    return out


def _hub_copy(uow: "UnitOfWork", ev: Any) -> bool:
    """Written at the hub applying a counter's event (the counter told it already)."""
    if uow.info.get("hub") is False:        # a counter's store: no hub_event rows at all
        return False
    h = HubEvent.__table__
    return uow.session.connection().execute(select(h.c.seq).where(
        h.c.entity_type == ev.entity_type, h.c.entity_id == ev.entity_id, h.c.event_type == ev.event_type,
        h.c.occurred_at == ev.occurred_at).limit(1)).first() is not None


def compose_event(uow: "UnitOfWork", app: "App", tr: Translator, ev: Any) -> list[Composed]:
    found = rules.intents(ev.event_type, ev.payload if isinstance(ev.payload, dict) else {})
    if not found or _hub_copy(uow, ev):
        return []
    tenant = str((found[0].params or {}).get("tenantId") or ev.tenant_id)
    return compose(uow, app, tr, tenant, found)


# -- the cursor and the intents ---------------------------------------------------------------
def _cursor(uow: "UnitOfWork") -> int:
    meta = StoreMeta.__table__
    value = uow.session.connection().execute(select(meta.c.value).where(meta.c.key == CURSOR)
                                             .with_for_update()).scalar()
    return int(value) if value is not None else 0


def _row(ev: Any, channel: str, recipient: str, locale: str, template: str, address_enc: str,
         subject_enc: str | None, body_enc: str, now: Any) -> dict[str, Any]:
    return dict(event_id=ev.event_id, event_seq=ev.seq, event_type=ev.event_type, channel=channel,
                recipient=recipient, tenant_id=ev.tenant_id, locale=locale, template_code=template,
                address_enc=address_enc, subject_enc=subject_enc, body_enc=body_enc, status="queued", attempts=0,
                next_attempt_at=now, last_error=None, idempotency_key=str(uuid.uuid4()), created_at=now,
                updated_at=now)


def plan(app: "App", ctx: "RequestContext", *, limit: int = 500) -> int:
    """Compose the messages of up to `limit` outbox events after the cursor and move it past
    them, in one transaction. Returns how many notifications were queued."""
    tr = translator(app)
    now = ctx.now()
    ring = app.keyring
    with app.uow(ctx) as uow:
        start = _cursor(uow)
        events = list(uow.session.execute(select(OutboxEvent).where(OutboxEvent.seq > start)
                                          .order_by(OutboxEvent.seq).limit(limit)).scalars())
        if not events:
            return 0
        n = Notification.__table__
        conn = uow.session.connection()
        have: set[tuple[str, str, str]] = {(r[0], r[1], r[2]) for r in conn.execute(
            select(n.c.event_id, n.c.channel, n.c.recipient).where(n.c.event_seq > start,
                                                                   n.c.event_seq <= events[-1].seq)).all()}
        uow.info["hub"] = conn.execute(select(HubEvent.__table__.c.seq).limit(1)).first() is not None
        rows = []
        for ev in events:
            state = state_of(ev.tenant_id)
            try:
                composed = compose_event(uow, app, tr, ev)
            except DigitError as err:       # e.g. a payer's ciphertext that does not decrypt: listed, not stuck on
                composed = []
                if (ev.event_id, UNRESOLVED, UNRESOLVED) not in have:
                    have.add((ev.event_id, UNRESOLVED, UNRESOLVED))
                    rows.append(dict(_row(ev, UNRESOLVED, UNRESOLVED, ENGLISH, "", ring.encrypt(uow, state, ""),
                                          None, ring.encrypt(uow, state, ""), now), status="dead",
                                     next_attempt_at=None, last_error=f"{err.code}: {err.message}"[:500]))
            for m in composed:
                if (ev.event_id, m.channel, m.recipient) in have:
                    continue
                have.add((ev.event_id, m.channel, m.recipient))
                rows.append(_row(ev, m.channel, m.recipient, m.locale, m.template, ring.encrypt(uow, state, m.address),
                                 ring.encrypt(uow, state, m.subject), ring.encrypt(uow, state, m.body), now))
        if rows:
            conn.execute(n.insert(), rows)
        uow.set_meta(CURSOR, str(events[-1].seq))
        uow.commit()
    return sum(1 for r in rows if r["status"] == "queued")


def preview(app: "App", ctx: "RequestContext", event_id: str) -> dict[str, Any]:
    """What the event would send (nothing written): masked addresses, the texts in full."""
    from digitctl.errors import NotFound
    from digitctl.services.access import authorize

    authorize(app, ctx, STATUS_URL, app.state_tenant)
    tr = translator(app)
    with app.uow(ctx, readonly=True) as uow:
        ev = uow.session.execute(select(OutboxEvent).where(OutboxEvent.event_id == event_id)).scalar_one_or_none()
        if ev is None:
            raise NotFound("EVENT_NOT_FOUND", f"no outbox event {event_id}", {"eventId": event_id})
        msgs, event_type = compose_event(uow, app, tr, ev), ev.event_type
    return {"eventId": event_id, "eventType": event_type, "Notifications": [m.shown() for m in msgs]}
