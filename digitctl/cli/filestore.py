"""`digitctl filestore upload | get | show`: documents in the local, encrypted file store."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import typer

from digitctl.cli.common import require_tenant

app = typer.Typer(help="DIGIT file store (egov-filestore): upload and fetch documents by fileStoreId.",
                  no_args_is_help=True)


@app.command("upload")
def upload(
    file: Path = typer.Argument(..., help="The document (pdf, jpg, png, docx, xlsx, odt ... at most 5 MB)."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant the document belongs to, e.g. pb.amritsar."),
    module: str = typer.Option(None, "--module", help="Module that owns it (e.g. TL, PT, rainmaker-pgr)."),
    content_type: str = typer.Option(None, "--content-type", help="Declared content type (checked)."),
    name: str = typer.Option(None, "--name", help="File name to record (default: FILE's name)."),
) -> None:
    """Store a document; prints its fileStoreId (-o json: DIGIT's {"files": [...]})."""
    from digitctl.cli.output import emit, state
    from digitctl.services import filestore
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant)
    done = filestore.upload(st.app, st.app.context(tenant_id), tenant_id, file, file_name=name,
                            module=module, content_type=content_type)
    files = done["files"]

    def ids_only(con: Any) -> None:       # `ID=$(digitctl filestore upload scan.pdf --tenant pb)`
        for f in files:
            con.print(f["fileStoreId"])

    emit(done, rows=[[f["fileStoreId"], f["tenantId"]] for f in files], columns=["fileStoreId", "tenantId"],
         human=ids_only)


@app.command("show")
def show(
    file_store_id: str = typer.Argument(..., help="fileStoreId."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant to look from (a city also sees its state's files)."),
) -> None:
    """A document's metadata (name, type, size, sha256, who stored it when)."""
    from digitctl.cli.output import emit, state
    from digitctl.services import filestore
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant)
    meta = filestore.describe(st.app, st.app.context(tenant_id), tenant_id, file_store_id)
    emit(meta, rows=[[k, v] for k, v in meta.items()], columns=["field", "value"])


@app.command("get")
def get(
    file_store_id: str = typer.Argument(..., help="fileStoreId."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant to look from (a city also sees its state's files)."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (a folder: the stored file name inside it)."),
    force: bool = typer.Option(False, "--force", help="Replace FILE if it exists."),
) -> None:
    """Write a document's bytes to a file (readable by you only); refuses to overwrite unless --force."""
    from digitctl.cli.output import emit, state
    from digitctl.services import filestore
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant)
    meta, data = filestore.fetch(st.app, st.app.context(tenant_id), tenant_id, file_store_id)
    target = out / meta["fileName"] if out.is_dir() else out    # the stored name is sanitized: no separators
    write_new(target, data, force=force)
    doc: dict[str, Any] = {**meta, "path": str(target)}
    emit(doc, rows=[[meta["fileStoreId"], meta["fileName"], meta["contentType"], meta["fileSize"], str(target)]],
         columns=["fileStoreId", "fileName", "contentType", "fileSize", "path"])


def write_new(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write `data` to `path` completely or not at all (temp file, fsync, then link or rename),
    mode 0600; an existing file is kept unless `force` (FILE_EXISTS, exit 2)."""
    from digitctl.errors import InvalidInput

    exists = InvalidInput("FILE_EXISTS", f"{path} exists; pass --force to replace it", {"path": str(path)})
    if not force and (path.exists() or path.is_symlink()):
        raise exists
    if not path.parent.is_dir():
        raise InvalidInput("FILESTORE_INVALID_INPUT", f"folder {path.parent} does not exist", {"path": str(path)})
    tmp = path.with_name(f".{path.name[:100]}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)          # atomic "create if absent": never clobbers a file made meanwhile
            except FileExistsError:
                raise exists from None
            except OSError:                 # no hard links here (FAT, some shares): check, then rename
                if path.exists():
                    raise exists from None
                os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
