"""The seam services are typed against: what a service may ask of the application it runs in.

`digitctl.bootstrap.App` is the one implementation the program builds (the composition root);
services, domain rules and sessions only see these Protocols, so they never import the root,
and another front door (the hub, a test) can hand them anything of the same shape.

Each Protocol declares exactly what the core uses, nothing more: the App's store (engines and
revision), unit-of-work factory, clock, master-data reader, authorizer, master key and key ring,
store metadata and the system context. This module imports nothing of digitctl's services at
run time or for type checking, so it closes no import circle."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from digitctl.clock import Clock
    from digitctl.context import RequestContext
    from digitctl.domain.mdms import MasterConfigs
    from local_store.engine import Store
    from local_store.uow import UnitOfWork

APP_INFO = "digitctl.app"        # Session.info key of the App behind a unit of work


class MdmsReader(Protocol):
    """Master data by DIGIT's tenant rule (implemented by services.mdms_reader.MdmsReader)."""

    def resolve(self, tenant_id: str, module: str, master: str,
                conn: Connection | None = None) -> tuple[str | None, list[dict[str, Any]]]: ...

    def master(self, tenant_id: str, module: str, master: str,
               conn: Connection | None = None) -> list[dict[str, Any]]: ...

    def at_state(self, tenant_id: str, module: str, master: str,
                 conn: Connection | None = None) -> list[dict[str, Any]]: ...

    def masters(self, tenant_id: str, wanted: list[tuple[str, str]]) -> list[list[dict[str, Any]]]: ...

    def config(self, conn: Connection | None = None) -> MasterConfigs: ...

    def known_tenants(self, conn: Connection | None = None) -> set[str]: ...

    def modules_at(self, tenant_id: str, module: str, conn: Connection | None = None) -> list[str]: ...

    def has_module(self, tenant_id: str, module: str, conn: Connection | None = None) -> bool: ...

    def invalidate(self) -> None: ...


class Authorizer(Protocol):
    """One access check for every operation (services.access.RoleActionAuthorizer)."""

    def authorize(self, ctx: RequestContext, action_url: str, tenant_id: str | None) -> None: ...


class MasterKey(Protocol):
    """The store's master key (services.masterkey.MasterKey): sub-keys and wrapped secrets."""

    def derive(self, label: str) -> bytes: ...

    def wrap(self, plaintext: bytes, aad: str) -> str: ...

    def unwrap(self, token: str, aad: str) -> bytes: ...


class KeyRing(Protocol):
    """PII encryption and blind indexes for one App (services.crypto.KeyRing)."""

    def encrypt(self, uow_or_session: Any, tenant_id: str, plaintext: str) -> str: ...

    def decrypt(self, uow_or_session: Any, ciphertext: str) -> str: ...

    def blind_index(self, tenant_id: str, value: str, kind: str | None = None) -> str: ...


class App(Protocol):
    """What services, domain rules and sessions use of the application (bootstrap.App builds it)."""

    @property
    def store_url(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store: ...

    @property
    def mdms(self) -> MdmsReader: ...

    @property
    def authorizer(self) -> Authorizer: ...

    @property
    def master_key(self) -> MasterKey: ...

    @property
    def keyring(self) -> KeyRing: ...

    @property
    def state_tenant(self) -> str | None: ...

    def store_meta(self, key: str) -> str | None: ...

    def base_context(self, tenant_id: str | None = None) -> RequestContext: ...

    def uow(self, ctx: RequestContext, *, readonly: bool = False) -> UnitOfWork: ...
