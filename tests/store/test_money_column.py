"""The paise column type: rupees as a 2-place Decimal in Python, integer paise in the database."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.exc import StatementError

from local_store.types import Paise


def _table() -> tuple[Table, Engine]:
    meta = MetaData()
    t = Table("t", meta, Column("id", Integer, primary_key=True), Column("amount", Paise()))
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    return t, engine


def test_rupees_are_stored_as_integer_paise_and_read_back_as_decimal():
    t, engine = _table()
    with engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "amount": Decimal("1250.40")}, {"id": 2, "amount": "-0.015"},
                                 {"id": 3, "amount": 7}, {"id": 4, "amount": None}])
        raw: dict[int, int | None] = {i: a for i, a in conn.execute(text("SELECT id, amount FROM t"))}
        back = dict(conn.execute(select(t.c.id, t.c.amount)).all())
    assert raw == {1: 125040, 2: -2, 3: 700, 4: None}
    assert back == {1: Decimal("1250.40"), 2: Decimal("-0.02"), 3: Decimal("7.00"), 4: None}
    assert str(back[1]) == "1250.40"


def test_a_float_never_reaches_a_paise_column():
    t, engine = _table()
    with engine.begin() as conn, pytest.raises(StatementError, match="float"):
        conn.execute(insert(t), {"id": 1, "amount": 0.1})
