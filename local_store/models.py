"""Tables of the local store (typed SQLAlchemy 2.0). Schema changes go through Alembic migrations."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Index, Integer, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from local_store.types import UTCDateTime, int_pk, json_doc, str36, str64, str128, str256, utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class StoreMeta(Base):
    """Key/value facts about this store: its id, counter code, state tenant, chain heads."""

    __tablename__ = "store_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MdmsRecord(Base):
    """One record of one master at one tenant, as DIGIT's MDMS holds it (the JSON untouched)."""

    __tablename__ = "mdms_record"
    __table_args__ = (
        UniqueConstraint("tenant_id", "module", "master", "unique_key", name="uq_mdms_record_identity"),
        Index("ix_mdms_record_lookup", "module", "master", "tenant_id", "position"),
    )
    id: Mapped[int_pk]
    tenant_id: Mapped[str128]
    module: Mapped[str128]
    master: Mapped[str128]
    unique_key: Mapped[str] = mapped_column(String(512))
    position: Mapped[int] = mapped_column(Integer)
    data: Mapped[json_doc]
    data_hash: Mapped[str64]
    source: Mapped[str] = mapped_column(String(1024))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


class MdmsSchema(Base):
    """An MDMS v2 schema definition (JSON Schema draft-07 + x-unique + x-ref-schema)."""

    __tablename__ = "mdms_schema"
    __table_args__ = (UniqueConstraint("tenant_id", "code", name="uq_mdms_schema_identity"),)
    id: Mapped[int_pk]
    tenant_id: Mapped[str128]
    code: Mapped[str256]
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition: Mapped[json_doc]
    definition_hash: Mapped[str64]
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


class IdSequence(Base):
    """A named sequence for IdFormat's [SEQ_*]: the last value handed out."""

    __tablename__ = "id_sequence"
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class OutboxEvent(Base):
    """What happened here, in order, waiting for the sync relay to carry it to the hub.

    `seq` orders events within this store and is never reused (AUTOINCREMENT on SQLite);
    `event_id` is globally unique so the hub can apply each event exactly once."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_unpublished", "published_at", "seq"),
                      {"sqlite_autoincrement": True})
    seq: Mapped[int_pk]
    event_id: Mapped[str36] = mapped_column(String(36), unique=True)
    event_type: Mapped[str128]
    tenant_id: Mapped[str128]
    entity_type: Mapped[str128]
    entity_id: Mapped[str256]
    payload: Mapped[json_doc]
    occurred_at: Mapped[utc]
    store_id: Mapped[str36]
    counter_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditRecord(Base):
    """A hash-chained record of one state change: who, what, before/after, when.

    `hash` = sha256(prev_hash + canonical body); the identity issue adds an Ed25519 signature
    over `hash` (columns `signature`, `key_id`)."""

    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_record_entity", "entity_type", "entity_id"),
                      {"sqlite_autoincrement": True})
    seq: Mapped[int_pk]
    record_id: Mapped[str36] = mapped_column(String(36), unique=True)
    event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    occurred_at: Mapped[utc]
    actor_uuid: Mapped[str64]
    actor_name: Mapped[str256]
    tenant_id: Mapped[str128]
    operation: Mapped[str256]
    entity_type: Mapped[str128]
    entity_id: Mapped[str256]
    before: Mapped[Any] = mapped_column(JSON(), nullable=True)
    after: Mapped[Any] = mapped_column(JSON(), nullable=True)
    prev_hash: Mapped[str64]
    hash: Mapped[str64]
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
