"""The single access check every service operation passes through (DIGIT's gateway rule).

A request is allowed when one of the actor's roles *for the request's tenant or its state*
maps, through ACCESSCONTROL-ROLEACTIONS, to an action of ACCESSCONTROL-ACTIONS-TEST whose `url`
equals the operation's URL or matches it with each `{param}` as a wildcard. Role-actions and
actions are read at the state, as egov-accesscontrol's MdmsRepository does. `enabled` on an action only means "show in
menus" and is ignored. Operations of digitctl's own that DIGIT's action master does not know
(e.g. /digitctl/audit/_verify) are reserved to SUPERUSER. The local SYSTEM administrator acts
only while a store has no users (init, the first MDMS apply)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from digitctl.context import SYSTEM_ACTOR
from digitctl.domain.tenancy import state_of
from digitctl.errors import Forbidden, InvalidInput, Unauthenticated
from digitctl.ports import Authorizer

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import Actor, RequestContext

RESERVED_ROLE = "SUPERUSER"
# Endpoints DIGIT's gateway (zuul) lets through without a login.
OPEN_ENDPOINTS = frozenset({"/user-otp/v1/_send", "/otp/v1/_validate", "/user/oauth/token"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    action_url: str
    tenant_id: str
    reason: str
    role: tuple[str, str] | None = None           # (code, tenantId) that granted it
    action_id: str | None = None
    matched_url: str | None = None
    roles_considered: list[tuple[str, str]] = field(default_factory=list)
    roles_that_would_grant: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "action": self.action_url, "tenantId": self.tenant_id,
                "reason": self.reason,
                "grantedBy": {"role": self.role[0], "roleTenantId": self.role[1], "actionId": self.action_id,
                              "actionUrl": self.matched_url} if self.role else None,
                "rolesConsidered": [{"code": c, "tenantId": t} for c, t in self.roles_considered],
                "rolesThatWouldGrant": self.roles_that_would_grant}


@dataclass
class _Index:
    exact: dict[str, list[str]]                      # url -> action ids
    templates: list[tuple[re.Pattern[str], str, list[str]]]
    roles_by_action: dict[str, set[str]]


def _template(url: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]*\})", url)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


class RoleActionAuthorizer:
    def __init__(self, app: "App") -> None:
        self.app = app
        self._cache: dict[tuple[int, int], _Index] = {}

    def _index(self, tenant_id: str) -> _Index:
        # egov-accesscontrol reads role-actions and actions at the STATE (MdmsRepository): a
        # city's own ACCESSCONTROL-ROLEACTIONS file (pb.amritsar has one) is never consulted
        role_actions, actions = self.app.mdms.masters(state_of(tenant_id), [
            ("ACCESSCONTROL-ROLEACTIONS", "roleactions"), ("ACCESSCONTROL-ACTIONS-TEST", "actions-test")])
        key = (id(role_actions), id(actions))
        idx = self._cache.get(key)
        if idx is None:
            exact: dict[str, list[str]] = {}
            for a in actions:
                if isinstance(a, dict) and isinstance(a.get("url"), str):
                    exact.setdefault(a["url"].strip(), []).append(str(a.get("id")))
            templates = [(_template(u), u, ids) for u, ids in exact.items() if "{" in u]
            roles: dict[str, set[str]] = {}
            for ra in role_actions:
                if isinstance(ra, dict) and ra.get("rolecode"):
                    roles.setdefault(str(ra.get("actionid")), set()).add(str(ra["rolecode"]))
            idx = _Index(exact, templates, roles)
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = idx
        return idx

    def decide(self, actor: "Actor", action_url: str, tenant_id: str) -> Decision:
        state = state_of(tenant_id)
        eligible = [(r.code, r.tenant_id) for r in actor.roles if r.tenant_id in (tenant_id, state, "*")]
        idx = self._index(tenant_id)
        matches: list[tuple[str, str]] = [(url, i) for i in idx.exact.get(action_url, []) for url in [action_url]]
        if not matches:
            matches = [(u, i) for rx, u, ids in idx.templates if rx.match(action_url) for i in ids]
        if not matches:
            for code, t in eligible:
                if code == RESERVED_ROLE:
                    return Decision(True, action_url, tenant_id,
                                    "not a DIGIT action URL; digitctl reserves it to SUPERUSER",
                                    role=(code, t), roles_considered=eligible)
            return Decision(False, action_url, tenant_id,
                            f"{action_url} is not in ACCESSCONTROL-ACTIONS-TEST; only {RESERVED_ROLE} may use it",
                            roles_considered=eligible, roles_that_would_grant=[RESERVED_ROLE])
        granting: set[str] = set()
        for url, aid in matches:
            granting |= idx.roles_by_action.get(aid, set())
            for code, t in eligible:
                if code in idx.roles_by_action.get(aid, set()):
                    return Decision(True, action_url, tenant_id, f"role {code}@{t} has action {aid} ({url})",
                                    role=(code, t), action_id=aid, matched_url=url, roles_considered=eligible)
        held = ", ".join(f"{c}@{t}" for c, t in eligible) or "no role"
        other = [f"{r.code}@{r.tenant_id}" for r in actor.roles if (r.code, r.tenant_id) not in eligible]
        return Decision(False, action_url, tenant_id,
                        f"{actor.user_name} holds {held} at {tenant_id}"
                        + (f" (and {', '.join(other)} elsewhere)" if other else "")
                        + f"; none maps to {action_url}",
                        roles_considered=eligible, roles_that_would_grant=sorted(r for r in granting if r))

    def authorize(self, ctx: "RequestContext", action_url: str, tenant_id: str | None) -> None:
        actor = ctx.actor
        if actor.uuid == SYSTEM_ACTOR.uuid and actor.type == "SYSTEM":
            return
        if action_url in OPEN_ENDPOINTS:
            return
        if actor.type == "ANONYMOUS":
            raise Unauthenticated("NOT_LOGGED_IN", "log in first: digitctl login --username U",
                                  {"action": action_url})
        tenant = tenant_id or ctx.tenant_id or self.app.state_tenant or "*"
        if tenant not in {r.tenant_id for r in actor.roles}:
            # a typo in --tenant is not a missing role (asked only away from the actor's own tenants)
            self._require_known_tenant(tenant)
        decision = self.decide(actor, action_url, tenant)
        if not decision.allowed:
            raise Forbidden("ACCESS_DENIED", f"Not authorized: {decision.reason}",
                            {"action": action_url, "tenantId": tenant, "user": actor.user_name,
                             "rolesThatWouldGrant": decision.roles_that_would_grant[:10]})


    def _require_known_tenant(self, tenant: str) -> None:
        """INVALID_TENANTID when the state's tenant.tenants master is loaded and does not name `tenant`."""
        if tenant == "*":
            return
        tenants = self.app.mdms.master(state_of(tenant), "tenant", "tenants")
        codes = {t.get("code") for t in tenants if isinstance(t, dict)}
        if codes and tenant not in codes and tenant != self.app.state_tenant:
            raise InvalidInput("INVALID_TENANTID", f"no tenant {tenant!r}: it is not in the tenant.tenants master "
                               "(digitctl tenant list shows the tenants)", {"tenantId": tenant})


def default_authorizer(app: "App") -> Authorizer:
    return RoleActionAuthorizer(app)


def authorize(app: "App", ctx: "RequestContext", action_url: str, tenant_id: str | None) -> None:
    app.authorizer.authorize(ctx, action_url, tenant_id)
