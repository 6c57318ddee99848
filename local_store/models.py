"""Tables of the local store (typed SQLAlchemy 2.0). Schema changes go through Alembic migrations."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (JSON, BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, text)
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
    if TYPE_CHECKING:
        # every model here is a plain table: say so, so that `Model.__table__.insert()` type-checks
        __table__: ClassVar[Table]


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
                      Index("ix_outbox_event_counter_seq", "counter_seq", unique=True),
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
    # 1, 2, 3 ... per counter once the store is registered with a hub (sync/PROTOCOL.md); NULL: local only
    counter_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
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
    # seals of the payment/demand/bill/user rows the transaction left (local_store.seals), hashed
    # and signed with the record; null on records that wrote none (and on older records)
    row_hashes: Mapped[Any] = mapped_column(JSON(), nullable=True)


# -- identity (users, employees, sessions, OTP, keys) -----------------------------------------
class UserAccount(Base):
    """A DIGIT user (CITIZEN, EMPLOYEE or SYSTEM). PII columns hold `<keyId>|<base64>` ciphertext;
    `mobile_bidx` is a keyed hash (blind index) so a mobile number can be searched without
    decrypting every row or using a fixed IV."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("user_name", "tenant_id", name="uq_user_account_name_tenant"),
                      Index("ix_user_account_mobile_bidx", "mobile_bidx"))
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_name: Mapped[str128]
    tenant_id: Mapped[str128]
    type: Mapped[str] = mapped_column(String(16))
    name_enc: Mapped[str] = mapped_column(Text)
    mobile_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    mobile_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    gender: Mapped[str | None] = mapped_column(String(16), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_by_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


class UserRole(Base):
    """A role a user holds at one tenant (DIGIT roles carry their own tenantId)."""

    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_uuid", "code", "tenant_id", name="uq_user_role_identity"),)
    id: Mapped[int_pk]
    user_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("user_account.uuid", ondelete="CASCADE"))
    code: Mapped[str128]
    tenant_id: Mapped[str128]


class LoginAttempt(Base):
    """Login outcomes, for DIGIT's lockout rule (5 failures within 30 minutes lock 60 minutes)."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_user_at", "user_uuid", "at"),)
    id: Mapped[int_pk]
    user_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("user_account.uuid", ondelete="CASCADE"))
    at: Mapped[utc]
    success: Mapped[bool] = mapped_column(Boolean)


class SessionToken(Base):
    """A login session. Only the token's hash is stored; the token itself lives with the user."""

    __tablename__ = "session_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("user_account.uuid", ondelete="CASCADE"))
    tenant_id: Mapped[str128]
    created_at: Mapped[utc]
    expires_at: Mapped[utc]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Employee(Base):
    """HRMS: the employee record beside a user of type EMPLOYEE."""

    __tablename__ = "employee"
    user_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("user_account.uuid", ondelete="CASCADE"),
                                           primary_key=True)
    code: Mapped[str128]
    tenant_id: Mapped[str128]
    employee_status: Mapped[str] = mapped_column(String(32), default="EMPLOYED")
    employee_type: Mapped[str] = mapped_column(String(32), default="PERMANENT")
    date_of_appointment: Mapped[dt.date | None] = mapped_column(nullable=True)


class EmployeeAssignment(Base):
    __tablename__ = "employee_assignment"
    id: Mapped[int_pk]
    user_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("employee.user_uuid", ondelete="CASCADE"))
    department: Mapped[str128]
    designation: Mapped[str128]
    from_date: Mapped[dt.date]
    to_date: Mapped[dt.date | None] = mapped_column(nullable=True)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)


class EmployeeJurisdiction(Base):
    """A tenant (and optionally a boundary in it) an employee serves."""

    __tablename__ = "employee_jurisdiction"
    id: Mapped[int_pk]
    user_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("employee.user_uuid", ondelete="CASCADE"))
    hierarchy: Mapped[str] = mapped_column(String(32), default="REVENUE")
    boundary_type: Mapped[str] = mapped_column(String(32), default="City")
    boundary: Mapped[str128]
    tenant_id: Mapped[str128]


