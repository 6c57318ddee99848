"""`digitctl user create|list|show|update|lock|unlock|import|passwd`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from digitctl.cli.common import read_password_stdin, tenant_option_value
from digitctl.cli.output import emit, state

app = typer.Typer(help="Users and employees (egov-user / egov-hrms).", no_args_is_help=True)

COLUMNS = ["userName", "type", "tenantId", "name", "mobileNumber", "roles", "locked"]


def _rows(users: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(u["userName"], u["type"], u["tenantId"], u.get("name"), u.get("mobileNumber"),
             ", ".join(f"{r['code']}@{r['tenantId']}" for r in u.get("roles", [])),
             "yes" if u.get("accountLocked") else "") for u in users]


def emit_one(doc: dict[str, Any], human: Any = None) -> None:
    """One user as DIGIT answers for it: an employee with an HRMS record as egov-hrms's
    {"ResponseInfo", "Employees": [...]}, anyone else as egov-user's {"user": [...]}."""
    from digitctl.services import users

    if doc.get("employee"):
        document: dict[str, Any] = {"ResponseInfo": state().app.context().response_info(),
                                    "Employees": [users.employee_json(doc)]}
    else:
        document = {"user": [doc]}
    emit(document, rows=_rows([doc]), columns=COLUMNS, human=human)


