"""PII encryption, as DIGIT's egov-enc-service does it but on the counter: per-tenant data keys,
ciphertext `<keyId>|<base64>`, key rotation with old keys kept for decryption, re-encryption.

* Data keys are AES-256-GCM, one active key per STATE tenant (`pb.amritsar` uses `pb`'s), made on
  first use inside the caller's transaction, stored wrapped by the store's master key (the
  DataKey table; the master key itself never enters the store). Key ids are
  `<state>-<10-digit unix seconds>-<8 hex>`: unique, and sortable by creation even under a
  frozen clock (a new key's seconds are always past the last key's).
* Ciphertext is `<keyId>|base64(nonce(12) | ciphertext | tag(16))` with the key id as associated
  data, so a ciphertext moved under another key id does not decrypt. Unlike DIGIT (one fixed
  IV per key, so equal values encrypt equally and can be searched), every encryption uses a
  fresh nonce; searching by mobile number goes through a blind index instead: HMAC-SHA256 with
  a key derived from the master key per state (`master_key.derive("bidx:" + state)`).
* Unwrapped data keys are cached per KeyRing: decrypt is a dict lookup plus one AES-GCM call.
  A key made in a transaction is used by that transaction only until it commits (a rolled-back
  key is forgotten, so no ciphertext can outlive its key).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import and_, event, func, not_, or_, select, update
from sqlalchemy.orm import Session

from digitctl.domain.events import Event
from digitctl.domain.tenancy import state_of
from digitctl.errors import DigitError, InvalidInput, NotFound
from digitctl.services.access import authorize
from local_store.models import DataKey, UserAccount

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

ROTATE_ACTION = "/egov-enc-service/crypto/v1/_rotatekey"
REENCRYPT_ACTION = "/egov-enc-service/crypto/v1/_reencrypt"
KEYS_ACTION = "/egov-enc-service/crypto/v1/_keys"

NONCE = 12
TAG = 16
ACTIVE_TTL_S = 30.0            # another process may rotate: re-read the active key this often
_KEY_ID = re.compile(r"^(?P<state>[a-z][a-z0-9]*)-(?P<ts>\d{10})-[0-9a-f]{8}$")
_CIPHERTEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\|[A-Za-z0-9+/]{38,}={0,2}$")
_PHONE_LIKE = re.compile(r"[+(]*[0-9][0-9 ()./+-]*")
_PENDING_KEYS = "digitctl.crypto.pending_keys"       # session.info: key_id -> AESGCM (uncommitted)
_PENDING_ACTIVE = "digitctl.crypto.pending_active"   # session.info: state -> key_id (uncommitted)
_TRACKED = "digitctl.crypto.tracked"
PII_COLUMNS = ("name_enc", "mobile_enc", "email_enc")


class DecryptionFailed(DigitError):
    """A ciphertext that does not open with its key: tampered or corrupted."""

    exit_code = 1
    http_status = 500


def is_ciphertext(value: Any) -> bool:
    """Does `value` look like `<keyId>|<base64>` (nonce + at least the tag)?"""
    return isinstance(value, str) and _CIPHERTEXT.match(value) is not None


def normalize_for_index(value: str, kind: str | None = None) -> str:
    """What the blind index hashes. Mobile numbers (kind "mobile", or anything that looks like a
    phone number): digits only, the last 10 (`+91-98765 43210` → `9876543210`). E-mails: lower
    case. Anything else: NFC, whitespace collapsed, case-folded."""
    text = unicodedata.normalize("NFC", str(value)).strip()
    if kind == "mobile" or (kind is None and _PHONE_LIKE.fullmatch(text)
                            and sum(c.isdigit() for c in text) >= 6):
        return re.sub(r"[^0-9]", "", text)[-10:]
    if kind == "email" or (kind is None and "@" in text):
        return text.lower()
    return " ".join(text.split()).casefold()


def _wrap_aad(key_id: str, state: str) -> str:
    return f"digitctl data key|{state}|{key_id}"


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    tenant_id: str
    created_at: "dt.datetime"
    active: bool

    def as_json(self) -> dict[str, Any]:
        return {"keyId": self.key_id, "tenantId": self.tenant_id,
                "createdAt": self.created_at.isoformat(), "active": self.active}


class KeyRing:
    """Encrypt / decrypt / blind-index for one App. Build one per App (see `keyring(app)`)."""

    def __init__(self, app: "App") -> None:
        self._app = app
        self._lock = threading.RLock()
        self._ciphers: dict[str, AESGCM] = {}
        self._active: dict[str, tuple[str, float]] = {}
        self._bidx_keys: dict[str, bytes] = {}

    # -- sessions and time ---------------------------------------------------------------------
    @staticmethod
    def _session(uow_or_session: Any) -> Session:
        if isinstance(uow_or_session, Session):
            return uow_or_session
        session: Session = uow_or_session.session  # a UnitOfWork
        return session

    def _now(self, uow_or_session: Any) -> "dt.datetime":
        ctx = getattr(uow_or_session, "ctx", None)
        return ctx.now() if ctx is not None else self._app.clock.now()

    def _track(self, session: Session) -> None:
        """Keys made in `session` become everyone's on commit and vanish on rollback."""
        if session.info.get(_TRACKED):
            return
        session.info[_TRACKED] = True

        def committed(sess: Session) -> None:
            keys = sess.info.pop(_PENDING_KEYS, {})
            active = sess.info.pop(_PENDING_ACTIVE, {})
            with self._lock:
                self._ciphers.update(keys)
                for state, key_id in active.items():
                    self._active[state] = (key_id, time.monotonic())

        def rolled_back(sess: Session) -> None:
            sess.info.pop(_PENDING_KEYS, None)
            sess.info.pop(_PENDING_ACTIVE, None)

        event.listen(session, "after_commit", committed)
        event.listen(session, "after_rollback", rolled_back)

    # -- data keys -----------------------------------------------------------------------------
    def _active_key_id(self, session: Session, state: str) -> str | None:
        pending = session.info.get(_PENDING_ACTIVE)
        if pending and state in pending:
            return str(pending[state])
        cached = self._active.get(state)
        if cached is not None and time.monotonic() - cached[1] < ACTIVE_TTL_S:
            return cached[0]
        key_id = session.execute(
            select(DataKey.key_id).where(DataKey.tenant_id == state, DataKey.active.is_(True))
            .order_by(DataKey.key_id.desc()).limit(1)).scalar()
        if key_id is not None:
            with self._lock:
                self._active[state] = (key_id, time.monotonic())
        return key_id

    def _create_key(self, session: Session, state: str, now: "dt.datetime") -> str:
        master = self._app.master_key            # MASTER_KEY_MISSING / _MISMATCH / _INSECURE here
        last = session.execute(select(func.max(DataKey.key_id)).where(DataKey.tenant_id == state)).scalar()
        seconds = int(now.timestamp())
        match = _KEY_ID.match(last or "")
        if match and int(match["ts"]) >= seconds:
            seconds = int(match["ts"]) + 1
        key_id = f"{state}-{seconds:010d}-{secrets.token_hex(4)}"
        raw = AESGCM.generate_key(bit_length=256)
        session.add(DataKey(key_id=key_id, tenant_id=state, wrapped=master.wrap(raw, _wrap_aad(key_id, state)),
                            created_at=now, active=True))
        session.flush()
        self._track(session)
        session.info.setdefault(_PENDING_KEYS, {})[key_id] = AESGCM(raw)
        session.info.setdefault(_PENDING_ACTIVE, {})[state] = key_id
        return key_id

    def _cipher(self, session: Session | None, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is not None:
            return cipher
        if session is not None:
            pending = session.info.get(_PENDING_KEYS)
            if pending and key_id in pending:
                return pending[key_id]  # type: ignore[no-any-return]
        with self._lock:
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                row = self._load_key(session, key_id)
                raw = self._app.master_key.unwrap(row.wrapped, _wrap_aad(row.key_id, row.tenant_id))
                cipher = AESGCM(raw)
                self._ciphers[key_id] = cipher
        return cipher

    def _load_key(self, session: Session | None, key_id: str) -> DataKey:
        if session is not None:
            row = session.get(DataKey, key_id)
        else:
            with Session(self._app.store.readonly_engine) as own:
                row = own.get(DataKey, key_id)
                if row is not None:
                    own.expunge(row)
        if row is None:
            raise NotFound("DATA_KEY_NOT_FOUND", f"no data key {key_id!r} in this store",
                           {"keyId": key_id})
        return row

    # -- the operations ------------------------------------------------------------------------
    def encrypt(self, uow_or_session: Any, tenant_id: str, plaintext: str) -> str:
        """`<keyId>|<base64>` with the state's active data key (made now if it has none)."""
        if not isinstance(plaintext, str):
            raise TypeError(f"encrypt takes text, not {type(plaintext).__name__}")
        session = self._session(uow_or_session)
        state = state_of(tenant_id)
        key_id = self._active_key_id(session, state)
        if key_id is None:
            key_id = self._create_key(session, state, self._now(uow_or_session))
        nonce = os.urandom(NONCE)
        sealed = self._cipher(session, key_id).encrypt(nonce, plaintext.encode("utf-8"), key_id.encode("ascii"))
        return f"{key_id}|{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, uow_or_session: Any, ciphertext: str) -> str:
        """The plain text of a ciphertext under any key of any age."""
        key_id, sep, body = ciphertext.partition("|") if isinstance(ciphertext, str) else ("", "", "")
        try:
            raw = base64.b64decode(body, validate=True) if sep and key_id else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) < NONCE + TAG or not _CIPHERTEXT.match(ciphertext):
            # never echo the value: it may be plain PII that should have been ciphertext
            raise InvalidInput("NOT_CIPHERTEXT", "the value is not `<keyId>|<base64>` ciphertext",
                               {"length": len(ciphertext) if isinstance(ciphertext, str) else None})
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            cipher = self._cipher(None if uow_or_session is None else self._session(uow_or_session), key_id)
        try:
            return cipher.decrypt(raw[:NONCE], raw[NONCE:], key_id.encode("ascii")).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise DecryptionFailed("DECRYPTION_FAILED",
                                   f"a ciphertext under key {key_id} does not decrypt: it was altered",
                                   {"keyId": key_id}) from None

    def blind_index(self, tenant_id: str, value: str, kind: str | None = None) -> str:
        """HMAC-SHA256 (hex) of the normalized value, keyed per state: equal values of one state
        index equally, nothing else can be read from it."""
        state = state_of(tenant_id)
        key = self._bidx_keys.get(state)
        if key is None:
            key = self._app.master_key.derive("bidx:" + state)
            self._bidx_keys[state] = key
        return hmac.new(key, normalize_for_index(value, kind).encode("utf-8"), hashlib.sha256).hexdigest()

    def key_of(self, ciphertext: str) -> str:
        """The key id a ciphertext was made with."""
        if not is_ciphertext(ciphertext):
            raise InvalidInput("NOT_CIPHERTEXT", "the value is not `<keyId>|<base64>` ciphertext")
        return ciphertext.partition("|")[0]

    def keys(self, uow_or_session: Any, tenant_id: str) -> list[KeyInfo]:
        """The state's data keys, oldest first (never their material)."""
        state = state_of(tenant_id)
        rows = self._session(uow_or_session).execute(
            select(DataKey.key_id, DataKey.tenant_id, DataKey.created_at, DataKey.active)
            .where(DataKey.tenant_id == state).order_by(DataKey.key_id)).all()
        return [KeyInfo(*row) for row in rows]

    def rotate(self, uow: "UnitOfWork", tenant_id: str) -> str:
        """A new active key for the state; the old ones stay for decryption. Records
        "keys.rotated" (key ids only)."""
        session = uow.session
        state = state_of(tenant_id)
        previous = [k.key_id for k in self.keys(uow, state) if k.active]
        session.execute(update(DataKey).where(DataKey.tenant_id == state, DataKey.active.is_(True))
                        .values(active=False))
        key_id = self._create_key(session, state, uow.ctx.now())
        with self._lock:
            self._active.pop(state, None)
        total = len(self.keys(uow, state))
        uow.record(Event("keys.rotated", state, "DataKey", key_id, ROTATE_ACTION,
                         {"tenantId": state, "keyId": key_id, "previousKeyIds": previous,
                          "keys": total, "acknowledged": True},
                         before={"activeKeyIds": previous}, after={"activeKeyId": key_id, "keys": total}))
        return key_id

    def reencrypt(self, uow: "UnitOfWork", tenant_id: str, *, batch: int = 500,
                  progress: "Callable[[int, int], None] | None" = None) -> int:
        """Re-encrypt with the active key every user_account ciphertext of the state made under
        an older key; returns how many users were rewritten and records "keys.reencrypted"."""
        session = uow.session
        state = state_of(tenant_id)
        of_state = or_(UserAccount.tenant_id == state, UserAccount.tenant_id.startswith(state + ".", autoescape=True))
        active = self._active_key_id(session, state)
        columns = [getattr(UserAccount, c) for c in PII_COLUMNS]
        query = select(UserAccount.uuid, *columns).where(of_state)
        if active is not None:
            prefix = active + "|"
            query = query.where(or_(*[and_(c.is_not(None), not_(c.startswith(prefix, autoescape=True)))
                                      for c in columns]))
        rows = session.execute(query.order_by(UserAccount.uuid)).all()
        if rows and active is None:
            active = self._create_key(session, state, uow.ctx.now())
        changes: list[dict[str, Any]] = []
        for done, row in enumerate(rows, start=1):
            if progress is not None:
                progress(done, len(rows))
            change: dict[str, Any] = {"uuid": row.uuid}
            for name in PII_COLUMNS:
                value = getattr(row, name)
                if value is not None and not value.startswith(f"{active}|"):
                    change[name] = self.encrypt(session, state, self.decrypt(session, value))
            if len(change) > 1:
                changes.append(change)
        for start in range(0, len(changes), batch):
            chunk = changes[start:start + batch]
            for cols in {tuple(sorted(c)) for c in chunk}:    # ORM bulk UPDATE by primary key
                session.execute(update(UserAccount), [c for c in chunk if tuple(sorted(c)) == cols])
        uow.record(Event("keys.reencrypted", state, "DataKey", active or "none", REENCRYPT_ACTION,
                         {"tenantId": state, "keyId": active, "reencrypted": len(changes)},
                         after={"keyId": active, "reencrypted": len(changes)}))
        return len(changes)


