"""Tables of localization and notifications (migration 0009): DIGIT's localization messages, the
notifications composed from outbox events, and citizens' per-channel opt-outs. Kept apart from
models.py so the two building blocks read in one sitting; same Base, same metadata."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from local_store.models import Base
from local_store.types import UTCDateTime, int_pk, str36, str64, str128, str256, utc


class LocalizationMessage(Base):
    """One message as egov-localization keeps it: (tenant, locale, module, code) -> message.
    A city's message overrides its state's, which overrides the `default` tenant's."""

    __tablename__ = "localization_message"
    __table_args__ = (UniqueConstraint("tenant_id", "locale", "module", "code", name="uq_localization_message_identity"),
                      Index("ix_localization_message_locale", "locale", "tenant_id"))
    id: Mapped[int_pk]
    tenant_id: Mapped[str128]
    locale: Mapped[str] = mapped_column(String(16))
    module: Mapped[str128]
    code: Mapped[str256]
    message: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str64]
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


class Notification(Base):
    """One message to one recipient on one channel for one outbox event: written (queued) before
    anything is sent, so a restart never composes or sends it again. Address and text are
    ciphertext (`<keyId>|<base64>`); `idempotency_key` goes to the provider with every attempt."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("event_id", "channel", "recipient", name="uq_notification_identity"),
                      Index("ix_notification_due", "status", "next_attempt_at"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int_pk]
    event_id: Mapped[str36]
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str128]
    channel: Mapped[str] = mapped_column(String(16))          # sms | email | file
    recipient: Mapped[str128]                                  # payer | owner | assignee:<uuid> | user:<uuid> | mobile
    tenant_id: Mapped[str128]
    locale: Mapped[str] = mapped_column(String(16))
    template_code: Mapped[str256]
    address_enc: Mapped[str] = mapped_column(Text)
    subject_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_enc: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))           # queued | sending | sent | failed | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str36] = mapped_column(String(36), unique=True)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[utc]
    updated_at: Mapped[utc]
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotificationOptOut(Base):
    """A user who asked not to be messaged on a channel (DIGIT's user notification preference)."""

    __tablename__ = "notification_optout"
    user_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[utc]