class Otp(Base):
    """A one-time password: only its hash, for one identity (blind index of the mobile)."""

    __tablename__ = "otp"
    __table_args__ = (Index("ix_otp_identity", "identity_bidx", "purpose", "created_at"),)
    id: Mapped[int_pk]
    identity_bidx: Mapped[str64]
    tenant_id: Mapped[str128]
    purpose: Mapped[str] = mapped_column(String(32))
    otp_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[utc]
    expires_at: Mapped[utc]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DataKey(Base):
    """A per-tenant AES-256-GCM data key, wrapped by the master key. Old keys stay for decryption."""

    __tablename__ = "data_key"
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str128]
    wrapped: Mapped[str] = mapped_column(Text)
    created_at: Mapped[utc]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# -- workflow, applications, file store --------------------------------------------------------
class WfBusinessService(Base):
    """A workflow v2 BusinessService definition, versioned: re-applying a changed definition
    adds a version; instances keep the version they started on."""

    __tablename__ = "wf_business_service"
    __table_args__ = (UniqueConstraint("tenant_id", "code", "version", name="uq_wf_business_service_version"),
                      Index("ix_wf_business_service_current", "code", "tenant_id", "is_current"))
    id: Mapped[int_pk]
    tenant_id: Mapped[str128]
    code: Mapped[str128]
    business: Mapped[str | None] = mapped_column(String(128), nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    sla_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    definition: Mapped[json_doc]
    definition_hash: Mapped[str64]
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[utc]


class WfProcessInstance(Base):
    """One transition of one business object (DIGIT's ProcessInstance row); history is the
    rows of a business id in `seq_no` order. (tenant, business id, seq_no) is unique, so two
    employees acting on the same state cannot both win."""

    __tablename__ = "wf_process_instance"
    __table_args__ = (UniqueConstraint("tenant_id", "business_id", "seq_no", name="uq_wf_process_instance_step"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str128]
    business_service: Mapped[str128]
    bs_version: Mapped[int] = mapped_column(Integer)
    module_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    business_id: Mapped[str128]
    seq_no: Mapped[int] = mapped_column(Integer)
    action: Mapped[str128]
    from_state: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str128]
    application_status: Mapped[str | None] = mapped_column(String(128), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    assigner_uuid: Mapped[str64]
    assignees: Mapped[Any] = mapped_column(JSON(), nullable=True)
    documents: Mapped[Any] = mapped_column(JSON(), nullable=True)
    state_sla_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    business_sla_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    business_started_at: Mapped[utc]
    created_at: Mapped[utc]


class WfCurrent(Base):
    """Where each business object stands now (the latest process instance), for the inbox."""

    __tablename__ = "wf_current"
    __table_args__ = (Index("ix_wf_current_inbox", "tenant_id", "business_service", "state"),)
    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    business_service: Mapped[str128]
    bs_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str128]
    application_status: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_action: Mapped[str128]
    seq_no: Mapped[int] = mapped_column(Integer)
    is_terminal: Mapped[bool] = mapped_column(Boolean, default=False)
    state_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    business_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[utc]


class WfAssignee(Base):
    """Who a business object is currently assigned to (one row per assignee)."""

    __tablename__ = "wf_assignee"
    __table_args__ = (Index("ix_wf_assignee_user", "user_uuid"),)
    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)


class Application(Base):
    """A generic service request that a workflow drives (a trade licence, a property, a
    complaint ...). The applicant's name and mobile are PII: encrypted, mobile blind-indexed."""

    __tablename__ = "application"
    __table_args__ = (Index("ix_application_tenant_service", "tenant_id", "business_service"),
                      Index("ix_application_mobile_bidx", "applicant_mobile_bidx"))
    application_no: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str128]
    business_service: Mapped[str128]
    module: Mapped[str | None] = mapped_column(String(64), nullable=True)
    application_status: Mapped[str | None] = mapped_column(String(128), nullable=True)
    applicant_name_enc: Mapped[str] = mapped_column(Text)
    applicant_mobile_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    applicant_mobile_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)
    applicant_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    locality: Mapped[str | None] = mapped_column(String(64), nullable=True)
    address: Mapped[Any] = mapped_column(JSON(), nullable=True)
    details: Mapped[Any] = mapped_column(JSON(), nullable=True)
    documents: Mapped[Any] = mapped_column(JSON(), nullable=True)
    created_by: Mapped[str64]
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


