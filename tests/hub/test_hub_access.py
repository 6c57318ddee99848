"""The hub's operator actions on the whole real pb tree: digitctl's own /digitctl/hub/... URLs are
not in DIGIT's action master, so the one access check reserves them to SUPERUSER (as every
/digitctl/ action); the state's SUPERUSER may run them, a user without the role may not."""
from __future__ import annotations

from typing import Any

import pytest

from digitctl.bootstrap import App
from digitctl.errors import Forbidden
from digitctl.services import access_check, hub_applyloop, hub_counters, hub_reconcile, users
from tests.conftest import PB_ADMIN

HUB_ACTIONS = [hub_counters.ENROL_ACTION, hub_counters.SEARCH_ACTION, hub_counters.REVOKE_ACTION,
               hub_counters.RECONCILE_ACTION, hub_applyloop.APPLY_ACTION,
               hub_applyloop.RELEASE_ACTION]


def test_superuser_at_the_state_runs_the_hub_others_do_not(pb_tree_app: App, as_user: Any) -> None:
    admin = as_user(pb_tree_app, PB_ADMIN)
    for url in HUB_ACTIONS:
        decision = access_check.check(pb_tree_app, admin, url, "pb")[1]
        assert decision.allowed and decision.role == ("SUPERUSER", "pb"), url
    assert hub_counters.enrol(pb_tree_app, admin.for_tenant("pb.amritsar"), "pb.amritsar", "A2")["counterCode"]
    users.create_user(pb_tree_app, admin, users.NewUser(
        user_name="emp1", name="Gurpreet Kaur", type="EMPLOYEE", tenant_id="pb.amritsar", mobile="9814000001",
        roles=[("EMPLOYEE", "pb.amritsar"), ("TL_CEMP", "pb.amritsar")],
        employee=users.EmployeeSpec("DEPT_1", "DESIG_1")))
    clerk = as_user(pb_tree_app, "emp1", "pb.amritsar")
    with pytest.raises(Forbidden):
        hub_counters.enrol(pb_tree_app, clerk, "pb.amritsar", "A3")
    with pytest.raises(Forbidden):
        hub_reconcile.reconcile(pb_tree_app, clerk)
    assert [c["counterCode"] for c in hub_counters.counters(pb_tree_app, admin)] == ["C02"]
