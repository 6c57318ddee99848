"""Where the file store's blobs live and how they are sealed (see `services.filestore` for the
design): `root_dir`, the content-addressed `blob_path`, atomic writes, and envelope encryption
through the KeyRing (`seal` / `unseal`, AES-256-GCM, `DGFS\\x01 | len(2) | sealed key | nonce | body+tag`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from digitctl.domain.tenancy import state_of
from digitctl.errors import DigitError, InvalidInput
from digitctl.services.file_formats import MAX_FILE_SIZE

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.services.crypto import KeyRing
    from local_store.uow import UnitOfWork

ENV_ROOT = "DIGIT_FILESTORE"
MAGIC = b"DGFS\x01"
NONCE = 12
TAG = 16
_MAX_HEADER = 1024
_AAD = "digitctl-filestore/1"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class FileStoreCorrupt(DigitError):
    """A stored document that is missing, altered or no longer opens: exit 1 / HTTP 500."""

    exit_code = 1
    http_status = 500



# -- where blobs live --------------------------------------------------------------------------
def root_dir(app: "App", store_id: str | None = None) -> Path:
    """DIGIT_FILESTORE, else `<store file>.files` beside a SQLite store, else
    `<user data dir>/digitctl/files/<store id>`."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env).expanduser().absolute()
    from sqlalchemy.engine import make_url

    from local_store.engine import normalize_url

    url = make_url(normalize_url(app.store_url))     # no engine is built for this
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        db = Path(database).expanduser().absolute()
        return db.with_name(db.name + ".files")
    store_id = store_id or app.store_meta("store_id")
    if not store_id:
        raise InvalidInput("STORE_NOT_INITIALIZED", "run `digitctl init` first")
    from platformdirs import user_data_dir

    folder = store_id if _UUID.match(store_id.lower()) else hashlib.sha256(store_id.encode()).hexdigest()[:32]
    return Path(user_data_dir("digitctl", appauthor=False)) / "files" / folder


def _scope(store_id: str, state: str) -> str:
    return hashlib.sha256(f"{store_id}|{state}".encode()).hexdigest()[:16]


def blob_path(root: Path, sha: str, scope: str) -> Path:
    """`<root>/<sha[:2]>/<sha>.<scope>`; refuses anything that is not our own hex."""
    if not _SHA.match(sha) or not re.fullmatch(r"[0-9a-f]{16}", scope):
        raise FileStoreCorrupt("FILESTORE_CORRUPT", "a stored sha256 is not 64 hex digits", {"sha256": sha[:80]})
    path = root / sha[:2] / f"{sha}.{scope}"
    if os.path.commonpath([os.path.abspath(root), os.path.abspath(path)]) != os.path.abspath(root):
        raise FileStoreCorrupt("FILESTORE_CORRUPT", "a blob path left the file store root")  # cannot happen
    return path


def _atomic_write(path: Path, blob: bytes) -> None:
    from local_store.engine import private_dirs

    private_dirs(path.parent)             # the root and its fan-out folders: 0700, whatever the umask
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)   # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if os.name == "posix":   # the rename itself survives power loss only once the folder is synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# -- sealing -----------------------------------------------------------------------------------
def _aad(state: str, sha: str, sealed_key: bytes) -> bytes:
    return f"{_AAD}|{state}|{sha}|".encode("ascii") + sealed_key


def seal(ring: "KeyRing", uow: "UnitOfWork", tenant_id: str, sha: str, data: bytes) -> bytes:
    """The blob for `data`: a fresh file key sealed with the state's data key, the body under it."""
    state = state_of(tenant_id)
    file_key = AESGCM.generate_key(bit_length=256)
    sealed_key = ring.encrypt(uow, state, f"{sha}|{base64.b64encode(file_key).decode('ascii')}").encode("ascii")
    nonce = os.urandom(NONCE)
    body = AESGCM(file_key).encrypt(nonce, data, _aad(state, sha, sealed_key))
    return MAGIC + len(sealed_key).to_bytes(2, "big") + sealed_key + nonce + body


_KEY_FAILURES = {"DECRYPTION_FAILED", "NOT_CIPHERTEXT", "DATA_KEY_NOT_FOUND"}


def unseal(ring: "KeyRing", uow: "UnitOfWork", state: str, sha: str, blob: bytes) -> bytes:
    """The plain bytes of a blob, checked against `sha`; FileStoreCorrupt if it does not open."""
    def corrupt(why: str) -> FileStoreCorrupt:
        return FileStoreCorrupt("FILESTORE_CORRUPT", f"the stored document {sha[:12]}… is damaged: {why}",
                                {"sha256": sha})

    head = len(MAGIC) + 2
    if not blob.startswith(MAGIC) or len(blob) < head:
        raise corrupt("not a file store blob")
    length = int.from_bytes(blob[len(MAGIC):head], "big")
    if length > _MAX_HEADER or len(blob) < head + length + NONCE + TAG:
        raise corrupt("truncated")
    sealed_key = blob[head:head + length]
    try:
        token = ring.decrypt(uow, sealed_key.decode("ascii"))
    except UnicodeDecodeError:
        raise corrupt("its key header is not text") from None
    except DigitError as err:
        if err.code in _KEY_FAILURES:
            raise corrupt(f"its file key does not open ({err.code})") from None
        raise                                    # master key missing / mismatched: say that instead
    bound_sha, sep, key_b64 = token.partition("|")
    try:
        file_key = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        file_key = b""
    if not sep or bound_sha != sha or len(file_key) != 32:
        raise corrupt("its file key belongs to another document")
    rest = blob[head + length:]
    try:
        data = AESGCM(file_key).decrypt(rest[:NONCE], rest[NONCE:], _aad(state, sha, sealed_key))
    except InvalidTag:
        raise corrupt("the content was altered") from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise corrupt("sha256 mismatch")
    return data


def _read_blob(path: Path, sha: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            blob = fh.read(MAX_FILE_SIZE + _MAX_HEADER + 64)
    except FileNotFoundError:
        raise FileStoreCorrupt("FILESTORE_CORRUPT", f"the stored document {sha[:12]}… is missing from the file store",
                               {"sha256": sha}) from None
    except OSError as err:
        raise FileStoreCorrupt("FILESTORE_CORRUPT", f"the stored document {sha[:12]}… cannot be read: {err.strerror}",
                               {"sha256": sha}) from None
    return blob