class FileStoreObject(Base):
    """A document in the local file store: content-addressed (sha256 of the plain bytes),
    stored encrypted on disk, referenced by fileStoreId."""

    __tablename__ = "filestore_object"
    __table_args__ = (Index("ix_filestore_object_sha", "sha256"),)
    file_store_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str128]
    module: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file_name: Mapped[str256]
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str64]
    created_by: Mapped[str64]
    created_at: Mapped[utc]


# -- billing and collection (money as integer paise) --------------------------------------------
class Demand(Base):
    """A DIGIT demand: what a consumer owes a service for a tax period."""

    __tablename__ = "demand"
    __table_args__ = (Index("ix_demand_consumer", "tenant_id", "consumer_code", "business_service"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str128]
    consumer_code: Mapped[str128]
    consumer_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    business_service: Mapped[str128]
    payer_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    payer_name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    payer_mobile_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    payer_mobile_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    tax_period_from: Mapped[int] = mapped_column(BigInteger)
    tax_period_to: Mapped[int] = mapped_column(BigInteger)
    minimum_amount_payable_paise: Mapped[int] = mapped_column(BigInteger, default=0)
    bill_expiry_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fixed_bill_expiry_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    is_payment_completed: Mapped[bool] = mapped_column(Boolean, default=False)
    additional_details: Mapped[Any] = mapped_column(JSON(), nullable=True)
    created_by: Mapped[str64]
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


class DemandDetail(Base):
    __tablename__ = "demand_detail"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    demand_id: Mapped[str] = mapped_column(String(36), ForeignKey("demand.id", ondelete="CASCADE"), index=True)
    tax_head_code: Mapped[str128]
    tax_amount_paise: Mapped[int] = mapped_column(BigInteger)
    collection_amount_paise: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


ACTIVE_BILL_INDEX = "uq_bill_active_consumer"
ACTIVE_BILL_WHERE = "status = 'ACTIVE'"


def postgresql_index_options() -> None:
    """Give the partial unique index of active bills its PostgreSQL where-clause. Not declared
    with the index: a `postgresql_*` keyword makes SQLAlchemy import its PostgreSQL dialect to
    check it (~40 ms of every command's start on a SQLite store). The schema itself comes from
    the migrations (0005); Alembic's environment calls this before it compares metadata."""
    index = next(ix for ix in Bill.__table__.indexes if ix.name == ACTIVE_BILL_INDEX)
    index.dialect_options["postgresql"]["where"] = text(ACTIVE_BILL_WHERE)


class Bill(Base):
    """A bill as DIGIT generates it (one per consumer code); `bill` keeps DIGIT's Bill JSON
    (PII inside as ciphertext) as it was handed out. At most one bill of a (tenant, business
    service, consumer code) is ACTIVE: a partial unique index says so."""

    __tablename__ = "bill"
    __table_args__ = (Index("ix_bill_consumer", "tenant_id", "consumer_code", "business_service", "status"),
                      Index("ix_bill_mobile", "mobile_bidx"),
                      # at most one ACTIVE bill per consumer code of a service (migration 0005);
                      # its PostgreSQL where-clause: postgresql_index_options()
                      Index(ACTIVE_BILL_INDEX, "tenant_id", "business_service", "consumer_code",
                            unique=True, sqlite_where=text(ACTIVE_BILL_WHERE)))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str128]
    bill_number: Mapped[str128]
    consumer_code: Mapped[str128]
    business_service: Mapped[str128]
    status: Mapped[str] = mapped_column(String(16))
    total_amount_paise: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[utc]
    mobile_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bill: Mapped[json_doc]
    created_at: Mapped[utc]
    updated_at: Mapped[utc]


