"""Sessions: log in and out, the saved session, who is acting, their home tenant.

One module for every front door (the CLI, the TUI, the hub): nothing here draws or parses a
command line. Passwords are checked against scrypt hashes; 5 failures within 30 minutes lock the
account for 60. A session token is stored only as its hash; the token itself goes to the user's
config directory (mode 0600) or `DIGIT_TOKEN`."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from digitctl.clock import epoch_millis, people_time
from digitctl.context import ANONYMOUS_ACTOR, SYSTEM_ACTOR, Actor
from digitctl.domain.events import Event
from digitctl.domain.identity import LockoutPolicy, verify_password
from digitctl.domain.tenancy import state_of
from digitctl.errors import Forbidden, Unauthenticated
from digitctl.services.users import (PSEUDONYM_PREFIX, actor_of, has_users, holders_of, is_locked, own_user_name,
                                     revoke_sessions)
from digitctl.settings import config_dir, write_private
from local_store.models import LoginAttempt, SessionToken, UserAccount

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

LOGIN_ACTION = "/user/oauth/token"
LOGOUT_ACTION = "/user/_logout"
SESSION_TTL = dt.timedelta(hours=12)      # a counter shift, with margin
TOKEN_ENV = "DIGIT_TOKEN"


@dataclass(frozen=True)
class LoginResult:
    token: str
    user_name: str
    tenant_id: str
    expires_at: dt.datetime
    roles: list[tuple[str, str]]
    shown_name: str | None = None     # the name as the user knows it (a citizen's mobile, not its pseudonym)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def login(app: "App", ctx: "RequestContext", user_name: str, password: str, tenant_id: str | None = None,
          lockout: LockoutPolicy = LockoutPolicy()) -> LoginResult:
    """DIGIT's /user/oauth/token. A failure is recorded (and may lock the account) before the
    refusal is raised, so the count survives the refusal.

    A user name is unique in its state (users.create_in), so the name alone finds the user:
    `tenant_id` only says which state, and login does not depend on the tenant tried. A store
    written before names were unique may hold a name twice: the password then decides (exactly
    one holder must match), and a wrong one counts against every holder."""
    now = ctx.now()
    failure: Forbidden | None = None
    with app.uow(ctx) as uow:
        s = uow.session
        rows = holders_of(s, user_name, state_of(tenant_id) if tenant_id else None)
        if len(rows) > 1:
            matching = [r for r in rows if verify_password(password, r.password_hash)]
            rows = matching if len(matching) == 1 else rows
        if not rows:
            # the same answer for an unknown user and a wrong password
            raise Unauthenticated("INVALID_CREDENTIALS", "user name or password is wrong")
        if len(rows) == 1:
            row = rows[0]
            # a citizen's stored name is a pseudonym: answer with the name they typed
            shown = user_name.strip() if row.user_name.startswith(PSEUDONYM_PREFIX) else row.user_name
            if is_locked(row, now):
                until = "" if row.locked_by_admin or row.locked_until is None else \
                    f" until {people_time(row.locked_until)}"
                raise Forbidden("ACCOUNT_LOCKED", f"account {shown} is locked{until}", {"userName": shown})
            if not row.active:
                raise Forbidden("USER_INACTIVE", f"account {shown} is not active", {"userName": shown})
            if verify_password(password, row.password_hash):
                s.add(LoginAttempt(user_uuid=row.uuid, at=now, success=True))
                token = secrets.token_urlsafe(32)
                expires = now + SESSION_TTL
                s.add(SessionToken(token_hash=_token_hash(token), user_uuid=row.uuid, tenant_id=row.tenant_id,
                                   created_at=now, expires_at=expires))
                roles = [(r.code, r.tenant_id) for r in actor_of(s, row).roles]
                uow.record(Event("user.login", row.tenant_id, "User", row.uuid, LOGIN_ACTION,
                                 {"userName": row.user_name, "tenantId": row.tenant_id, "success": True},
                                 after={"login": "success"}))
                shown = own_user_name(app, s, row)
                uow.commit()
                return LoginResult(token, row.user_name, row.tenant_id, expires, roles, shown)
        for row in rows:
            if not is_locked(row, now):
                failure = _failed(uow, row, now, lockout, user_name.strip()) or failure
        uow.commit()
    if failure is not None and len(rows) == 1:
        raise failure
    raise Unauthenticated("INVALID_CREDENTIALS", "user name or password is wrong")


def _failed(uow: Any, row: UserAccount, now: dt.datetime, lockout: LockoutPolicy,
            typed: str | None = None) -> Forbidden | None:
    """Record a failed login of `row`; lock the account (ending its sessions, as DIGIT's
    handleFailedLogin does) when it is one too many. Returns the refusal a lock gives."""
    s = uow.session
    s.add(LoginAttempt(user_uuid=row.uuid, at=now, success=False))
    failures = _counting_failures(s, row, now, lockout)
    if not lockout.should_lock(failures, now):
        return None
    row.locked_until = now + lockout.lock_for
    revoked = revoke_sessions(s, row.uuid, now)
    uow.record(Event("user.locked", row.tenant_id, "User", row.uuid, LOGIN_ACTION,
                     {"user": {"uuid": row.uuid, "userName": row.user_name, "accountLocked": True}},
                     after={"lockedUntil": row.locked_until.isoformat(), "failures": len(failures),
                            "sessionsRevoked": revoked}))
    shown = typed if (typed and row.user_name.startswith(PSEUDONYM_PREFIX)) else row.user_name
    return Forbidden("ACCOUNT_LOCKED", f"{len(failures)} failed logins: account {shown} is "
                     f"locked until {people_time(row.locked_until)}",
                     {"userName": shown, "lockedUntil": epoch_millis(row.locked_until)})


def _counting_failures(s: Any, row: UserAccount, now: dt.datetime, lockout: LockoutPolicy) -> list[dt.datetime]:
    """The failed logins that count towards a lock: within the window, after the user's latest
    successful login and after the end of the last lock (an unlock, or a lock run out). DIGIT
    resets the failures on both (CustomAuthenticationProvider, UserService.resetFailedLoginAttempts);
    the rows stay, they just stop counting."""
    q = select(LoginAttempt.at).where(LoginAttempt.user_uuid == row.uuid, LoginAttempt.success.is_(False),
                                      LoginAttempt.at >= now - lockout.window)
    last_ok = s.execute(select(func.max(LoginAttempt.id)).where(
        LoginAttempt.user_uuid == row.uuid, LoginAttempt.success.is_(True))).scalar()
    if last_ok is not None:
        q = q.where(LoginAttempt.id > last_ok)
    if row.locked_until is not None:      # not locked now (checked before): the lock has ended
        q = q.where(LoginAttempt.at > row.locked_until)
    return list(s.execute(q).scalars())


def approver(app: "App", ctx: "RequestContext", user_name: str, password: str,
             tenant_id: str | None = None) -> Actor:
    """A supervisor approving an act at someone else's terminal (a receipt cancellation): the
    password is checked as a login is (failures count towards the lockout, the login is audited),
    and the session it opens is closed at once: nothing stays logged in."""
    result = login(app, ctx, user_name, password, tenant_id)
    try:
        return actor_for_token(app, ctx, result.token)
    finally:
        logout(app, ctx, result.token)


def actor_for_token(app: "App", ctx: "RequestContext", token: str) -> Actor:
    with app.uow(ctx, readonly=True) as uow:
        s = uow.session
        sess = s.get(SessionToken, _token_hash(token))
        if sess is None or sess.revoked_at is not None:
            raise Unauthenticated("INVALID_TOKEN", "the session is not valid; log in again (digitctl login)")
        if sess.expires_at <= ctx.now():
            raise Unauthenticated("SESSION_EXPIRED", "the session has expired; log in again (digitctl login)")
        row = s.get(UserAccount, sess.user_uuid)
        if row is None or not row.active or is_locked(row, ctx.now()):
            raise Unauthenticated("INVALID_TOKEN", "the account behind this session is locked or inactive")
        return actor_of(s, row)


def logout(app: "App", ctx: "RequestContext", token: str) -> None:
    with app.uow(ctx) as uow:
        uow.session.execute(update(SessionToken).where(SessionToken.token_hash == _token_hash(token))
                            .values(revoked_at=ctx.now()))
        uow.commit()


# -- the saved session ---------------------------------------------------------------------------
def session_key(app: "App") -> str:
    """Whose saved session: the store's id AND where it is (a copy of a store has the same id;
    logging in to the copy must not replace the original's session)."""
    import hashlib

    file = app.store.sqlite_file()
    where = str(file.resolve()) if file is not None else app.store.display_url()
    store_id = app.store_meta("store_id") or ""
    return f"{store_id}-{hashlib.sha256(where.encode()).hexdigest()[:12]}"


