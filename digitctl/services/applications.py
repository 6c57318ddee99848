"""Applications: a generic service request (trade licence, complaint, property, connection ...)
that a workflow drives, as DIGIT's modules keep them: numbered by idgen, the applicant's name and
mobile encrypted (mobile also blind-indexed), an address with a boundary locality, free details,
documents. Creating one takes the workflow's first action in the same transaction; from then on
the workflow moves it and `applicationStatus` follows the state's.

Each operation is authorized with its module's own DIGIT URL (`/tl-services/v1/_create` ...);
business services digitctl does not know map to `/digitctl/application/_create|_search`.

Modules act on workflow states with `workflow.on_enter` (billing raises the NewTL demand on
PENDINGPAYMENT); on payment the collection side calls `pay_in`, which takes PAY with
SYSTEM_PAYMENT added to the payer's roles, as DIGIT's tl-services PaymentUpdateService does.
Nobody else takes PAY (workflow refuses ACTION_BY_PAYMENT_ONLY).

What the modules check on create, as DIGIT's do: the applicant's name fits egov-user's `name`
(100 characters); fields that name master data are in it (NewTL `tradeType` in
TradeLicense.TradeType as tl-services' MDMSValidator, PGR `serviceCode` in
RAINMAKER-PGR.ServiceDefs as pgr-services' validator), both required; NewTL, PGR and PT.CREATE
need a locality of the city's own boundary (their address.locality is mandatory)."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from digitctl.context import Role
from digitctl.domain import safetext
from digitctl.domain import workflow as wf
from digitctl.domain.events import Event
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.tenancy import state_of
from digitctl.errors import Conflict, Forbidden, InvalidInput, NotFound
from digitctl.services import idgen, masking, users, workflow
from digitctl.services.access import authorize
from digitctl.services.application_checks import (  # noqa: F401 (the table's names are re-exported)
    GENERIC_CREATE, GENERIC_SEARCH, SERVICES, MasterField, ServiceSpec, _check_documents, _check_locality,
    _check_master_fields, localities, spec_for)
from local_store.models import Application, UserAccount, WfAssignee, WfCurrent

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

UNSET = workflow.UNSET
SYSTEM_PAYMENT = "SYSTEM_PAYMENT"
MAX_LIST = 1000
# the module table and the create checks live in application_checks; imported above so that
# `applications.SERVICES`, `.spec_for`, `.localities` ... keep working


def _first_action(defn: wf.Definition, action: str | None) -> wf.Action:
    start = defn.start
    assert start is not None          # a loaded definition always has one (workflow.check)
    if action:
        found = start.action(action.upper())
        if found is None:
            raise InvalidInput("INVALID_ACTION", f"{action} is not an action of {defn.code}'s start state "
                               f"(valid: {', '.join(a.action for a in start.actions)})",
                               {"action": action, "businessService": defn.code})
        return found
    if len(start.actions) != 1:
        raise InvalidInput("ACTION_REQUIRED", f"{defn.code} can start with "
                           f"{', '.join(a.action for a in start.actions)}: say which (--action)",
                           {"businessService": defn.code})
    return start.actions[0]


def _check_input(business_service: str, tenant_id: str, applicant_name: str, applicant_mobile: str | None,
                 locality: str | None, address: Any, details: Any, comment: str | None,
                 needs_locality: bool) -> tuple[str, str | None]:
    """What create checks before it reads the store: (the applicant's name, their mobile)."""
    name = (applicant_name or "").strip()
    if not name:
        raise InvalidInput("INVALID_NAME", "the applicant's name is required", {"field": "applicantName"})
    safetext.check_text(name, "applicantName", max_length=safetext.NAME_MAX)
    safetext.check_text(comment, "comment", max_length=safetext.COMMENT_MAX, allow_lines=True)
    if needs_locality and not locality:
        raise InvalidInput("LOCALITY_REQUIRED", f"a {business_service} application needs a locality of {tenant_id} "
                           f"(--locality CODE; see `digitctl boundary show --tenant {tenant_id}`)",
                           {"field": "locality", "tenantId": tenant_id})
    mobile = None
    if applicant_mobile is not None:
        mobile = normalize_mobile(applicant_mobile)
        if not valid_mobile(mobile):
            raise InvalidInput("INVALID_MOBILE_NUMBER", "a mobile number is 10 digits starting with 6-9",
                               {"field": "applicantMobile"})
    if details is not None and not isinstance(details, dict):
        raise InvalidInput("INVALID_DETAILS", "details must be a JSON object", {"field": "details"})
    if address is not None and not isinstance(address, dict):
        raise InvalidInput("INVALID_ADDRESS", "address must be a JSON object", {"field": "address"})
    safetext.check_json(details, "details")
    safetext.check_json(address, "address")
    return name, mobile


# -- create ----------------------------------------------------------------------------------------
def create(app: "App", ctx: "RequestContext", *, business_service: str, tenant_id: str, applicant_name: str,
           applicant_mobile: str | None = None, locality: str | None = None, address: dict[str, Any] | None = None,
           details: dict[str, Any] | None = None, documents: list[dict[str, Any]] | None = None,
           action: str | None = None, comment: str | None = None) -> dict[str, Any]:
    """Create an application and take its workflow's first action, in one transaction."""
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    spec = spec_for(business_service)
    authorize(app, ctx, spec.create_url, tenant_id)
    name, mobile = _check_input(business_service, tenant_id, applicant_name, applicant_mobile, locality,
                                address, details, comment, spec.needs_locality)
    now = ctx.now()
    with app.uow(ctx) as uow:
        s = uow.session
        conn = s.connection()
        bs_row, defn = workflow.load(app, s, tenant_id, business_service)
        first = _first_action(defn, action)
        addr = dict(address or {})
        if locality:
            addr["locality"] = {"code": locality, "name": _check_locality(app, tenant_id, locality, conn)}
        _check_master_fields(app, spec, defn.code, tenant_id, details, conn)
        docs = _check_documents(s, tenant_id, documents)
        number = idgen.generate_in(uow, app, spec.id_name, tenant_id,
                                   fmt=spec.fallback_format.replace("{STATE}", state_of(tenant_id).upper()))[0]
        ring = app.keyring
        bidx = ring.blind_index(tenant_id, mobile, "mobile") if mobile else None
        appl = Application(
            application_no=number, tenant_id=tenant_id, business_service=defn.code, module=defn.business,
            application_status=None, applicant_name_enc=ring.encrypt(s, tenant_id, name),
            applicant_mobile_enc=ring.encrypt(s, tenant_id, mobile) if mobile else None,
            applicant_mobile_bidx=bidx, applicant_uuid=_applicant_uuid(s, ctx, tenant_id, bidx),
            locality=locality or None, address=addr or None, details=details, documents=docs or None,
            created_by=ctx.actor.uuid, created_at=now, updated_at=now)
        s.add(appl)
        s.flush()
        nxt = defn.state(first.next_state)
        doc = application_json(appl, status=nxt.application_status if nxt else None)
        uow.record(Event("application.created", tenant_id, "Application", number, spec.create_url,
                         {"Application": doc, "RequestInfo": {"userInfo": ctx.actor.as_user_info()}},
                         before=None, after=doc))
        pi = workflow.transition_in(uow, app, ctx, tenant_id=tenant_id, business_id=number, action=first.action,
                                    business_service=defn.code, comment=comment, documents=docs,
                                    module_name=defn.business)
        out = application_json(appl)
        out["applicant"].update(name=name, mobileNumber=mobile)       # what the caller typed
        out["workflow"] = _workflow_json(pi, bs_row.version)
        uow.commit()
    return out


def _applicant_uuid(s: "Session", ctx: "RequestContext", tenant_id: str, bidx: str | None) -> str | None:
    """The CITIZEN account with the applicant's mobile (citizens live at the state tenant), else
    the creating citizen themself."""
    if bidx is not None:
        found = s.execute(select(UserAccount.uuid).where(
            UserAccount.mobile_bidx == bidx, UserAccount.type == "CITIZEN",
            UserAccount.tenant_id == state_of(tenant_id)).order_by(UserAccount.created_at)).scalars().first()
        if found is not None:
            return str(found)
    return ctx.actor.uuid if ctx.actor.type == "CITIZEN" else None


def _ms(value: dt.datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def application_json(a: Application, *, status: str | None | object = UNSET) -> dict[str, Any]:
    """DIGIT-style camelCase; applicant PII as stored (ciphertext)."""
    return {
        "applicationNo": a.application_no, "tenantId": a.tenant_id, "businessService": a.business_service,
        "module": a.module, "applicationStatus": a.application_status if status is UNSET else status,
        "applicant": {"uuid": a.applicant_uuid, "name": a.applicant_name_enc, "mobileNumber": a.applicant_mobile_enc},
        "locality": a.locality, "address": a.address, "details": a.details, "documents": a.documents or [],
        "auditDetails": {"createdBy": a.created_by, "createdTime": _ms(a.created_at),
                         "lastModifiedTime": _ms(a.updated_at)},
    }


def _workflow_json(pi: dict[str, Any], version: int) -> dict[str, Any]:
    return {"state": pi["state"]["state"], "applicationStatus": pi["state"]["applicationStatus"],
            "action": pi["action"], "nextActions": pi.get("nextActions", []), "stateSla": pi.get("stateSla"),
            "businessServiceSla": pi.get("businesssServiceSla"),
            "slaLeftMs": _nearest(pi.get("stateSla"), pi.get("businesssServiceSla")),
            "assignes": pi.get("assignes", []), "version": version}


def _nearest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


# -- read ------------------------------------------------------------------------------------------
def _get(s: "Session", application_no: str) -> Application:
    appl = s.get(Application, application_no)
    if appl is None:
        raise NotFound("APPLICATION_NOT_FOUND", f"no application {application_no}",
                       {"applicationNo": application_no})
    return appl


def _citizen_may_see(ctx: "RequestContext", appl: Application) -> bool:
    """A citizen sees their own applications only (DIGIT's module searches do the same)."""
    return ctx.actor.type != "CITIZEN" or ctx.actor.uuid in (appl.applicant_uuid, appl.created_by)


def _present(app: "App", uow: "UnitOfWork", ctx: "RequestContext", appl: Application,
             masker: masking.Masker, plain: bool = False) -> dict[str, Any]:
    doc = application_json(appl)
    applicant = masking.present(app, uow, ctx, "User", {**doc["applicant"], "tenantId": appl.tenant_id},
                                masker=masker, plain=plain, purpose="application")
    applicant.pop("tenantId", None)
    doc["applicant"] = applicant
    return doc


def show(app: "App", ctx: "RequestContext", application_no: str, *, plain: bool = False) -> dict[str, Any]:
    """The application (applicant shown per the actor's SecurityPolicy), its current state, the
    actions the actor may take now, SLA left and who it is assigned to."""
    now = ctx.now()
    with app.uow(ctx) as uow:
        s = uow.session
        appl = _get(s, application_no)
        authorize(app, ctx, spec_for(appl.business_service).search_url, appl.tenant_id)
        if not _citizen_may_see(ctx, appl):
            raise NotFound("APPLICATION_NOT_FOUND", f"no application {application_no}",
                           {"applicationNo": application_no})
        doc = _present(app, uow, ctx, appl, masking.masker_for(app, appl.tenant_id), plain)
        cur = s.get(WfCurrent, (appl.tenant_id, application_no))
        if cur is not None:
            _, defn = workflow.load(app, s, appl.tenant_id, cur.business_service, cur.bs_version)
            state_sla, business_sla = wf.sla_left(cur.state_deadline, now), wf.sla_left(cur.business_deadline, now)
            assignees = s.execute(select(UserAccount).join(
                WfAssignee, WfAssignee.user_uuid == UserAccount.uuid).where(
                WfAssignee.tenant_id == appl.tenant_id, WfAssignee.business_id == application_no)).scalars().all()
            doc["workflow"] = {
                "state": cur.state, "applicationStatus": cur.application_status, "action": cur.last_action,
                "nextActions": workflow.next_actions(defn, cur.state, ctx.actor, appl.tenant_id),
                "stateSla": state_sla, "businessServiceSla": business_sla,
                "slaLeftMs": _nearest(state_sla, business_sla), "isTerminateState": cur.is_terminal,
                "assignes": [{"uuid": u.uuid, "userName": users.shown_name(s, u, ctx.actor.uuid, app)}
                             for u in assignees], "version": cur.bs_version}
        uow.commit()        # masking may have audited a plain disclosure
    return doc


def list_applications(app: "App", ctx: "RequestContext", tenant_id: str, business_service: str | None = None,
                      status: str | None = None, mobile: str | None = None,
                      limit: int = 100) -> list[dict[str, Any]]:
    """Applications at a tenant, newest first. Without a business service, only the services
    whose search URL the actor holds are listed; a citizen sees their own."""
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    if business_service:
        authorize(app, ctx, spec_for(business_service).search_url, tenant_id)
    limit = max(1, min(int(limit), MAX_LIST))
    with app.uow(ctx) as uow:
        s = uow.session
        q = select(Application).where(Application.tenant_id == tenant_id)
        if business_service:
            q = q.where(Application.business_service == business_service)
        else:
            services = [c for (c,) in s.execute(select(Application.business_service).where(
                Application.tenant_id == tenant_id).distinct())]
            allowed = [c for c in services if _may(app, ctx, spec_for(c).search_url, tenant_id)]
            if services and not allowed:
                authorize(app, ctx, spec_for(services[0]).search_url, tenant_id)   # raises, naming the URL
            q = q.where(Application.business_service.in_(allowed))
        if status:
            q = q.where(Application.application_status == status)
        if mobile:
            q = q.where(Application.applicant_mobile_bidx == app.keyring.blind_index(
                tenant_id, normalize_mobile(mobile), "mobile"))
        if ctx.actor.type == "CITIZEN":
            q = q.where(or_(Application.applicant_uuid == ctx.actor.uuid, Application.created_by == ctx.actor.uuid))
        rows = s.execute(q.order_by(Application.created_at.desc(), Application.application_no.desc())
                         .limit(limit)).scalars().all()
        masker = masking.masker_for(app, tenant_id)
        out = [_present(app, uow, ctx, a, masker) for a in rows]
        uow.commit()
    return out


def _may(app: "App", ctx: "RequestContext", url: str, tenant_id: str) -> bool:
    try:
        authorize(app, ctx, url, tenant_id)
    except Forbidden:
        return False
    return True


# -- transitions -----------------------------------------------------------------------------------
def transition(app: "App", ctx: "RequestContext", application_no: str, action: str, comment: str | None = None,
               assignees: list[str] | None = None, documents: list[dict[str, Any]] | None = None,
               expected_state: Any = UNSET) -> dict[str, Any]:
    """A workflow action on an application (the engine assigns the applicant's citizen account
    on SENDBACKTOCITIZEN, so that only that citizen may act on it next)."""
    with app.uow(ctx) as uow:
        appl = _get(uow.session, application_no)
        authorize(app, ctx, workflow.TRANSITION_ACTION, appl.tenant_id)
        pi = workflow.transition_in(uow, app, ctx, tenant_id=appl.tenant_id, business_id=application_no,
                                    action=action.upper(), comment=comment, assignees=list(assignees or []),
                                    documents=_check_documents(uow.session, appl.tenant_id, documents),
                                    expected_state=expected_state)
        uow.commit()
    return pi


def _application_agrees(uow: "UnitOfWork", app: "App", ctx: "RequestContext", step: dict[str, Any]) -> None:
    """Workflow guard: an application moves on only from the status the workflow left it in (a
    record changed behind the workflow's back is refused, not silently overwritten)."""
    if step["fromState"] is None:
        return
    appl = uow.session.get(Application, step["businessId"])
    if appl is None or appl.tenant_id != step["tenantId"]:
        return
    if appl.application_status != step["fromStatus"]:
        raise Conflict("APPLICATION_STATUS_MISMATCH", f"{appl.application_no} says {appl.application_status} but its "
                       f"workflow stands at {step['fromStatus']}: refused until the two agree (digitctl audit verify)",
                       {"applicationNo": appl.application_no, "applicationStatus": appl.application_status,
                        "workflowStatus": step["fromStatus"]})


def register() -> None:
    """Hook the guard on every workflow (once: `workflow.guard` ignores a second registration);
    `digitctl.bootstrap.register_modules` calls this when an App is built."""
    workflow.guard(workflow.ALL_SERVICES, _application_agrees)


def system_payment_context(ctx: "RequestContext", tenant_id: str) -> "RequestContext":
    """`ctx` with SYSTEM_PAYMENT at `tenant_id` added to the actor's roles for this one call (not
    granted in the store; the roles master does not even have it): exactly what tl-services'
    PaymentUpdateService does to the payment's RequestInfo before it calls the workflow."""
    actor = ctx.actor
    if any(r.code == SYSTEM_PAYMENT and r.tenant_id == tenant_id for r in actor.roles):
        return ctx
    return replace(ctx, actor=replace(actor, roles=(*actor.roles, Role(SYSTEM_PAYMENT, tenant_id))))


def pay_in(uow: "UnitOfWork", app: "App", ctx: "RequestContext", application_no: str, *, action: str = "PAY",
           comment: str | None = None) -> dict[str, Any]:
    """Take PAY on an application inside the payment's own unit of work (the payment operation
    was the one authorized): the only way a payment action is ever taken. Refused with the
    workflow's own errors when PAY is not possible now, and by billing's guard while any of the
    application's demands is unpaid."""
    appl = _get(uow.session, application_no)
    return workflow.transition_in(uow, app, system_payment_context(ctx, appl.tenant_id), tenant_id=appl.tenant_id,
                                  business_id=application_no, action=action, comment=comment, by_payment=True)
