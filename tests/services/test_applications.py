"""Applications on the real workflows (NewTL, PGR, PT.CREATE ...) with the bundled state and the
quickstart's demo users: who may do what at each step, what a refusal leaves behind (nothing),
concurrent transitions, SLAs on a frozen clock, versions, SENDBACKTOCITIZEN, the payment hook."""
from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import build
from digitctl.errors import Conflict, DigitError, Forbidden, InvalidInput, NotFound
from digitctl.services import applications, billing, collection, mdms, shifts, users, workflow
from local_store.models import (Application, AuditRecord, FileStoreObject, OutboxEvent, WfAssignee, WfCurrent,
                                WfProcessInstance)
from tests.helpers import AMRITSAR, CONFIGS, act, build_world, ctx_as, every_row_on_sqlite, new_tl

HOUR, DAY = 3_600_000, 86_400_000


@pytest.fixture
def world(world_app):
    return world_app


TABLES = (Application, WfProcessInstance, WfCurrent, WfAssignee, OutboxEvent, AuditRecord)


def counts(app) -> dict[str, int]:
    with app.store.engine.connect() as conn:
        return {m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one() for m in TABLES}


def status(app, number: str) -> tuple[str, str]:
    with app.store.engine.connect() as conn:
        appl = conn.execute(select(Application.application_status).where(Application.application_no == number)).scalar()
        cur = conn.execute(select(WfCurrent.state).where(WfCurrent.business_id == number)).scalar()
    return appl, cur


# -- create ----------------------------------------------------------------------------------------
def test_create_numbers_encrypts_links_the_citizen_and_initiates(world):
    app = world
    doc = applications.create(app, ctx_as(app, "clerk.amritsar"), business_service="NewTL", tenant_id=AMRITSAR,
                              applicant_name="Simran Kaur", applicant_mobile="+91 98765 43210", locality="SUN04",
                              address={"doorNo": "12", "street": "Mall Road"},
                              details={"tradeName": "Kaur Sweets", "tradeType": "GOODS.RETAIL.TST-29"})
    assert doc["applicationNo"] == "PB-TL-2026-11-25-000001"          # DIGIT's tl-services fallback format
    assert doc["applicationStatus"] == "INITIATED" and doc["workflow"]["action"] == "INITIATE"
    assert doc["address"]["locality"] == {"code": "SUN04", "name": "Ajit Nagar - Area1"}
    assert [a["action"] for a in doc["workflow"]["nextActions"]] == ["APPLY", "INITIATE"]
    with app.uow(app.base_context(), readonly=True) as uow:
        row = uow.session.get(Application, doc["applicationNo"])
        citizen = users.find(uow.session, "9876543210")
        assert row.applicant_uuid == citizen.uuid
        assert "Simran" not in row.applicant_name_enc and "9876543210" not in row.applicant_mobile_enc
        assert app.keyring.decrypt(uow, row.applicant_mobile_enc) == "9876543210"
    with app.store.engine.connect() as conn:
        events = conn.execute(select(OutboxEvent.event_type, OutboxEvent.entity_id, OutboxEvent.payload)
                              .order_by(OutboxEvent.seq)).all()
    created = [e for e in events if e.event_type == "application.created"]
    assert len(created) == 1 and created[0].entity_id == doc["applicationNo"]
    payload = created[0].payload["Application"]
    assert payload["applicationStatus"] == "INITIATED" and payload["businessService"] == "NewTL"
    assert "|" in payload["applicant"]["name"] and "Simran" not in json.dumps(created[0].payload)
    # the number, the application, its first transition: one transaction, events in that order
    tail = [e.event_type for e in events[-3:]]
    assert tail == ["idgen.ids.generated", "application.created", "workflow.transitioned"]


def test_other_services_number_as_digit_does(world):
    app = world
    clerk = ctx_as(app, "clerk.amritsar")
    pgr = applications.create(app, clerk, business_service="PGR", tenant_id=AMRITSAR, applicant_name="Simran Kaur",
                              applicant_mobile="9876543210", locality="SUN04",
                              details={"serviceCode": "StreetLightNotWorking"})
    assert pgr["applicationNo"] == "PB-PGR-2026-11-25-000001" and pgr["applicationStatus"] == "PENDINGFORASSIGNMENT"
    pt = applications.create(app, clerk, business_service="PT.CREATE", tenant_id=AMRITSAR,
                             applicant_name="Simran Kaur", applicant_mobile="9876543210", locality="SUN04")
    assert pt["applicationNo"] == "PB-AC-2026-11-25-000001"
    assert pt["workflow"]["state"] == "OPEN" and pt["applicationStatus"] == "INWORKFLOW"


