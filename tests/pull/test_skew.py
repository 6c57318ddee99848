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
