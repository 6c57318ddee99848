"""Sync fixtures: a fake hub on an httpx transport (sync.client's test seam), stamina without
waits, and counter stores copied from quickstart's template with an identity of their own."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina

from digitctl.bootstrap import App, build
from digitctl.clock import FixedClock
from tests.sync.fake_hub import FakeHub
from tests.sync.support import own_identity


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    """Retries happen (up to 4 attempts) but without waiting."""
    with stamina.set_testing(True, attempts=4):
        yield


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    hub = FakeHub()
    monkeypatch.setattr("sync.client.default_transport", hub.transport)
    return hub


def make_counter(quickstart_url: str, clock: FixedClock) -> App:
    app = build(quickstart_url, clock)
    own_identity(app)
    return app


@pytest.fixture
def counter(quickstart_url: str, frozen_clock: FixedClock) -> Iterator[App]:
    """quickstart's demo store (clerk's shift open, counter C01), with a store id of its own."""
    app = make_counter(quickstart_url, frozen_clock)
    yield app
    app.close()


@pytest.fixture
def second_counter(tmp_path: Path, store_templates, frozen_clock: FixedClock) -> Iterator[App]:
    url = f"sqlite:///{tmp_path / 'second.db'}"
    from tests.conftest import _build_quickstart

    store_templates.materialize("quickstart", _build_quickstart, url)
    app = make_counter(url, frozen_clock)
    yield app
    app.close()
