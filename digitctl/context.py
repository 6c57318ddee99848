"""Who acts, for which tenant, at what time: DIGIT's RequestInfo with an injectable clock."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from digitctl.clock import Clock, SystemClock


@dataclass(frozen=True)
class Role:
    code: str
    tenant_id: str
    name: str | None = None


@dataclass(frozen=True)
class Actor:
    """The user behind a request. `SYSTEM_ACTOR` is the local administrator of a store
    before any user exists (init, quickstart, mdms apply on a new store)."""

    uuid: str
    user_name: str
    type: str = "SYSTEM"
    roles: tuple[Role, ...] = ()

    def as_user_info(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "userName": self.user_name,
            "type": self.type,
            "roles": [{"code": r.code, "tenantId": r.tenant_id, "name": r.name or r.code} for r in self.roles],
        }


ANONYMOUS_ACTOR = Actor(uuid="anonymous", user_name="(not logged in)", type="ANONYMOUS", roles=())

SYSTEM_ACTOR = Actor(uuid="00000000-0000-0000-0000-000000000000", user_name="digitctl-system",
                     type="SYSTEM", roles=(Role("SUPERUSER", "*"),))


@dataclass(frozen=True)
class RequestContext:
    actor: Actor = SYSTEM_ACTOR
    tenant_id: str | None = None
    clock: Clock = field(default_factory=SystemClock)
    msg_id: str = "digitctl"
    api_id: str = "digitctl"

    def now(self) -> dt.datetime:
        return self.clock.now()

    def for_tenant(self, tenant_id: str | None) -> "RequestContext":
        return replace(self, tenant_id=tenant_id)

    def response_info(self, status: str = "SUCCESSFUL") -> dict[str, Any]:
        """DIGIT's ResponseInfo for a response to this request (status SUCCESSFUL or FAILED)."""
        return {"apiId": self.api_id, "ver": "1.0", "ts": int(self.now().timestamp() * 1000),
                "resMsgId": self.msg_id, "msgId": self.msg_id, "status": status}

    def request_info(self) -> dict[str, Any]:
        """DIGIT's RequestInfo envelope for outgoing payloads."""
        return {
            "apiId": self.api_id,
            "ver": "1.0",
            "ts": int(self.now().timestamp() * 1000),
            "msgId": self.msg_id,
            "userInfo": self.actor.as_user_info(),
        }
