"""The TUI's seat at the counter: the digitctl App (store, clock, keys) and who is logged in.

Every call the screens make goes through a `Desk` method or a service given `desk.ctx()`:
sessions are digitctl.session's (the CLI's saved session is shared, so logging in here also logs
in `digitctl`, and a saved session skips the login screen)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from digitctl import session
from digitctl.context import ANONYMOUS_ACTOR, Actor, RequestContext

if TYPE_CHECKING:
    from digitctl.bootstrap import App


@dataclass
class Desk:
    app: "App"
    actor: Actor = field(default=ANONYMOUS_ACTOR)
    save_login: bool = True           # tests keep the shared session file out of it
    token: str | None = None          # the session this desk acts in (checked after every job)

    @property
    def logged_in(self) -> bool:
        return self.actor.type not in ("ANONYMOUS",)

    @property
    def tenant(self) -> str:
        home = session.home_tenant(self.actor)
        return home or self.app.state_tenant or ""       # none: the services refuse INVALID_TENANTID

    def ctx(self) -> RequestContext:
        return RequestContext(actor=self.actor, tenant_id=self.tenant, clock=self.app.clock,
                              msg_id="digitctl-tui", api_id="digitctl-tui")

    def session_key(self) -> str:
        """Where the CLI keeps this store's saved session (its id and location: digitctl.session)."""
        return session.session_key(self.app)

    def resume(self) -> bool:
        """Take up the saved session (DIGIT_TOKEN or the login file), if one is valid."""
        from digitctl.services.store import require_initialized

        require_initialized(self.app)
        actor = session.saved_actor(self.app)
        if actor.type in ("ANONYMOUS", "SYSTEM"):
            return False
        self.actor, self.token = actor, session.saved_token(self.session_key())
        return True

    def first_screen(self) -> str:
        """The screen that fits the user's roles (services.counter_desk, imported here: in the
        worker that asks, not on the UI thread before the first paint)."""
        from digitctl.services import counter_desk

        return counter_desk.first_screen(self.app, self.ctx())

    def revalidate(self) -> None:
        """The session is still good (not expired, logged out elsewhere, or its account locked),
        else Unauthenticated: a TUI left open does not outlive its session."""
        if self.token is not None:
            self.actor = session.actor_for_token(self.app, self.app.base_context(), self.token)

    def login(self, user_name: str, password: str) -> Actor:
        result = session.login(self.app, self.app.base_context(), user_name.strip(), password)
        self.actor = session.actor_for_token(self.app, self.app.base_context(), result.token)
        if self.save_login:
            session.save_session(self.session_key(), result)
        self.token = result.token
        return self.actor

    def logout(self) -> None:
        if self.token:
            session.logout(self.app, self.app.base_context(), self.token)
        if self.save_login:
            session.forget_session(self.session_key())
        self.actor, self.token = ANONYMOUS_ACTOR, None

    def approver(self, user_name: str, password: str) -> Actor:
        """A supervisor's credentials typed at this counter (checked, audited, not kept)."""
        return session.approver(self.app, self.app.base_context(), user_name.strip(), password)
