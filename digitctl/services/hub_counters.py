"""The hub operator's side of enrolment (sync/PROTOCOL.md "Operator side"): enrol a counter (the
state's next free counter code and a one-time enrolment code), list counters with how far behind
they are, revoke one (a stolen PC). Each runs as a logged-in user through the one access check
(`/digitctl/hub/...`, digitctl's own actions: reserved to SUPERUSER, as every /digitctl/ URL) and
each change is one unit of work with its outbox event and audit record.

The enrolment code is shown once and kept only as its sha256; it expires 24 h after enrolment on
the App's clock."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from digitctl.domain.events import Event
from digitctl.domain.tenancy import state_of
from digitctl.errors import InvalidInput, NotFound
from digitctl.services.access import authorize
from local_store.models import HubCounter, HubEvent

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

ENROL_ACTION = "/digitctl/hub/counters/_enrol"
SEARCH_ACTION = "/digitctl/hub/counters/_search"
REVOKE_ACTION = "/digitctl/hub/counters/_revoke"
RECONCILE_ACTION = "/digitctl/hub/_reconcile"
ENROLMENT_TTL = dt.timedelta(hours=24)
CODE_RE = re.compile(r"^C(\d+)$")
OPEN_STATUSES = ("parked", "waiting")
SKEW_FLAG_MS = 5 * 60 * 1000          # a counter clock more than 5 minutes off is flagged (issue 12)


def enrolment_hash(code: str) -> str:
    """What the hub keeps of an enrolment code (the code itself is shown once)."""
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def new_enrolment_code() -> str:
    """A one-time code a person can type: 4 groups of 4 base32 letters (80 bits)."""
    import base64

    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii")
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def next_code(used: set[str]) -> str:
    """The state's next free counter code: the lowest C01, C02 ... no counter has had."""
    taken = {int(m.group(1)) for c in used if (m := CODE_RE.match(c))}
    n = 1
    while n in taken:
        n += 1
    return f"C{n:02d}"


def _known_tenant(app: "App", tenant_id: str) -> None:
    for rec in app.mdms.master(state_of(tenant_id), "tenant", "tenants"):
        if isinstance(rec, dict) and rec.get("code") == tenant_id:
            return
    raise InvalidInput("INVALID_TENANTID", f"tenant {tenant_id!r} is not in the hub's tenant.tenants master",
                       {"tenantId": tenant_id})


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat() if value is not None else None


def enrol(app: "App", ctx: "RequestContext", tenant_id: str, name: str) -> dict[str, Any]:
    """Assign the next free counter code for a counter at `tenant_id` and make its one-time
    enrolment code: {"counterCode", "enrolmentCode", "expiresAt"}."""
    authorize(app, ctx, ENROL_ACTION, tenant_id)
    name = (name or "").strip()
    if not name or len(name) > 256:
        raise InvalidInput("INVALID_COUNTER_NAME", "a counter needs a name of 1..256 characters", {"name": name})
    _known_tenant(app, tenant_id)
    enrolment = new_enrolment_code()
    now = ctx.now()
    expires = (now + ENROLMENT_TTL).replace(microsecond=0)
    with app.uow(ctx) as uow:
        used = set(uow.session.execute(select(HubCounter.code)).scalars())
        own = uow.meta("counter_code")            # the hub store's own code is never handed out
        code = next_code(used | ({own} if own else set()))
        uow.session.add(HubCounter(code=code, tenant_id=tenant_id, name=name, enrolment_hash=enrolment_hash(enrolment),
                                   enrolment_expires_at=expires, enrolled_at=now, enrolled_by=ctx.actor.uuid,
                                   last_seq=0))
        after = {"counterCode": code, "tenantId": tenant_id, "name": name, "expiresAt": _iso(expires)}
        uow.record(Event("hub.counter.enrolled", tenant_id, "HubCounter", code, ENROL_ACTION, after, after=after))
        uow.commit()
    return {"counterCode": code, "enrolmentCode": enrolment, "expiresAt": _iso(expires)}


def revoke(app: "App", ctx: "RequestContext", code: str) -> dict[str, Any]:
    """Refuse every push of this counter from now on (its key is no longer trusted)."""
    authorize(app, ctx, REVOKE_ACTION, app.state_tenant or ctx.tenant_id)
    with app.uow(ctx) as uow:
        row = uow.session.get(HubCounter, code, with_for_update=True)
        if row is None:
            raise NotFound("SYNC_COUNTER_NOT_FOUND", f"no counter {code!r} was enrolled at this hub",
                           {"counterCode": code})
        authorize(app, ctx, REVOKE_ACTION, row.tenant_id)
        if row.revoked_at is None:
            before = {"revokedAt": None}
            row.revoked_at = ctx.now()          # an unused enrolment code dies with it (SYNC_COUNTER_REVOKED)
            after = {"revokedAt": _iso(row.revoked_at)}
            uow.record(Event("hub.counter.revoked", row.tenant_id, "HubCounter", code, REVOKE_ACTION,
                             {"counterCode": code, **after}, before=before, after=after))
            uow.commit()
        return {"counterCode": code, "tenantId": row.tenant_id, "revokedAt": _iso(row.revoked_at)}


def counters(app: "App", ctx: "RequestContext", tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Every enrolled counter: last seen, last sequence received, lag (the counter's own last
    sequence, as its last push said, minus what the hub holds), parked events, clock skew."""
    authorize(app, ctx, SEARCH_ACTION, tenant_id or ctx.tenant_id or app.state_tenant)
    with app.store.readonly_engine.connect() as conn:
        stmt = select(HubCounter).order_by(HubCounter.code)
        if tenant_id:
            stmt = stmt.where(HubCounter.tenant_id == tenant_id)
        rows = conn.execute(stmt).all()
        parked = dict(conn.execute(select(HubEvent.counter_code, func.count()).where(
            HubEvent.status.in_(OPEN_STATUSES)).group_by(HubEvent.counter_code)).all())
    return [counter_doc(r, int(parked.get(r.code, 0))) for r in rows]


def counter_head_seq(audit_head: Any) -> int | None:
    """The counter's own last sequence as its last push said (`headSeq`), kept with the audit head."""
    if isinstance(audit_head, dict) and isinstance(audit_head.get("counterHeadSeq"), int):
        return int(audit_head["counterHeadSeq"])
    return None


def lag_of(last_seq: int, audit_head: Any) -> int:
    head = counter_head_seq(audit_head)
    return max(0, head - last_seq) if head is not None else 0


def counter_doc(r: Any, parked: int) -> dict[str, Any]:
    state = "revoked" if r.revoked_at else "flagged" if r.flagged else \
        "registered" if r.registered_at else "enrolled"
    return {"counterCode": r.code, "tenantId": r.tenant_id, "name": r.name, "lastSeen": _iso(r.last_seen),
            "lastSequence": int(r.last_seq or 0), "lag": lag_of(int(r.last_seq or 0), r.audit_head),
            "parked": parked, "clockSkewMs": r.clock_skew_ms,
            "clockSkewFlagged": r.clock_skew_ms is not None and abs(int(r.clock_skew_ms)) > SKEW_FLAG_MS,
            "status": state, "flagged": r.flagged}
