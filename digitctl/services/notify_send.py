"""Delivering the queued notifications, each at most once to the provider's knowledge.

Per attempt: (1) the row is claimed `sending` with its attempt counted and committed (the send
intent), (2) the sender is called with the row's idempotency key, (3) the outcome is committed:
`sent` with the provider's message id, else `failed` with a backoff, `dead` after
DIGIT_NOTIFY_MAX_ATTEMPTS. Within one pass a transient failure is retried with stamina's
exponential backoff. A run that finds rows left `sending` (the notifier was killed mid-send)
sends them again only through an idempotent sender (the gateway drops the repeat key, the file
sink keeps its file); one that went to SMTP may have been delivered, so it is parked `dead`
for an operator's `notify retry`. One notifier runs per store."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from digitctl.domain import notify_rules as rules
from digitctl.domain.events import Event
from digitctl.errors import InvalidInput, NotFound
from digitctl.services.access import authorize
from digitctl.services.notify import CURSOR, RETRY_URL, RUN_URL, STATUS_URL, UNRESOLVED
from digitctl.services.notify_senders import Outgoing, Sender, SendFailed
from local_store.models import OutboxEvent
from local_store.models_notify import Notification

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

INTERRUPTED = "NOTIFY_INTERRUPTED: the notifier stopped while sending; it may have been delivered (notify retry ID sends it again)"


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 5
    backoff_seconds: float = 60.0       # between passes: 60 s, 2 min, 4 min ... (capped at 1 h)
    tries_per_pass: int = 3             # stamina's quick retries of a transient failure
    retry_wait: float = 0.5             # stamina's first wait (s), doubling, jittered

    @classmethod
    def from_settings(cls, env: Any = None) -> "Policy":
        env = os.environ if env is None else env
        try:
            return cls(max_attempts=int(env.get("DIGIT_NOTIFY_MAX_ATTEMPTS") or 5),
                       backoff_seconds=float(env.get("DIGIT_NOTIFY_BACKOFF") or 60),
                       tries_per_pass=int(env.get("DIGIT_NOTIFY_TRIES_PER_PASS") or 3),
                       retry_wait=float(env.get("DIGIT_NOTIFY_RETRY_WAIT") or 0.5))
        except ValueError as err:
            raise InvalidInput("INVALID_NOTIFY_CONFIG", f"notification retry settings: {err}") from None


def _claim(app: "App", ctx: "RequestContext", row_id: int, sender: Sender) -> Outgoing | None:
    """The send intent, committed before the provider is called; None if another took it."""
    n = Notification.__table__
    now = ctx.now()
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        took = conn.execute(update(n).where(n.c.id == row_id, n.c.status.in_(("queued", "failed")))
                            .values(status="sending", attempts=n.c.attempts + 1, provider=sender.name,
                                    updated_at=now))
        if took.rowcount != 1:
            return None
        row = conn.execute(select(n).where(n.c.id == row_id)).one()
        ring = app.keyring
        msg = Outgoing(channel=row.channel, address=ring.decrypt(uow, row.address_enc),
                       subject=ring.decrypt(uow, row.subject_enc) if row.subject_enc else "",
                       body=ring.decrypt(uow, row.body_enc), key=row.idempotency_key,
                       category="OTP" if row.event_type == "notification.sms" else "NOTIFICATION")
        uow.commit()
    return msg


def _outcome(app: "App", ctx: "RequestContext", row_id: int, policy: Policy, *, message_id: str | None = None,
             error: SendFailed | None = None) -> str:
    n = Notification.__table__
    now = ctx.now()
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        attempts = conn.execute(select(n.c.attempts).where(n.c.id == row_id)).scalar_one()
        if error is None:
            values: dict[str, Any] = dict(status="sent", provider_message_id=(message_id or "")[:128], sent_at=now,
                                          last_error=None)
        else:
            dead = attempts >= policy.max_attempts or not error.transient
            values = dict(status="dead" if dead else "failed", last_error=error.reason[:500],
                          next_attempt_at=None if dead else rules.next_attempt(now, attempts, policy.backoff_seconds))
        conn.execute(update(n).where(n.c.id == row_id).values(updated_at=now, **values))
        uow.commit()
    return str(values["status"])


def deliver(app: "App", ctx: "RequestContext", row_id: int, sender: Sender, policy: Policy) -> str:
    """Up to `tries_per_pass` attempts now; the row's status after them."""
    import stamina

    status = "skipped"
    try:
        for attempt in stamina.retry_context(on=lambda e: isinstance(e, SendFailed) and e.transient,
                                             attempts=max(1, policy.tries_per_pass), timeout=None,
                                             wait_initial=policy.retry_wait, wait_max=max(policy.retry_wait, 5.0),
                                             wait_jitter=policy.retry_wait):
            with attempt:
                msg = _claim(app, ctx, row_id, sender)
                if msg is None:
                    return status
                try:
                    message_id = sender.send(msg)
                except SendFailed as err:
                    status = _outcome(app, ctx, row_id, policy, error=err)
                    if status == "failed":
                        raise
                    return status
                return _outcome(app, ctx, row_id, policy, message_id=message_id)
    except SendFailed:
        pass
    return status


