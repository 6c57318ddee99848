"""`digitctl workflow|application|inbox` through Typer's runner, logged in as the demo users,
on the real workflow files."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from digitctl.bootstrap import build
from digitctl.clock import FixedClock, parse_instant
from digitctl.resources import bundled
from digitctl.services import mdms, quickstart
from digitctl.cli.main import app as cli_app
from local_store.models import OutboxEvent, WfBusinessService

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
CONFIGS = bundled("configs")
PASSWORD = quickstart.DEMO_PASSWORD


CLI = cli_app


def run(store: str, *args: str, stdin: str | None = None, now: str = NOW):
    return runner.invoke(CLI, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": now})


def login(store: str, user: str, now: str = NOW) -> None:
    # logout first: `login` takes its default --tenant from the current session, so logged in
    # at pb.amritsar, `login --username clerk.jalandhar` looks for the name at pb.amritsar
    run(store, "logout", now=now)
    res = run(store, "login", "--username", user, "--password-stdin", stdin=PASSWORD + "\n", now=now)
    assert res.exit_code == 0, res.output


@pytest.fixture
def store(demo_users_url: str) -> str:
    """The bundled state and the quickstart's demo users (conftest's template), admin logged in."""
    login(demo_users_url, "admin")
    return demo_users_url


def count(store: str, model) -> int:
    app = build(store)
    try:
        with app.store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model)).scalar_one()
    finally:
        app.close()


def apply_real(store: str) -> dict:
    res = run(store, "workflow", "apply", str(CONFIGS / "workflows"), "--tenant", "pb", "-o", "json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_apply_list_and_show_the_real_definitions(store):
    report = apply_real(store)
    assert sorted((r["businessService"], r["tenantId"], r["status"]) for r in report["businessServices"]) == [
        ("FIRENOC", "pb", "added"), ("NewTL", "pb", "added"), ("NewWS1", "pb", "added"),
        ("PGR", "pb", "added"), ("PT.CREATE", "pb", "added")]
    assert {r["status"] for r in apply_real(store)["businessServices"]} == {"unchanged"}
    listed = json.loads(run(store, "workflow", "list", "--tenant", "pb.amritsar", "-o", "json").stdout)
    assert {b["businessService"]: b["version"] for b in listed["BusinessServices"]} == {
        "FIRENOC": 1, "NewTL": 1, "NewWS1": 1, "PGR": 1, "PT.CREATE": 1}
    table = run(store, "workflow", "list", "--tenant", "pb.amritsar")
    assert table.exit_code == 0 and "NewTL" in table.stdout and "2d 0h" in table.stdout
    mermaid = run(store, "workflow", "show", "NewTL", "--tenant", "pb.amritsar", "--format", "mermaid")
    assert mermaid.exit_code == 0, mermaid.output
    lines = mermaid.stdout.splitlines()
    assert lines[0] == "stateDiagram-v2" and "    [*] --> start" in lines
    assert "    PENDINGAPPROVAL --> PENDINGPAYMENT: APPROVE (TL_APPROVER)" in lines
    assert "    PENDINGPAYMENT --> APPROVED: PAY (CITIZEN, TL_CEMP, SYSTEM_PAYMENT)" in lines
    dot = run(store, "workflow", "show", "PGR", "--tenant", "pb.amritsar", "--format", "dot")
    assert dot.stdout.startswith('digraph "PGR"') and '"RESOLVED" -> "PENDINGFORASSIGNMENT"' in dot.stdout


@pytest.mark.parametrize("breakage,words", [
    ("missing next state", "which is not a state of this workflow"),
    ("unreachable state", "unreachable from the start state: ORPHAN"),
])
def test_an_invalid_definition_is_refused_and_nothing_written(store, tmp_path, breakage, words):
    apply_real(store)
    doc = json.loads((CONFIGS / "workflows" / "NewTL.businessservice.json").read_text())
    bs = doc["BusinessServices"][0]
    if breakage == "missing next state":
        next(s for s in bs["states"] if s["state"] == "PENDINGAPPROVAL")["actions"][1]["nextState"] = "PENDINGPAYMNET"
    else:
        bs["states"].append({"state": "ORPHAN", "applicationStatus": "ORPHAN", "isStartState": False,
                             "isTerminateState": True, "actions": []})
    bad = tmp_path / "NewTL.bad.json"
    bad.write_text(json.dumps(doc))
    before = (count(store, WfBusinessService), count(store, OutboxEvent))
    res = run(store, "workflow", "apply", str(bad), "-o", "json")
    assert res.exit_code == 2
    err = json.loads(res.stdout)["Errors"][0]
    assert err["code"] == "WORKFLOW_INVALID" and words in err["message"]
    assert (count(store, WfBusinessService), count(store, OutboxEvent)) == before
    res = run(store, "workflow", "apply", str(bad))
    assert res.exit_code == 2 and "WORKFLOW_INVALID" in res.stderr


def test_an_application_through_the_command_line(store, tmp_path):
    apply_real(store)
    login(store, "clerk.amritsar")
    res = run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
              "--applicant-name", "Simran Kaur", "--applicant-mobile", "9876543210", "--locality", "SUN04",
              "--details", '{"tradeName": "Kaur Sweets", "tradeType": "GOODS.RETAIL.TST-29"}', "-o", "json")
    assert res.exit_code == 0, res.output
    created = json.loads(res.stdout)["Applications"][0]
    no = created["applicationNo"]
    assert no == "PB-TL-2026-11-25-000001" and created["applicationStatus"] == "INITIATED"
    bad = run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
              "--applicant-name", "X", "--applicant-mobile", "9876543210", "--locality", "ATLANTIS", "-o", "json")
    assert bad.exit_code == 2 and json.loads(bad.stdout)["Errors"][0]["code"] == "INVALID_LOCALITY"
    bad = run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
              "--applicant-name", "X", "--applicant-mobile", "9876543210", "--details", "[1]")
    assert bad.exit_code == 2 and "INVALID_DETAILS" in bad.stderr

    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    res = run(store, "workflow", "transition", no, "--action", "apply", "--tenant", "pb.amritsar",
              "--comment", "documents checked at the counter", "--document", str(pdf))
    assert res.exit_code == 0, res.output
    assert "APPLY -> APPLIED" in res.stdout
    wrong = run(store, "workflow", "transition", no, "--action", "FORWARD", "--tenant", "pb.amritsar", "-o", "json")
    assert wrong.exit_code == 3
    assert json.loads(wrong.stdout)["Errors"][0]["code"] == "INVALID_ROLE_FOR_ACTION"

    login(store, "verifier.amritsar")
    box = json.loads(run(store, "inbox", "-o", "json").stdout)
    assert [i["applicationNo"] for i in box["items"]] == [no] and box["totalCount"] == 1
    assert box["items"][0]["applicant"] == {"name": "S***** K***", "mobileNumber": "******3210"}
    table = run(store, "inbox")
    assert table.exit_code == 0, table.output
    for word in ("SLA left", "assignee", no, "APPLIED", "S***** K***", "SUN04", "2d 0h"):
        assert word in table.stdout, word
    assert "1 in all: APPLIED 1" in table.stdout
    res = run(store, "workflow", "transition", no, "--action", "FORWARD", "--tenant", "pb.amritsar",
              "--expect-state", "APPLIED")
    assert res.exit_code == 0, res.output
    stale = run(store, "workflow", "transition", no, "--action", "REJECT", "--tenant", "pb.amritsar",
                "--expect-state", "APPLIED", "-o", "json")
    assert stale.exit_code == 2 and json.loads(stale.stdout)["Errors"][0]["code"] == "STATE_CHANGED"
    assert json.loads(run(store, "inbox", "-o", "json").stdout)["items"] == []

    later = "2026-11-26T13:30:00+05:30"            # FIELDINSPECTION's 24 h ran out 2h 30m ago
    login(store, "inspector.amritsar", now=later)   # (a session lasts a 12 h shift)
    table = run(store, "inbox", "--service", "NewTL", now=later)
    assert no in table.stdout and "-2h 30m" in table.stdout
    csv_out = run(store, "inbox", "-o", "csv", now=later).stdout.splitlines()
    assert csv_out[0] == "id,service,status,applicant,locality,SLA left,assignee"
    assert csv_out[1].startswith(f"{no},NewTL,FIELDINSPECTION,S***** K*** ******3210,SUN04,-2h 30m")
    assert json.loads(run(store, "inbox", "--mine", "-o", "json", now=later).stdout)["totalCount"] == 0

    login(store, "inspector.amritsar")
    hist = json.loads(run(store, "workflow", "history", no, "--tenant", "pb.amritsar", "-o", "json").stdout)
    steps = [(h["action"], h["assigner"]["userName"], h["state"]["state"]) for h in hist["ProcessInstances"]]
    assert steps == [("FORWARD", "verifier.amritsar", "FIELDINSPECTION"), ("APPLY", "clerk.amritsar", "APPLIED"),
                     ("INITIATE", "clerk.amritsar", "INITIATED")]          # newest first, as DIGIT's search
    assert [h["previousStatus"] for h in hist["ProcessInstances"]] == ["APPLIED", "INITIATED", None]
    assert hist["ProcessInstances"][1]["comment"] == "documents checked at the counter"
    assert len(hist["ProcessInstances"][1]["documents"]) == 1        # the scan went to the file store
    text = run(store, "workflow", "history", no, "--tenant", "pb.amritsar")
    assert "next actions for you:" in text.stdout and "SENDBACKTOCITIZEN" in text.stdout

    shown = json.loads(run(store, "application", "show", no, "-o", "json").stdout)["Applications"][0]
    assert shown["workflow"]["state"] == "FIELDINSPECTION"
    assert {a["action"] for a in shown["workflow"]["nextActions"]} == {"SENDBACKTOCITIZEN", "FORWARD", "REJECT",
                                                                       "SENDBACK"}
    human = run(store, "application", "show", no)
    assert human.exit_code == 0 and "SLA left" in human.stdout and "Ajit Nagar - Area1" in human.stdout
    listed = json.loads(run(store, "application", "list", "--tenant", "pb.amritsar", "-o", "json").stdout)
    assert [a["applicationNo"] for a in listed["Applications"]] == [no]
    assert run(store, "application", "list", "--tenant", "pb.amritsar", "--status", "APPLIED",
               "-o", "json").stdout.count("applicationNo") == 0

    login(store, "clerk.jalandhar")
    other = run(store, "application", "show", no, "-o", "json")
    assert other.exit_code == 3 and json.loads(other.stdout)["Errors"][0]["code"] == "ACCESS_DENIED"
    assert json.loads(run(store, "inbox", "-o", "json").stdout)["totalCount"] == 0


def _tl_at_pending_payment(store: str, mobile: str = "9876543210") -> str:
    login(store, "clerk.amritsar")
    res = run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
              "--applicant-name", "Simran Kaur", "--applicant-mobile", mobile, "--locality", "SUN04",
              "--details", '{"tradeType": "GOODS.RETAIL.TST-29"}', "-o", "json")
    assert res.exit_code == 0, res.output
    no = json.loads(res.stdout)["Applications"][0]["applicationNo"]
    for user, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                         ("inspector.amritsar", "FORWARD"), ("approver.amritsar", "APPROVE")):
        login(store, user)
        res = run(store, "workflow", "transition", no, "--action", action, "--tenant", "pb.amritsar")
        assert res.exit_code == 0, res.output
    return no


@pytest.mark.parametrize("who", ["clerk.amritsar", "9876543210", "approver.amritsar"])
def test_nobody_takes_pay_through_workflow_transition(store, who):
    apply_real(store)
    no = _tl_at_pending_payment(store)
    login(store, who)
    before = count(store, OutboxEvent)
    res = run(store, "workflow", "transition", no, "--action", "PAY", "--tenant", "pb.amritsar", "-o", "json")
    assert res.exit_code == 3, res.output
    assert json.loads(res.stdout)["Errors"][0]["code"] == "ACTION_BY_PAYMENT_ONLY"
    assert count(store, OutboxEvent) == before
    login(store, "clerk.amritsar")
    shown = json.loads(run(store, "application", "show", no, "-o", "json").stdout)["Applications"][0]
    assert shown["applicationStatus"] == "PENDINGPAYMENT"
    assert "PAY" not in {a["action"] for a in shown["workflow"]["nextActions"]}


def test_a_citizen_cannot_move_someone_elses_application(store):
    apply_real(store)
    login(store, "clerk.amritsar")
    res = run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
              "--applicant-name", "Navdeep Gill", "--applicant-mobile", "9123456789", "--locality", "SUN04",
              "--details", '{"tradeType": "GOODS.RETAIL.TST-29"}', "-o", "json")
    no = json.loads(res.stdout)["Applications"][0]["applicationNo"]
    login(store, "9876543210")
    res = run(store, "workflow", "transition", no, "--action", "APPLY", "--tenant", "pb.amritsar", "-o", "json")
    assert res.exit_code == 2, res.output
    assert json.loads(res.stdout)["Errors"][0]["code"] == "APPLICATION_NOT_FOUND"
    login(store, "clerk.amritsar")
    shown = json.loads(run(store, "application", "show", no, "-o", "json").stdout)["Applications"][0]
    assert shown["applicationStatus"] == "INITIATED"


@pytest.mark.parametrize("args,code", [
    (["--details", '{"tradeType": "BOGUS"}', "--locality", "SUN04"], "INVALID_TRADETYPE"),
    (["--details", '{"tradeType": "GOODS.RETAIL.TST-29"}'], "LOCALITY_REQUIRED"),
    (["--details", '{"tradeType": "GOODS.RETAIL.TST-29"}', "--locality", "JLC476"], "INVALID_LOCALITY"),
])
def test_application_fields_are_checked_against_master_data(store, args, code):
    apply_real(store)
    login(store, "clerk.amritsar")
    before = count(store, OutboxEvent)
    res = run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
              "--applicant-name", "Simran Kaur", "--applicant-mobile", "9876543210", *args, "-o", "json")
    assert res.exit_code == 2, res.output
    assert json.loads(res.stdout)["Errors"][0]["code"] == code
    assert count(store, OutboxEvent) == before


def test_a_pgr_complaint_needs_a_known_service_code(store):
    apply_real(store)
    login(store, "clerk.amritsar")
    base = ["application", "create", "--service", "PGR", "--tenant", "pb.amritsar", "--applicant-name", "Simran Kaur",
            "--applicant-mobile", "9876543210", "--locality", "SUN04", "-o", "json"]
    res = run(store, *base, "--details", '{"serviceCode": "BOGUS"}')
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_SERVICECODE"
    assert run(store, *base, "--details", '{"serviceCode": "StrayAnimals"}').exit_code == 0


@pytest.fixture
def escalation_store(store, reference, tmp_path) -> str:
    """The store above plus the real pb Workflow.AutoEscalation, the real AUTO_ESCALATE role, a
    NewTL whose APPROVE AUTO_ESCALATE may take (DIGIT's instructions) and a user holding it."""
    from digitctl.services import users, workflow

    pb = reference / "mdms" / "data" / "pb"
    folder = tmp_path / "esc"
    (folder / "Workflow").mkdir(parents=True)
    (folder / "Workflow" / "AutoEscalation.json").write_text((pb / "Workflow" / "AutoEscalation.json").read_text())
    roles = json.loads((CONFIGS / "mdms" / "data" / "pb" / "ACCESSCONTROL-ROLES" / "roles.json").read_text())
    roles["roles"] += [r for r in json.loads((pb / "ACCESSCONTROL-ROLES" / "roles.json").read_text())["roles"]
                       if r["code"] == "AUTO_ESCALATE"]
    (folder / "ACCESSCONTROL-ROLES").mkdir()
    (folder / "ACCESSCONTROL-ROLES" / "roles.json").write_text(json.dumps(roles))
    doc = json.loads((CONFIGS / "workflows" / "NewTL.businessservice.json").read_text())
    for st in doc["BusinessServices"][0]["states"]:
        if st["state"] == "PENDINGAPPROVAL":
            st["actions"][1]["roles"].append("AUTO_ESCALATE")
    (tmp_path / "NewTL.json").write_text(json.dumps(doc))
    app = build(store, FixedClock(parse_instant(NOW)))
    try:
        mdms.apply(app, app.context("pb"), [folder])
        workflow.apply(app, app.context(), [CONFIGS / "workflows", tmp_path / "NewTL.json"], tenant_id="pb")
        users.create_user(app, app.context("pb"), users.NewUser(
            user_name="escalator", name="Auto Escalation", type="EMPLOYEE", tenant_id="pb", mobile="9800000019",
            roles=[("AUTO_ESCALATE", "pb")], password=PASSWORD))
    finally:
        app.close()
    return store


def test_workflow_escalate_from_the_command_line(escalation_store):
    store = escalation_store
    login(store, "clerk.amritsar")
    res = run(store, "application", "create", "--service", "NewTL", "--tenant", "pb.amritsar",
              "--applicant-name", "Simran Kaur", "--applicant-mobile", "9876543210", "--locality", "SUN04",
              "--details", '{"tradeType": "GOODS.RETAIL.TST-29"}', "-o", "json")
    no = json.loads(res.stdout)["Applications"][0]["applicationNo"]
    for user, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                         ("inspector.amritsar", "FORWARD")):
        login(store, user)
        assert run(store, "workflow", "transition", no, "--action", action, "--tenant", "pb.amritsar").exit_code == 0
    later = "2026-11-28T00:00:01+05:30"             # PENDINGAPPROVAL's 12 h ended 2026-11-25 23:00
    login(store, "clerk.amritsar", now=later)
    refused = run(store, "workflow", "escalate", "-o", "json", now=later)
    assert refused.exit_code == 3 and json.loads(refused.stdout)["Errors"][0]["code"] == "AUTO_ESCALATE_ROLE_REQUIRED"
    login(store, "escalator", now=later)
    dry = run(store, "workflow", "escalate", "--dry-run", now=later)
    assert dry.exit_code == 0, dry.output
    assert no in dry.stdout and "would escalate" in dry.stdout
    done = json.loads(run(store, "workflow", "escalate", "-o", "json", now=later).stdout)
    assert [(i["businessId"], i["result"], i["nextState"]) for i in done["items"]] == [(no, "escalated",
                                                                                        "PENDINGPAYMENT")]
    assert json.loads(run(store, "workflow", "escalate", "-o", "json", now=later).stdout)["items"] == []
