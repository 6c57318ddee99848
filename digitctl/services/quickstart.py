"""`digitctl quickstart`: a demo store from the bundled state (configs/, DIGIT's own layout)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digitctl.errors import Conflict
from digitctl.resources import bundled
from digitctl.services import mdms
from digitctl.services.store import StoreInfo, init_store

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

DEMO_STATE = "pb"
DEMO_COUNTER = "C01"
DEMO_PASSWORD = "Demo@1234"      # printed by quickstart: a demo store is not for real data

# (user name, type, tenant, roles, name, mobile, what they do)
DEMO_USERS = [
    ("admin", "EMPLOYEE", "pb", [("SUPERUSER", "pb")], "Demo Administrator", "9800000001",
     "administrator: masters, users, keys, audit"),
    ("clerk.amritsar", "EMPLOYEE", "pb.amritsar",
     [("EMPLOYEE", "pb.amritsar"), ("TL_CEMP", "pb.amritsar"), ("PT_CEMP", "pb.amritsar"), ("UC_EMP", "pb.amritsar"),
      ("CSR", "pb.amritsar")], "Harpreet Singh", "9800000002", "counter clerk: applications, bills, payments"),
    ("verifier.amritsar", "EMPLOYEE", "pb.amritsar",
     [("EMPLOYEE", "pb.amritsar"), ("TL_DOC_VERIFIER", "pb.amritsar"), ("PT_DOC_VERIFIER", "pb.amritsar")],
     "Amandeep Kaur", "9800000003", "document verifier"),
    ("inspector.amritsar", "EMPLOYEE", "pb.amritsar",
     [("EMPLOYEE", "pb.amritsar"), ("TL_FIELD_INSPECTOR", "pb.amritsar"), ("PT_FIELD_INSPECTOR", "pb.amritsar")],
     "Baljit Singh", "9800000004", "field inspector"),
    ("approver.amritsar", "EMPLOYEE", "pb.amritsar",
     [("EMPLOYEE", "pb.amritsar"), ("TL_APPROVER", "pb.amritsar"), ("PT_APPROVER", "pb.amritsar")],
     "Charanjit Kaur", "9800000005", "approver"),
    ("supervisor.amritsar", "EMPLOYEE", "pb.amritsar",
     [("EMPLOYEE", "pb.amritsar"), ("GRO", "pb.amritsar"), ("COLL_REMIT_TO_BANK", "pb.amritsar"),
      ("CR_PT", "pb.amritsar"), ("CR_TL", "pb.amritsar")], "Daljit Singh", "9800000006",
     "supervisor: grievances, remittance, receipt cancellations"),
    ("lme.amritsar", "EMPLOYEE", "pb.amritsar", [("EMPLOYEE", "pb.amritsar"), ("PGR_LME", "pb.amritsar")],
     "Gurmeet Singh", "9800000007", "complaint field worker (PGR LME)"),
    ("clerk.jalandhar", "EMPLOYEE", "pb.jalandhar",
     [("EMPLOYEE", "pb.jalandhar"), ("TL_CEMP", "pb.jalandhar"), ("UC_EMP", "pb.jalandhar")],
     "Jaspreet Kaur", "9800000008", "counter clerk at Jalandhar"),
    ("9876543210", "CITIZEN", "pb", [("CITIZEN", "pb")], "Simran Kaur", "9876543210", "citizen"),
]


@dataclass
class QuickstartResult:
    store: StoreInfo
    mdms: mdms.ApplyReport
    users: list[dict[str, str]]
    applications: list[dict[str, str]]

    def as_json(self) -> dict[str, Any]:
        return {"store": self.store.as_json(), "mdms": self.mdms.as_json(), "demoUsers": self.users,
                "demoPassword": DEMO_PASSWORD, "demoApplications": self.applications}


def quickstart(app: "App", ctx: "RequestContext", counter: str = DEMO_COUNTER) -> QuickstartResult:
    """Create (or refresh) a demo store. Refuses a store that holds real, non-demo data."""
    store = app.store
    if store.is_initialized():
        with app.uow(ctx, readonly=True) as uow:
            is_demo = uow.meta("demo") == "true"
            has_data = uow.meta("mdms_version") is not None
        from digitctl.services.users import has_users

        if (has_data or has_users(app)) and not is_demo:
            raise Conflict("STORE_NOT_EMPTY",
                           f"{store.display_url()} already holds master data that quickstart did not put "
                           "there; point --store (or DIGIT_STORE) at a new file for the demo",
                           {"store": store.display_url()})
    info = init_store(app, ctx, DEMO_STATE, counter)
    with app.uow(ctx) as uow:
        uow.set_meta("demo", "true")
        uow.commit()
    configs = bundled("configs")
    report = mdms.apply(app, ctx.for_tenant(DEMO_STATE), [configs / "mdms" / "data" / DEMO_STATE],
                        master_config=configs / "mdms" / "master-config.json")
    from digitctl.services import localization_messages

    # DIGIT's en_IN bundles and digitctl's own, at the state: `localization search` finds them
    localization_messages.upsert(app, ctx.for_tenant(DEMO_STATE), [configs / "localization"], tenant=DEMO_STATE)
    users_made = demo_users(app, ctx)
    from digitctl.services import workflow

    workflow.apply(app, ctx, [configs / "workflows"])
    # the real NewTL is written for pb.amritsar; at the state it serves every city
    workflow.apply(app, ctx, [configs / "workflows" / "NewTL.businessservice.json"], tenant_id=DEMO_STATE)
    return QuickstartResult(info, report, users_made, demo_applications(app, ctx))


def demo_users(app: "App", ctx: "RequestContext") -> list[dict[str, str]]:
    """One user per role the bundled workflows and the counter need; existing ones are kept."""
    from sqlalchemy import select

    from digitctl.services import users
    from local_store.models import UserAccount

    out = []
    with app.uow(ctx) as uow:
        for user_name, type_, tenant, roles, name, mobile, does in DEMO_USERS:
            exists = uow.session.execute(select(UserAccount.uuid).where(
                UserAccount.user_name == users.stored_user_name(app, type_, tenant, user_name),
                UserAccount.tenant_id == tenant)).first()
            if not exists:
                employee = users.EmployeeSpec(department="DEPT_1", designation="DESIG_1") if type_ == "EMPLOYEE" \
                    and tenant != DEMO_STATE else None
                spec = users.validate(app, users.NewUser(user_name=user_name, name=name, type=type_, tenant_id=tenant,
                                                         mobile=mobile, roles=roles, password=DEMO_PASSWORD,
                                                         employee=employee), DEMO_STATE)
                users.create_in(uow, app, spec)
            out.append({"userName": user_name, "tenantId": tenant, "roles": ", ".join(c for c, _ in roles),
                        "does": does})
        uow.commit()
    return out


# (service, applicant, mobile, locality, [(user, action)] after creation) — so that every demo
# employee's inbox has something in it.
DEMO_APPLICATIONS = [
    ("NewTL", "Gurdeep Singh", "9876543210", "SUN04", []),
    ("NewTL", "Manpreet Kaur", "9812345670", "SUN11", [("clerk.amritsar", "APPLY")]),
    ("NewTL", "Rajinder Pal", "9812345671", "SUN12", [("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD")]),
    ("NewTL", "Sukhwinder Kaur", "9812345672", "SUN13",
     [("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"), ("inspector.amritsar", "FORWARD")]),
    # approved: the fee demand is raised on PENDINGPAYMENT and a bill waits at the counter
    ("NewTL", "ਗੁਰਪ੍ਰੀਤ ਕੌਰ", "9812345673", "SUN02",
     [("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"), ("inspector.amritsar", "FORWARD"),
      ("approver.amritsar", "APPROVE")]),
    ("PGR", "Simran Kaur", "9876543210", "SUN04", []),
]
# what each module checks against its masters (TradeLicense.TradeType, RAINMAKER-PGR.ServiceDefs)
DEMO_DETAILS = {"NewTL": {"tradeType": "GOODS.RETAIL.TST-29"}, "PGR": {"serviceCode": "StreetLightNotWorking"}}


def demo_applications(app: "App", ctx: "RequestContext") -> list[dict[str, str]]:
    """A few applications in different states, made by the demo users themselves (only once)."""
    from sqlalchemy import func, select

    from digitctl.context import RequestContext
    from digitctl.services import applications, users
    from local_store.models import Application

    with app.uow(ctx, readonly=True) as uow:
        if uow.session.execute(select(func.count()).select_from(Application)).scalar_one():
            return []

    def as_user(name: str) -> RequestContext:
        with app.uow(ctx, readonly=True) as uow:
            actor = users.actor_of(uow.session, users.find(uow.session, name))
        return RequestContext(actor=actor, tenant_id="pb.amritsar", clock=ctx.clock)

    out = []
    for service, name, mobile, locality, steps in DEMO_APPLICATIONS:
        created = applications.create(app, as_user("clerk.amritsar"), business_service=service,
                                      tenant_id="pb.amritsar", applicant_name=name, applicant_mobile=mobile,
                                      locality=locality, details={"demo": True, **DEMO_DETAILS.get(service, {})})
        number = created["applicationNo"]
        status = created.get("applicationStatus")
        for who, action in steps:
            pi = applications.transition(app, as_user(who), number, action)
            status = pi["state"]["applicationStatus"]
        out.append({"applicationNo": number, "businessService": service, "status": str(status)})
    counter_ready(app, as_user("clerk.amritsar"), out)
    return out


def counter_ready(app: "App", clerk: "RequestContext", made: list[dict[str, str]]) -> None:
    """Bills fetched for what awaits payment, and the demo clerk's shift open with a float."""
    from digitctl.services import billing, shifts

    for a in made:
        if a["status"] == "PENDINGPAYMENT":
            bill = billing.fetch_bill(app, clerk, "pb.amritsar", application_no=a["applicationNo"])[0]
            a["billId"] = bill["id"]
            a["amountDue"] = str(bill["totalAmount"])
    shifts.open_shift(app, clerk, "2000")
