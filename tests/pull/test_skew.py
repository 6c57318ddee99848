"""A counter whose clock is more than 5 minutes off: its push is refused (SYNC_REPLAYED), and the
hub keeps the skew so `hub counters` flags it (issue 12)."""
from __future__ import annotations

import datetime as dt

import pytest

from digitctl.errors import DigitError
from digitctl.services import hub_counters, hub_ingest
from tests.hub.conftest import enrol_and_register

PUSH = "/sync/v1/events/_push"


def test_a_counter_clock_more_than_5_minutes_off_is_flagged(state_app):
    hub = state_app
    counter = enrol_and_register(hub)
    doc = counter.batch([counter.event()], counter.setup_records)
    ahead = hub.clock.now() + dt.timedelta(minutes=7)
    with pytest.raises(DigitError) as err:
        hub_ingest.push(hub, counter.signed(PUSH, doc, ahead))
    assert err.value.code == "SYNC_REPLAYED"
    [row] = hub_counters.counters(hub, hub.context())
    assert row["clockSkewMs"] == 7 * 60_000 and row["clockSkewFlagged"] is True
    assert hub_ingest.push(hub, counter.signed(PUSH, doc, hub.clock.now() + dt.timedelta(minutes=1)))[0] == 200
    [row] = hub_counters.counters(hub, hub.context())
    assert row["clockSkewMs"] == 60_000 and row["clockSkewFlagged"] is False


def test_an_action_the_hub_parked_state_changed_is_marked_in_the_inbox(counter):
    import json

    from sqlalchemy import insert

    from digitctl.services import inbox
    from local_store.models import StoreMeta
    from tests.helpers import act, ctx_as, new_tl

    no = new_tl(counter)
    act(counter, "clerk.amritsar", no, "APPLY")
    verifier = ctx_as(counter, "verifier.amritsar")
    [before] = [i for i in inbox.inbox(counter, verifier)["items"] if i["applicationNo"] == no]
    assert "syncConflict" not in before
    parked = [{"code": "STATE_CHANGED", "entityId": no, "tenantId": "pb.amritsar", "seq": 9,
               "eventType": "workflow.transitioned", "message": f"{no} is now in FIELDINSPECTION"}]
    with counter.store.engine.begin() as conn:      # what the hub's last answer said (sync status keeps it)
        conn.execute(insert(StoreMeta).values(key="sync_parked", value=json.dumps(parked)))
    [after] = [i for i in inbox.inbox(counter, verifier)["items"] if i["applicationNo"] == no]
    assert after["syncConflict"]["code"] == "STATE_CHANGED" and after["syncConflict"]["seq"] == 9