class Payment(Base):
    """A payment and its receipt (one bill per payment at a counter). `payment` keeps DIGIT's
    Payment JSON with the apportioned bill (PII inside as ciphertext)."""

    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("tenant_id", "receipt_number", name="uq_payment_receipt"),
                      Index("ix_payment_consumer", "tenant_id", "consumer_code", "business_service"),
                      Index("ix_payment_shift", "shift_id"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str128]
    receipt_number: Mapped[str128]
    receipt_date: Mapped[utc]
    counter_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    shift_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    collector_uuid: Mapped[str64]
    bill_id: Mapped[str] = mapped_column(String(36))
    business_service: Mapped[str128]
    consumer_code: Mapped[str128]
    payment_mode: Mapped[str] = mapped_column(String(32))
    total_due_paise: Mapped[int] = mapped_column(BigInteger)
    amount_paid_paise: Mapped[int] = mapped_column(BigInteger)
    instrument_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    instrument_date: Mapped[dt.date | None] = mapped_column(nullable=True)
    instrument_status: Mapped[str] = mapped_column(String(16))
    payment_status: Mapped[str] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remittance_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    payment: Mapped[json_doc]
    created_at: Mapped[utc]
    updated_at: Mapped[utc]
    # NULL: taken at this store. A payment taken elsewhere that came down with `sync pull`
    # (read-only here): the counter code that took it, or HUB.
    origin: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Shift(Base):
    """A clerk's shift at a counter: float in, notes counted out, variance recorded."""

    __tablename__ = "shift"
    __table_args__ = (Index("ix_shift_open", "counter_code", "user_uuid", "status"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str128]
    counter_code: Mapped[str] = mapped_column(String(32))
    user_uuid: Mapped[str64]
    status: Mapped[str] = mapped_column(String(16))
    float_paise: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[utc]
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expected_cash_paise: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    counted_cash_paise: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    variance_paise: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    denominations: Mapped[Any] = mapped_column(JSON(), nullable=True)


class Remittance(Base):
    """A bank deposit (DIGIT's REMIT): the deposit slip's instruments and cash."""

    __tablename__ = "remittance"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str128]
    slip_number: Mapped[str128]
    bank: Mapped[str | None] = mapped_column(String(128), nullable=True)
    cash_paise: Mapped[int] = mapped_column(BigInteger)
    instruments_paise: Mapped[int] = mapped_column(BigInteger)
    slip: Mapped[json_doc]
    created_by: Mapped[str64]
    created_at: Mapped[utc]


# -- the hub (sync/PROTOCOL.md): empty on a counter ------------------------------------------
class HubCounter(Base):
    """A counter the hub enrolled: its code, tenant, key, and how far its pushes have come."""

    __tablename__ = "hub_counter"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str128]
    name: Mapped[str256]
    enrolment_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    enrolment_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    enrolled_at: Mapped[utc]
    enrolled_by: Mapped[str64]
    registered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    store_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    flagged: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    clock_skew_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    audit_head: Mapped[Any] = mapped_column(JSON(), nullable=True)


class HubEvent(Base):
    """One event a counter pushed, held once per (counter, seq), and what became of it."""

    __tablename__ = "hub_event"
    __table_args__ = (Index("ix_hub_event_status", "status", "counter_code", "seq"),)
    counter_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str36] = mapped_column(String(36), unique=True)
    event_type: Mapped[str128]
    tenant_id: Mapped[str128]
    entity_type: Mapped[str128]
    entity_id: Mapped[str256]
    occurred_at: Mapped[utc]
    received_at: Mapped[utc]
    content_hash: Mapped[str64]
    body: Mapped[json_doc]
    status: Mapped[str] = mapped_column(String(16))       # stored|applied|recorded|parked|waiting
    reason_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HubBatch(Base):
    """The first response the hub gave to a batch id, replayed for a retry of it."""

    __tablename__ = "hub_batch"
    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    counter_code: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str64]
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[json_doc]
    created_at: Mapped[utc]


class HubNonce(Base):
    """A signed request's nonce, kept for the replay window."""

    __tablename__ = "hub_nonce"
    counter_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[utc]


class HubExcessCollection(Base):
    """A counter's payment the hub's demand could not absorb (another counter or online took the
    same dues first): the payment stands; its excess is carried as advance (ADVANCE) where the
    business service allows it, else waits for a refund decision (REFUND_DECISION). One row per
    excess payment; `hub reconcile` lists the rows not yet resolved."""

    __tablename__ = "hub_excess_collection"
    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str128]
    counter_code: Mapped[str] = mapped_column(String(32))
    receipt_number: Mapped[str128]
    business_service: Mapped[str128]
    consumer_code: Mapped[str256]
    amount_paise: Mapped[int] = mapped_column(BigInteger)
    disposition: Mapped[str] = mapped_column(String(32))      # ADVANCE | REFUND_DECISION
    event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[utc]
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
