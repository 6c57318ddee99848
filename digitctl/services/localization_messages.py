"""egov-localization's operations on the store: `_upsert` (idempotent, counts per tenant / locale /
module, `dry_run`), `_search` (DIGIT's computed list: the tenant's hierarchy merged), `_delete`,
export (an `_upsert` body of what a tenant holds) and what a locale lacks against en_IN.

Every write is one unit of work: the rows, a "localization.messages.upserted|deleted" outbox event
per (tenant, locale, module) and its audit record, and the store's localization version bumped."""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete as sql_delete, select, update

from digitctl.domain import localization as loc
from digitctl.domain.events import Event
from digitctl.domain.tenancy import state_of
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.localization import VERSION_META, bundled, stored_rows
from local_store.models_notify import LocalizationMessage as LM

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

UPSERT_URL = "/localization/messages/v1/_upsert"
SEARCH_URL = "/localization/messages/v1/_search"
DELETE_URL = "/localization/messages/v1/_delete"
Group = tuple[str, str, str]          # (tenant, locale, module)


@dataclass
class UpsertReport:
    dry_run: bool
    files: list[str] = field(default_factory=list)
    duplicates: int = 0          # an identity given twice in the input (the later one counts)
    counts: dict[Group, dict[str, int]] = field(default_factory=dict)

    def total(self, what: str) -> int:
        return sum(c[what] for c in self.counts.values())

    def as_json(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "filesRead": len(self.files),
                "added": self.total("added"), "changed": self.total("changed"),
                "unchanged": self.total("unchanged"), "duplicates": self.duplicates,
                "modules": [{"tenantId": t, "locale": lo, "module": m, **c}
                            for (t, lo, m), c in sorted(self.counts.items())]}


