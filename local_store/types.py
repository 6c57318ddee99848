"""Column types shared by the tables: UTC datetimes, JSON documents, money as integer paise."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, TypeDecorator
from sqlalchemy.orm import mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as UTC; refuses naive ones (a naive time is a bug, not a zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


# SQLite only auto-increments an INTEGER PRIMARY KEY; BIGINT elsewhere.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

int_pk = Annotated[int, mapped_column(BigIntPK, primary_key=True, autoincrement=True)]
str36 = Annotated[str, mapped_column(String(36))]
str64 = Annotated[str, mapped_column(String(64))]
str128 = Annotated[str, mapped_column(String(128))]
str256 = Annotated[str, mapped_column(String(256))]
utc = Annotated[dt.datetime, mapped_column(UTCDateTime())]
json_doc = Annotated[Any, mapped_column(JSON())]
