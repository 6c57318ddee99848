"""Users in bulk from a file: CSV or DIGIT JSON (HRMS's Employees, egov-user's users), read into
NewUser specs that `users.import_users` validates and creates, all or nothing."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from digitctl.domain.identity import EmployeeSpec, NewUser, parse_role
from digitctl.errors import InvalidInput


# CSV columns: digitctl's short names and DIGIT's own (egov-user / HRMS field names), any case
CSV_COLUMNS = {
    "type": ("type",), "username": ("username", "userName", "user_name"), "name": ("name",),
    "mobile": ("mobile", "mobileNumber", "mobile_number"), "email": ("email", "emailId", "email_id"),
    "gender": ("gender",), "tenant": ("tenant", "tenantId", "tenant_id"), "roles": ("roles",),
    "department": ("department",), "designation": ("designation",), "jurisdictions": ("jurisdictions",),
    "password": ("password",),
}
_ALIASES = {alias.lower(): key for key, names in CSV_COLUMNS.items() for alias in names}


def _canonical_row(row: dict[str | None, str | None], line: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for header, value in row.items():
        if header is None:
            raise InvalidInput("INVALID_CSV", f"line {line} has more cells than the header", {"line": line})
        key = _ALIASES.get(header.strip().lower())
        if key is None:
            raise InvalidInput("INVALID_CSV_COLUMN", f"unknown column {header!r}; columns are "
                               + ", ".join(n for names in CSV_COLUMNS.values() for n in names[:2]),
                               {"column": header})
        out[key] = value or ""
    return out


def read_bulk(path: Path, default_tenant: str) -> list[NewUser]:
    """CSV (type,username,name,mobile,email,gender,tenant,roles,department,designation,jurisdictions,password;
    lists separated by ';') or DIGIT JSON: {"Employees": [...]} as HRMS takes it, or {"users"/"user": [...]}."""
    if not path.is_file():
        raise InvalidInput("FILE_NOT_FOUND", f"no such file: {path}", {"file": str(path)})
    if path.suffix.lower() == ".csv":
        out: list[NewUser] = []
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for i, raw in enumerate(csv.DictReader(fh), start=2):
                r = _canonical_row(raw, i)
                tenant = (r.get("tenant") or default_tenant).strip()
                emp = None
                if (r.get("type") or "").upper() == "EMPLOYEE" and r.get("department"):
                    emp = EmployeeSpec(department=r["department"].strip(), designation=(r.get("designation") or "").strip(),
                                       jurisdictions=[j.strip() for j in (r.get("jurisdictions") or "").split(";") if j.strip()])
                out.append(NewUser(user_name=(r.get("username") or "").strip(), name=(r.get("name") or "").strip(),
                                   type=(r.get("type") or "CITIZEN").strip(), tenant_id=tenant,
                                   mobile=(r.get("mobile") or "").strip() or None,
                                   email=(r.get("email") or "").strip() or None,
                                   gender=(r.get("gender") or "").strip() or None,
                                   roles=[parse_role(x, tenant) for x in (r.get("roles") or "").split(";") if x.strip()],
                                   password=(r.get("password") or None), employee=emp))
        return out
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InvalidInput("INVALID_JSON", f"{path}: {err}", {"file": str(path)}) from None
    items: list[NewUser] = []
    for e in doc.get("Employees") or []:
        u = e.get("user") or {}
        tenant = e.get("tenantId") or u.get("tenantId") or default_tenant
        a = (e.get("assignments") or [{}])[0]
        items.append(NewUser(
            user_name=u.get("userName") or e.get("code") or "", name=u.get("name") or "", type="EMPLOYEE",
            tenant_id=tenant, mobile=u.get("mobileNumber"), email=u.get("emailId"), gender=u.get("gender"),
            roles=[(r["code"], r.get("tenantId") or tenant) for r in u.get("roles") or []],
            password=u.get("password"),
            employee=EmployeeSpec(department=a.get("department") or "", designation=a.get("designation") or "",
                                  code=e.get("code"), employee_type=e.get("employeeType") or "PERMANENT",
                                  jurisdictions=[j.get("boundary") for j in e.get("jurisdictions") or [] if j.get("boundary")])))
    for u in doc.get("users") or doc.get("user") or []:
        tenant = u.get("tenantId") or default_tenant
        items.append(NewUser(user_name=u.get("userName") or "", name=u.get("name") or "", type=u.get("type") or "CITIZEN",
                             tenant_id=tenant, mobile=u.get("mobileNumber"), email=u.get("emailId"),
                             gender=u.get("gender"), password=u.get("password"),
                             roles=[(r["code"], r.get("tenantId") or tenant) for r in u.get("roles") or []]))
    if not items:
        raise InvalidInput("INVALID_JSON", f"{path} has no Employees or users", {"file": str(path)})
    return items