@pytest.mark.parametrize("store_backend,who,kw,code,exc", every_row_on_sqlite([
    # /tl-services/v1/_create is EMPLOYEE's too, but INITIATE is CITIZEN's and TL_CEMP's
    ("verifier.amritsar", {}, "INVALID_ROLE_FOR_ACTION", Forbidden),
    ("clerk.jalandhar", {}, "ACCESS_DENIED", Forbidden),                 # no role at pb.amritsar
    ("clerk.amritsar", {"applicant_mobile": "12345"}, "INVALID_MOBILE_NUMBER", InvalidInput),
    ("clerk.amritsar", {"locality": "NOWHERE"}, "INVALID_LOCALITY", InvalidInput),
    ("clerk.amritsar", {"applicant_name": "  "}, "INVALID_NAME", InvalidInput),
    ("clerk.amritsar", {"action": "APPLY"}, "INVALID_ACTION", InvalidInput),
    ("clerk.amritsar", {"documents": [{"documentType": "OWNERIDPROOF", "fileStoreId": "nope"}]},
     "INVALID_DOCUMENT", InvalidInput),
    # /ws-services/wc/_create: EMPLOYEE; INITIATE: WS_CEMP
    ("clerk.amritsar", {"business_service": "NewWS1"}, "INVALID_ROLE_FOR_ACTION", Forbidden),
    ("clerk.amritsar", {"business_service": "FIRENOC"}, "ACCESS_DENIED", Forbidden),    # CITIZEN / NOC_CEMP only
    ("admin", {"business_service": "NoSuchService"}, "BUSINESSSERVICE_NOT_FOUND", NotFound),
    # fields that name master data, the locality, DIGIT's column sizes
    ("clerk.amritsar", {"details": {"tradeType": "BOGUS"}}, "INVALID_TRADETYPE", InvalidInput),
    ("clerk.amritsar", {"details": {"tradeName": "Kaur Sweets"}}, "INVALID_TRADETYPE", InvalidInput),
    ("clerk.amritsar", {"details": {"tradeType": ["GOODS.RETAIL.TST-29"]}}, "INVALID_TRADETYPE", InvalidInput),
    ("clerk.amritsar", {"business_service": "PGR", "details": {"serviceCode": "BOGUS"}}, "INVALID_SERVICECODE",
     InvalidInput),
    ("clerk.amritsar", {"business_service": "PGR", "details": None}, "INVALID_SERVICECODE", InvalidInput),
    ("clerk.amritsar", {"locality": None}, "LOCALITY_REQUIRED", InvalidInput),
    ("clerk.amritsar", {"business_service": "PGR", "locality": None, "details": {"serviceCode": "StrayAnimals"}},
     "LOCALITY_REQUIRED", InvalidInput),
    ("clerk.amritsar", {"business_service": "PT.CREATE", "locality": None}, "LOCALITY_REQUIRED", InvalidInput),
    ("clerk.amritsar", {"locality": "JLC476"}, "INVALID_LOCALITY", InvalidInput),       # Jalandhar's
    ("clerk.amritsar", {"applicant_name": "S" * 101}, "TOO_LONG", InvalidInput),
    # on PostgreSQL too: the access check, a lookup in another service's table (file store), a
    # refusal from the workflow step, DIGIT's column sizes, an unknown business service
], lambda who, kw, code, exc: code in {"ACCESS_DENIED", "INVALID_DOCUMENT", "INVALID_ACTION", "TOO_LONG",
                                        "BUSINESSSERVICE_NOT_FOUND"}), indirect=["store_backend"])
def test_refused_creates_write_nothing(world, who, kw, code, exc):
    app = world
    before = counts(app)
    args: dict[str, Any] = dict(business_service="NewTL", tenant_id=AMRITSAR, applicant_name="Simran Kaur",
                                applicant_mobile="9876543210", locality="SUN04",
                                details={"tradeType": "GOODS.RETAIL.TST-29"})
    args.update(kw)
    with pytest.raises(exc) as err:
        applications.create(app, ctx_as(app, who), **args)
    assert err.value.code == code
    assert counts(app) == before
    if code == "INVALID_LOCALITY":
        assert len(err.value.params["valid"]) == 5 and all(v in err.value.message for v in err.value.params["valid"])


def test_names_and_master_codes_within_digits_limits_are_accepted(world):
    app = world
    doc = applications.create(app, ctx_as(app, "clerk.amritsar"), business_service="NewTL", tenant_id=AMRITSAR,
                              applicant_name="S" * 100, applicant_mobile="9876543210", locality="SUN04",
                              details={"tradeType": "GOODS.MANUFACTURE.TST-1"})
    assert doc["applicant"]["name"] == "S" * 100 and doc["details"]["tradeType"] == "GOODS.MANUFACTURE.TST-1"


def test_a_refused_create_does_not_use_up_a_number(world):
    app = world
    with pytest.raises(Forbidden):
        new_tl(app, who="verifier.amritsar")
    assert new_tl(app) == "PB-TL-2026-11-25-000001"


# -- NewTL from INITIATE to APPROVED ---------------------------------------------------------------
def test_newtl_walk_with_the_right_user_at_each_step_and_paid_by_the_system(world):
    app = world
    no = new_tl(app)
    assert status(app, no) == ("INITIATED", "INITIATED")
    steps = [("clerk.amritsar", "APPLY", "APPLIED", ["verifier.amritsar", "inspector.amritsar", "approver.amritsar"]),
             ("verifier.amritsar", "FORWARD", "FIELDINSPECTION", ["clerk.amritsar", "inspector.amritsar"]),
             ("inspector.amritsar", "FORWARD", "PENDINGAPPROVAL", ["verifier.amritsar", "clerk.amritsar"]),
             ("approver.amritsar", "APPROVE", "PENDINGPAYMENT", ["inspector.amritsar", "verifier.amritsar"])]
    for who, action, reached, wrong_users in steps:
        for wrong in wrong_users:
            before = counts(app)
            with pytest.raises(DigitError) as err:
                act(app, wrong, no, action)
            assert err.value.code in ("INVALID_ROLE_FOR_ACTION", "INVALID_ACTION"), (wrong, action)
            assert counts(app) == before
        pi = act(app, who, no, action, comment=f"{action} by {who}")
        assert pi["state"]["state"] == reached
        assert status(app, no) == (reached, reached)
        shown = applications.show(app, ctx_as(app, who), no)
        assert shown["applicationStatus"] == reached and shown["workflow"]["state"] == reached
    # PAY: not by hand, not even the SYSTEM user ...
    system = ctx_as(app, "payment.system")
    before = counts(app)
    with app.uow(system) as uow, pytest.raises(Forbidden) as err:
        workflow.transition_in(uow, app, system, tenant_id=AMRITSAR, business_id=no, action="PAY")
    assert err.value.code == "ACTION_BY_PAYMENT_ONLY"
    assert counts(app) == before
    # ... and the payment's own transaction only once the fee is paid ...
    with app.uow(system) as uow, pytest.raises(InvalidInput) as err:
        applications.pay_in(uow, app, system, no)
    assert err.value.code == "DEMAND_NOT_SETTLED" and counts(app) == before
    # ... which paying the bill at the counter does, taking PAY with SYSTEM_PAYMENT added, as DIGIT does
    receipt = pay_at_counter(app, no)
    assert status(app, no) == ("APPROVED", "APPROVED")
    hist = workflow.history(app, ctx_as(app, "approver.amritsar"), AMRITSAR, no)
    assert [h["action"] for h in hist] == ["INITIATE", "APPLY", "FORWARD", "FORWARD", "APPROVE", "PAY"]
    assert hist[-1]["assigner"]["userName"] == "clerk.amritsar" and hist[-1]["comment"].startswith("paid: ")
    assert receipt.startswith("C01/")
    assert hist[-1]["nextActions"] == [{"action": "CANCEL", "nextState": "CANCELLED", "roles": ["TL_APPROVER"]}]


