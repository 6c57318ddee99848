"""Who sees PII how, in a store: DIGIT's `DataSecurity` masters read at the state tenant,
records presented to an actor as they may see them, and the audit of every plain-text disclosure.

The rules themselves (SecurityPolicy visibility, the masking patterns run as Java runs them, the
safe default when a store has no masters) are `digitctl.domain.masking`; its names are re-exported
here."""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from digitctl.domain.events import Event
from digitctl.domain.masking import (  # noqa: F401  (re-exported: callers import them from here)
    BUILTIN_PATTERNS, EMAIL, LEVELS, MOBILE, NAME, NONE_VALUE, JavaPattern, Masker, _applies, _locations,
    _segments, digit_mask, guessed_policy, java_to_python, mask, record_id, visible)
from digitctl.domain.tenancy import state_of

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

MODULE = "DataSecurity"
DECRYPT_ACTION = "/egov-enc-service/crypto/v1/_decrypt"


_MASKERS: dict[tuple[str, int, int], tuple[list[Any], list[Any], Masker]] = {}


def masker_for(app: "App", tenant_id: str, conn: "Connection | None" = None) -> Masker:
    """Read the masters at the state tenant (DIGIT keeps DataSecurity state-level); `conn`, inside a
    unit of work, saves a connection. Built once per version of the masters (the reader's cached
    lists are the key, held so that their ids stay theirs)."""
    state = state_of(tenant_id)
    policies = app.mdms.master(state, MODULE, "SecurityPolicy", conn=conn)
    patterns = app.mdms.master(state, MODULE, "MaskingPatterns", conn=conn)
    key = (state, id(policies), id(patterns))
    hit = _MASKERS.get(key)
    if hit is not None and hit[0] is policies and hit[1] is patterns:
        return hit[2]
    if not policies:
        masker = Masker(patterns=Masker.from_masters([], patterns).patterns if patterns else dict(BUILTIN_PATTERNS))
    else:
        masker = Masker.from_masters(policies, patterns, f"{state} {MODULE} masters")
    if len(_MASKERS) > 16:
        _MASKERS.clear()
    _MASKERS[key] = (policies, patterns, masker)
    return masker


def policy_for(app: "App", tenant_id: str, model: str = "User") -> dict[str, Any]:
    return masker_for(app, tenant_id).policy_for(model)


def present(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", model: str,
            record: dict[str, Any], *, plain: bool = False, fields: Iterable[str] | None = None,
            purpose: str | None = None, masker: Masker | None = None) -> dict[str, Any]:
    """A copy of `record` (DIGIT's camelCase JSON) with its PII shown as the actor may see it.

    Values may be plain text or `<keyId>|<base64>` ciphertext (decrypted only when shown).
    `plain` is an explicit "show plain" request (second level), optionally for some `fields`.
    The record's own user sees it plain (DIGIT's `<Model>Self` policy when there is one). Any
    attribute returned in plain text to someone else records a "pii.disclosed" event (which
    attributes, who, why; never the values): in `uow` when it is writable, and the caller must
    commit before showing the result; otherwise in a unit of work of its own, committed here."""
    from digitctl.services.crypto import is_ciphertext, keyring

    tenant = record.get("tenantId") or ctx.tenant_id or (uow.meta("state_tenant") if uow else None)
    state = state_of(tenant) if tenant else None
    # no tenant at all: no masters to read either, so the safe default (everything masked)
    masker = masker or (masker_for(app, state) if state else Masker())
    policy = masker.policy_for(model, record)
    rid = record_id(policy, record)
    own = rid is not None and rid == ctx.actor.uuid and ctx.actor.type != "SYSTEM"
    if own and f"{model}Self" in masker.policies:
        policy = masker.policies[f"{model}Self"]
    roles = {r.code for r in ctx.actor.roles if _applies(r.tenant_id, tenant)}
    wanted = set(fields) if fields is not None else None
    session = uow.session if uow is not None else None
    ring = keyring(app)
    out = copy.deepcopy(record)
    disclosed: list[str] = []
    for attr in policy.get("attributes") or []:
        name = attr.get("name") or attr.get("jsonPath")
        asked = plain and (wanted is None or name in wanted)
        level = "PLAIN" if own else visible(policy, name, roles, plain=asked)
        for container, key in _locations(out, _segments(attr.get("jsonPath") or name)):
            value = container[key]
            if value is None or value == "" or isinstance(value, (dict, list)):
                continue
            value = str(value)
            if level == "ENCRYPTED" and (is_ciphertext(value) or state):
                container[key] = value if is_ciphertext(value) else _encrypt(app, uow, ctx, state or "", value)
                continue
            if level == "NONE":
                container[key] = NONE_VALUE
                continue
            clear = ring.decrypt(session, value) if is_ciphertext(value) else value
            if level == "PLAIN":
                container[key] = clear
                if not own and name not in disclosed:
                    disclosed.append(name)
            else:                                   # MASKED (and ENCRYPTED with no state to key)
                container[key] = masker.mask(clear, attr.get("patternId"))
    if disclosed:
        _record_disclosure(app, uow, ctx, Event(
            "pii.disclosed", tenant or "*", model, rid or "unknown", DECRYPT_ACTION,
            payload := {"model": model, "recordId": rid, "tenantId": tenant,
                        "attributes": disclosed,
                        "actor": {"uuid": ctx.actor.uuid, "userName": ctx.actor.user_name,
                                  "roles": sorted(roles)},
                        "purpose": purpose or ("plainRequest" if plain else "search"),
                        "secondLevel": plain},
            after=payload))
    return out


def present_many(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", model: str,
                 records: Iterable[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """`present` for a list (reads the masters once)."""
    records = list(records)
    if not records:
        return []
    tenant = records[0].get("tenantId") or ctx.tenant_id
    masker = options.pop("masker", None) or (masker_for(app, tenant) if tenant else None)
    return [present(app, uow, ctx, model, r, masker=masker, **options) for r in records]


def _encrypt(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", state: str, value: str) -> str:
    from digitctl.services.crypto import keyring

    if uow is not None and not uow.readonly:
        return keyring(app).encrypt(uow, state, value)
    with app.uow(ctx) as own:
        token = keyring(app).encrypt(own, state, value)
        own.commit()
    return token


def _record_disclosure(app: "App", uow: "UnitOfWork | None", ctx: "RequestContext", event: Event) -> None:
    if uow is not None and not uow.readonly:
        uow.record(event)
        return
    with app.uow(ctx) as own:
        own.record(event)
        own.commit()