@app.command("create")
def create(
    user_type: str = typer.Option(..., "--type", help="EMPLOYEE, CITIZEN or SYSTEM."),
    username: str = typer.Option(..., "--username"),
    name: str = typer.Option(..., "--name"),
    mobile: str = typer.Option(None, "--mobile"),
    email: str = typer.Option(None, "--email"),
    gender: str = typer.Option(None, "--gender"),
    role: list[str] = typer.Option(None, "--role", help="CODE@TENANT, repeatable (e.g. TL_CEMP@pb.amritsar)."),
    tenant: str = typer.Option(None, "--tenant", help="The user's tenant (a city for employees)."),
    department: str = typer.Option(None, "--department", help="HRMS assignment (employees)."),
    designation: str = typer.Option(None, "--designation"),
    jurisdiction: list[str] = typer.Option(None, "--jurisdiction", help="Tenant the employee serves (repeatable)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Create a user (with an HRMS record when --department is given).

    A CITIZEN whose user name is a mobile number (DIGIT's citizens log in with it) has it stored
    only as a keyed pseudonym (bidx:...): log in and look them up with the number as typed."""
    from digitctl.services import users
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant) or st.app.state_tenant or ""
    emp = None
    if department or designation:
        emp = users.EmployeeSpec(department=department or "", designation=designation or "",
                                 jurisdictions=list(jurisdiction or []))
    spec = users.NewUser(user_name=username, name=name, type=user_type, tenant_id=tenant_id, mobile=mobile,
                         email=email, gender=gender, roles=[users.parse_role(r, tenant_id) for r in role or []],
                         password=read_password_stdin() if password_stdin else None, employee=emp)
    doc = users.create_user(st.app, st.app.context(tenant_id), spec)
    emit_one(doc)


@app.command("list")
def list_cmd(
    tenant: str = typer.Option(None, "--tenant"),
    user_type: str = typer.Option(None, "--type"),
    role: str = typer.Option(None, "--role", help="Only users holding this role code."),
    mobile: str = typer.Option(None, "--mobile", help="Find by mobile number (blind index, no decryption)."),
) -> None:
    """List users (PII masked unless your roles may see it)."""
    from digitctl.services import users
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant)
    found = users.list_users(st.app, st.app.context(tenant_id), tenant_id, user_type, role, mobile)
    emit({"user": found}, rows=_rows(found), columns=COLUMNS)


@app.command("show")
def show(
    who: str = typer.Argument(..., help="User name or uuid."),
    tenant: str = typer.Option(None, "--tenant"),
    plain: bool = typer.Option(False, "--plain", help="Ask for PII in plain text (audited; needs the role)."),
) -> None:
    """Show one user: uuid, roles, employee assignments."""
    from digitctl.services import users
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant)
    doc = users.show_user(st.app, st.app.context(tenant_id), who, tenant_id, plain=plain)

    def human(con: Any) -> None:
        con.print(f"[bold]{doc['userName']}[/] ({doc['type']} at {doc['tenantId']})  uuid {doc['uuid']}")
        for label, key in (("name", "name"), ("mobile", "mobileNumber"), ("e-mail", "emailId"),
                           ("gender", "gender"), ("locale", "locale")):
            if doc.get(key):
                con.print(f"  {label:<8} {doc[key]}")
        con.print(f"  active   {'yes' if doc['active'] else 'no'}; locked {'yes' if doc['accountLocked'] else 'no'}")
        con.print("  roles    " + ", ".join(f"{r['code']}@{r['tenantId']}" for r in doc["roles"]))
        emp = doc.get("employee")
        if emp:
            for a in emp["assignments"]:
                con.print(f"  assigned {a['department']} / {a['designation']} from {a['fromDate']}")
            con.print("  serves   " + ", ".join(j["boundary"] for j in emp["jurisdictions"]))

    emit_one(doc, human)


@app.command("update")
def update(
    who: str = typer.Argument(...),
    tenant: str = typer.Option(None, "--tenant"),
    name: str = typer.Option(None, "--name"),
    mobile: str = typer.Option(None, "--mobile"),
    email: str = typer.Option(None, "--email"),
    add_role: list[str] = typer.Option(None, "--add-role", help="CODE@TENANT"),
    remove_role: list[str] = typer.Option(None, "--remove-role", help="CODE@TENANT"),
    active: bool = typer.Option(None, "--active/--inactive"),
) -> None:
    """Change a user's details or roles."""
    from digitctl.services import users
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant)
    default = tenant_id or st.app.state_tenant or ""
    doc = users.update_user(st.app, st.app.context(tenant_id), who, tenant_id=tenant_id, name=name, mobile=mobile,
                            email=email, add_roles=[users.parse_role(r, default) for r in add_role or []],
                            remove_roles=[users.parse_role(r, default) for r in remove_role or []], active=active)
    emit_one(doc)


def _lock(who: str, tenant: str | None, locked: bool) -> None:
    from digitctl.services import users
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant)
    doc = users.set_locked(st.app, st.app.context(tenant_id), who, locked, tenant_id)
    emit_one(doc)


@app.command("lock")
def lock(who: str = typer.Argument(...), tenant: str = typer.Option(None, "--tenant")) -> None:
    """Lock an account until an administrator unlocks it; every session of the user ends (an
    unlock does not bring them back)."""
    _lock(who, tenant, True)


@app.command("unlock")
def unlock(who: str = typer.Argument(...), tenant: str = typer.Option(None, "--tenant")) -> None:
    """Unlock an account (also clears a lockout after failed logins)."""
    _lock(who, tenant, False)


@app.command("import")
def import_cmd(path: Path = typer.Argument(..., help="CSV, or DIGIT JSON ({\"Employees\": [...]} / {\"users\": [...]}).")) -> None:
    """Create many users at once; one bad record refuses the whole file.

    CSV: a header line, then one user a line. Columns (any order, any case; DIGIT's own names
    in brackets): type (CITIZEN, EMPLOYEE, SYSTEM), username [userName], name, mobile
    [mobileNumber], email [emailId], gender, tenant [tenantId] (default: --tenant or yours),
    roles (CODE@TENANT;CODE...), department, designation, jurisdictions (boundary codes;...),
    password. An unknown column is refused (INVALID_CSV_COLUMN).

    JSON: {"Employees": [...]} as HRMS's _create takes it, or {"users": [...]} as egov-user's."""
    from digitctl.services import users
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    from digitctl.cli.output import progress_bar

    with progress_bar("importing users") as progress:
        created = users.import_users(st.app, st.app.context(), path, progress=progress)
    emit({"user": created}, rows=_rows(created), columns=COLUMNS)


@app.command("passwd")
def passwd(who: str = typer.Argument(...), tenant: str = typer.Option(None, "--tenant"),
           password_stdin: bool = typer.Option(False, "--password-stdin")) -> None:
    """Set a user's password (DIGIT's policy applies). Every session of the user ends, yours
    too when you change your own: log in again with the new password."""
    from digitctl.services import auth
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    password = read_password_stdin() if password_stdin else typer.prompt("New password", hide_input=True,
                                                                         confirmation_prompt=True)
    tenant_id = tenant_option_value(tenant)
    auth.set_password(st.app, st.app.context(tenant_id), who, password, tenant_id)
    emit({"userName": who, "passwordChanged": True}, rows=[(who, "changed")], columns=["userName", "password"])
