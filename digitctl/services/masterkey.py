"""The store's master key: it wraps the per-tenant data keys and the audit signing key, and is
never stored in the database. It comes from `DIGIT_MASTER_KEY` (base64 of 32 bytes), or a key
file (mode 0600): `DIGIT_MASTER_KEY_FILE`, else `<config dir>/keys/<store id>.key`.
The store keeps only a check value, so a wrong key is a clear error, not garbage."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from digitctl.errors import DigitError
from digitctl.settings import config_dir, write_private

ENV_KEY = "DIGIT_MASTER_KEY"
ENV_KEY_FILE = "DIGIT_MASTER_KEY_FILE"
CHECK_META = "master_key_check"
_CHECK_LABEL = b"digitctl master key check v1"


class MasterKeyError(DigitError):
    """The master key is missing, unreadable, insecure or not this store's: exit 2."""

    exit_code = 2
    http_status = 500


@dataclass(frozen=True)
class MasterKey:
    secret: bytes
    source: str

    @property
    def check_value(self) -> str:
        return hmac.new(self.secret, _CHECK_LABEL, hashlib.sha256).hexdigest()

    def derive(self, label: str) -> bytes:
        """A 32-byte sub-key for one purpose (e.g. the blind index of a state)."""
        return hmac.new(self.secret, label.encode("utf-8"), hashlib.sha256).digest()

    def wrap(self, plaintext: bytes, aad: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.secret).encrypt(nonce, plaintext, aad.encode("utf-8"))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def unwrap(self, token: str, aad: str) -> bytes:
        try:
            raw = base64.b64decode(token, validate=True)
            return AESGCM(self.secret).decrypt(raw[:12], raw[12:], aad.encode("utf-8"))
        except (InvalidTag, binascii.Error, ValueError):
            raise MasterKeyError("MASTER_KEY_MISMATCH",
                                 f"the master key from {self.source} cannot open this store's keys",
                                 {"source": self.source}) from None


def key_file_for(store_id: str) -> Path:
    env = os.environ.get(ENV_KEY_FILE)
    return Path(env).expanduser() if env else config_dir() / "keys" / f"{store_id}.key"


def _decode(text: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise MasterKeyError("MASTER_KEY_INVALID", f"the master key in {source} is not base64 of 32 bytes",
                             {"source": source})
    return raw


def load(store_id: str, *, create: bool = False) -> MasterKey:
    """The master key for a store; with `create`, a new key file is made when there is none."""
    env = os.environ.get(ENV_KEY)
    if env:
        return MasterKey(_decode(env, ENV_KEY), ENV_KEY)
    path = key_file_for(store_id)
    if not path.exists():
        if not create:
            raise MasterKeyError("MASTER_KEY_MISSING",
                                 f"no master key: set {ENV_KEY} or {ENV_KEY_FILE}, or restore {path}",
                                 {"keyFile": str(path)})
        write_private(path, base64.b64encode(os.urandom(32)) + b"\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyError("MASTER_KEY_INSECURE",
                             f"{path} can be read by others (mode {mode:o}); run: chmod 600 {path}",
                             {"keyFile": str(path), "mode": f"{mode:o}"})
    try:
        text = path.read_text()
    except OSError as err:
        raise MasterKeyError("MASTER_KEY_UNREADABLE", f"cannot read {path}: {err.strerror}",
                             {"keyFile": str(path)}) from None
    return MasterKey(_decode(text, str(path)), str(path))


def check(key: MasterKey, stored_check: str | None) -> None:
    if stored_check is not None and not hmac.compare_digest(stored_check, key.check_value):
        raise MasterKeyError("MASTER_KEY_MISMATCH",
                             f"the master key from {key.source} is not this store's key", {"source": key.source})

