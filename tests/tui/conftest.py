"""TUI fixtures: the DigitApp over a copy of the quickstart store (a bill waiting, the clerk's
shift open), on the tests' frozen clock, receipts printed into a temporary folder."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digitctl.bootstrap import App, build
from digitctl.clock import FixedClock


@pytest.fixture
def core(quickstart_url: str, frozen_clock: FixedClock) -> Iterator[App]:
    application = build(quickstart_url, frozen_clock)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def printer_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "printed"
    monkeypatch.setenv("DIGIT_PRINTER", f"pdf:{folder}")
    return folder


@pytest.fixture
def actor_of(core: App) -> Any:
    """actor_of(user_name) -> that demo user's Actor."""
    from digitctl.services import users

    def make(user_name: str) -> Any:
        with core.uow(core.base_context(), readonly=True) as uow:
            return users.actor_of(uow.session, users.find(uow.session, user_name))

    return make


@pytest.fixture
def desk_app(core: App, actor_of: Any, printer_folder: Path) -> Any:
    """desk_app(user_name=None) -> a DigitApp (logged in as that user when given)."""
    from tui.app import DigitApp

    def make(user_name: str | None = None, first: str | None = None) -> DigitApp:
        return DigitApp(core, first=first, save_login=False,
                        actor=actor_of(user_name) if user_name else None)

    return make


@pytest.fixture
def pending_bill(core: App, actor_of: Any) -> dict[str, Any]:
    """The demo licence waiting for payment: its application number and bill."""
    from digitctl.context import RequestContext
    from digitctl.services import applications, billing

    ctx = RequestContext(actor=actor_of("clerk.amritsar"), tenant_id="pb.amritsar", clock=core.clock)
    found = [a for a in applications.list_applications(core, ctx, "pb.amritsar", status="PENDINGPAYMENT")]
    assert found, "the quickstart store has an application waiting for payment"
    number = found[0]["applicationNo"]
    bill = billing.fetch_bill(core, ctx, "pb.amritsar", application_no=number)[0]
    return {"applicationNo": number, "bill": bill, "ctx": ctx}


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are coroutines run by anyio's pytest plugin, on asyncio (Textual's loop)."""
    return "asyncio"
