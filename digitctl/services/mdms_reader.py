"""The one cached, tenant-aware accessor through which every service reads master data.

It owns DIGIT's MDMS tenant rule (egov-mdms-service MDMSService.getMasterData): asked at a city,
a master that the master-config in force marks `isStateLevel` is served from the STATE's records
(whatever the city has), any other master from the CITY's own records, with no fallback to the
state. Asked at the state, the state's records. A service that DIGIT runs against the state
(access control, billing, idgen ...) asks at the state; see `at_state`.

The master-config in force is part of the applied data: `mdms apply` stores the one it read
(beside the data, `--master-config`, or the bundled real one) under `store_meta`. The cache is
dropped whenever an apply bumps `mdms_version`."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, select

from digitctl.domain.mdms import MasterConfigs, serving_tenant
from digitctl.domain.tenancy import state_of
from local_store.models import MdmsRecord, StoreMeta

if TYPE_CHECKING:
    from digitctl.ports import App

_T = TypeVar("_T")

MDMS_VERSION = "mdms_version"
MASTER_CONFIG = "mdms_master_config"
MASTER_CONFIG_SOURCE = "mdms_master_config_source"
_CHECKED = "digitctl.mdms_version_checked_in"


@lru_cache(maxsize=1)
def bundled_master_config() -> MasterConfigs:
    """DIGIT's real master-config (egov-mdms-data), shipped in configs/mdms, with entries for the
    masters the bundled demo state adds (configs/README.md)."""
    from digitctl.resources import bundled

    path = bundled("configs") / "mdms" / "master-config.json"
    return MasterConfigs.from_json(json.loads(path.read_text(encoding="utf-8")))


def stored_master_config(conn: Connection) -> MasterConfigs:
    """The master-config in force in a store (the bundled one until an apply stores another)."""
    text = conn.execute(select(StoreMeta.value).where(StoreMeta.key == MASTER_CONFIG)).scalar()
    if not text:
        return bundled_master_config()
    return MasterConfigs.from_json(json.loads(text))


class MdmsReader:
    def __init__(self, app: "App") -> None:
        self._app = app
        self._lock = threading.Lock()
        self._version: str | None = None
        self._config: MasterConfigs | None = None
        self._cache: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._tenants: set[str] | None = None

    # -- cache -------------------------------------------------------------------------------
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
        if version != self._version or self._config is None:
            self._cache.clear()
            self._tenants = None
            self._config = stored_master_config(conn)
            self._version = version

    def _with_conn(self, conn: Connection | None, fn: Callable[[Connection], _T]) -> _T:
        with self._lock:
            if conn is not None:
                self._check_version(conn)
                return fn(conn)
            with self._app.store.readonly_engine.connect() as own:
                self._check_version(own)
                return fn(own)

    # -- DIGIT's rule --------------------------------------------------------------------------
    def _serve(self, conn: Connection, tenant_id: str, module: str, master: str) -> tuple[str, list[dict[str, Any]]]:
        assert self._config is not None
        at = serving_tenant(tenant_id, self._config.is_state_level(module, master))
        return at, self._records_at(conn, at, module, master)

    def resolve(self, tenant_id: str, module: str, master: str,
                conn: Connection | None = None) -> tuple[str | None, list[dict[str, Any]]]:
        """(tenant whose records are served, the records) by DIGIT's rule; (None, []) when that
        tenant has none."""
        at, records = self._with_conn(conn, lambda c: self._serve(c, tenant_id, module, master))
        return (at if records else None), records

    def master(self, tenant_id: str, module: str, master: str,
               conn: Connection | None = None) -> list[dict[str, Any]]:
        return self.resolve(tenant_id, module, master, conn)[1]

    def at_state(self, tenant_id: str, module: str, master: str,
                 conn: Connection | None = None) -> list[dict[str, Any]]:
        """The state's records, for services DIGIT runs against the state tenant (access control
        reads role-actions at the state; billing, idgen and collection ask for state masters)."""
        return self.master(state_of(tenant_id), module, master, conn)

    def masters(self, tenant_id: str, wanted: list[tuple[str, str]]) -> list[list[dict[str, Any]]]:
        """Several masters through one connection and one version check (hot paths)."""
        return self._with_conn(None, lambda c: [self._serve(c, tenant_id, m, ms)[1] for m, ms in wanted])

    def config(self, conn: Connection | None = None) -> MasterConfigs:
        """The master-config in force."""
        def load(c: Connection) -> MasterConfigs:
            assert self._config is not None     # _with_conn has read it
            return self._config
        return self._with_conn(conn, load)

    def known_tenants(self, conn: Connection | None = None) -> set[str]:
        """Tenants some applied file names (DIGIT's MDMS knows no other: a search at any other
        tenant is Invalid_tenantId)."""
        def load(c: Connection) -> set[str]:
            if self._tenants is None:
                self._tenants = set(c.execute(select(MdmsRecord.tenant_id).where(
                    MdmsRecord.is_active.is_(True)).distinct()).scalars())
            return self._tenants
        return self._with_conn(conn, load)

    def _module_masters(self, c: Connection, tenant_id: str, module: str) -> set[tuple[str, str]]:
        """(tenant, master) of `module` held at the tenant or its state."""
        rows = c.execute(select(MdmsRecord.tenant_id, MdmsRecord.master).where(
            MdmsRecord.module == module, MdmsRecord.is_active.is_(True),
            MdmsRecord.tenant_id.in_({tenant_id, state_of(tenant_id)})).distinct())
        return {(t, ms) for t, ms in rows}

    def modules_at(self, tenant_id: str, module: str, conn: Connection | None = None) -> list[str]:
        """The masters of `module` a search at `tenant_id` can serve (state-level ones from the
        state, the others from the tenant itself)."""
        def load(c: Connection) -> list[str]:
            assert self._config is not None
            cfg = self._config
            return sorted({ms for t, ms in self._module_masters(c, tenant_id, module)
                           if serving_tenant(tenant_id, cfg.is_state_level(module, ms)) == t})
        return self._with_conn(conn, load)

    def has_module(self, tenant_id: str, module: str, conn: Connection | None = None) -> bool:
        """Whether the tenant or its state holds any master of `module` (DIGIT leaves a module
        neither has out of MdmsRes)."""
        return self._with_conn(conn, lambda c: bool(self._module_masters(c, tenant_id, module)))

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._tenants = None
            self._config = None
            self._version = None
