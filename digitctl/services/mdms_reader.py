"""The one cached, tenant-aware accessor through which every service reads master data.

`master(tenant, module, master)` applies DIGIT's fallback (city first, then state; the first
tenant that has the master wins). The cache is dropped whenever an apply bumps `mdms_version`."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from digitctl.domain.tenancy import fallback_chain
from local_store.models import MdmsRecord, StoreMeta

if TYPE_CHECKING:
    from digitctl.bootstrap import App

MDMS_VERSION = "mdms_version"
_CHECKED = "digitctl.mdms_version_checked_in"


class MdmsReader:
    def __init__(self, app: "App") -> None:
        self._app = app
        self._lock = threading.Lock()
        self._version: str | None = None
        self._cache: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def _records_at(self, conn: Connection, tenant_id: str, module: str, master: str) -> list[dict[str, Any]]:
        key = (tenant_id, module, master)
        hit = self._cache.get(key)
        if hit is None:
            rows = conn.execute(
                select(MdmsRecord.data)
                .where(MdmsRecord.module == module, MdmsRecord.master == master,
                       MdmsRecord.tenant_id == tenant_id, MdmsRecord.is_active.is_(True))
                .order_by(MdmsRecord.position, MdmsRecord.id)).scalars().all()
            hit = list(rows)
            self._cache[key] = hit
        return hit

    def _check_version(self, conn: Connection) -> None:
        # once per transaction: inside one, no other writer can bump the version (SQLite holds the
        # write lock; PostgreSQL's apply takes the same rows), so a payment's many master reads
        # cost one query, not one each
        tx = conn.get_transaction()
        if tx is not None and conn.info.get(_CHECKED) is tx and self._version is not None:
            return
        version = conn.execute(select(StoreMeta.value).where(StoreMeta.key == MDMS_VERSION)).scalar()
        if tx is not None:
            conn.info[_CHECKED] = tx
        if version != self._version:
            self._cache.clear()
            self._version = version

    def resolve(self, tenant_id: str, module: str, master: str,
                conn: Connection | None = None) -> tuple[str | None, list[dict[str, Any]]]:
        """(tenant the master was found at, its records) with city -> state fallback."""
        with self._lock:
            if conn is not None:
                return self._resolve(conn, tenant_id, module, master)
            with self._app.store.readonly_engine.connect() as own:
                return self._resolve(own, tenant_id, module, master)

    def _resolve(self, conn: Connection, tenant_id: str, module: str,
                 master: str) -> tuple[str | None, list[dict[str, Any]]]:
        self._check_version(conn)
        for candidate in fallback_chain(tenant_id):
            records = self._records_at(conn, candidate, module, master)
            if records:
                return candidate, records
        return None, []

    def masters(self, tenant_id: str, wanted: list[tuple[str, str]]) -> list[list[dict[str, Any]]]:
        """Several masters through one connection and one version check (hot paths)."""
        with self._lock, self._app.store.readonly_engine.connect() as conn:
            self._check_version(conn)
            out = []
            for module, master in wanted:
                records: list[dict[str, Any]] = []
                for candidate in fallback_chain(tenant_id):
                    records = self._records_at(conn, candidate, module, master)
                    if records:
                        break
                out.append(records)
            return out

    def master(self, tenant_id: str, module: str, master: str,
               conn: Connection | None = None) -> list[dict[str, Any]]:
        return self.resolve(tenant_id, module, master, conn)[1]

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._version = None
