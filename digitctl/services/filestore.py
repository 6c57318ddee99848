"""The local file store: DIGIT's egov-filestore (`/filestore/v1/files`, `/files/id`,
`/files/metadata`) on the counter's disk.

* Limits as egov-filestore has them (core-services/egov-filestore application.properties):
  5 MB per file (`spring.servlet.multipart.max-file-size=5MB`) and the extensions of
  `allowed.formats.map`. As DIGIT's StorageValidator does with Tika, the bytes must be what the
  extension says: a .pdf starts with `%PDF-`, a .png / .jpg has its signature, .docx/.xlsx/.odt/.ods
  are zip containers of the right kind (or OLE2 where DIGIT accepts `x-tika-msoffice`), .txt/.csv/
  .dxf are text. Codes: FILESTORE_FILE_TOO_LARGE, FILESTORE_INVALID_FORMAT, FILESTORE_EMPTY_FILE
  (DIGIT answers all three with EG_FILESTORE_INVALID_INPUT).
* Content-addressed: a blob is named by the sha256 of the plain bytes, so the same document
  uploaded twice is stored once and two fileStoreIds point to it. The path is
  `<root>/<sha[:2]>/<sha>.<scope>` where `scope` is 16 hex of sha256(store id | state): every
  component is hex we computed, never the caller's file name or id, so no input can steer a write
  or read outside the root; the scope keeps two stores that share a DIGIT_FILESTORE folder apart.
* Encrypted at rest (documents are scanned IDs and deeds: PII). Envelope encryption through the
  KeyRing's public API: each blob gets a fresh AES-256-GCM file key; the file key is sealed with
  the state's active data key (`keyring.encrypt`, so rotation and the master key apply as for any
  PII) and kept in the blob's header. The body's associated data binds state, sha and the sealed
  key, so a blob copied over another, or a header swapped between blobs, does not open; the sha256
  is checked again after decrypting. Blob: `DGFS\\x01 | len(2) | sealed key | nonce(12) | body+tag`.
* Written atomically (temp file in the same folder, fsync, rename, fsync of the folder) before the
  row that points to it is committed: a committed row never points at a half-written blob. A
  transaction that rolls back can leave an unreferenced blob; the next upload of the same bytes
  reuses it (or rewrites it when it no longer opens).
* Root: `DIGIT_FILESTORE`, else `<store file>.files/` beside a SQLite store, else
  `<user data dir>/digitctl/files/<store id>` (PostgreSQL).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import stat
import tempfile
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from digitctl.domain.events import Event
from digitctl.domain.tenancy import fallback_chain, state_of
from digitctl.errors import DigitError, InvalidInput, NotFound
from digitctl.services.access import authorize
from digitctl.services.crypto import keyring
from local_store.models import FileStoreObject

if TYPE_CHECKING:
    from digitctl.bootstrap import App
    from digitctl.context import RequestContext
    from digitctl.services.crypto import KeyRing
    from local_store.uow import UnitOfWork

UPLOAD_ACTION = "/filestore/v1/files"
# DIGIT's pb role-actions map no role to /filestore/v1/files/id (action 14); file reads are granted
# through /filestore/v1/files/url (action 1528: CITIZEN, EMPLOYEE, GRO, DGRO, SUPERUSER), whose
# signed URL is what a DIGIT client then downloads. `filestore get` is authorised as that action.
FETCH_ACTION = "/filestore/v1/files/url"
METADATA_ACTION = "/filestore/v1/files/metadata"
EVENT_UPLOADED = "filestore.uploaded"
ENTITY = "FileStore"

MAX_FILE_SIZE = 5 * 1024 * 1024        # Spring's "5MB" is 5 MiB
MAX_NAME_CHARS = 200                   # filestore_object.file_name is VARCHAR(256)
MAX_MODULE_CHARS = 64
ENV_ROOT = "DIGIT_FILESTORE"

MAGIC = b"DGFS\x01"
NONCE = 12
TAG = 16
_MAX_HEADER = 1024
_AAD = "digitctl-filestore/1"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_KEEP_FORMAT_CHARS = {"\u200c", "\u200d"}   # ZWNJ / ZWJ shape Indic names; other Cf (bidi overrides) go

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


class FileStoreCorrupt(DigitError):
    """A stored document that is missing, altered or no longer opens: exit 1 / HTTP 500."""

    exit_code = 1
    http_status = 500


# -- DIGIT's allowed formats -------------------------------------------------------------------
@dataclass(frozen=True)
class Format:
    extension: str
    content_type: str                 # what we record and serve (IANA)
    digit_types: frozenset[str]       # allowed.formats.map's content types for the extension
    kinds: frozenset[str]             # what the bytes may be (see `sniff`)

    def accepts_type(self, content_type: str) -> bool:
        return content_type == self.content_type or content_type in self.digit_types


def _fmt(ext: str, ctype: str, digit: tuple[str, ...], kinds: tuple[str, ...]) -> Format:
    return Format(ext, ctype, frozenset(digit), frozenset(kinds))


_MSOFFICE = ("application/x-tika-msoffice", "application/x-tika-ooxml", "application/vnd.oasis.opendocument.text")
_SHEETS = ("application/x-tika-ooxml", "application/x-tika-msoffice")
ALLOWED_FORMATS: dict[str, Format] = {f.extension: f for f in (
    _fmt("jpg", "image/jpeg", ("image/jpg", "image/jpeg"), ("jpeg",)),
    _fmt("jpeg", "image/jpeg", ("image/jpeg", "image/jpg"), ("jpeg",)),
    _fmt("png", "image/png", ("image/png",), ("png",)),
    _fmt("pdf", "application/pdf", ("application/pdf",), ("pdf",)),
    _fmt("odt", "application/vnd.oasis.opendocument.text", ("application/vnd.oasis.opendocument.text",), ("odt",)),
    _fmt("ods", "application/vnd.oasis.opendocument.spreadsheet",
         ("application/vnd.oasis.opendocument.spreadsheet",), ("ods",)),
    _fmt("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _MSOFFICE,
         ("ooxml", "ole2", "odt")),
    _fmt("doc", "application/msword", _MSOFFICE, ("ole2", "ooxml", "odt")),
    _fmt("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _SHEETS, ("ooxml", "ole2")),
    _fmt("xls", "application/vnd.ms-excel", _SHEETS, ("ole2", "ooxml")),
    _fmt("dxf", "image/vnd.dxf", ("text/plain",), ("text",)),
    _fmt("csv", "text/csv", ("text/plain",), ("text",)),
    _fmt("txt", "text/plain", ("text/plain",), ("text",)),
)}
# a name without an extension gets one from its bytes, when the bytes say it unambiguously
_EXTENSION_OF_KIND = {"pdf": "pdf", "png": "png", "jpeg": "jpg", "odt": "odt", "ods": "ods"}

_SIGNATURES = ((b"%PDF-", "pdf"), (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"),
               (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"), (b"PK\x03\x04", "zip"),
               (b"MZ", "executable"), (b"\x7fELF", "executable"), (b"GIF8", "gif"))
_ODF = {"application/vnd.oasis.opendocument.text": "odt",
        "application/vnd.oasis.opendocument.spreadsheet": "ods"}


def sniff(data: bytes) -> str:
    """What the bytes are: pdf, png, jpeg, ole2, ooxml, odt, ods, zip, text, or something we
    refuse (executable, gif, binary). Looks at signatures and, for zips, the container's entries."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            if kind == "zip":
                return _zip_kind(data)
            if kind != "executable" or b"\x00" in data[:512]:
                return kind
    if b"\x00" in data:
        return "binary"
    controls = sum(1 for b in data[:65536] if b < 0x20 and b not in b"\t\n\r\f\x1a")
    return "text" if controls * 100 <= min(len(data), 65536) else "binary"


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                return "ooxml"
            info = archive.NameToInfo.get("mimetype")
            if info is not None and info.file_size <= 128:
                return _ODF.get(archive.read(info).decode("ascii", "replace").strip(), "zip")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return "binary"
    return "zip"