def pay_at_counter(app, no: str, who: str = "clerk.amritsar") -> str:
    """The whole bill of `no` paid in cash at the counter (a shift opened first); the receipt number."""
    clerk = ctx_as(app, who)
    shifts.open_shift(app, clerk, "1000")
    [bill] = billing.fetch_bill(app, clerk, AMRITSAR, application_no=no)
    doc = collection.pay(app, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH",
                         amount=str(bill["totalAmount"]))
    return str(doc["paymentDetails"][0]["receiptNumber"])


def to_pending_payment(app, **kw) -> str:
    no = new_tl(app, **kw)
    for who, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                        ("inspector.amritsar", "FORWARD"), ("approver.amritsar", "APPROVE")):
        act(app, who, no, action)
    return no


@pytest.mark.parametrize("who,code", [
    ("9876543210", "ACTION_BY_PAYMENT_ONLY"),           # the applicant: PAY lists CITIZEN ...
    ("clerk.amritsar", "ACTION_BY_PAYMENT_ONLY"),       # ... and TL_CEMP, but nobody takes it by hand
    ("approver.amritsar", "ACTION_BY_PAYMENT_ONLY"),
    ("9876500002", "APPLICATION_NOT_FOUND"),            # another citizen: not theirs at all
])
def test_nobody_approves_a_licence_by_taking_pay_by_hand(world, who, code):
    app = world
    no = to_pending_payment(app)
    before = counts(app)
    with pytest.raises(DigitError) as err:           # what `digitctl workflow transition` calls
        workflow.transition(app, ctx_as(app, who), tenant_id=AMRITSAR, business_id=no, action="PAY")
    assert err.value.code == code
    with pytest.raises(DigitError) as err:
        act(app, who, no, "PAY")
    assert err.value.code == code
    assert counts(app) == before and status(app, no) == ("PENDINGPAYMENT", "PENDINGPAYMENT")
    assert "PAY" not in [a["action"] for a in applications.show(app, ctx_as(app, "clerk.amritsar"), no)
                         ["workflow"]["nextActions"]]


def test_paying_the_whole_bill_is_what_approves_the_licence(world):
    app = world
    no = to_pending_payment(app)
    pay_at_counter(app, no)
    assert status(app, no) == ("APPROVED", "APPROVED")


def test_a_citizen_acts_only_on_their_own_application(world):
    app = world
    no = new_tl(app)                                   # made at the counter for 9876543210
    before = counts(app)
    for call in (lambda: act(app, "9876500002", no, "APPLY"),
                 lambda: workflow.transition(app, ctx_as(app, "9876500002"), tenant_id=AMRITSAR, business_id=no,
                                             action="APPLY")):
        with pytest.raises(NotFound) as err:
            call()
        assert err.value.code == "APPLICATION_NOT_FOUND" and "INITIATED" not in err.value.message
    assert counts(app) == before and status(app, no) == ("INITIATED", "INITIATED")
    assert act(app, "9876543210", no, "APPLY")["state"]["state"] == "APPLIED"       # the applicant may


def test_a_citizen_acts_only_on_workflows_they_started(world):
    app = world
    first = workflow.transition(app, ctx_as(app, "9876543210"), tenant_id=AMRITSAR, business_id="PB-PGR-X-1",
                                action="APPLY", business_service="PGR")
    assert first["state"]["state"] == "PENDINGFORASSIGNMENT"
    act_ = dict(tenant_id=AMRITSAR, business_id="PB-PGR-X-1", action="APPLY")
    workflow.transition(app, ctx_as(app, "supervisor.amritsar"), tenant_id=AMRITSAR, business_id="PB-PGR-X-1",
                        action="REJECT")
    with pytest.raises(NotFound) as err:
        workflow.transition(app, ctx_as(app, "9876500002"), **{**act_, "action": "RATE"})
    assert err.value.code == "BUSINESSID_NOT_FOUND"
    assert workflow.transition(app, ctx_as(app, "9876543210"), **{**act_, "action": "RATE"})["state"]["state"] \
        == "CLOSEDAFTERREJECTION"


def test_a_module_guard_may_refuse_any_transition_and_nothing_is_written(world):
    app = world
    no = new_tl(app)
    asked = []

    def hold(uow, app_, ctx, step):
        asked.append((step["businessId"], step["action"], step["fromState"], step["toState"]))
        raise Conflict("TL_ON_HOLD", "the licence is on hold")

    workflow.guard("NewTL", hold)
    try:
        before = counts(app)
        with pytest.raises(Conflict) as err:
            act(app, "clerk.amritsar", no, "APPLY")
        assert err.value.code == "TL_ON_HOLD" and counts(app) == before
    finally:
        workflow._GUARDS["NewTL"].remove(hold)
    assert asked == [(no, "APPLY", "INITIATED", "APPLIED")]
    assert act(app, "clerk.amritsar", no, "APPLY")["state"]["state"] == "APPLIED"


