"""Citizen OTPs as DIGIT's user-otp / egov-otp give them: 6 digits, valid 900 s, stored only as
a keyed hash, at most 5 tries; the SMS goes out through the notification outbox using the
egov-user messages (`sms.login.otp.msg` ...), its text and number encrypted in the payload."""
from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from digitctl.domain.events import Event
from digitctl.domain.identity import OTP_MAX_ATTEMPTS, OTP_VALIDITY, new_otp, normalize_mobile, valid_mobile
from digitctl.domain.tenancy import state_of
from digitctl.errors import Conflict, InvalidInput, NotFound
from digitctl.services.access import authorize
from digitctl.services.localization import translator
from local_store.models import Otp, UserAccount

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

SEND_ACTION = "/user-otp/v1/_send"
VALIDATE_ACTION = "/otp/v1/_validate"
TEMPLATES = {"login": "sms.login.otp.msg", "register": "sms.register.otp.msg",
             "passwordreset": "sms.pwd.reset.otp.msg"}


def _mobile(value: str) -> str:
    m = normalize_mobile(value)
    if not valid_mobile(m):
        raise InvalidInput("INVALID_MOBILE_NUMBER", "a mobile number is 10 digits starting with 6-9")
    return m


def _otp_hash(app: "App", identity: str, otp: str) -> str:
    return hmac.new(app.master_key.derive("otp"), f"{identity}:{otp}".encode(), hashlib.sha256).hexdigest()


def send(app: "App", ctx: "RequestContext", mobile: str, tenant_id: str, purpose: str = "login",
         locale: str = "en_IN") -> dict[str, Any]:
    purpose = purpose.lower()
    if purpose not in TEMPLATES:
        raise InvalidInput("INVALID_OTP_PURPOSE", f"purpose must be one of {', '.join(TEMPLATES)}", {"purpose": purpose})
    number = _mobile(mobile)
    state = state_of(tenant_id)
    authorize(app, ctx, SEND_ACTION, state)
    ring = app.keyring
    now = ctx.now()
    texts = translator(app)        # the store's egov-user messages (upserted), else the bundled ones
    with app.uow(ctx) as uow:
        s = uow.session
        identity = ring.blind_index(state, number, "mobile")
        exists = s.execute(select(UserAccount.uuid).where(UserAccount.mobile_bidx == identity,
                                                          UserAccount.type == "CITIZEN")).first() is not None
        if purpose == "register" and exists:
            raise Conflict("USER_ALREADY_EXISTS", "a citizen with this mobile number is already registered")
        if purpose in ("login", "passwordreset") and not exists:
            raise NotFound("USER_NOT_FOUND", "no citizen is registered with this mobile number")
        # a new OTP replaces any earlier one for the same number and purpose
        s.execute(update(Otp).where(Otp.identity_bidx == identity, Otp.purpose == purpose, Otp.used_at.is_(None))
                  .values(used_at=now))
        code = new_otp()
        row = Otp(identity_bidx=identity, tenant_id=state, purpose=purpose, otp_hash=_otp_hash(app, identity, code),
                  created_at=now, expires_at=now + OTP_VALIDITY, attempts=0)
        s.add(row)
        s.flush()
        template = TEMPLATES[purpose]
        text = (texts.lookup(template, locale, tenant_id) or "Your OTP is %s").replace("%s", code)
        uow.record(Event("notification.sms", state, "Otp", str(row.id), SEND_ACTION,
                         {"mobileNumber": ring.encrypt(s, state, number), "message": ring.encrypt(s, state, text),
                          "templateCode": template, "locale": locale, "category": "OTP",
                          "expiryTime": int(row.expires_at.timestamp() * 1000)},
                         after={"purpose": purpose, "expiresAt": row.expires_at.isoformat()}))
        uow.commit()
        return {"otpReference": row.id, "purpose": purpose, "expiresAt": row.expires_at.isoformat(),
                "validForSeconds": int(OTP_VALIDITY.total_seconds()), "sent": True}


def verify(app: "App", ctx: "RequestContext", mobile: str, otp: str, tenant_id: str,
           purpose: str = "login") -> dict[str, Any]:
    number = _mobile(mobile)
    state = state_of(tenant_id)
    authorize(app, ctx, VALIDATE_ACTION, state)
    now = ctx.now()
    identity = app.keyring.blind_index(state, number, "mobile")
    with app.uow(ctx) as uow:
        s = uow.session
        row = s.execute(select(Otp).where(Otp.identity_bidx == identity, Otp.purpose == purpose.lower(),
                                          Otp.used_at.is_(None)).order_by(Otp.id.desc()).limit(1)).scalar_one_or_none()
        if row is None:
            raise NotFound("OTP_NOT_FOUND", "no pending OTP for this number; send a new one")
        if row.expires_at <= now:
            raise InvalidInput("OTP_EXPIRED", "the OTP has expired; send a new one")
        if row.attempts >= OTP_MAX_ATTEMPTS:
            raise InvalidInput("OTP_ATTEMPTS_EXCEEDED", "too many wrong tries; send a new OTP")
        if not hmac.compare_digest(row.otp_hash, _otp_hash(app, identity, (otp or "").strip())):
            row.attempts += 1
            left = OTP_MAX_ATTEMPTS - row.attempts
            uow.commit()           # the failed try counts even though we refuse
            raise InvalidInput("OTP_INVALID", f"the OTP is wrong; {left} tr{'y' if left == 1 else 'ies'} left",
                               {"triesLeft": left})
        row.used_at = now
        uow.record(Event("otp.validated", state, "Otp", str(row.id), VALIDATE_ACTION,
                         {"otpReference": row.id, "isValidated": True}, after={"validated": True}))
        uow.commit()
        return {"otpReference": row.id, "isValidated": True}