def recover(app: "App", ctx: "RequestContext", senders: dict[str, Sender]) -> dict[str, int]:
    """Rows a killed notifier left `sending`: again through an idempotent sender, else dead."""
    n = Notification.__table__
    out = {"resent": 0, "parked": 0}
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        for row in conn.execute(select(n.c.id, n.c.channel).where(n.c.status == "sending")).all():
            sender = senders.get(row.channel)
            again = sender is not None and sender.idempotent
            conn.execute(update(n).where(n.c.id == row.id).values(
                status="failed" if again else "dead", next_attempt_at=ctx.now() if again else None,
                last_error=None if again else INTERRUPTED, updated_at=ctx.now()))
            out["resent" if again else "parked"] += 1
        uow.commit()
    return out


def _claim_many(app: "App", ctx: "RequestContext", ids: list[int], sender: Sender) -> list[tuple[int, Outgoing]]:
    """The send intents of a batch in one transaction: only for an idempotent sender, whose
    repeat of a key after a crash delivers nothing twice."""
    n = Notification.__table__
    now = ctx.now()
    out = []
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        rows = conn.execute(select(n).where(n.c.id.in_(ids), n.c.status.in_(("queued", "failed")))
                            .order_by(n.c.id)).all()
        if not rows:
            return []
        conn.execute(update(n).where(n.c.id.in_([r.id for r in rows]))
                     .values(status="sending", attempts=n.c.attempts + 1, provider=sender.name, updated_at=now))
        ring = app.keyring
        for r in rows:
            out.append((r.id, Outgoing(channel=r.channel, address=ring.decrypt(uow, r.address_enc),
                                       subject=ring.decrypt(uow, r.subject_enc) if r.subject_enc else "",
                                       body=ring.decrypt(uow, r.body_enc), key=r.idempotency_key,
                                       category="OTP" if r.event_type == "notification.sms" else "NOTIFICATION")))
        uow.commit()
    return out


def _outcomes(app: "App", ctx: "RequestContext", results: list[tuple[int, str | None, SendFailed | None]],
              policy: Policy) -> dict[int, str]:
    """The outcomes of a batch in one transaction."""
    n = Notification.__table__
    now = ctx.now()
    out: dict[int, str] = {}
    with app.uow(ctx) as uow:
        conn = uow.session.connection()
        attempts = dict(conn.execute(select(n.c.id, n.c.attempts).where(n.c.id.in_([r[0] for r in results]))).all())
        for row_id, message_id, error in results:
            if error is None:
                values: dict[str, Any] = dict(status="sent", provider_message_id=(message_id or "")[:128],
                                              sent_at=now, last_error=None)
            else:
                dead = attempts[row_id] >= policy.max_attempts or not error.transient
                values = dict(status="dead" if dead else "failed", last_error=error.reason[:500],
                              next_attempt_at=None if dead else rules.next_attempt(now, attempts[row_id],
                                                                                   policy.backoff_seconds))
            conn.execute(update(n).where(n.c.id == row_id).values(updated_at=now, **values))
            out[row_id] = str(values["status"])
        uow.commit()
    return out


def _deliver_batch(app: "App", ctx: "RequestContext", ids: list[int], sender: Sender, policy: Policy,
                   counts: dict[str, int]) -> None:
    results: list[tuple[int, str | None, SendFailed | None]] = []
    for row_id, msg in _claim_many(app, ctx, ids, sender):
        try:
            results.append((row_id, sender.send(msg), None))
        except SendFailed as err:
            results.append((row_id, None, err))
    if not results:
        return
    for row_id, status in _outcomes(app, ctx, results, policy).items():
        if status == "failed" and policy.tries_per_pass > 1:      # the quick retries, one by one
            status = deliver(app, ctx, row_id, sender, replace(policy, tries_per_pass=policy.tries_per_pass - 1))
        counts[status] = counts.get(status, 0) + 1


BATCH = 50


def send_due(app: "App", ctx: "RequestContext", senders: dict[str, Sender], policy: Policy,
             *, limit: int = 1000) -> dict[str, int]:
    """Every queued / failed notification whose time has come and whose channel has a sender:
    through an idempotent sender in batches (one intent and one outcome transaction per 50),
    else one by one (the intent committed alone before each send)."""
    n = Notification.__table__
    counts: dict[str, int] = {}
    with app.uow(ctx, readonly=True) as uow:
        due = uow.session.connection().execute(select(n.c.id, n.c.channel).where(
            n.c.status.in_(("queued", "failed")), n.c.channel.in_(list(senders)),
            (n.c.next_attempt_at.is_(None)) | (n.c.next_attempt_at <= ctx.now())).order_by(n.c.id).limit(limit)).all()
    pending: dict[str, list[int]] = {}
    for row in due:
        sender = senders[row.channel]
        if not sender.idempotent:
            status = deliver(app, ctx, row.id, sender, policy)
            counts[status] = counts.get(status, 0) + 1
            continue
        batch = pending.setdefault(row.channel, [])
        batch.append(row.id)
        if len(batch) >= BATCH:
            _deliver_batch(app, ctx, batch, sender, policy, counts)
            pending[row.channel] = []
    for channel, batch in pending.items():
        if batch:
            _deliver_batch(app, ctx, batch, senders[channel], policy, counts)
    return counts


