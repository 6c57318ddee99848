"""`digitctl login|logout|whoami` and `digitctl access check`."""
from __future__ import annotations

from typing import Any

import typer

from digitctl.cli.output import emit, state

access_app = typer.Typer(help="Access control: explain who may call which DIGIT action.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
    app.add_typer(access_app, name="access")


def login(
    username: str = typer.Option(None, "--username"),
    tenant: str = typer.Option(None, "--tenant", help="Any tenant of your state; a user name is unique in its state, so "
                          "the tenant never decides who logs in."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    print_token: bool = typer.Option(False, "--print-token",
                                     help="Print only the session token (for DIGIT_TOKEN in scripts); save nothing."),
) -> None:
    """Log in; the session is saved for this store in your config directory (mode 0600)."""
    from digitctl import session
    from digitctl.cli.common import read_password_stdin
    from digitctl.services.store import require_initialized

    st = state()
    app = st.app
    require_initialized(app)
    if password_stdin and not username:
        from digitctl.errors import InvalidInput

        # standard input holds the password: the user name cannot be asked for there too
        raise InvalidInput("INVALID_USAGE", "--password-stdin needs --username U")
    username = username or typer.prompt("User name")
    password = read_password_stdin() if password_stdin else typer.prompt("Password", hide_input=True)
    # only an explicit tenant narrows the user name (not the tenant of whoever is logged in now)
    result = session.login(app, app.base_context(), username, password, tenant or st.tenant)
    if print_token:
        import sys

        sys.stdout.write(result.token + "\n")
        return
    path = session.save_session(session.session_key(app), result)
    shown = result.shown_name or result.user_name      # the session file keeps the stored name (a pseudonym)
    doc = {"userName": shown, "tenantId": result.tenant_id, "expiresAt": result.expires_at.isoformat(),
           "roles": [{"code": c, "tenantId": t} for c, t in result.roles], "sessionFile": str(path)}

    def human(con: Any) -> None:
        from digitctl.clock import people_time

        con.print(f"Logged in as [bold]{shown}[/] ({result.tenant_id}) until "
                  f"{people_time(result.expires_at)}")
        con.print("Roles: " + ", ".join(f"{c}@{t}" for c, t in result.roles))

    emit(doc, human=human)


def logout() -> None:
    """End the session this command runs with: DIGIT_TOKEN's when it is set (the saved session,
    another session, is left alone), else the saved one, whose file is then deleted. The token
    is revoked in the store, so a copy of it stops working too."""
    import os

    from digitctl import session
    from digitctl.services.store import require_initialized

    st = state()
    app = st.app
    require_initialized(app)
    key = session.session_key(app)
    from_env = bool(os.environ.get(session.TOKEN_ENV))
    token = session.saved_token(key)
    if token:
        session.logout(app, app.base_context(), token)
    if not from_env:
        session.forget_session(key)
    emit({"loggedOut": bool(token)}, human=lambda con: con.print("Logged out." if token else "No session."))


def whoami() -> None:
    """Who the commands run as, with which roles."""
    from digitctl import session
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    doc = session.whoami(st.app, st.app.context())

    def human(con: Any) -> None:
        con.print(f"[bold]{doc['userName']}[/] ({doc['type']}) uuid {doc['uuid']}")
        con.print("Roles: " + (", ".join(f"{r['code']}@{r['tenantId']}" for r in doc["roles"]) or "none"))

    emit(doc, human=human)


@access_app.command("check")
def access_check(
    action: str = typer.Option(..., "--action", help="DIGIT action URL, e.g. /collection-services/payments/_create"),
    tenant: str = typer.Option(None, "--tenant"),
    user: str = typer.Option(None, "--user", help="Check for another user (default: you); needs the right to "
                             "search users (/user/_search) at --tenant and at the user's tenant."),
) -> None:
    """Exit 0 when allowed, 3 when refused; says which role and action decided it."""
    from digitctl.cli.common import TENANT_CODE, tenant_option_value
    from digitctl.errors import InvalidInput
    from digitctl.services import access_check
    from digitctl.services.store import require_initialized

    st = state()
    app = st.app
    require_initialized(app)
    tenant_id = tenant_option_value(tenant) or app.state_tenant
    if not tenant_id:
        raise InvalidInput(TENANT_CODE, "a tenant is needed (--tenant pb.amritsar)")
    # asking about another user needs /user/_search there, checked before the user is looked up
    actor, decision = access_check.check(app, app.context(tenant_id), action, tenant_id, user or None)

    def human(con: Any) -> None:
        verdict = "[green]ALLOWED[/]" if decision.allowed else "[red]REFUSED[/]"
        con.print(f"{verdict} {action} at {tenant_id} for {actor.user_name}")
        con.print(f"  {decision.reason}", markup=False)
        if not decision.allowed and decision.roles_that_would_grant:
            con.print("  roles that would grant it: " + ", ".join(decision.roles_that_would_grant[:15]))

    emit(decision.as_json(), human=human)
    if not decision.allowed:
        raise typer.Exit(3)


@access_app.command("show")
def access_show(
    role: str = typer.Argument(..., help="A role code, e.g. TL_CEMP."),
    tenant: str = typer.Option(None, "--tenant", help="Whose masters (default: this store's state)."),
) -> None:
    """What a role may do: the DIGIT actions the state's role-action masters give it."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import access_explain
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant) or st.app.state_tenant
    doc = access_explain.show_role(st.app, st.app.context(tenant_id), role, tenant_id)
    emit(doc, rows=[(a["url"], a["id"]) for a in doc["actions"]], columns=["action URL", "id"],
         title=f"{doc['role']} ({doc.get('name') or '-'}) at {doc['tenantId']}: {len(doc['actions'])} actions")
    if doc.get("note"):
        typer.echo(doc["note"], err=True)


@access_app.command("why")
def access_why(
    tenant: str = typer.Option(None, "--tenant", help="Where (default: your own tenant)."),
    user: str = typer.Option(None, "--user", help="Another user (needs /user/_search); default: you."),
) -> None:
    """What a user may do at a tenant: the roles that count there, each with its actions."""
    from digitctl.cli.common import require_tenant
    from digitctl.services import access_explain
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant)
    doc = access_explain.why(st.app, st.app.context(tenant_id), tenant_id, user or None)
    rows = [(f"{r['code']}@{r['tenantId']}", a["url"]) for r in doc["roles"] for a in r["actions"]]
    emit(doc, rows=rows, columns=["role", "action URL"],
         title=f"{doc['userName']} at {doc['tenantId']}: " + (", ".join(f"{r['code']}@{r['tenantId']}"
                                                                       for r in doc["roles"]) or "no role counts here"))
    if doc["rolesElsewhere"]:
        typer.echo("roles that do not count here: " + ", ".join(doc["rolesElsewhere"]), err=True)