def _allowed_list() -> str:
    return ", ".join(ALLOWED_FORMATS)


# -- file names and inputs ---------------------------------------------------------------------
def sanitize_file_name(name: str | None) -> str:
    """A safe display name: the last path component only (either separator), no control or
    bidi-override characters (NUL included), none of Windows' forbidden characters, no leading
    dots, not a Windows device name, at most MAX_NAME_CHARS characters (the extension kept)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(ch for ch in text if ch in _KEEP_FORMAT_CHARS or unicodedata.category(ch)[0] != "C")
    text = re.split(r"[\\/]", text)[-1]
    text = re.sub(r'[<>:"|?*]', "_", text)
    text = text.strip().lstrip(".").strip().rstrip(". ")
    if not text:
        return "document"
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    if len(text) > MAX_NAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and len(ext) <= 16:
            text = stem[:MAX_NAME_CHARS - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            text = text[:MAX_NAME_CHARS]
    return text


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _read_source(source: Source) -> tuple[bytes, str | None, int]:
    """(at most MAX_FILE_SIZE + 1 bytes, the file's own name if a path, its full size)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return data, None, len(data)
    path = Path(source)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput("FILESTORE_INVALID_INPUT", f"{path} is not a regular file", {"path": str(path)})
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_SIZE + 1)
    except OSError as err:
        raise InvalidInput("FILESTORE_INVALID_INPUT", f"cannot read {path}: {err.strerror or err}",
                           {"path": str(path)}) from None
    return data, path.name, max(info.st_size, len(data))


