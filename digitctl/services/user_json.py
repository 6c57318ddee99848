"""A user as DIGIT's documents show them: egov-user's User (`user_json`), egov-hrms's Employee
(`employee_json`), and the user as the acting person may see it (`present`, masked)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.services.user_lookup import name_is_mobile, roles_of
from local_store.models import Employee, EmployeeAssignment, EmployeeJurisdiction, UserAccount

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from local_store.uow import UnitOfWork


def user_json(s: "Session", row: UserAccount, app: "App", *, decrypt: bool) -> dict[str, Any]:
    """DIGIT's User object. With decrypt=False the PII fields carry their ciphertext (what goes
    into the outbox and the audit trail); with True, plain text (for masking to work on)."""
    ring = app.keyring

    def val(v: str | None) -> str | None:
        return ring.decrypt(s, v) if (decrypt and v) else v

    doc: dict[str, Any] = {
        "uuid": row.uuid, "userName": row.user_name, "name": val(row.name_enc),
        "mobileNumber": val(row.mobile_enc), "emailId": val(row.email_enc), "gender": row.gender,
        "type": row.type, "tenantId": row.tenant_id, "active": row.active, "locale": row.locale,
        "accountLocked": is_locked(row, None),
        "roles": [{"code": c, "name": c, "tenantId": t} for c, t in roles_of(s, row.uuid)],
    }
    emp = s.get(Employee, row.uuid)
    if emp is not None:
        doc["employee"] = {
            "code": emp.code, "employeeStatus": emp.employee_status, "employeeType": emp.employee_type,
            "tenantId": emp.tenant_id,
            "dateOfAppointment": emp.date_of_appointment.isoformat() if emp.date_of_appointment else None,
            "assignments": [{"id": str(a.id), "department": a.department, "designation": a.designation,
                             "fromDate": a.from_date.isoformat(), "toDate": a.to_date.isoformat() if a.to_date else None,
                             "isCurrentAssignment": a.is_current}
                            for a in s.execute(select(EmployeeAssignment).where(
                                EmployeeAssignment.user_uuid == row.uuid)).scalars()],
            "jurisdictions": [{"id": str(j.id), "hierarchy": j.hierarchy, "boundaryType": j.boundary_type, "boundary": j.boundary,
                               "tenantId": j.tenant_id}
                              for j in s.execute(select(EmployeeJurisdiction).where(
                                  EmployeeJurisdiction.user_uuid == row.uuid)).scalars()],
        }
    return doc


def _epoch_ms_of_date(text: str | None) -> int | None:
    """An ISO date as HRMS keeps dates: epoch ms of that day's start in India."""
    from digitctl.clock import IST

    if not text:
        return None
    return int(dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), IST).timestamp() * 1000)


def employee_json(doc: dict[str, Any]) -> dict[str, Any]:
    """egov-hrms's Employee for a user doc that has an HRMS record (as `user_json` / `present`
    give it, PII already masked): tenantId, uuid, code, isActive, the egov-user `user`, and
    assignments / jurisdictions with dates as epoch ms; the lists digitctl does not keep
    (service history, education, tests, documents, (de/re)activation) are empty."""
    emp = doc["employee"]
    return {
        "uuid": doc["uuid"], "code": emp["code"], "tenantId": emp.get("tenantId") or doc["tenantId"],
        "employeeStatus": emp["employeeStatus"], "employeeType": emp["employeeType"],
        "dateOfAppointment": _epoch_ms_of_date(emp.get("dateOfAppointment")), "isActive": doc["active"],
        "user": {k: v for k, v in doc.items() if k != "employee"},
        "assignments": [{"id": a.get("id"), "position": None, "department": a["department"],
                         "designation": a["designation"], "fromDate": _epoch_ms_of_date(a["fromDate"]),
                         "toDate": _epoch_ms_of_date(a.get("toDate")), "govtOrderNumber": None,
                         "reportingTo": None, "isHOD": False, "isCurrentAssignment": a["isCurrentAssignment"]}
                        for a in emp["assignments"]],
        "jurisdictions": [{"id": j.get("id"), "hierarchy": j["hierarchy"], "boundaryType": j["boundaryType"],
                           "boundary": j["boundary"], "tenantId": j["tenantId"]} for j in emp["jurisdictions"]],
        "serviceHistory": [], "education": [], "tests": [], "deactivationDetails": [],
        "reactivationDetails": [], "documents": [],
    }


def is_locked(row: UserAccount, now: dt.datetime | None) -> bool:
    if row.locked_by_admin:
        return True
    return bool(row.locked_until and now is not None and row.locked_until > now)


def present(app: "App", uow: "UnitOfWork", row: UserAccount, *, plain: bool = False,
            masker: Any = None) -> dict[str, Any]:
    """The user as the acting person may see it, by DataSecurity's SecurityPolicy: masked
    where the actor's roles say MASKED, plain where the policy allows (each plain disclosure to
    someone else is audited by the masking service); the user always sees their own."""
    from digitctl.services import masking

    doc = user_json(uow.session, row, app, decrypt=True)
    doc["accountLocked"] = is_locked(row, uow.ctx.now())
    mobile_name = name_is_mobile(app, row, doc.get("mobileNumber"))
    if uow.ctx.actor.uuid == row.uuid:
        if mobile_name:
            doc["userName"] = doc["mobileNumber"]
        return doc
    shown = masking.present(app, uow, uow.ctx, "User", doc, plain=plain, masker=masker)
    if mobile_name:
        shown["userName"] = shown.get("mobileNumber")     # a citizen's user name is their mobile: shown as it is
    return shown