def read_files(paths: list[Path], default_tenant: str | None) -> tuple[list[str], list[loc.Message], int]:
    """Files (a folder: its *.json, sorted) as messages; a later message for the same identity wins."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.json") if f.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise InvalidInput("FILE_NOT_FOUND", f"{p}: no such file or folder", {"path": str(p)})
    if not files:
        raise InvalidInput("NO_MESSAGES", "no .json localization file found", {"paths": [str(p) for p in paths]})
    found: dict[tuple[str, str, str, str], loc.Message] = {}
    repeated = 0
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidInput("INVALID_JSON", f"{f}: not JSON ({err})", {"file": str(f)}) from None
        for m in loc.parse_upsert(doc, str(f), default_tenant):
            repeated += m.key in found
            found[m.key] = m
    return [str(f) for f in files], list(found.values()), repeated


def _check_tenants(app: "App", messages: list[loc.Message]) -> None:
    state = app.state_tenant
    for t in sorted({m.tenant_id for m in messages}):
        if state and t != loc.DEFAULT_TENANT and state_of(t) != state:
            raise InvalidInput("INVALID_TENANTID", f"tenant {t} is not of this store's state {state}",
                               {"tenantId": t})


def _auth_tenant(app: "App", tenant: str) -> str:
    return (app.state_tenant or tenant) if tenant == loc.DEFAULT_TENANT else tenant


def upsert(app: "App", ctx: "RequestContext", paths: list[Path], *, tenant: str | None = None,
           dry_run: bool = False) -> UpsertReport:
    files, messages, repeated = read_files(paths, tenant or app.state_tenant)
    report = upsert_messages(app, ctx, messages, dry_run=dry_run, files=files)
    report.duplicates = repeated
    return report


def upsert_messages(app: "App", ctx: "RequestContext", messages: list[loc.Message], *, dry_run: bool = False,
                    files: list[str] | None = None) -> UpsertReport:
    _check_tenants(app, messages)
    for t in sorted({m.tenant_id for m in messages}):
        authorize(app, ctx, UPSERT_URL, _auth_tenant(app, t))
    report = UpsertReport(dry_run, files or [])
    groups: dict[Group, list[loc.Message]] = defaultdict(list)
    for m in messages:
        groups[(m.tenant_id, m.locale, m.module)].append(m)
    now = ctx.now()
    with app.uow(ctx) as uow:
        for group, items in sorted(groups.items()):
            report.counts[group] = _upsert_group(uow, group, items, now, dry_run)
        if not dry_run:
            if any(c["added"] or c["changed"] for c in report.counts.values()):
                _bump(uow)
            uow.commit()
    return report


def _upsert_group(uow: "UnitOfWork", group: Group, items: list[loc.Message], now: Any, dry_run: bool) -> dict[str, int]:
    tenant, locale, module = group
    conn = uow.session.connection()
    t = LM.__table__
    have = dict(conn.execute(select(t.c.code, t.c.message).where(
        t.c.tenant_id == tenant, t.c.locale == locale, t.c.module == module)).all())
    added = [m for m in items if m.code not in have]
    changed = [m for m in items if m.code in have and have[m.code] != m.message]
    counts = {"added": len(added), "changed": len(changed), "unchanged": len(items) - len(added) - len(changed)}
    if dry_run or not (added or changed):
        return counts
    who = uow.ctx.actor.uuid
    if added:
        conn.execute(t.insert(), [dict(tenant_id=tenant, locale=locale, module=module, code=m.code, message=m.message,
                                       created_by=who, created_at=now, updated_at=now) for m in added])
    for m in changed:
        conn.execute(update(t).where(t.c.tenant_id == tenant, t.c.locale == locale, t.c.module == module,
                                     t.c.code == m.code).values(message=m.message, updated_at=now))
    uow.record(Event("localization.messages.upserted", tenant, "LocalizationModule", f"{tenant}:{locale}:{module}",
                     UPSERT_URL, {"tenantId": tenant, "messages": [m.as_json() for m in added + changed]},
                     before={"changed": {m.code: have[m.code] for m in changed}},
                     after={"added": len(added), "changed": len(changed)}))
    return counts


def _bump(uow: "UnitOfWork") -> None:
    uow.set_meta(VERSION_META, str(uuid.uuid4()))


def search(app: "App", ctx: "RequestContext", *, locale: str, tenant: str, module: str | None = None,
           codes: list[str] | None = None) -> dict[str, Any]:
    """DIGIT's `_search` response {"messages": [...]}: the locale's messages along the tenant's
    hierarchy (the most specific winning), filtered by module(s) (comma separated) and codes,
    sorted by code."""
    loc.check_locale(locale)
    loc.check_tenant(tenant)
    authorize(app, ctx, SEARCH_URL, _auth_tenant(app, tenant))
    modules = {m for m in (module or "").split(",") if m}
    wanted = set(codes or [])
    found = loc.resolve(stored_rows(app, locale, loc.tenant_hierarchy(tenant)), tenant).values()
    out = [m.as_json() for m in found
           if (not modules or m.module in modules) and (not wanted or m.code in wanted)]
    return {"messages": sorted(out, key=lambda m: (m["code"], m["module"]))}


def delete(app: "App", ctx: "RequestContext", *, tenant: str, items: list[tuple[str, str, str]]) -> dict[str, Any]:
    """DIGIT's `_delete` ({"tenantId", "messages": [{code, module, locale}]}): the tenant's own
    rows only (a state's message is not deleted through a city). `items`: (locale, module, code)."""
    loc.check_tenant(tenant)
    for locale, module, _code in items:
        loc.check_locale(locale)
        loc.check_module(module)
    authorize(app, ctx, DELETE_URL, _auth_tenant(app, tenant))
    t = LM.__table__
    by_group: dict[tuple[str, str], list[str]] = defaultdict(list)
    for locale, module, code in items:
        by_group[(locale, module)].append(code)
    deleted = 0
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        for (locale, module), codes in sorted(by_group.items()):
            where = (t.c.tenant_id == tenant, t.c.locale == locale, t.c.module == module, t.c.code.in_(codes))
            gone = dict(conn.execute(select(t.c.code, t.c.message).where(*where)).all())
            if not gone:
                continue
            conn.execute(sql_delete(t).where(*where))
            deleted += len(gone)
            uow.record(Event("localization.messages.deleted", tenant, "LocalizationModule",
                             f"{tenant}:{locale}:{module}", DELETE_URL,
                             {"tenantId": tenant, "messages": [{"code": c, "module": module, "locale": locale}
                                                               for c in sorted(gone)]},
                             before={"messages": gone}, after=None))
        if deleted:
            _bump(uow)
            uow.commit()
    return {"successful": True, "deleted": deleted}


def export(app: "App", ctx: "RequestContext", *, tenant: str, locale: str | None = None,
           module: str | None = None) -> dict[str, Any]:
    """An `_upsert` body of the messages the tenant itself holds (no fallback): exported, it
    upserts back unchanged."""
    loc.check_tenant(tenant)
    if locale:
        loc.check_locale(locale)
    authorize(app, ctx, SEARCH_URL, _auth_tenant(app, tenant))
    t = LM.__table__
    q = select(t.c.code, t.c.message, t.c.module, t.c.locale).where(t.c.tenant_id == tenant)
    if locale:
        q = q.where(t.c.locale == locale)
    if module:
        q = q.where(t.c.module.in_(module.split(",")))
    with app.uow(ctx, readonly=True) as uow:
        rows = uow.session.connection().execute(q.order_by(t.c.locale, t.c.module, t.c.code)).all()
    return {"tenantId": tenant, "messages": [dict(r._mapping) for r in rows]}


def missing(app: "App", ctx: "RequestContext", *, locale: str, tenant: str | None = None,
            module: str | None = None) -> dict[str, Any]:
    """The en_IN codes of the shipped modules (those of configs/localization, or `module`) that
    `locale` has no message for, in the bundled files or the store along the tenant's hierarchy."""
    loc.check_locale(locale)
    tenant = tenant or app.state_tenant or loc.DEFAULT_TENANT
    authorize(app, ctx, SEARCH_URL, _auth_tenant(app, tenant))
    modules = set(module.split(",")) if module else {m.module for m in bundled()}
    chain = loc.tenant_hierarchy(tenant)

    def codes(lang: str) -> dict[tuple[str, str], str]:
        rows = [m for m in bundled() if m.locale == lang] + stored_rows(app, lang, chain)
        return {k: m.message for k, m in loc.resolve(rows, tenant).items() if k[0] in modules}

    english, have = codes(loc.ENGLISH), codes(locale)
    lacking = sorted(k for k in english if k not in have)
    per_module: dict[str, int] = defaultdict(int)
    for mod, _ in lacking:
        per_module[mod] += 1
    return {"locale": locale, "tenantId": tenant, "modules": sorted(modules),
            "counts": {m: per_module.get(m, 0) for m in sorted(modules)},
            "missing": [{"module": mod, "code": code, "message": english[(mod, code)]} for mod, code in lacking]}
