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

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain.events import Event
from digitctl.domain.tenancy import fallback_chain, state_of
from digitctl.errors import InvalidInput, NotFound
from digitctl.services.access import authorize
from digitctl.services.crypto import keyring
# the checks and the blob storage live in their own modules; their names stay reachable here
from digitctl.services.file_formats import (ALLOWED_FORMATS, MAX_FILE_SIZE, MAX_NAME_CHARS, Checked, Format,
                                            Source, _read_source, check_upload, sanitize_file_name, sniff)
from digitctl.services.filestore_blobs import (_UUID, ENV_ROOT, MAGIC, NONCE, TAG, FileStoreCorrupt, _atomic_write,
                                               _read_blob, _scope, blob_path, root_dir, seal, unseal)
from local_store.models import FileStoreObject

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from digitctl.services.crypto import KeyRing
    from local_store.uow import UnitOfWork

__all__ = ["ALLOWED_FORMATS", "ENTITY", "ENV_ROOT", "EVENT_UPLOADED", "FETCH_ACTION", "MAGIC", "MAX_FILE_SIZE",
           "MAX_MODULE_CHARS", "MAX_NAME_CHARS", "METADATA_ACTION", "NONCE", "TAG", "UPLOAD_ACTION", "Checked",
           "FileStoreCorrupt", "Format", "Source", "blob_path", "check_upload", "describe", "describe_in", "fetch",
           "fetch_in", "root_dir", "sanitize_file_name", "seal", "sniff", "unseal", "upload", "upload_in"]

UPLOAD_ACTION = "/filestore/v1/files"
# DIGIT's pb role-actions map no role to /filestore/v1/files/id (action 14); file reads are granted
# through /filestore/v1/files/url (action 1528: CITIZEN, EMPLOYEE, GRO, DGRO, SUPERUSER), whose
# signed URL is what a DIGIT client then downloads. `filestore get` is authorised as that action.
FETCH_ACTION = "/filestore/v1/files/url"
METADATA_ACTION = "/filestore/v1/files/metadata"
EVENT_UPLOADED = "filestore.uploaded"
ENTITY = "FileStore"

MAX_MODULE_CHARS = 64
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$")


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
