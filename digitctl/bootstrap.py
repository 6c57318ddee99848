"""The composition root: builds the store, clock, unit-of-work factory and master-data reader
from settings and hands them to services. Nothing opens a database at import time."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from digitctl.clock import Clock, SystemClock
from digitctl.context import SYSTEM_ACTOR, Actor, RequestContext
from digitctl.ports import APP_INFO  # noqa: F401  (re-exported: Session.info key of the App behind a unit of work)

if TYPE_CHECKING:
    from collections.abc import Callable

    from digitctl import ports

    from digitctl.services.audit import StoreSigner
    from digitctl.services.crypto import KeyRing
    from digitctl.services.masterkey import MasterKey
    from digitctl.services.access import Authorizer
    from digitctl.services.mdms_reader import MdmsReader
    from local_store.engine import Store
    from local_store.uow import UnitOfWork


# The clock `build()` gives an App when the caller names none. The shipped program never
# changes it: every command runs on the system clock, and no environment variable or option
# moves it (token expiry, lockout, payment and audit times). This is the one seam for tests:
# tests/conftest.py replaces it inside the test process only (tests/clockhook.py).
clock_factory: "Callable[[], Clock]" = SystemClock


def register_modules() -> None:
    """Hook the modules that act on workflow states, in one place (importing a module registers
    nothing): the TL calculator raises the NewTL demand on PENDINGPAYMENT; billing refuses PAY
    while a demand is unpaid; applications refuses a record that disagrees with its workflow.
    Each `register()` is idempotent, so building many Apps registers each hook once."""
    from digitctl.services import applications, billing, tl_calculator

    applications.register()
    billing.register()
    tl_calculator.register()


@dataclass
class App:
    store_url: str
    clock: Clock = field(default_factory=SystemClock)
    actor_resolver: "Callable[[App], Actor] | None" = None

    def __post_init__(self) -> None:
        register_modules()      # every way an App is made has the modules' workflow hooks and guards

    @cached_property
    def store(self) -> "Store":
        from local_store.engine import Store

        try:
            return Store(self.store_url)
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] not in ("psycopg", "psycopg2", "psycopg_binary"):
                raise
            from digitctl.errors import InvalidInput

            raise InvalidInput("STORE_DRIVER_MISSING", "a PostgreSQL store needs its driver, which is not installed: "
                               "pip install 'digitctl[postgres]' (psycopg 3)", {"driver": err.name}) from None

    @cached_property
    def mdms(self) -> "MdmsReader":
        from digitctl.services.mdms_reader import MdmsReader

        return MdmsReader(self)

    @cached_property
    def authorizer(self) -> "Authorizer":
        from digitctl.services.access import default_authorizer

        return default_authorizer(self)

    @cached_property
    def master_key(self) -> "MasterKey":
        """This store's master key, checked against the store (MASTER_KEY_MISSING / _MISMATCH)."""
        from digitctl.services import masterkey
        from local_store.uow import UnitOfWork

        with UnitOfWork(self.store, self.base_context(), readonly=True) as uow:
            store_id = uow.meta("store_id")
            stored_check = uow.meta(masterkey.CHECK_META)
        if store_id is None:
            from digitctl.errors import InvalidInput

            raise InvalidInput("STORE_NOT_INITIALIZED", "run `digitctl init` first")
        key = masterkey.load(store_id)
        masterkey.check(key, stored_check)
        return key

    def store_meta(self, key: str) -> str | None:
        from local_store.uow import UnitOfWork

        if not self.store.is_initialized():
            return None
        with UnitOfWork(self.store, self.base_context(), readonly=True) as uow:
            return uow.meta(key)

    @cached_property
    def state_tenant(self) -> str | None:
        return self.store_meta("state_tenant")

    @cached_property
    def keyring(self) -> "KeyRing":
        from digitctl.services.crypto import KeyRing

        return KeyRing(self)

    @cached_property
    def actor(self) -> Actor:
        """Who acts through this App: the resolver's answer (the CLI resolves the login
        session), else the local SYSTEM administrator (library use, tests)."""
        return self.actor_resolver(self) if self.actor_resolver is not None else SYSTEM_ACTOR

    def base_context(self, tenant_id: str | None = None) -> RequestContext:
        return RequestContext(actor=SYSTEM_ACTOR, tenant_id=tenant_id, clock=self.clock)

    def context(self, tenant_id: str | None = None) -> RequestContext:
        return RequestContext(actor=self.actor, tenant_id=tenant_id, clock=self.clock)

    @cached_property
    def audit_signer(self) -> "StoreSigner":
        """Signs audit records with the store's key (unwrapped on first use, then cached)."""
        from digitctl.services.audit import signer_for

        return signer_for(self)

    def uow(self, ctx: RequestContext, *, readonly: bool = False) -> "UnitOfWork":
        from local_store.uow import UnitOfWork

        # the App rides in the session, so a lookup given only the session (users.find: a
        # citizen's user name is kept as a keyed pseudonym) can reach the store's keys
        return UnitOfWork(self.store, ctx, readonly=readonly,
                          signer=None if readonly else self.audit_signer, info={APP_INFO: self})

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.dispose()


if TYPE_CHECKING:
    def _is_the_seam(app: App) -> ports.App:
        """mypy checks here that the composition root gives services all the seam promises."""
        return app


def build(store_url: str | None = None, clock: Clock | None = None) -> App:
    from local_store.engine import default_store_url, normalize_url

    url = normalize_url(store_url) if store_url else default_store_url()
    return App(store_url=url, clock=clock or clock_factory())