def test_an_application_changed_behind_its_workflow_is_not_moved_on(world):
    app = world
    no = new_tl(app)
    with app.uow(app.base_context()) as uow:
        uow.session.get(Application, no).application_status = "APPROVED"      # as a direct store edit would
        uow.commit()
    before = counts(app)
    with pytest.raises(Conflict) as err:
        act(app, "clerk.amritsar", no, "APPLY")
    assert err.value.code == "APPLICATION_STATUS_MISMATCH" and counts(app) == before


def test_pay_is_refused_before_approval(world):
    app = world
    no = new_tl(app)
    system = ctx_as(app, "payment.system")
    with app.uow(system) as uow, pytest.raises(InvalidInput) as err:
        applications.pay_in(uow, app, system, no)
    assert err.value.code == "INVALID_ACTION"


def test_entering_pendingpayment_runs_module_hooks_in_the_same_transaction(world):
    app = world
    no = new_tl(app)
    for who, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                        ("inspector.amritsar", "FORWARD")):
        act(app, who, no, action)
    seen = []

    def demand_hook(uow, app_, ctx, pi):
        appl = uow.session.get(Application, pi["businessId"])
        seen.append((pi["state"]["state"], appl.application_status, ctx.actor.user_name))

    def failing_hook(uow, app_, ctx, pi):
        raise InvalidInput("BILLING_TAXHEAD_MISSING", "no tax head for TL")

    hooks = workflow._HOOKS.setdefault(("NewTL", "PENDINGPAYMENT"), [])
    hooks.append(failing_hook)
    try:
        before = counts(app)
        with pytest.raises(InvalidInput) as err:
            act(app, "approver.amritsar", no, "APPROVE")
        assert err.value.code == "BILLING_TAXHEAD_MISSING"
        assert counts(app) == before and status(app, no) == ("PENDINGAPPROVAL", "PENDINGAPPROVAL")
        hooks.remove(failing_hook)
        workflow.on_enter("NewTL", "PENDINGPAYMENT", demand_hook)
        act(app, "approver.amritsar", no, "APPROVE")
    finally:
        for h in (failing_hook, demand_hook):
            if h in hooks:
                hooks.remove(h)
    assert seen == [("PENDINGPAYMENT", "PENDINGPAYMENT", "approver.amritsar")]


# -- refusals leave nothing ------------------------------------------------------------------------
@pytest.mark.parametrize("who,action,code", [
    ("clerk.amritsar", "APPROVE", "INVALID_ACTION"),              # not an action of APPLIED
    ("clerk.amritsar", "FORWARD", "INVALID_ROLE_FOR_ACTION"),     # TL_DOC_VERIFIER's
    ("approver.amritsar", "REJECT", "INVALID_ROLE_FOR_ACTION"),
    ("9876543210", "FORWARD", "INVALID_ROLE_FOR_ACTION"),         # the citizen
    ("clerk.jalandhar", "FORWARD", "ACCESS_DENIED"),              # another city's employee
    ("verifier.amritsar", "forward ", "INVALID_ACTION"),
])
def test_wrong_role_or_action_is_refused_and_nothing_written(world, who, action, code):
    app = world
    no = new_tl(app)
    act(app, "clerk.amritsar", no, "APPLY")
    before = counts(app)
    with pytest.raises(DigitError) as err:
        act(app, who, no, action)
    assert err.value.code == code
    assert counts(app) == before and status(app, no) == ("APPLIED", "APPLIED")


def test_unknown_application_is_not_found(world):
    with pytest.raises(NotFound) as err:
        act(world, "clerk.amritsar", "PB-TL-2026-11-25-999999", "APPLY")
    assert err.value.code == "APPLICATION_NOT_FOUND"


def _file(app, tenant: str) -> str:
    with app.uow(app.base_context()) as uow:
        uow.session.add(FileStoreObject(file_store_id="f0000000-0000-0000-0000-000000000001", tenant_id=tenant,
                                        module="TL", file_name="id-proof.pdf", content_type="application/pdf",
                                        size=10, sha256="0" * 64, created_by="test", created_at=app.clock.now()))
        uow.commit()
    return "f0000000-0000-0000-0000-000000000001"


def test_a_state_that_needs_documents_refuses_without_them(world, tmp_path):
    app = world
    doc = json.loads((CONFIGS / "workflows" / "NewTL.businessservice.json").read_text())["BusinessServices"][0]
    doc = copy.deepcopy(doc)
    doc["businessService"] = "TLDOCS"
    for st in doc["states"]:
        if st["state"] == "APPLIED":
            st["docUploadRequired"] = True
    (tmp_path / "TLDOCS.json").write_text(json.dumps({"BusinessServices": [doc]}))
    workflow.apply(app, app.context(), [tmp_path / "TLDOCS.json"], tenant_id="pb")
    clerk = ctx_as(app, "clerk.amritsar")
    no = applications.create(app, app.context(AMRITSAR), business_service="TLDOCS", tenant_id=AMRITSAR,
                             applicant_name="Simran Kaur",
                             applicant_mobile="9876543210")["applicationNo"]
    assert no == "PB-TLDOCS-2026-11-25-000001"                 # a service digitctl does not know: generic series
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        applications.transition(app, clerk, no, "APPLY")
    assert err.value.code == "DOCUMENTS_REQUIRED" and counts(app) == before
    fid = _file(app, AMRITSAR)
    pi = applications.transition(app, clerk, no, "APPLY",
                                 documents=[{"documentType": "OWNERIDPROOF", "fileStoreId": fid}])
    assert pi["state"]["state"] == "APPLIED" and pi["documents"][0]["fileStoreId"] == fid


