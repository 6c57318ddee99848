"""What the sync tests share: registering a store with a (fake or real) hub through the counter's
own code path, giving a copied template store an identity of its own, and taking payments."""
from __future__ import annotations

import shutil
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from digitctl.bootstrap import App
from digitctl.services import billing, collection, masterkey, sync_outbox
from local_store.models import OutboxEvent, Payment, StoreMeta
from sync.client import HubClient
from tests.helpers import AMRITSAR, ctx_as, demand


def register(app: App, hub_url: str, enrolment: str, **client_kw: Any) -> dict[str, Any]:
    """`sync register` as the CLI does it, as the store's administrator (SYSTEM on a test store)."""
    ctx = app.base_context()
    request = sync_outbox.prepare_registration(app, ctx, enrolment)
    with HubClient(hub_url, now_ms=lambda: sync_outbox.now_ms(app), **client_kw) as client:
        answer = client.register(request)
    return sync_outbox.complete_registration(app, ctx, hub_url, request, answer)


def own_identity(app: App) -> str:
    """A copied template store shares its store id (and so its key files) with every other copy:
    give it its own, carrying the master key file along."""
    old = app.store_meta("store_id")
    assert old is not None
    new = str(uuid.uuid4())
    shutil.copy2(masterkey.key_file_for(old), masterkey.key_file_for(new))
    with app.store.engine.begin() as conn:
        conn.execute(update(StoreMeta).where(StoreMeta.key == "store_id").values(value=new))
    app.__dict__.pop("master_key", None)
    return new


def pay(app: App, consumer: str, rupees: str = "1250") -> dict[str, Any]:
    """A demand for `consumer`, its bill fetched and paid in cash by the demo clerk."""
    clerk = ctx_as(app, "clerk.amritsar")
    billing.create_demands(app, clerk, [demand(consumer, lines=(("TL_TAX", rupees, "0"),))])
    bill = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code=consumer, business_service="TL")[0]
    return collection.pay(app, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH",
                          amount=Decimal(rupees))


def counter_seqs(app: App) -> list[int]:
    with app.store.engine.connect() as conn:
        return [int(s or 0) for (s,) in conn.execute(select(OutboxEvent.counter_seq).where(OutboxEvent.counter_seq.is_not(None))
                                           .order_by(OutboxEvent.counter_seq))]


def paid_paise(app: App) -> dict[str, int]:
    with app.store.engine.connect() as conn:
        rows = conn.execute(select(Payment.tenant_id, func.sum(Payment.amount_paid_paise)).group_by(Payment.tenant_id))
        return {t: int(v) for t, v in rows}
