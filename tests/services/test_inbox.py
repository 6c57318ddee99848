"""The inbox of each demo user over one set of applications in every state of NewTL (Amritsar
and Jalandhar), PGR and PT.CREATE: exactly what each may act on, in their jurisdiction, plus
what is assigned to them; breached SLAs first, no SLA last; filters and status counts."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from digitctl.bootstrap import build
from digitctl.clock import IST, FixedClock
from digitctl.errors import Forbidden, InvalidInput
from digitctl.services import applications, billing, collection, inbox, shifts, users, workflow
from tests.helpers import CONFIGS, act, build_world, ctx_as

AMRITSAR, JALANDHAR = "pb.amritsar", "pb.jalandhar"
HOUR = 3_600_000


def tl(app, who="clerk.amritsar", tenant=AMRITSAR, mobile="9876543210", locality="SUN04") -> str:
    doc = applications.create(app, ctx_as(app, who), business_service="NewTL", tenant_id=tenant,
                              applicant_name="Simran Kaur", applicant_mobile=mobile, locality=locality,
                              details={"tradeType": "GOODS.RETAIL.TST-29"})
    return str(doc["applicationNo"])


def walk(app, no: str, *steps: tuple[str, str], **kw) -> str:
    for who, action in steps:
        act(app, who, no, action, **kw)
    return no


APPLY = ("clerk.amritsar", "APPLY")
VERIFY = ("verifier.amritsar", "FORWARD")
INSPECT = ("inspector.amritsar", "FORWARD")
APPROVE = ("approver.amritsar", "APPROVE")


T0 = dt.datetime(2026, 11, 25, 11, 0, tzinfo=IST)      # the frozen_clock fixture's instant


def stage(app, frozen_clock) -> dict[str, str]:
    """Applications in every state at T0; A9 reaches FIELDINSPECTION at T0+20h; now is T0+26h.
    Returns {applicationNo: label}."""
    workflow.apply(app, app.context(), [CONFIGS / "workflows" / "NewTL.businessservice.json"], tenant_id=JALANDHAR)
    users.create_user(app, app.context(AMRITSAR), users.NewUser(
        user_name="lme2.amritsar", name="Harjit Singh", type="EMPLOYEE", tenant_id=AMRITSAR, mobile="9800000017",
        roles=[("EMPLOYEE", AMRITSAR), ("PGR_LME", AMRITSAR)],
        employee=users.EmployeeSpec("DEPT_1", "DESIG_1", jurisdictions=[JALANDHAR])))
    with app.uow(app.base_context(), readonly=True) as uow:
        lme = users.find(uow.session, "lme.amritsar").uuid
        lme2 = users.find(uow.session, "lme2.amritsar").uuid
    a: dict[str, str] = {}
    a["A1"] = tl(app)
    a["A2"] = walk(app, tl(app, locality="SUN11"), APPLY)
    a["A3"] = walk(app, tl(app), APPLY, VERIFY)
    a["A4"] = walk(app, tl(app), APPLY, VERIFY, INSPECT)
    a["A5"] = walk(app, tl(app), APPLY, VERIFY, INSPECT, APPROVE)
    a["A6"] = walk(app, tl(app), APPLY, VERIFY, INSPECT, APPROVE)
    clerk = ctx_as(app, "clerk.amritsar")          # paid in full at the counter: PAY
    shifts.open_shift(app, clerk, "1000")
    [bill] = billing.fetch_bill(app, clerk, AMRITSAR, application_no=a["A6"])
    collection.pay(app, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount=str(bill["totalAmount"]))
    a["A7"] = walk(app, tl(app), APPLY, ("verifier.amritsar", "REJECT"))
    a["A8"] = walk(app, tl(app, locality="SUN11"), APPLY, VERIFY, ("inspector.amritsar", "SENDBACKTOCITIZEN"))
    a["J1"] = tl(app, "clerk.jalandhar", JALANDHAR, "9876500002", "JLC476")
    a["J2"] = walk(app, tl(app, "clerk.jalandhar", JALANDHAR, "9876500002", "JLC477"), ("clerk.jalandhar", "APPLY"))
    pgr: dict[str, Any] = dict(business_service="PGR", tenant_id=AMRITSAR, applicant_name="Simran Kaur",
                               locality="SUN04", details={"serviceCode": "StreetLightNotWorking"})
    a["P1"] = applications.create(app, ctx_as(app, "9876543210"), applicant_mobile="9876543210", **pgr)["applicationNo"]
    a["P2"] = applications.create(app, ctx_as(app, "clerk.amritsar"), applicant_mobile="9876500002",
                                  **pgr)["applicationNo"]
    act(app, "supervisor.amritsar", a["P2"], "ASSIGN", assignees=[lme])
    a["P3"] = applications.create(app, ctx_as(app, "9876543210"), applicant_mobile="9876543210", **pgr)["applicationNo"]
    act(app, "supervisor.amritsar", a["P3"], "ASSIGN", assignees=[lme])
    act(app, "lme.amritsar", a["P3"], "RESOLVE")
    a["P4"] = applications.create(app, ctx_as(app, "clerk.amritsar"), applicant_mobile="9876500002",
                                  **pgr)["applicationNo"]
    act(app, "supervisor.amritsar", a["P4"], "ASSIGN", assignees=[lme2])      # lme2 serves Jalandhar
    a["T1"] = applications.create(app, ctx_as(app, "clerk.amritsar"), business_service="PT.CREATE", tenant_id=AMRITSAR,
                                  applicant_name="Navdeep Gill", applicant_mobile="9876500002",
                                  locality="SUN04")["applicationNo"]
    frozen_clock.advance(hours=20)
    a["A9"] = walk(app, tl(app), APPLY, VERIFY)
    frozen_clock.advance(hours=6)
    return {v: k for k, v in a.items()}


@pytest.fixture(scope="session")
def scene_builder(world_builder, store_templates):
    """Builds the scene once per backend and test process (on a copy of the world template);
    the labels of its applications are kept per backend."""
    labels: dict[str, dict[str, str]] = {}

    def build_scene(url: str) -> None:
        store_templates.materialize("world", world_builder, url)
        app = build(url, FixedClock(T0))
        try:
            labels[url.split(":", 1)[0]] = stage(app, app.clock)
        finally:
            app.close()

    return build_scene, labels


@pytest.fixture
def scene(template_url, frozen_clock, store_templates, scene_builder) -> Iterator[tuple[Any, dict[str, str]]]:
    """A copy of the staged scene (stage), the clock at T0+26h as staging left it."""
    build_scene, labels = scene_builder
    store_templates.materialize("inbox-scene", build_scene, template_url)
    frozen_clock.advance(hours=26)
    app = build(template_url, frozen_clock)
    try:
        yield app, labels[template_url.split(":", 1)[0]]
    finally:
        app.close()


def box(app, names, who, **kw) -> list[str]:
    return [names[i["applicationNo"]] for i in inbox.inbox(app, ctx_as(app, who), **kw)["items"]]


@pytest.mark.parametrize("who,expected", [
    # TL_CEMP: INITIATED, PENDINGPAYMENT, CITIZENACTIONREQUIRED; CSR: REOPEN of a RESOLVED complaint
    ("clerk.amritsar", ["A5", "A1", "A8", "P3"]),
    ("verifier.amritsar", ["A2", "T1"]),                  # APPLIED; PT OPEN (no SLA: last)
    ("inspector.amritsar", ["A3", "A9"]),                 # FIELDINSPECTION, the breached one first
    ("approver.amritsar", ["A4", "A6"]),                  # PENDINGAPPROVAL; APPROVED (CANCEL)
    ("supervisor.amritsar", ["P1"]),                      # GRO: PENDINGFORASSIGNMENT
    ("lme.amritsar", ["P2", "P4"]),                       # PENDINGATLME: by role, whoever it is assigned to
    ("lme2.amritsar", ["P4"]),                            # serves Jalandhar: only what is assigned to them
    ("clerk.jalandhar", ["J1"]),                          # nothing of Amritsar
    ("9876543210", ["A5", "A1", "A8", "P3"]),             # a citizen: their own, where CITIZEN may act
    ("9876500002", ["J1"]),
])
def test_each_demo_user_sees_exactly_what_they_can_act_on(scene, who, expected):
    app, names = scene
    assert box(app, names, who, limit=1000) == expected


def test_items_carry_masked_applicant_sla_and_assignees(scene):
    app, names = scene
    items = {names[i["applicationNo"]]: i for i in inbox.inbox(app, ctx_as(app, "clerk.amritsar"))["items"]}
    a5 = items["A5"]
    assert a5["applicant"] == {"name": "S***** K***", "mobileNumber": "******3210"}
    assert (a5["stateSla"], a5["businessSla"], a5["slaLeftMs"]) == (-14 * HOUR, 22 * HOUR, -14 * HOUR)
    assert (a5["businessService"], a5["applicationStatus"], a5["locality"]) == ("NewTL", "PENDINGPAYMENT", "SUN04")
    # the citizen assignee (a pseudonym in the store) as their mobile, masked like the applicant's
    assert items["A8"]["assignees"] == ["******3210"] and items["A8"]["locality"] == "SUN11"
    mine = {names[i["applicationNo"]]: i for i in inbox.inbox(app, ctx_as(app, "9876543210"))["items"]}
    assert mine["A8"]["assignees"] == ["9876543210"]          # plain to the citizen themselves
    assert items["A1"]["stateSla"] is None and items["A1"]["slaLeftMs"] == 22 * HOUR
    lme = inbox.inbox(app, ctx_as(app, "lme.amritsar"))["items"][0]
    assert lme["assignees"] == ["lme.amritsar"] and lme["stateSla"] == 72 * HOUR - 26 * HOUR
    inspector = inbox.inbox(app, ctx_as(app, "inspector.amritsar"))["items"]
    assert [i["slaLeftMs"] for i in inspector] == [-2 * HOUR, 18 * HOUR]
    verifier = inbox.inbox(app, ctx_as(app, "verifier.amritsar"))["items"]
    assert verifier[-1]["slaLeftMs"] is None and verifier[-1]["businessService"] == "PT.CREATE"


def test_assigned_to_me(scene):
    app, names = scene
    assert box(app, names, "lme.amritsar", mine=True) == ["P2"]
    assert box(app, names, "lme2.amritsar", mine=True) == ["P4"]
    assert box(app, names, "9876543210", mine=True) == ["A8"]
    assert box(app, names, "inspector.amritsar", mine=True) == []


def test_filters_service_status_locality_and_limit(scene):
    app, names = scene
    assert box(app, names, "clerk.amritsar", business_service="PGR") == ["P3"]
    assert box(app, names, "clerk.amritsar", status="PENDINGPAYMENT") == ["A5"]
    assert box(app, names, "clerk.amritsar", locality="SUN11") == ["A8"]
    assert box(app, names, "verifier.amritsar", status="OPEN") == ["T1"]            # a state name works too
    got = inbox.inbox(app, ctx_as(app, "verifier.amritsar"), limit=1)
    assert [names[i["applicationNo"]] for i in got["items"]] == ["A2"] and got["totalCount"] == 2
    with pytest.raises(InvalidInput):
        inbox.inbox(app, ctx_as(app, "verifier.amritsar"), limit=0)


def test_status_counts_add_up(scene):
    app, names = scene
    got = inbox.inbox(app, ctx_as(app, "clerk.amritsar"))
    assert {c["applicationStatus"]: c["count"] for c in got["statusCount"]} == {
        "INITIATED": 1, "PENDINGPAYMENT": 1, "CITIZENACTIONREQUIRED": 1, "RESOLVED": 1}
    assert got["totalCount"] == sum(c["count"] for c in got["statusCount"]) == len(got["items"]) == 4
    pgr = inbox.inbox(app, ctx_as(app, "clerk.amritsar"), business_service="PGR")
    assert pgr["statusCount"] == [{"applicationStatus": "RESOLVED", "count": 1}] and pgr["totalCount"] == 1


def test_the_inbox_follows_a_transition(scene):
    app, names = scene
    no = next(k for k, v in names.items() if v == "A2")
    act(app, "verifier.amritsar", no, "FORWARD")
    assert "A2" not in box(app, names, "verifier.amritsar")
    assert box(app, names, "inspector.amritsar")[-1] == "A2"      # a fresh 24 h: after the other two


@pytest.mark.parametrize("who", ["payment.system", "admin"])
def test_who_may_open_an_inbox(scene, who):
    """SYSTEM@pb and SUPERUSER@pb hold neither /inbox/v1/_search nor the workflow process search."""
    app, _ = scene
    with pytest.raises(Forbidden) as err:
        inbox.inbox(app, ctx_as(app, who))
    assert err.value.code == "ACCESS_DENIED" and "/inbox/v1/_search" in err.value.message