def test_generic_services_are_reserved_to_superuser_until_digit_knows_their_urls(world, tmp_path):
    app = world
    with pytest.raises(Forbidden) as err:
        applications.create(app, ctx_as(app, "clerk.amritsar"), business_service="TLDOCS", tenant_id=AMRITSAR,
                            applicant_name="Simran Kaur")
    assert err.value.code == "ACCESS_DENIED" and "/digitctl/application/_create" in err.value.message


# -- concurrency -----------------------------------------------------------------------------------
def test_a_stale_transition_is_refused_with_state_changed(world):
    app = world
    no = new_tl(app)
    act(app, "clerk.amritsar", no, "APPLY")
    seen_by_a = applications.show(app, ctx_as(app, "verifier.amritsar"), no)["workflow"]["state"]
    seen_by_b = applications.show(app, ctx_as(app, "verifier.amritsar"), no)["workflow"]["state"]
    act(app, "verifier.amritsar", no, "FORWARD", expected_state=seen_by_a)
    before = counts(app)
    with pytest.raises(Conflict) as err:
        act(app, "verifier.amritsar", no, "REJECT", expected_state=seen_by_b)
    assert err.value.code == "STATE_CHANGED" and err.value.params["state"] == "FIELDINSPECTION"
    assert counts(app) == before


