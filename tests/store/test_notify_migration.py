"""Migration 0009 on a store that already has a history: the notifier starts after it."""
from __future__ import annotations

from alembic import command
from sqlalchemy import text

from local_store.engine import Store
from local_store.migrate import alembic_config


def test_the_notify_cursor_starts_after_the_existing_outbox(store_url):
    store = Store(store_url)
    try:
        store.upgrade()
        with store.engine.begin() as c:
            assert c.execute(text("SELECT value FROM store_meta WHERE key = 'notify_cursor'")).scalar() == "0"
        command.downgrade(alembic_config(store.engine), "0008")
        with store.engine.begin() as c:
            c.execute(text("INSERT INTO outbox_event (event_id, event_type, tenant_id, entity_type, entity_id, "
                           "payload, occurred_at, store_id, attempts) VALUES ('e-1', 'collection.payment.created', "
                           "'pb.amritsar', 'Payment', 'p-1', '{}', '2026-01-01 00:00:00', 's', 0)"))
            seq = c.execute(text("SELECT MAX(seq) FROM outbox_event")).scalar()
            assert c.execute(text("SELECT COUNT(*) FROM store_meta WHERE key = 'notify_cursor'")).scalar() == 0
        command.upgrade(alembic_config(store.engine), "head")
        with store.engine.begin() as c:
            assert c.execute(text("SELECT value FROM store_meta WHERE key = 'notify_cursor'")).scalar() == str(seq)
    finally:
        store.dispose()
