"""Writing the signed audit chain: the store's Ed25519 signing key (made once per store by `init`,
its private half wrapped by the master key, never deleted: a rotation adds a key) and the signer
every unit of work uses to sign record hashes and the chain's head. See `digitctl.services.audit`."""
from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, select

from digitctl.domain.audit_rules import (ADOPT_CONTEXT, RECORD_CONTEXT, AuditKeyMissing, head_message, key_aad,
                                         key_id_for)
from digitctl.domain.canonical import canonical_json
from local_store.models import StoreMeta
from local_store.uow import AUDIT_HEAD, GENESIS

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.services.masterkey import MasterKey
    from local_store.uow import UnitOfWork

CURRENT_KEY = "audit_signing_key_id"
PUBLIC_PREFIX = "audit_signing_public:"
PRIVATE_PREFIX = "audit_signing_private:"
ADOPTED = "audit_signing_adopted"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def meta_value(conn: Connection, key: str) -> str | None:
    return conn.execute(select(StoreMeta.value).where(StoreMeta.key == key)).scalar_one_or_none()


# -- signing ----------------------------------------------------------------------------------
class KeySigner:
    """Signs record hashes with one private key: hash -> (key_id, base64 signature)."""

    def __init__(self, key_id: str, private: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self._private = private

    def __call__(self, record_hash: str) -> tuple[str, str]:
        return self.key_id, _b64(self._private.sign(RECORD_CONTEXT + record_hash.encode("ascii")))

    def sign_head(self, seq: int, head: str) -> tuple[str, str]:
        """The chain's head (last seq and hash) signed, kept beside the bare head in store_meta."""
        return self.key_id, _b64(self._private.sign(head_message(seq, head)))


class StoreSigner:
    """The signer `App.uow` hands to every unit of work: loads the store's current key on first
    use (one read, one unwrap with the master key) and keeps it for the life of the App."""

    def __init__(self, app: "App") -> None:
        self._app = app
        self._key: KeySigner | None = None

    def __call__(self, record_hash: str) -> tuple[str, str]:
        if self._key is None:
            self._key = self._load()
        return self._key(record_hash)

    def sign_head(self, seq: int, head: str) -> tuple[str, str]:
        if self._key is None:
            self._key = self._load()
        return self._key.sign_head(seq, head)

    def _load(self) -> KeySigner:
        with self._app.store.readonly_engine.connect() as conn:
            key_id = meta_value(conn, CURRENT_KEY)
            wrapped = meta_value(conn, PRIVATE_PREFIX + key_id) if key_id else None
        if key_id is None or wrapped is None:
            raise AuditKeyMissing("AUDIT_SIGNING_KEY_MISSING",
                                  "this store has no audit signing key; run `digitctl init` to upgrade it")
        private = Ed25519PrivateKey.from_private_bytes(self._app.master_key.unwrap(wrapped, key_aad(key_id)))
        if key_id_for(private.public_key().public_bytes_raw()) != key_id:
            raise AuditKeyMissing("AUDIT_SIGNING_KEY_INVALID",
                                  f"the stored audit signing key {key_id} does not match its id", {"keyId": key_id})
        return KeySigner(key_id, private)


def signer_for(app: "App") -> StoreSigner:
    """The callable UnitOfWork's `signer` takes (keep one per App: it caches the unwrapped key)."""
    return StoreSigner(app)


def _create_key(uow: "UnitOfWork", master_key: "MasterKey") -> tuple[str, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes_raw()
    key_id = key_id_for(public_raw)
    uow.set_meta(PUBLIC_PREFIX + key_id, _b64(public_raw))
    uow.set_meta(PRIVATE_PREFIX + key_id, master_key.wrap(private.private_bytes_raw(), aad=key_aad(key_id)))
    uow.set_meta(CURRENT_KEY, key_id)
    # This transaction's own events are signed with the new key; an App-wide StoreSigner is left
    # alone, so a rollback leaves no phantom key cached anywhere.
    uow.signer = KeySigner(key_id, private)
    return key_id, private


def ensure_signing_key(uow: "UnitOfWork", master_key: "MasterKey") -> str:
    """The store's current signing key id, creating the key pair (in `uow`, not committed) if
    there is none. Call it before recording events: `uow` then signs them with the new key."""
    current = uow.meta(CURRENT_KEY)
    if current is not None:
        return current
    head = uow.session.execute(select(StoreMeta.value).where(StoreMeta.key == AUDIT_HEAD)
                               .with_for_update()).scalar_one_or_none()
    key_id, private = _create_key(uow, master_key)
    if head is not None and head != GENESIS:
        # Records written before any key existed: vouch for exactly that history, no more.
        sig = private.sign(ADOPT_CONTEXT + head.encode("ascii"))
        uow.set_meta(ADOPTED, canonical_json({"keyId": key_id, "head": head, "signature": _b64(sig)}))
    return key_id


def rotate_signing_key(uow: "UnitOfWork", master_key: "MasterKey") -> str:
    """A new current key; the old public keys stay so their signatures keep verifying."""
    if uow.meta(CURRENT_KEY) is None:
        return ensure_signing_key(uow, master_key)
    return _create_key(uow, master_key)[0]