def run_once(app: "App", ctx: "RequestContext", senders: dict[str, Sender], policy: Policy,
             *, recover_first: bool = True) -> dict[str, Any]:
    """One pass: compose what the outbox holds since the cursor, then send what is due."""
    from digitctl.services import notify

    authorize(app, ctx, RUN_URL, app.state_tenant)
    recovered = recover(app, ctx, senders) if recover_first else {"resent": 0, "parked": 0}
    queued = 0
    while True:
        got = notify.plan(app, ctx)
        queued += got
        if not got and not _backlog(app, ctx):
            break
    sent = send_due(app, ctx, senders, policy)
    return {"queued": queued, "recovered": recovered, "attempted": sent,
            "channelsWithoutSender": sorted(set(rules.CHANNELS) - set(senders))}


def _backlog(app: "App", ctx: "RequestContext") -> int:
    with app.uow(ctx, readonly=True) as uow:
        cursor = int(uow.meta(CURSOR) or 0)
        return int(uow.session.execute(select(func.count()).select_from(OutboxEvent)
                                       .where(OutboxEvent.seq > cursor)).scalar_one())


def status(app: "App", ctx: "RequestContext", *, limit: int = 50) -> dict[str, Any]:
    """Counts per status, the outbox events not read yet, and the failed / dead ones (masked)."""
    authorize(app, ctx, STATUS_URL, app.state_tenant)
    n = Notification.__table__
    with app.uow(ctx, readonly=True) as uow:
        conn = uow.session.connection()
        counts: dict[str, int] = dict(conn.execute(select(n.c.status, func.count()).group_by(n.c.status)).all())
        rows = conn.execute(select(n).where(n.c.status.in_(("failed", "dead", "sending")))
                            .order_by(n.c.id).limit(limit)).all()
        listed = [{"id": r.id, "eventId": r.event_id, "eventType": r.event_type, "channel": r.channel,
                   "recipient": r.recipient, "to": rules.masked_address(r.channel, app.keyring.decrypt(uow, r.address_enc)) if r.channel != UNRESOLVED else None,
                   "status": r.status, "attempts": r.attempts, "lastError": r.last_error,
                   "nextAttemptAt": r.next_attempt_at.isoformat() if r.next_attempt_at else None} for r in rows]
    doc: dict[str, Any] = {s: int(counts.get(s, 0)) for s in rules.STATUSES}
    doc.update(unread=_backlog(app, ctx), Notifications=listed)
    return doc


def retry(app: "App", ctx: "RequestContext", row_id: int, senders: dict[str, Sender], policy: Policy) -> dict[str, Any]:
    """A failed or dead notification back in the queue with its attempts reset, and sent now
    (same idempotency key: a gateway that had it delivers nothing twice)."""
    authorize(app, ctx, RETRY_URL, app.state_tenant)
    n = Notification.__table__
    with app.uow(ctx) as uow:
        row = uow.session.get(Notification, row_id)
        if row is None:
            raise NotFound("NOTIFICATION_NOT_FOUND", f"no notification {row_id}", {"id": row_id})
        if row.channel == UNRESOLVED:
            raise InvalidInput("NOTIFICATION_NOT_RETRYABLE", f"notification {row_id} could not be composed "
                               f"({row.last_error}): there is nothing to send", {"id": row_id})
        if row.status not in ("failed", "dead"):
            raise InvalidInput("NOTIFICATION_NOT_RETRYABLE", f"notification {row_id} is {row.status}; only failed "
                               "or dead ones are retried", {"id": row_id, "status": row.status})
        before = {"status": row.status, "attempts": row.attempts}
        uow.session.execute(update(n).where(n.c.id == row_id).values(status="queued", attempts=0, next_attempt_at=None,
                                                                     last_error=None, updated_at=ctx.now()))
        uow.record(Event("notification.retried", row.tenant_id, "Notification", str(row_id), RETRY_URL,
                         {"id": row_id, "eventId": row.event_id, "channel": row.channel}, before=before,
                         after={"status": "queued", "attempts": 0}))
        channel = row.channel
        uow.commit()
    sender = senders.get(channel)
    result = deliver(app, ctx, row_id, sender, policy) if sender is not None else "queued"
    return {"id": row_id, "channel": channel, "status": result}