def test_two_threads_race_on_one_application_exactly_one_wins(world):
    app = world
    no = new_tl(app)
    act(app, "clerk.amritsar", no, "APPLY")
    users.create_user(app, app.context(AMRITSAR), users.NewUser(
        user_name="verifier2.amritsar", name="Kuldeep Kaur", type="EMPLOYEE", tenant_id=AMRITSAR, mobile="9800000013",
        roles=[("EMPLOYEE", AMRITSAR), ("TL_DOC_VERIFIER", AMRITSAR)],
        employee=users.EmployeeSpec("DEPT_1", "DESIG_1")))
    before = counts(app)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(who: str, action: str) -> None:
        own = build(app.store_url, app.clock)      # its own engine and connections, as another process would
        try:
            ctx = ctx_as(own, who)
            barrier.wait(30)
            results[who] = applications.transition(own, ctx, no, action, expected_state="APPLIED")["state"]["state"]
        except DigitError as err:
            results[who] = err
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=a) for a in (("verifier.amritsar", "FORWARD"),
                                                              ("verifier2.amritsar", "REJECT"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    won = {k: v for k, v in results.items() if isinstance(v, str)}
    lost = [v for v in results.values() if isinstance(v, DigitError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], Conflict) and lost[0].code == "STATE_CHANGED"
    after = counts(app)
    assert after["wf_process_instance"] == before["wf_process_instance"] + 1
    assert after["outbox_event"] == before["outbox_event"] + 1          # the winner's workflow.transitioned only
    assert status(app, no)[1] == next(iter(won.values()))


# -- PGR: terminal states that still have actions ------------------------------------------------
def test_pgr_resolve_reopen_and_rate(world):
    app = world
    citizen = ctx_as(app, "9876543210")
    no = applications.create(app, citizen, business_service="PGR", tenant_id=AMRITSAR, applicant_name="Simran Kaur",
                             applicant_mobile="9876543210", locality="SUN04",
                             details={"serviceCode": "GarbageNeedsTobeCleared"})["applicationNo"]
    with app.uow(app.base_context(), readonly=True) as uow:
        lme = users.find(uow.session, "lme.amritsar").uuid
        verifier = users.find(uow.session, "verifier.amritsar").uuid
    with pytest.raises(InvalidInput) as err:              # the assignee must be able to act next (PGR_LME)
        act(app, "supervisor.amritsar", no, "ASSIGN", assignees=[verifier])
    assert err.value.code == "INVALID_ASSIGNEE"
    pi = act(app, "supervisor.amritsar", no, "ASSIGN", assignees=[lme], comment="please clear by evening")
    assert pi["state"]["state"] == "PENDINGATLME" and [a["userName"] for a in pi["assignes"]] == ["lme.amritsar"]
    assert pi["stateSla"] == 259200000
    act(app, "lme.amritsar", no, "RESOLVE")
    shown = applications.show(app, citizen, no)
    assert shown["workflow"]["isTerminateState"] is True
    assert {a["action"] for a in shown["workflow"]["nextActions"]} == {"REOPEN", "RATE"}
    act(app, "9876543210", no, "REOPEN", comment="still there")
    assert status(app, no) == ("PENDINGFORASSIGNMENT", "PENDINGFORASSIGNMENT")
    act(app, "supervisor.amritsar", no, "ASSIGN", assignees=[lme])
    act(app, "lme.amritsar", no, "RESOLVE")
    with pytest.raises(Forbidden):
        act(app, "lme.amritsar", no, "RATE")               # CFC / CITIZEN only
    act(app, "9876543210", no, "RATE", comment="5 stars")
    assert status(app, no) == ("CLOSEDAFTERRESOLUTION", "CLOSEDAFTERRESOLUTION")
    with pytest.raises(InvalidInput) as err:
        act(app, "9876543210", no, "REOPEN")
    assert err.value.code == "INVALID_ACTION"
    hist = workflow.history(app, citizen, AMRITSAR, no)
    assert [h["action"] for h in hist] == ["APPLY", "ASSIGN", "RESOLVE", "REOPEN", "ASSIGN", "RESOLVE", "RATE"]


def test_pgr_reject_then_rate_closes_after_rejection(world):
    app = world
    no = applications.create(app, ctx_as(app, "clerk.amritsar"), business_service="PGR", tenant_id=AMRITSAR,
                             applicant_name="Simran Kaur", applicant_mobile="9876543210", locality="SUN04",
                             details={"serviceCode": "StrayAnimals"})["applicationNo"]
    act(app, "supervisor.amritsar", no, "REJECT", comment="not a municipal matter")
    act(app, "9876543210", no, "RATE")
    assert status(app, no)[1] == "CLOSEDAFTERREJECTION"


# -- SENDBACKTOCITIZEN ---------------------------------------------------------------------------------
def _to_field_inspection(app, mobile: str = "9876543210") -> str:
    no = new_tl(app, mobile=mobile)
    act(app, "clerk.amritsar", no, "APPLY")
    act(app, "verifier.amritsar", no, "FORWARD")
    return no


def test_sent_back_to_the_citizen_only_that_citizen_may_act(world):
    app = world
    no = _to_field_inspection(app)
    pi = act(app, "inspector.amritsar", no, "SENDBACKTOCITIZEN", comment="upload the rent deed")
    assert pi["state"]["state"] == "CITIZENACTIONREQUIRED"
    # the citizen's user name is stored as a pseudonym and shown as their mobile, masked
    assert [a["userName"] for a in pi["assignes"]] == ["******3210"]
    before = counts(app)
    with pytest.raises(NotFound) as err:
        act(app, "9876500002", no, "FORWARD")               # another citizen: not theirs
    assert err.value.code == "APPLICATION_NOT_FOUND" and counts(app) == before
    with pytest.raises(Forbidden):
        act(app, "inspector.amritsar", no, "FORWARD")       # FORWARD here is the citizen's
    pi = act(app, "9876543210", no, "FORWARD", comment="uploaded")
    assert pi["state"]["state"] == "FIELDINSPECTION"
    with app.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(WfAssignee)).scalar_one() == 0


def test_the_counter_may_resubmit_for_the_citizen(world):
    app = world
    no = _to_field_inspection(app)
    act(app, "inspector.amritsar", no, "SENDBACKTOCITIZEN")
    assert act(app, "clerk.amritsar", no, "RESUBMIT")["state"]["state"] == "FIELDINSPECTION"


def test_send_back_without_a_citizen_account_assigns_nobody(world):
    app = world
    no = _to_field_inspection(app, mobile="9123456789")        # no CITIZEN user has this mobile
    pi = act(app, "inspector.amritsar", no, "SENDBACKTOCITIZEN")
    assert pi["assignes"] == []
    with pytest.raises(NotFound) as err:
        act(app, "9876543210", no, "FORWARD")               # not theirs either
    assert err.value.code == "APPLICATION_NOT_FOUND"


def test_sent_back_the_citizen_who_made_it_for_someone_else_waits_for_the_applicant(world):
    app = world
    no = applications.create(app, ctx_as(app, "9876500002"), business_service="NewTL", tenant_id=AMRITSAR,
                             applicant_name="Simran Kaur", applicant_mobile="9876543210", locality="SUN04",
                             details={"tradeType": "GOODS.RETAIL.TST-29"})["applicationNo"]
    act(app, "9876500002", no, "APPLY")
    act(app, "verifier.amritsar", no, "FORWARD")
    act(app, "inspector.amritsar", no, "SENDBACKTOCITIZEN")
    with pytest.raises(Forbidden) as err:
        act(app, "9876500002", no, "FORWARD")               # made it, but it went back to the applicant
    assert err.value.code == "NOT_ASSIGNEE"
    assert act(app, "9876543210", no, "FORWARD")["state"]["state"] == "FIELDINSPECTION"


# -- SLA ---------------------------------------------------------------------------------------------
def test_state_and_business_sla_count_down_and_go_negative(world, frozen_clock):
    app = world
    no = new_tl(app)                                        # business SLA 48 h from here
    frozen_clock.advance(hours=2)
    act(app, "clerk.amritsar", no, "APPLY")
    act(app, "verifier.amritsar", no, "FORWARD")            # FIELDINSPECTION: 24 h
    wf_ = applications.show(app, ctx_as(app, "inspector.amritsar"), no)["workflow"]
    assert (wf_["stateSla"], wf_["businessServiceSla"]) == (86_400_000, 46 * 3_600_000)
    frozen_clock.advance(hours=25, minutes=10)
    wf_ = applications.show(app, ctx_as(app, "inspector.amritsar"), no)["workflow"]
    assert wf_["stateSla"] == -(3_600_000 + 600_000)
    assert wf_["businessServiceSla"] == 46 * 3_600_000 - 25 * 3_600_000 - 600_000
    assert wf_["slaLeftMs"] == wf_["stateSla"]
    act(app, "inspector.amritsar", no, "FORWARD")           # PENDINGAPPROVAL: 12 h, from now
    frozen_clock.advance(hours=30)
    wf_ = applications.show(app, ctx_as(app, "approver.amritsar"), no)["workflow"]
    assert wf_["stateSla"] == -18 * 3_600_000
    assert wf_["businessServiceSla"] == 48 * 3_600_000 - (2 + 25 + 30) * 3_600_000 - 600_000


def test_an_action_that_keeps_the_state_keeps_its_sla_deadline(world, frozen_clock):
    app = world
    no = to_pending_payment(app)                            # PENDINGPAYMENT: 12 h
    frozen_clock.advance(hours=5)
    pi = act(app, "clerk.amritsar", no, "ADHOC", comment="rebate asked for")      # stays in PENDINGPAYMENT
    assert pi["state"]["state"] == "PENDINGPAYMENT" and pi["stateSla"] == 7 * HOUR
    assert applications.show(app, ctx_as(app, "clerk.amritsar"), no)["workflow"]["stateSla"] == 7 * HOUR
    frozen_clock.advance(hours=9)
    act(app, "clerk.amritsar", no, "ADHOC")
    wf_ = applications.show(app, ctx_as(app, "clerk.amritsar"), no)["workflow"]
    assert wf_["stateSla"] == -2 * HOUR                     # breached stays breached
    assert workflow.history(app, ctx_as(app, "clerk.amritsar"), AMRITSAR, no)[-1]["stateSla"] == -2 * HOUR


def _variant(tmp_path, code: str, edit) -> Path:
    doc = copy.deepcopy(json.loads((CONFIGS / "workflows" / "NewTL.businessservice.json").read_text())
                        ["BusinessServices"][0])
    doc["businessService"] = code
    edit({st["state"]: st for st in doc["states"]})
    path = tmp_path / f"{code}.json"
    path.write_text(json.dumps({"BusinessServices": [doc]}))
    return path


def test_star_in_an_actions_roles_means_any_role(world, tmp_path):
    app = world

    def star_apply(states):
        states["INITIATED"]["actions"][0]["roles"] = ["*"]          # APPLY: anyone

    workflow.apply(app, app.context(), [_variant(tmp_path, "NewTL", star_apply)], tenant_id="pb")
    no = new_tl(app)
    # EMPLOYEE, GRO, CR_TL ... are no role of NewTL's: "*" still admits them
    assert act(app, "supervisor.amritsar", no, "APPLY")["state"]["state"] == "APPLIED"


def test_assignees_are_checked_against_the_next_states_moving_roles_on_state_changes_only(world):
    app = world
    no = to_pending_payment(app)
    with app.uow(app.base_context(), readonly=True) as uow:
        verifier = users.find(uow.session, "verifier.amritsar").uuid
        clerk = users.find(uow.session, "clerk.amritsar").uuid
    # ADHOC keeps PENDINGPAYMENT: DIGIT checks no roles of an assignee then
    pi = act(app, "clerk.amritsar", no, "ADHOC", assignees=[verifier])
    assert [a["userName"] for a in pi["assignes"]] == ["verifier.amritsar"]
    with pytest.raises(InvalidInput) as err:
        act(app, "clerk.amritsar", no, "ADHOC", assignees=["no-such-uuid"])
    assert err.value.code == "INVALID_ASSIGNEE"
    fresh = new_tl(app)
    with pytest.raises(InvalidInput) as err:                # APPLIED is left by TL_DOC_VERIFIER only
        act(app, "clerk.amritsar", fresh, "APPLY", assignees=[clerk])
    assert err.value.code == "INVALID_ASSIGNEE"
    assert act(app, "clerk.amritsar", fresh, "APPLY", assignees=[verifier])["assignes"][0]["uuid"] == verifier


# -- auto-escalation ----------------------------------------------------------------------------------
def escalation_masters(reference: Path, folder: Path) -> Path:
    """The real pb Workflow.AutoEscalation file and the real AUTO_ESCALATE role, as an MDMS folder."""
    pb = reference / "mdms" / "data" / "pb"
    (folder / "Workflow").mkdir(parents=True)
    (folder / "Workflow" / "AutoEscalation.json").write_text((pb / "Workflow" / "AutoEscalation.json").read_text())
    bundled_roles = json.loads((CONFIGS / "mdms" / "data" / "pb" / "ACCESSCONTROL-ROLES" / "roles.json").read_text())
    real = [r for r in json.loads((pb / "ACCESSCONTROL-ROLES" / "roles.json").read_text())["roles"]
            if r["code"] == "AUTO_ESCALATE"]
    (folder / "ACCESSCONTROL-ROLES").mkdir()
    (folder / "ACCESSCONTROL-ROLES" / "roles.json").write_text(json.dumps(
        {**bundled_roles, "roles": [*bundled_roles["roles"], *real]}))
    return folder


@pytest.fixture
def escalation_world(world, reference, tmp_path):
    app = world
    mdms.apply(app, app.context("pb"), [escalation_masters(reference, tmp_path / "esc")])
    users.create_user(app, app.context("pb"), users.NewUser(
        user_name="escalator", name="Auto Escalation", type="EMPLOYEE", tenant_id="pb", mobile="9800000019",
        roles=[("AUTO_ESCALATE", "pb")]))
    return app


def _to_pending_approval(app) -> str:
    no = new_tl(app)
    for who, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                        ("inspector.amritsar", "FORWARD")):
        act(app, who, no, action)
    return no


