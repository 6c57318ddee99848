"""Helpers the service tests share (imported as `tests.helpers`; pytest puts the project root on
sys.path, see pythonpath in pyproject.toml): the bundled state with the real access records and the
demo users (`build_world`), acting as a user, NewTL applications walked along their workflow, and
TL demands as DIGIT's calculator sends them."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from collections.abc import Iterable
from typing import Any, Callable

import pytest

from digitctl.bootstrap import App
from digitctl.context import RequestContext
from digitctl.resources import bundled
from digitctl.services import applications, billing, mdms, quickstart, users, workflow

CONFIGS = bundled("configs")
AMRITSAR = "pb.amritsar"
TL_FROM, TL_TO = 1585679399000, 1617172199000          # TLRENEWAL2020, financial year 2020-21
FEE_RATES = Path(__file__).resolve().parent / "data" / "TradeLicenseFeeRates.json"

# DIGIT URLs the bundled action subset leaves out; their real pb records are added from the reference.
EXTRA_URLS = {"/pgr-services/v2/request/_create", "/pgr-services/v2/request/_search",
              "/property-services/property/_create", "/property-services/property/_search",
              "/ws-services/wc/_create", "/ws-services/wc/_search", "/firenoc-services/v1/_create",
              "/firenoc-services/v1/_search", "/inbox/v1/_search"}


def real_access_records(reference: Path, folder: Path) -> Path:
    """The real pb action and role-action records for EXTRA_URLS, unchanged, as an MDMS folder."""
    pb = reference / "mdms" / "data" / "pb"
    actions = [a for a in json.loads((pb / "ACCESSCONTROL-ACTIONS-TEST" / "actions-test.json").read_text())
               ["actions-test"] if a.get("url") in EXTRA_URLS]
    ids = {str(a["id"]) for a in actions}
    known = {r["code"] for r in json.loads((CONFIGS / "mdms" / "data" / "pb" / "ACCESSCONTROL-ROLES" / "roles.json")
                                           .read_text())["roles"]}
    role_actions = [r for r in json.loads((pb / "ACCESSCONTROL-ROLEACTIONS" / "roleactions.json").read_text())
                    ["roleactions"] if str(r.get("actionid")) in ids and r.get("rolecode") in known]
    for module, master, records in (("ACCESSCONTROL-ACTIONS-TEST", "actions-test", actions),
                                    ("ACCESSCONTROL-ROLEACTIONS", "roleactions", role_actions)):
        (folder / module).mkdir(parents=True, exist_ok=True)
        (folder / module / f"{master}.json").write_text(json.dumps(
            {"tenantId": "pb", "moduleName": module, master: records}))
    return folder


def build_world(app: App, reference: Path, folder: Path) -> App:
    """Bundled state + the real access records above + the five workflows + the demo users, a
    second citizen and a SYSTEM user (as the collection side would run as)."""
    ctx = app.context("pb")
    mdms.apply(app, ctx, [CONFIGS / "mdms" / "data" / "pb", real_access_records(reference, folder)],
               master_config=CONFIGS / "mdms" / "master-config.json")
    workflow.apply(app, ctx, [CONFIGS / "workflows"], tenant_id="pb")
    for user_name, type_, tenant, roles, name, mobile, _ in quickstart.DEMO_USERS:
        emp = users.EmployeeSpec("DEPT_1", "DESIG_1") if type_ == "EMPLOYEE" and "." in tenant else None
        users.create_user(app, app.context(tenant), users.NewUser(
            user_name=user_name, name=name, type=type_, tenant_id=tenant, mobile=mobile, roles=roles, employee=emp))
    users.create_user(app, ctx, users.NewUser(user_name="9876500002", name="Navdeep Gill", type="CITIZEN",
                                              tenant_id="pb", mobile="9876500002"))
    users.create_user(app, ctx, users.NewUser(user_name="payment.system", name="Collection Service", type="SYSTEM",
                                              tenant_id="pb", roles=[("SYSTEM", "pb")]))
    return app


def ctx_as(app: App, user_name: str) -> RequestContext:
    with app.uow(app.base_context(), readonly=True) as uow:
        actor = users.actor_of(uow.session, users.find(uow.session, user_name))
    return RequestContext(actor=actor, clock=app.clock)


def new_tl(app: App, who: str = "clerk.amritsar", mobile: str = "9876543210", **kw: Any) -> str:
    kw.setdefault("locality", "SUN04")
    doc = applications.create(app, ctx_as(app, who), business_service="NewTL", tenant_id=AMRITSAR,
                              applicant_name="Simran Kaur", applicant_mobile=mobile,
                              details={"tradeName": "Kaur Sweets", "tradeType": "GOODS.RETAIL.TST-29"}, **kw)
    return str(doc["applicationNo"])


def act(app: App, who: str, number: str, action: str, **kw: Any) -> dict[str, Any]:
    return applications.transition(app, ctx_as(app, who), number, action, **kw)


# -- TL demands and bills --------------------------------------------------------------------------

# a calculator's demand: the fee and its round-off line (demand create adds none)
FEE = (("TL_TAX", "1250.40", "0"), ("TL_ROUNDOFF", "-0.40", "0"))


def demand(consumer: str = "TL-CC-1", *, service: str = "TL", lines: Iterable[tuple[str, str, str]] = FEE,
           period: tuple[int, int] = (TL_FROM, TL_TO), mobile: str = "9876543210") -> dict[str, Any]:
    return {"tenantId": AMRITSAR, "consumerCode": consumer, "businessService": service,
            "taxPeriodFrom": period[0], "taxPeriodTo": period[1], "minimumAmountPayable": 0,
            "payer": {"name": "Simran Kaur", "mobileNumber": mobile},
            "demandDetails": [{"taxHeadMasterCode": h, "taxAmount": Decimal(t), "collectionAmount": Decimal(c)}
                              for h, t, c in lines]}


def create(app: App, *items: dict[str, Any], who: str = "clerk.amritsar") -> list[dict[str, Any]]:
    return billing.create_demands(app, ctx_as(app, who), list(items))


def walk_to_pending_payment(app: App, **kw: Any) -> str:
    no = new_tl(app, **kw)
    for who, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                        ("inspector.amritsar", "FORWARD"), ("approver.amritsar", "APPROVE")):
        act(app, who, no, action)
    return no


# -- which rows of a refusal table run on PostgreSQL -----------------------------------------------
def every_row_on_sqlite(rows: Iterable[tuple[Any, ...]], on_postgres: Callable[..., bool]) -> list[Any]:
    """Parameter sets for `@pytest.mark.parametrize("store_backend,<row names>", ..., indirect=["store_backend"])`:
    every row on SQLite, and on PostgreSQL the rows `on_postgres(*row)` picks. A refusal table's
    rows differ in the rule they break; on PostgreSQL the rows that reach the store (or its column
    sizes, or a rollback after a write) are the ones that can behave otherwise."""
    rows = list(rows)
    return ([pytest.param("sqlite", *row) for row in rows]
            + [pytest.param("postgres", *row, marks=pytest.mark.postgres) for row in rows if on_postgres(*row)])
