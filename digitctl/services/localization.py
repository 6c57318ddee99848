"""The one lookup of localized text: `t(code, locale, tenant, *args, **params)`.

Messages come from the store (`digitctl localization upsert`, egov-localization's table: a city's
message over its state's over the `default` tenant's), then from the files bundled in
configs/localization (so a receipt or an SMS reads well before anything was upserted); a code
missing in `locale` falls back to en_IN, then to the code itself (MessageService). Placeholders
(`<1>`, `{receiptNumber}`, `%s`) are filled by digitctl.domain.localization.fill.

Callers with a store use `translator(app)`; `t(...)` without `app` reads the bundled files only.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from digitctl.domain import localization as loc
from digitctl.resources import localization_messages

if TYPE_CHECKING:
    from digitctl.ports import App

VERSION_META = "localization_version"     # bumped by every write: a cache keyed on it is never stale


@lru_cache(maxsize=1)
def bundled() -> tuple[loc.Message, ...]:
    """Every message of configs/localization (tenant `default`), file by file."""
    out = []
    for m in localization_messages():
        locale = m.get("locale", loc.ENGLISH)
        out.append(loc.Message(loc.DEFAULT_TENANT, locale, str(m.get("module") or ""), m["code"], m["message"]))
    return tuple(out)


@lru_cache(maxsize=16)
def _bundled_codes(locale: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in bundled():
        if m.locale == locale:
            out.setdefault(m.code, m.message)
    return out


def message(code: str, locale: str = loc.ENGLISH) -> str | None:
    """The bundled message for `code` in `locale`, else en_IN, else None (no store)."""
    return _bundled_codes(locale).get(code) or _bundled_codes(loc.ENGLISH).get(code)


# -- with a store -----------------------------------------------------------------------------
_STORE_CACHE: dict[tuple[str, str, str, str], dict[str, str]] = {}


def stored_rows(app: "App", locale: str, tenants: list[str], *, check: bool = True) -> list[loc.Message]:
    """The store's messages in `locale` at any of `tenants` (on the read-only engine: callable
    inside a writing unit of work; `check=False` when the caller knows the store is set up)."""
    from sqlalchemy import select

    from local_store.models_notify import LocalizationMessage as LM

    if check and not app.store.is_initialized():
        return []
    with app.uow(app.base_context(), readonly=True) as uow:
        rows = uow.session.execute(select(LM.tenant_id, LM.locale, LM.module, LM.code, LM.message)
                                   .where(LM.locale == locale, LM.tenant_id.in_(tenants))).all()
    return [loc.Message(*r) for r in rows]


def _stored_version(app: "App") -> str | None:
    """The store's localization version ("0" before any upsert); None when the store is not set
    up. Read on the read-only engine only, so a Translator can be made inside a caller's
    writing unit of work (App.store_meta / is_initialized would ask the writer engine)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from local_store.models import StoreMeta

    try:
        with app.uow(app.base_context(), readonly=True) as uow:
            value = uow.session.execute(select(StoreMeta.value).where(StoreMeta.key == VERSION_META)).scalar()
    except SQLAlchemyError:          # no store_meta table: an empty store
        return None
    return value or "0"


class Translator:
    """Lookups against one store, each (locale, tenant) read once per store version."""

    def __init__(self, app: "App | None") -> None:
        version = _stored_version(app) if app is not None else None
        self.app = app if version is not None else None
        self.version = version or "-"
        self._local: dict[tuple[str, str], dict[str, str]] = {}

    def catalogue(self, locale: str, tenant: str | None = None) -> dict[str, str]:
        """code -> message in `locale` only (no en_IN fallback): bundled, then the store's."""
        key = (locale, tenant or "")
        got = self._local.get(key)
        if got is not None:
            return got
        merged = dict(_bundled_codes(locale))
        if self.app is not None:
            ck = (self.app.store_url, self.version, locale, tenant or "")
            stored = _STORE_CACHE.get(ck)
            if stored is None:
                rows = stored_rows(self.app, locale, loc.tenant_hierarchy(tenant), check=False)
                stored = {m.code: m.message for m in loc.resolve(rows, tenant).values()}
                if len(_STORE_CACHE) > 64:
                    _STORE_CACHE.clear()
                _STORE_CACHE[ck] = stored
            merged.update(stored)
        self._local[key] = merged
        return merged

    def lookup(self, code: str, locale: str = loc.ENGLISH, tenant: str | None = None) -> str | None:
        """The message, falling back to en_IN; None when neither has the code."""
        found = self.catalogue(locale, tenant).get(code)
        if found is None and locale != loc.ENGLISH:
            found = self.catalogue(loc.ENGLISH, tenant).get(code)
        return found

    def t(self, code: str, locale: str = loc.ENGLISH, tenant: str | None = None, *args: Any, **params: Any) -> str:
        found = self.lookup(code, locale, tenant)
        return code if found is None else loc.fill(found, args, params)

    def labels(self, locale: str, tenant: str | None = None) -> dict[str, str]:
        """Every code -> message for `locale`, en_IN under it (receipts take labels this way)."""
        merged = dict(self.catalogue(loc.ENGLISH, tenant))
        if locale != loc.ENGLISH:
            merged.update(self.catalogue(locale, tenant))
        return merged


def translator(app: "App | None") -> Translator:
    return Translator(app)


def t(code: str, locale: str = loc.ENGLISH, tenant: str | None = None, *args: Any, app: "App | None" = None,
      **params: Any) -> str:
    """The one lookup: `code` in `locale` at `tenant` (store first when `app` is given), en_IN,
    then the code itself; placeholders filled from args (`<1>`, `%s`) and params (`{name}`)."""
    return Translator(app).t(code, locale, tenant, *args, **params)


def clear_caches() -> None:
    _STORE_CACHE.clear()
    bundled.cache_clear()
    _bundled_codes.cache_clear()
