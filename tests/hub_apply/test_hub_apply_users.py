"""The hub applies the users a counter made or changed: an employee and a citizen with the
counter's uuids, their personal fields sealed with the hub's keys, roles and locks as the counter
left them; a user name the state has already is parked; a password change is recorded only."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from digitctl.domain.sync_events import Parked
from digitctl.services import hub_apply, users
from local_store.models import UserAccount
from tests.helpers import AMRITSAR, ctx_as
from tests.hub_apply.conftest import apply_all

CLERK2 = users.NewUser(user_name="clerk2.amritsar", name="Gurpreet Kaur", type="EMPLOYEE", tenant_id=AMRITSAR,
                       mobile="9814000001", roles=[("EMPLOYEE", AMRITSAR), ("TL_CEMP", AMRITSAR)],
                       employee=users.EmployeeSpec("DEPT_1", "DESIG_1"), password="Counter@123")


def row_of(app: Any, uuid: str) -> tuple[dict[str, Any], str, list[tuple[str, str]]]:
    with app.uow(app.base_context(), readonly=True) as uow:
        row = uow.session.get(UserAccount, uuid)
        assert row is not None
        plain = {c.name: getattr(row, c.key) for c in UserAccount.__table__.columns}
        return plain, app.keyring.decrypt(uow, row.name_enc), sorted(users.roles_of(uow.session, uuid))


def test_users_made_and_changed_at_a_counter_stand_at_the_hub(counter, hub, wire):
    admin = ctx_as(counter, "admin")
    made = users.create_user(counter, replace(admin, tenant_id=AMRITSAR), replace(CLERK2))
    citizen = users.create_user(counter, ctx_as(counter, "clerk.amritsar"), users.NewUser(
        user_name="9876512345", name="Jaspreet Gill", type="CITIZEN", tenant_id=AMRITSAR, mobile="9876512345"))
    users.update_user(counter, admin, "clerk2.amritsar", add_roles=[("PT_CEMP", AMRITSAR)])
    users.set_locked(counter, admin, "clerk2.amritsar", True)
    events = wire.take()
    outcomes = apply_all(hub, events, counter_tenant=AMRITSAR)
    assert [o for o in outcomes if isinstance(o, Parked)] == []
    row, name, roles = row_of(hub, made["uuid"])
    assert (row["user_name"], name, row["locked_by_admin"]) == ("clerk2.amritsar", "Gurpreet Kaur", True)
    assert roles == sorted([("EMPLOYEE", AMRITSAR), ("TL_CEMP", AMRITSAR), ("PT_CEMP", AMRITSAR)])
    assert row["password_hash"] is None                  # passwords do not travel (yet)
    crow, cname, _ = row_of(hub, citizen["uuid"])
    assert cname == "Jaspreet Gill" and crow["tenant_id"] == "pb"
    with hub.uow(hub.base_context(), readonly=True) as uow:      # found at the hub by the mobile number
        assert users.find(uow.session, "9876512345").uuid == citizen["uuid"]
    before = row_of(hub, made["uuid"])[1:]
    assert set(apply_all(hub, wire.all())) <= {"applied", "recorded"}
    assert row_of(hub, made["uuid"])[1:] == before


def test_a_user_name_the_state_has_is_parked_and_its_password_change_with_it(counter, hub, wire):
    from digitctl.services import auth

    admin = ctx_as(hub, "admin")
    users.create_user(hub, replace(admin, tenant_id=AMRITSAR), replace(CLERK2))
    counter_admin = ctx_as(counter, "admin")
    users.create_user(counter, replace(counter_admin, tenant_id=AMRITSAR), replace(CLERK2))
    auth.set_password(counter, counter_admin, "clerk2.amritsar", "Counter@456!x")
    events = wire.take()
    outcome = dict(zip([e.event_type for e in events], apply_all(hub, events)))
    created = outcome["user.created"]
    assert isinstance(created, Parked) and created.code == "USER.USER_NAME_ALREADY_EXISTS"
    changed = outcome["user.password.changed"]          # the hub has no such user: it waits with its creation
    assert isinstance(changed, Parked) and changed.code == "USER_NOT_FOUND"
    assert hub_apply.entity_keys([e for e in events if e.event_type == "user.created"][0])[0].startswith("User:")
    with hub.store.engine.connect() as conn:
        assert conn.execute(select(UserAccount.uuid).where(UserAccount.user_name == "clerk2.amritsar")).scalar()


def test_the_wire_opens_personal_fields_for_the_trip_only(counter, wire, clerk):
    """outbox_events: the payload as the hub receives it holds the payer and the user in plain
    text (sealed again at the hub with its keys); the counter's outbox keeps ciphertext."""
    from digitctl.services import billing, collection
    from local_store.models import OutboxEvent
    from tests.helpers import demand

    billing.create_demands(counter, clerk, [demand("TL-CC-3")])
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, consumer_code="TL-CC-3")
    collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount="1250",
                   payer_name="Simran Kaur", mobile="9876543210")
    users.create_user(counter, replace(ctx_as(counter, "admin"), tenant_id=AMRITSAR), replace(CLERK2))
    events = {e.event_type: e for e in wire.take()}
    doc = events["collection.payment.created"].payload["Payments"][0]
    assert (doc["payerName"], doc["mobileNumber"], doc["paidBy"]) == ("Simran Kaur", "9876543210", "Simran Kaur")
    assert events["billing.demand.created"].payload["Demands"][0]["payer"]["name"] == "Simran Kaur"
    assert events["user.created"].payload["user"]["name"] == "Gurpreet Kaur"
    with counter.store.engine.connect() as conn:
        stored = conn.execute(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == "collection.payment.created")).scalar_one()
    assert stored["Payments"][0]["payerName"] != "Simran Kaur"
