"""`store backup` and `store restore`: a consistent copy of the store while payments go on
(SQLite's online backup API reads one snapshot; pg_dump for PostgreSQL), checked before it is
kept, and put back with the replaced file kept beside it."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitctl.errors import InvalidInput
from digitctl.services import store_health

if TYPE_CHECKING:
    from digitctl.ports import App


def _sqlite_path(app: "App") -> Path:
    from sqlalchemy.engine import make_url

    return Path(str(make_url(app.store.url).database))


def _libpq_url(app: "App") -> str:
    from sqlalchemy.engine import make_url

    url = make_url(app.store.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise InvalidInput("BACKUP_TOOL_MISSING", f"{name} is not installed: a PostgreSQL store is backed up and "
                           f"restored with PostgreSQL's client tools (apt install postgresql-client)", {"tool": name})
    return found


def _pg_tool(name: str, *args: str) -> None:
    """Run pg_dump / pg_restore; a failure is its own first line of stderr (never the URL)."""
    done = subprocess.run([_tool(name), *args], capture_output=True, text=True)
    if done.returncode != 0:
        said = next((line for line in done.stderr.splitlines() if line.strip()), f"exit status {done.returncode}")
        raise InvalidInput("BACKUP_FAILED", f"{name} failed: {said}", {"tool": name})


def _writable_target(file: Path, force: bool) -> None:
    if file.exists() and not force:
        raise InvalidInput("FILE_EXISTS", f"{file} exists; pass --force to overwrite it", {"file": str(file)})
    folder = file.parent if str(file.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InvalidInput("FOLDER_NOT_WRITABLE", f"cannot write in the folder {folder.absolute()}",
                           {"folder": str(folder.absolute())})


def _file_problems(path: Path) -> list[str]:
    """integrity_check of a store file, and that it is a digitctl store at all."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [str(r[0]) for r in con.execute("PRAGMA integrity_check(20)").fetchall()]
            if rows != ["ok"]:
                return rows
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"alembic_version", "store_meta", "audit_record"} <= tables:
                return ["not a digitctl store (no alembic_version, store_meta or audit_record table)"]
            return []
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        return [(str(err).strip().splitlines() or [type(err).__name__])[0]]


def _revision_of(path: Path) -> str | None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None
    finally:
        con.close()


def _copy_sqlite(source: sqlite3.Connection, target: Path) -> None:
    """Online backup of `source` into a new file `target` (0600), in one step: the copy is one
    snapshot even while another process commits payments."""
    if target.exists():
        target.unlink()
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
    dst = sqlite3.connect(target)
    try:
        source.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode = DELETE")      # one self-contained file, no -wal beside it
    finally:
        dst.close()


def backup(app: "App", file: Path, *, force: bool = False) -> dict[str, Any]:
    from digitctl.services.store import require_initialized

    require_initialized(app)
    _writable_target(file, force)
    partial = file.with_name(file.name + ".partial")
    if app.store.dialect == "sqlite":
        raw = app.store.engine.raw_connection()
        try:
            _copy_sqlite(raw.driver_connection, partial)       # type: ignore[arg-type]
        finally:
            raw.close()
        problems = _file_problems(partial)
        if problems:
            partial.unlink(missing_ok=True)
            raise store_health.damaged(app.store.display_url(), problems[0], problems)
    else:
        _pg_tool("pg_dump", "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={_libpq_url(app)}")
        os.chmod(partial, 0o600)
    os.replace(partial, file)
    return {"store": app.store.display_url(), "file": str(file), "bytes": file.stat().st_size,
            "schemaRevision": app.store.current_revision()}


def check_backup_file(app: "App", file: Path) -> None:
    """Refuse a file that is missing, damaged or not a digitctl store, before anything changes."""
    if not file.is_file():
        raise InvalidInput("FILE_NOT_FOUND", f"no backup file {file}", {"file": str(file)})
    if app.store.dialect != "sqlite":
        return
    problems = _file_problems(file)
    if problems:
        raise InvalidInput("INVALID_BACKUP", f"{file} is not a sound digitctl store backup: {problems[0]}",
                           {"file": str(file), "problems": problems[:5]})


def restore(app: "App", file: Path) -> dict[str, Any]:
    check_backup_file(app, file)
    kept: str | None = None
    if app.store.dialect == "sqlite":
        target = _sqlite_path(app)
        app.store.dispose()
        stamp = app.clock.now().strftime("%Y%m%dT%H%M%S")
        partial = target.with_name(target.name + ".restoring")
        src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            _copy_sqlite(src, partial)
        finally:
            src.close()
        if target.exists():
            kept_path = target.with_name(f"{target.name}.before-restore-{stamp}")
            os.replace(target, kept_path)
            kept = str(kept_path)
        for suffix in ("-wal", "-shm"):       # the old file's journal must not meet the new file
            side = target.with_name(target.name + suffix)
            if side.exists() and kept:
                os.replace(side, Path(f"{kept}{suffix}"))
            elif side.exists():
                side.unlink()
        os.replace(partial, target)
        revision = _revision_of(target)
    else:
        _pg_tool("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                 f"--dbname={_libpq_url(app)}", str(file))
        revision = app.store.current_revision()
    return {"store": app.store.display_url(), "file": str(file), "schemaRevision": revision, "keptAs": kept}
