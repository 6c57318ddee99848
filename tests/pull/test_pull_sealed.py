"""What a pull writes is sealed in the counter's own audit chain: demands (with their lines), the
bills it expires and users (with their roles) that came down from the hub verify afterwards
(`digitctl store check` at a counter that pulled must not call its own rows tampered with)."""
from __future__ import annotations

from typing import Any

from digitctl.domain.identity import NewUser
from digitctl.services import audit, billing, shifts, users
from tests.helpers import AMRITSAR, ctx_as, demand
from tests.pull.test_pull import enrol, pay_cash, pull_all, world  # noqa: F401 - the fixture


def test_pulled_demands_bills_and_users_verify_in_the_counters_audit_chain(world: dict[str, Any]) -> None:
    hub, (c1, _c2) = world["hub"], world["counters"]
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"),
                           [demand(f"SEAL-{i}", lines=(("TL_TAX", "400", "0"),)) for i in range(3)])
    users.create_user(hub, hub.context(), NewUser(
        user_name="clerk3.amritsar", name="Gurpreet Kaur", type="EMPLOYEE", tenant_id=AMRITSAR,
        mobile="9876522222", roles=[("EMPLOYEE", AMRITSAR)], password="Counter@2026"))
    enrol(hub, c1, "Counter 1")
    assert pull_all(c1).received["demands"] >= 3
    report = audit.verify(c1, c1.base_context())
    assert report.problem is None, report.problem

    # the counter pays, the state pays another: what comes down again (bills expired too) verifies
    shifts.open_shift(c1, ctx_as(c1, "clerk.amritsar"), "0")
    billing.fetch_bill(c1, ctx_as(c1, "clerk.amritsar"), AMRITSAR, consumer_code="SEAL-1", business_service="TL")
    pay_cash(c1, "SEAL-0", "400")
    pay_cash(hub, "SEAL-1", "400")
    users.set_locked(hub, hub.context(), "clerk3.amritsar", True, AMRITSAR)
    done = pull_all(c1)
    assert done.received["demands"] >= 1 and done.received["users"] >= 1
    report = audit.verify(c1, c1.base_context())
    assert report.problem is None, report.problem
