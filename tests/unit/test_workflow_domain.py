"""The workflow definition rules on DIGIT's real BusinessService files."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from digitctl.domain import workflow as wf


def real(reference: Path, name: str) -> dict:
    return json.loads((reference / "workflow" / f"{name}.businessservice.json").read_text())["BusinessServices"][0]


@pytest.mark.parametrize("name", ["NewTL", "PT.CREATE", "NewWS1", "PGR", "FIRENOC"])
def test_the_five_real_workflows_are_valid(reference, name):
    defn = wf.parse(real(reference, name))
    errors, _ = wf.check(defn, None)
    assert errors == []
    assert defn.start is not None and defn.start.name is None


def test_unknown_roles_only_warn(reference):
    defn = wf.parse(real(reference, "NewTL"))
    errors, warnings = wf.check(defn, {"CITIZEN", "TL_CEMP", "TL_DOC_VERIFIER", "TL_FIELD_INSPECTOR",
                                       "TL_APPROVER", "SYSTEM"})
    assert errors == []
    assert warnings == ["roles not in ACCESSCONTROL-ROLES: SYSTEM_PAYMENT"]


def test_a_missing_next_state_is_refused_precisely(reference):
    doc = real(reference, "NewTL")
    bad = copy.deepcopy(doc)
    for s in bad["states"]:
        if s["state"] == "PENDINGAPPROVAL":
            s["actions"][1]["nextState"] = "PENDINGPAYMNET"
    errors, _ = wf.check(wf.parse(bad), None)
    assert "state PENDINGAPPROVAL: action APPROVE goes to 'PENDINGPAYMNET', which is not a state of this workflow" in errors


def test_unreachable_states_and_missing_start_are_refused(reference):
    doc = real(reference, "PGR")
    orphan = copy.deepcopy(doc)
    orphan["states"].append({"state": "LIMBO", "applicationStatus": "LIMBO", "actions": [
        {"action": "X", "nextState": "RESOLVED", "roles": ["GRO"]}]})
    errors, _ = wf.check(wf.parse(orphan), None)
    assert errors == ["unreachable from the start state: LIMBO"]
    no_start = copy.deepcopy(doc)
    no_start["states"] = [s for s in no_start["states"] if s["state"] is not None]
    errors, _ = wf.check(wf.parse(no_start), None)
    assert 'no start state (a state with "state": null)' in errors


def test_terminate_states_keep_their_actions_and_star_means_any_role(reference):
    pgr = wf.parse(real(reference, "PGR"))
    resolved = pgr.state("RESOLVED")
    assert resolved is not None
    assert resolved.is_terminate and [a.action for a in resolved.actions] == ["REOPEN", "RATE"]
    assert pgr.actionable_states({"CITIZEN"}) >= {None, "RESOLVED", "REJECTED"}
    doc = real(reference, "PGR")
    doc["states"][1]["actions"][0]["roles"] = ["*"]
    starred = wf.parse(doc)
    assign = starred.states[1].actions[0]
    # WorkflowUtil.isRoleAvailable: "*" admits any role, even one the service never names ...
    assert wf.roles_allow(assign.roles, {"PT_CEMP"}) and wf.roles_allow(assign.roles, {"GRO"})
    assert starred.actionable_states({"PT_CEMP"}) == {starred.states[1].name}
    # ... but never a user with no role at all
    assert not wf.roles_allow(assign.roles, set())
    assert not wf.roles_allow(["GRO"], {"PT_CEMP"})


def test_roles_needed_and_what_an_assignee_must_hold(reference):
    tl = wf.parse(real(reference, "NewTL"))
    pending, applied = tl.state("PENDINGPAYMENT"), tl.state("APPLIED")
    assert pending is not None and applied is not None
    adhoc, pay = pending.action("ADHOC"), pending.action("PAY")
    assert adhoc is not None and pay is not None
    assert tl.roles_needed(pending, pay) == {"CITIZEN", "TL_CEMP", "SYSTEM_PAYMENT"}
    assert tl.roles_needed(pending, adhoc) == tl.service_roles          # keeps the state: any role of NewTL
    # the roles of the state-changing actions only (ADHOC stays in PENDINGPAYMENT)
    assert tl.next_state_roles(pending) == {"CITIZEN", "TL_CEMP", "SYSTEM_PAYMENT"}
    assert tl.next_state_roles(applied) == {"TL_DOC_VERIFIER"}


def test_graphs_name_every_transition(reference):
    defn = wf.parse(real(reference, "NewTL"))
    m = wf.mermaid(defn)
    assert "PENDINGAPPROVAL --> PENDINGPAYMENT: APPROVE (TL_APPROVER)" in m
    d = wf.dot(defn)
    assert '"PENDINGPAYMENT" -> "APPROVED"' in d and d.startswith('digraph "NewTL"')
    n = sum(len(s.actions) for s in defn.states)
    assert d.count("->") == n


def test_sla_goes_negative(frozen_clock):
    import datetime as dt

    now = frozen_clock.now()
    assert wf.sla_left(now + dt.timedelta(hours=1), now) == 3_600_000
    assert wf.sla_left(now - dt.timedelta(minutes=1), now) == -60_000
    assert wf.sla_left(None, now) is None