@dataclass(frozen=True)
class Checked:
    """An upload that passed the checks: what will be recorded."""

    data: bytes
    file_name: str
    extension: str
    content_type: str
    sha256: str


def check_upload(data: bytes, size: int, file_name: str | None, content_type: str | None) -> Checked:
    """DIGIT's StorageValidator, stricter: size, extension in allowed.formats.map, the bytes match
    the extension, the declared content type (if any) is one the extension allows."""
    name = sanitize_file_name(file_name)
    if size == 0:
        raise InvalidInput("FILESTORE_EMPTY_FILE", f"{name} is empty", {"fileName": name})
    if size > MAX_FILE_SIZE:
        raise InvalidInput("FILESTORE_FILE_TOO_LARGE",
                           f"{name} is {size:,} bytes; the file store takes at most {MAX_FILE_SIZE:,} (5 MB)",
                           {"fileName": name, "size": size, "maxSize": MAX_FILE_SIZE},
                           description="DIGIT: spring.servlet.multipart.max-file-size=5MB")
    kind = sniff(data)
    ext = _extension(name)
    if not ext and kind in _EXTENSION_OF_KIND:
        ext = _EXTENSION_OF_KIND[kind]
        name = sanitize_file_name(f"{name}.{ext}")
    fmt = ALLOWED_FORMATS.get(ext)
    if fmt is None:
        raise InvalidInput("FILESTORE_INVALID_FORMAT",
                           f"{name}: {'.' + ext if ext else 'no extension'} is not an allowed format; "
                           f"upload one of {_allowed_list()}",
                           {"fileName": name, "extension": ext, "allowedFormats": list(ALLOWED_FORMATS)},
                           description="DIGIT: EG_FILESTORE_INVALID_INPUT")
    if kind not in fmt.kinds:
        raise InvalidInput("FILESTORE_INVALID_FORMAT",
                           f"{name}: the content is not a .{ext} file (it looks like {kind})",
                           {"fileName": name, "extension": ext, "detected": kind},
                           description="DIGIT: EG_FILESTORE_INVALID_INPUT (the extension does not match the file format)")
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared and not fmt.accepts_type(declared):
        raise InvalidInput("FILESTORE_INVALID_FORMAT",
                           f"{name}: content type {declared!r} does not fit .{ext}",
                           {"fileName": name, "contentType": declared,
                            "allowedContentTypes": sorted(fmt.digit_types | {fmt.content_type})},
                           description="DIGIT: EG_FILESTORE_INVALID_INPUT (Invalid Content Type)")
    return Checked(data, name, ext, declared or fmt.content_type, hashlib.sha256(data).hexdigest())