def session_file(key: str) -> Path:
    return config_dir() / "sessions" / f"{key}.json"


def save_session(key: str, result: LoginResult) -> Path:
    path = session_file(key)
    write_private(path, json.dumps({"token": result.token, "userName": result.user_name,
                                    "tenantId": result.tenant_id,
                                    "expiresAt": result.expires_at.isoformat()}).encode())
    return path


def saved_token(key: str) -> str | None:
    """The token this command runs with: DIGIT_TOKEN, else the saved session's."""
    return os.environ.get(TOKEN_ENV) or file_token(key)


def file_token(key: str) -> str | None:
    """The saved session's token (None when there is no readable session file)."""
    path = session_file(key)
    if not path.is_file():
        return None
    return _token_in(path)


def _token_in(path: Path) -> str | None:
    """The token of a session file, or None when the file is not one digitctl wrote ([] or
    garbage, a huge file): then nobody is logged in."""
    try:
        if path.stat().st_size > 64 * 1024:
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    token = doc.get("token") if isinstance(doc, dict) else None
    return token if isinstance(token, str) and token else None


def forget_session(key: str) -> None:
    session_file(key).unlink(missing_ok=True)


def saved_actor(app: "App") -> Actor:
    """Who acts at this terminal: the logged-in user (DIGIT_TOKEN or the saved session); the local
    SYSTEM administrator while the store has no users yet (init, first MDMS apply); otherwise
    nobody, and every operation will ask for a login."""
    if not app.store.is_initialized() or not has_users(app):
        return SYSTEM_ACTOR
    key = session_key(app)
    token = saved_token(key)
    if token is None:
        if session_file(key).is_file():
            raise Unauthenticated("NOT_LOGGED_IN", f"the saved session {session_file(key)} is not one digitctl "
                                  "wrote (damaged?): not logged in; log in again (digitctl login), or logout to "
                                  "remove it", {"sessionFile": str(session_file(key))})
        return ANONYMOUS_ACTOR
    return actor_for_token(app, app.base_context(), token)


def whoami(app: "App", ctx: "RequestContext") -> dict[str, Any]:
    a = ctx.actor
    if a.type == "ANONYMOUS":
        raise Unauthenticated("NOT_LOGGED_IN", "not logged in: digitctl login --username U")
    name = a.user_name
    if name.startswith(PSEUDONYM_PREFIX):          # a citizen: their own mobile, not the pseudonym
        with app.uow(ctx, readonly=True) as uow:
            row = uow.session.get(UserAccount, a.uuid)
            name = own_user_name(app, uow.session, row) if row is not None else name
    return {"uuid": a.uuid, "userName": name, "type": a.type,
            "roles": [{"code": r.code, "tenantId": r.tenant_id} for r in a.roles]}


def home_tenant(actor: Actor) -> str | None:
    """The tenant an actor works at: their first role's own tenant (a clerk with roles at
    pb.amritsar works at pb.amritsar); None for an actor whose roles hold no tenant ("*")."""
    homes = [r.tenant_id for r in actor.roles if r.tenant_id != "*"]
    return homes[0] if homes else None