def keyring(app: "App") -> KeyRing:
    """The App's KeyRing (one per App, so data keys are unwrapped once): `App.keyring` when the
    composition root has it, else one kept in the App's `__dict__` under the same name."""
    ring = app.__dict__.get("keyring")
    if ring is None:
        if isinstance(getattr(type(app), "keyring", None), cached_property):
            built = app.keyring
            assert isinstance(built, KeyRing)      # the composition root builds this class
            return built
        ring = app.__dict__["keyring"] = KeyRing(app)
    return ring


# -- service functions: authorize, one unit of work, commit ------------------------------------
@dataclass(frozen=True)
class RotateResult:
    tenant_id: str
    key_id: str
    keys: int

    def as_json(self) -> dict[str, Any]:
        return {"tenantId": self.tenant_id, "keyId": self.key_id, "keys": self.keys, "acknowledged": True}


def _state(tenant_id: str | None) -> str:
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is required (e.g. pb)")
    return state_of(tenant_id)


def _check_state(uow: "UnitOfWork", state: str, tenant_id: str) -> None:
    """A store serves one state: its keys are that state's."""
    served = uow.meta("state_tenant")
    if served is not None and served != state:
        raise InvalidInput("INVALID_TENANTID", f"this store serves {served!r}, not {tenant_id!r}",
                           {"tenantId": tenant_id, "stateTenantId": served})