def _tenant(tenant_id: str | None) -> str:
    if not tenant_id or not isinstance(tenant_id, str) or len(tenant_id) > 128 or not _TENANT.match(tenant_id):
        raise InvalidInput("INVALID_TENANTID", "a tenant is required (e.g. pb.amritsar)",
                           {"tenantId": tenant_id if isinstance(tenant_id, str) else None})
    return tenant_id


def _check_state(uow: "UnitOfWork", tenant_id: str) -> str:
    """A store serves one state, and its data keys are that state's."""
    state = state_of(tenant_id)
    served = uow.meta("state_tenant")
    if served is not None and served != state:
        raise InvalidInput("INVALID_TENANTID", f"this store serves {served!r}, not {tenant_id!r}",
                           {"tenantId": tenant_id, "stateTenantId": served})
    return state


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


# -- the operations ----------------------------------------------------------------------------
def _meta(row: FileStoreObject) -> dict[str, Any]:
    """DIGIT's file metadata (MetaDataResponse names), plus id, module, sha256 and who/when."""
    return {"fileStoreId": row.file_store_id, "tenantId": row.tenant_id, "module": row.module,
            "fileName": row.file_name, "contentType": row.content_type, "fileSize": row.size,
            "sha256": row.sha256, "createdBy": row.created_by,
            "createdTime": int(row.created_at.timestamp() * 1000)}


def upload_in(uow: "UnitOfWork", app: "App", tenant_id: str, source: Source, file_name: str | None = None,
              module: str | None = None, content_type: str | None = None) -> dict[str, Any]:
    """Store a document inside the caller's unit of work (the caller commits): checks, writes
    the encrypted blob (unless an intact one is there), adds the row and records
    "filestore.uploaded". Returns the file's metadata (see `describe`)."""
    tenant_id = _tenant(tenant_id)
    authorize(app, uow.ctx, UPLOAD_ACTION, tenant_id)
    if module is not None and (not isinstance(module, str) or not module.strip() or len(module) > MAX_MODULE_CHARS):
        raise InvalidInput("FILESTORE_INVALID_MODULE", f"module must be 1..{MAX_MODULE_CHARS} characters",
                           {"module": str(module)[:80]})
    data, own_name, size = _read_source(source)
    checked = check_upload(data, size, file_name or own_name, content_type)
    state = _check_state(uow, tenant_id)
    store_id = uow.meta("store_id") or "uninitialized"
    path = blob_path(root_dir(app, store_id), checked.sha256, _scope(store_id, state))
    ring = keyring(app)
    if not _intact(ring, uow, state, checked.sha256, path):
        _atomic_write(path, seal(ring, uow, tenant_id, checked.sha256, checked.data))
    row = FileStoreObject(file_store_id=str(uuid.uuid4()), tenant_id=tenant_id,
                          module=module.strip() if module else None, file_name=checked.file_name,
                          content_type=checked.content_type, size=len(checked.data), sha256=checked.sha256,
                          created_by=uow.ctx.actor.uuid, created_at=uow.ctx.now())
    uow.session.add(row)
    uow.session.flush()
    described = {"fileStoreId": row.file_store_id, "tenantId": tenant_id, "fileName": row.file_name,
                 "contentType": row.content_type, "size": row.size}
    uow.record(Event(EVENT_UPLOADED, tenant_id, ENTITY, row.file_store_id, UPLOAD_ACTION, {"files": [described]},
                     after={**described, "module": row.module, "sha256": row.sha256}))
    return _meta(row)


