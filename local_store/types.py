"""Column types shared by the tables: UTC datetimes, JSON documents, money as integer paise."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, TypeDecorator
from sqlalchemy.orm import mapped_column

from digitctl.domain.money import MoneyLike, from_paise, to_paise


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


class Paise(TypeDecorator[Decimal]):
    """Money kept as integer paise (BIGINT) and handed to Python as a 2-place Decimal of rupees
    (digitctl.domain.money: to_paise rounds half-up to paise and refuses floats). For new columns;
    the existing `*_paise` columns stay plain ints (no schema change)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: MoneyLike | None, dialect: Any) -> int | None:
        return None if value is None else to_paise(value)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else from_paise(int(value))


# SQLite only auto-increments an INTEGER PRIMARY KEY; BIGINT elsewhere.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

int_pk = Annotated[int, mapped_column(BigIntPK, primary_key=True, autoincrement=True)]
str36 = Annotated[str, mapped_column(String(36))]
str64 = Annotated[str, mapped_column(String(64))]
str128 = Annotated[str, mapped_column(String(128))]
str256 = Annotated[str, mapped_column(String(256))]
utc = Annotated[dt.datetime, mapped_column(UTCDateTime())]
json_doc = Annotated[Any, mapped_column(JSON())]
rupees = Annotated[Decimal, mapped_column(Paise())]      # Mapped[rupees]: a Decimal, stored as paise
