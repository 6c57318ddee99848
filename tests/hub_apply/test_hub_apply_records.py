"""The hub applies a counter's applications and their workflow (a NewTL walked to its fee and
paid at the counter: APPROVED at the hub, by the hub's own PAY), a transition taken on a state
the hub no longer has (STATE_CHANGED), and which entities events name (entity_keys)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from digitctl.domain.sync_events import Parked
from digitctl.services import applications, billing, collection, hub_apply
from local_store.models import Application, WfProcessInstance
from tests.helpers import AMRITSAR, act, ctx_as, new_tl, walk_to_pending_payment
from tests.hub_apply.conftest import apply_all


def history(app: Any, no: str) -> list[tuple[Any, ...]]:
    with app.store.engine.connect() as conn:
        return list(conn.execute(select(WfProcessInstance.seq_no, WfProcessInstance.action, WfProcessInstance.state,
                                        WfProcessInstance.from_state)
                                 .where(WfProcessInstance.business_id == no).order_by(WfProcessInstance.seq_no)))


def status(app: Any, no: str) -> Any:
    with app.store.engine.connect() as conn:
        return conn.execute(select(Application.application_status).where(Application.application_no == no)).scalar()


def test_an_application_walked_and_paid_at_the_counter_is_approved_at_the_hub(counter, hub, wire, clerk):
    no = walk_to_pending_payment(counter)
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, application_no=no)
    collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount=bill["totalAmount"])
    assert status(counter, no) == "APPROVED"
    outcomes = apply_all(hub, wire.take())
    assert [o for o in outcomes if isinstance(o, Parked)] == []
    assert status(hub, no) == "APPROVED"
    assert history(hub, no) == history(counter, no)
    shown = applications.show(hub, ctx_as(hub, "approver.amritsar"), no)
    assert shown["applicant"]["name"] and "|" not in shown["applicant"]["name"]       # sealed, opens at the hub
    before = history(hub, no)
    assert all(o in ("applied", "recorded") for o in apply_all(hub, wire.all()))
    assert history(hub, no) == before


def test_a_transition_on_a_state_the_hub_no_longer_has_is_parked_state_changed(counter, hub, wire, clerk):
    no = new_tl(counter)
    act(counter, "clerk.amritsar", no, "APPLY")
    assert not [o for o in apply_all(hub, wire.take()) if isinstance(o, Parked)]
    # at the hub someone acted first (the hub's own verifier, or another counter's event)
    applications.transition(hub, ctx_as(hub, "verifier.amritsar"), no, "REJECT")
    act(counter, "verifier.amritsar", no, "FORWARD")
    [ev] = [e for e in wire.take() if e.event_type == "workflow.transitioned"]
    with pytest.raises(Parked) as err:
        hub_apply.apply_event(hub, ev)
    assert err.value.code == "STATE_CHANGED"
    assert hub_apply.entity_keys(ev) == [f"Application:{AMRITSAR}:{no}"]
    assert status(hub, no) == "REJECTED"


def test_entity_keys_name_what_an_event_touches(counter, wire, clerk):
    from digitctl.services import shifts

    shifts.close_shift(counter, clerk, "500x2")
    keys = {e.event_type: hub_apply.entity_keys(e) for e in wire.take()}
    [shift_key] = keys["shift.closed"]
    assert shift_key.startswith("Shift:") and keys["shift.opened"] == [shift_key]


def test_prints_are_recorded_not_applied(counter, hub, wire, clerk):
    from tests.helpers import demand

    billing.create_demands(counter, clerk, [demand("TL-CC-9")])
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, consumer_code="TL-CC-9")
    doc = collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount="1250")
    collection.receipt_pdf(counter, clerk, AMRITSAR, doc["paymentDetails"][0]["receiptNumber"])
    events = wire.take()
    outcome = dict(zip([e.event_type for e in events], apply_all(hub, events)))
    assert outcome["collection.receipt.printed"] == "recorded"
    assert outcome["collection.payment.created"] == "applied"


def test_a_demand_updated_at_the_counter_moves_the_hubs_lines_by_as_much(counter, hub, wire, clerk):
    """billing.demand.updated (an advance carried forward rewrites a demand's lines): the hub's
    lines take the counter's tax amounts, their collections move by what the counter's moved."""
    from dataclasses import replace

    from tests.helpers import demand

    billing.create_demands(counter, clerk, [demand("TL-CC-7")])
    [created] = [e for e in wire.take() if e.event_type == "billing.demand.created"]
    assert hub_apply.apply_event(hub, created) == "applied"
    before = created.payload["Demands"][0]
    after = {**before, "demandDetails": [{**d, "collectionAmount": "100.00"} if d["taxHeadMasterCode"] == "TL_TAX"
                                         else d for d in before["demandDetails"]]}
    updated = replace(created, event_id="5d1c4b2a-0000-4000-8000-000000000009", seq=created.seq + 1,
                      event_type="billing.demand.updated", payload={"Demands": [after]},
                      audit={**created.audit, "before": before, "after": after})
    assert hub_apply.apply_event(hub, updated) == "applied"
    with hub.store.engine.connect() as conn:
        from local_store.models import DemandDetail

        lines = dict(conn.execute(select(DemandDetail.tax_head_code, DemandDetail.collection_amount_paise)
                                  .where(DemandDetail.demand_id == before["id"])).all())
    assert lines == {"TL_TAX": 10000, "TL_ROUNDOFF": 0}
    assert hub_apply.apply_event(hub, updated) == "applied"          # the lines stand as the counter left them
    with hub.store.engine.connect() as conn:
        assert conn.execute(select(DemandDetail.collection_amount_paise).where(
            DemandDetail.demand_id == before["id"], DemandDetail.tax_head_code == "TL_TAX")).scalar_one() == 10000