def _intact(ring: "KeyRing", uow: "UnitOfWork", state: str, sha: str, path: Path) -> bool:
    """Is there already a blob for these bytes that opens? (A damaged one is rewritten.)"""
    if not path.is_file():
        return False
    try:
        unseal(ring, uow, state, sha, _read_blob(path, sha))
    except FileStoreCorrupt:
        return False
    return True


def upload(app: "App", ctx: "RequestContext", tenant_id: str, source: Source, file_name: str | None = None,
           module: str | None = None, content_type: str | None = None) -> dict[str, Any]:
    """egov-filestore's POST /filestore/v1/files: returns {"files": [{"fileStoreId", "tenantId"}]}."""
    with app.uow(ctx.for_tenant(tenant_id)) as uow:
        meta = upload_in(uow, app, tenant_id, source, file_name, module, content_type)
        uow.commit()
    return {"files": [{"fileStoreId": meta["fileStoreId"], "tenantId": meta["tenantId"]}]}


def _find(uow: "UnitOfWork", tenant_id: str, file_store_id: str) -> FileStoreObject:
    """The row, visible from `tenant_id` (its own files and its state's), else FILESTORE_NOT_FOUND."""
    wanted = file_store_id.strip().lower() if isinstance(file_store_id, str) else ""
    row = None
    if _UUID.match(wanted):
        row = uow.session.execute(select(FileStoreObject).where(
            FileStoreObject.file_store_id == wanted,
            FileStoreObject.tenant_id.in_(fallback_chain(tenant_id)))).scalar_one_or_none()
    if row is None:
        shown = str(file_store_id)[:80]
        raise NotFound("FILESTORE_NOT_FOUND", f"Artifact with fileStoreId {shown!r} is not found at {tenant_id}",
                       {"fileStoreId": shown, "tenantId": tenant_id})
    return row


def describe_in(uow: "UnitOfWork", app: "App", tenant_id: str, file_store_id: str) -> dict[str, Any]:
    tenant_id = _tenant(tenant_id)
    authorize(app, uow.ctx, METADATA_ACTION, tenant_id)
    return _meta(_find(uow, tenant_id, file_store_id))


def fetch_in(uow: "UnitOfWork", app: "App", tenant_id: str, file_store_id: str) -> tuple[dict[str, Any], bytes]:
    """(metadata, plain bytes) inside the caller's unit of work."""
    tenant_id = _tenant(tenant_id)
    authorize(app, uow.ctx, FETCH_ACTION, tenant_id)
    row = _find(uow, tenant_id, file_store_id)
    state = state_of(row.tenant_id)
    store_id = uow.meta("store_id") or "uninitialized"
    path = blob_path(root_dir(app, store_id), row.sha256, _scope(store_id, state))
    data = unseal(keyring(app), uow, state, row.sha256, _read_blob(path, row.sha256))
    if len(data) != row.size:
        raise FileStoreCorrupt("FILESTORE_CORRUPT", "the stored document's size does not match its record",
                               {"fileStoreId": row.file_store_id})
    return _meta(row), data


def fetch(app: "App", ctx: "RequestContext", tenant_id: str, file_store_id: str) -> tuple[dict[str, Any], bytes]:
    """egov-filestore's GET /filestore/v1/files/id: the document's metadata and bytes."""
    with app.uow(ctx.for_tenant(tenant_id), readonly=True) as uow:
        return fetch_in(uow, app, tenant_id, file_store_id)


def describe(app: "App", ctx: "RequestContext", tenant_id: str, file_store_id: str) -> dict[str, Any]:
    """egov-filestore's GET /filestore/v1/files/metadata: metadata only, no blob read."""
    with app.uow(ctx.for_tenant(tenant_id), readonly=True) as uow:
        return describe_in(uow, app, tenant_id, file_store_id)