def test_escalate_takes_the_configured_action_two_days_past_the_state_sla(escalation_world, tmp_path, frozen_clock):
    app = escalation_world

    def auto_approve(states):                              # as DIGIT's escalation instructions say
        states["PENDINGAPPROVAL"]["actions"][1]["roles"] = ["TL_APPROVER", "AUTO_ESCALATE"]

    workflow.apply(app, app.context(), [_variant(tmp_path, "NewTL", auto_approve)], tenant_id="pb")
    late = _to_pending_approval(app)                       # PENDINGAPPROVAL: 12 h SLA, then 2 days' grace
    frozen_clock.advance(hours=12)
    recent = _to_pending_approval(app)
    frozen_clock.advance(days=2, minutes=1)
    escalator = ctx_as(app, "escalator")
    before = counts(app)
    dry = workflow.escalate(app, escalator, dry_run=True)
    assert [(i["businessId"], i["result"], i["nextState"]) for i in dry["items"]] == \
        [(late, "would escalate", "PENDINGPAYMENT")]
    assert counts(app) == before and status(app, late) == ("PENDINGAPPROVAL", "PENDINGAPPROVAL")
    done = workflow.escalate(app, escalator, business_service="NewTL")
    assert [(i["businessId"], i["result"]) for i in done["items"]] == [(late, "escalated")]
    assert done["items"][0]["stateSlaBreachedByMs"] == 2 * DAY + 60_000
    assert status(app, late) == ("PENDINGPAYMENT", "PENDINGPAYMENT")
    assert status(app, recent) == ("PENDINGAPPROVAL", "PENDINGAPPROVAL")
    last = workflow.history(app, ctx_as(app, "approver.amritsar"), AMRITSAR, late)[-1]
    assert (last["action"], last["assigner"]["userName"]) == ("APPROVE", "escalator")
    assert last["comment"].startswith("auto-escalated")
    assert workflow.escalate(app, escalator)["items"] == []          # nothing left past its SLA


