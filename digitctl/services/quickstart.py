"""`digitctl quickstart`: a demo store from the bundled state (configs/, DIGIT's own layout)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digitctl.errors import Conflict
from digitctl.resources import bundled
from digitctl.services import mdms
from digitctl.services.store import StoreInfo, init_store

if TYPE_CHECKING:
    from digitctl.bootstrap import App
    from digitctl.context import RequestContext

DEMO_STATE = "pb"
DEMO_COUNTER = "C01"


@dataclass
class QuickstartResult:
    store: StoreInfo
    mdms: mdms.ApplyReport

    def as_json(self) -> dict[str, Any]:
        return {"store": self.store.as_json(), "mdms": self.mdms.as_json()}


def quickstart(app: "App", ctx: "RequestContext", counter: str = DEMO_COUNTER) -> QuickstartResult:
    """Create (or refresh) a demo store. Refuses a store that holds real, non-demo data."""
    store = app.store
    if store.is_initialized():
        with app.uow(ctx, readonly=True) as uow:
            is_demo = uow.meta("demo") == "true"
            has_data = uow.meta("mdms_version") is not None
        if has_data and not is_demo:
            raise Conflict("STORE_NOT_EMPTY",
                           f"{store.display_url()} already holds master data that quickstart did not put "
                           "there; point --store (or DIGIT_STORE) at a new file for the demo",
                           {"store": store.display_url()})
    info = init_store(app, ctx, DEMO_STATE, counter)
    with app.uow(ctx) as uow:
        uow.set_meta("demo", "true")
        uow.commit()
    configs = bundled("configs")
    report = mdms.apply(app, ctx.for_tenant(DEMO_STATE), [configs / "mdms" / "data" / DEMO_STATE],
                        master_config=configs / "mdms" / "master-config.json")
    return QuickstartResult(info, report)