def rotate_key(app: "App", ctx: "RequestContext", tenant_id: str) -> RotateResult:
    """egov-enc-service `_rotatekey`: a new active data key for the tenant's state."""
    state = _state(tenant_id)
    authorize(app, ctx, ROTATE_ACTION, tenant_id)
    ring = keyring(app)
    with app.uow(ctx.for_tenant(tenant_id)) as uow:
        _check_state(uow, state, tenant_id)
        key_id = ring.rotate(uow, state)
        total = len(ring.keys(uow, state))
        uow.commit()
    return RotateResult(state, key_id, total)


def reencrypt_users(app: "App", ctx: "RequestContext", tenant_id: str,
                    progress: "Callable[[int, int], None] | None" = None) -> int:
    """Move every user's PII of the tenant's state onto the active key; returns how many users."""
    state = _state(tenant_id)
    authorize(app, ctx, REENCRYPT_ACTION, tenant_id)
    with app.uow(ctx.for_tenant(tenant_id)) as uow:
        _check_state(uow, state, tenant_id)
        count = keyring(app).reencrypt(uow, state, progress=progress)
        uow.commit()
    return count


def list_keys(app: "App", ctx: "RequestContext", tenant_id: str) -> list[KeyInfo]:
    """The state's data keys, oldest first: ids, dates, which is active; never key material."""
    state = _state(tenant_id)
    authorize(app, ctx, KEYS_ACTION, tenant_id)
    with app.uow(ctx.for_tenant(tenant_id), readonly=True) as uow:
        _check_state(uow, state, tenant_id)
        return keyring(app).keys(uow, state)