def test_escalate_reports_what_the_workflow_refuses_and_changes_nothing(escalation_world, frozen_clock):
    app = escalation_world
    no = _to_pending_approval(app)              # the real NewTL: APPROVE is TL_APPROVER's alone
    frozen_clock.advance(days=3)
    before = counts(app)
    report = workflow.escalate(app, ctx_as(app, "escalator"))
    assert [(i["businessId"], i["result"], i["code"]) for i in report["items"]] == \
        [(no, "refused", "INVALID_ROLE_FOR_ACTION")]
    assert counts(app) == before and status(app, no)[1] == "PENDINGAPPROVAL"


@pytest.mark.parametrize("who", ["clerk.amritsar", "admin", "approver.amritsar"])
def test_only_an_auto_escalate_user_runs_escalation(escalation_world, who):
    with pytest.raises(Forbidden) as err:
        workflow.escalate(escalation_world, ctx_as(escalation_world, who))
    assert err.value.code == "AUTO_ESCALATE_ROLE_REQUIRED"


# -- versions ----------------------------------------------------------------------------------------
def test_a_changed_definition_is_a_new_version_and_running_applications_keep_theirs(world, tmp_path):
    app = world
    old = new_tl(app)
    doc = json.loads((CONFIGS / "workflows" / "NewTL.businessservice.json").read_text())
    for st in doc["BusinessServices"][0]["states"]:
        if st["state"] == "FIELDINSPECTION":
            st["sla"] = 3_600_000
    changed = tmp_path / "NewTL.json"
    changed.write_text(json.dumps(doc))
    report = workflow.apply(app, app.context(), [changed], tenant_id="pb")
    assert [(r["businessService"], r["version"], r["status"]) for r in report.rows] == [("NewTL", 2, "new version")]
    assert workflow.apply(app, app.context(), [changed], tenant_id="pb").rows[0]["status"] == "unchanged"
    new = new_tl(app)
    for no in (old, new):
        act(app, "clerk.amritsar", no, "APPLY")
        act(app, "verifier.amritsar", no, "FORWARD")
    old_wf = applications.show(app, ctx_as(app, "inspector.amritsar"), old)["workflow"]
    new_wf = applications.show(app, ctx_as(app, "inspector.amritsar"), new)["workflow"]
    assert (old_wf["version"], old_wf["stateSla"]) == (1, 86_400_000)
    assert (new_wf["version"], new_wf["stateSla"]) == (2, 3_600_000)
    assert act(app, "inspector.amritsar", old, "FORWARD")["version"] == 1


# -- reading -----------------------------------------------------------------------------------------
def test_show_masks_per_policy_and_citizens_see_only_their_own(world):
    app = world
    no = new_tl(app)
    gro = applications.show(app, ctx_as(app, "supervisor.amritsar"), no)      # GRO: MASKED first level
    assert gro["applicant"]["name"] == "S***** K***" and gro["applicant"]["mobileNumber"] == "******3210"
    own = applications.show(app, ctx_as(app, "9876543210"), no)
    assert own["applicant"]["name"] == "Simran Kaur"
    with pytest.raises(NotFound):
        applications.show(app, ctx_as(app, "9876500002"), no)
    with pytest.raises(Forbidden):
        applications.show(app, ctx_as(app, "clerk.jalandhar"), no)


def test_list_filters_by_service_status_and_mobile(world):
    app = world
    a = new_tl(app)
    b = new_tl(app, mobile="9876500002")
    act(app, "clerk.amritsar", b, "APPLY")
    clerk = ctx_as(app, "clerk.amritsar")

    def numbers(ctx, **kw) -> list[str]:
        return [x["applicationNo"] for x in applications.list_applications(app, ctx, AMRITSAR, **kw)]

    assert numbers(clerk) == [b, a]
    assert numbers(clerk, status="APPLIED") == [b]
    assert numbers(clerk, mobile="+91 98765 00002") == [b]
    assert numbers(ctx_as(app, "9876500002")) == [b]
    assert numbers(clerk, business_service="NewTL") == [b, a]
    with pytest.raises(Forbidden):
        applications.list_applications(app, ctx_as(app, "clerk.jalandhar"), AMRITSAR, business_service="NewTL")


def test_application_timestamps_follow_the_clock(world, frozen_clock):
    app = world
    no = new_tl(app)
    frozen_clock.advance(minutes=5)
    act(app, "clerk.amritsar", no, "APPLY")
    doc = applications.show(app, ctx_as(app, "clerk.amritsar"), no)
    created = dt.datetime.fromtimestamp(doc["auditDetails"]["createdTime"] / 1000, dt.timezone.utc)
    assert doc["auditDetails"]["lastModifiedTime"] - doc["auditDetails"]["createdTime"] == 300_000
    assert created == dt.datetime(2026, 11, 25, 5, 30, tzinfo=dt.timezone.utc)
