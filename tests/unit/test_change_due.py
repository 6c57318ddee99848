"""Change due for a cash payment at the counter (domain.collection.change_due)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from digitctl.domain.collection import E_TENDERED, change_due
from digitctl.errors import InvalidInput


def test_change_is_what_was_handed_over_less_the_amount() -> None:
    assert change_due("2,000", "1250") == Decimal("750.00")
    assert change_due("1250", "1250") == Decimal("0.00")
    assert change_due("", "1250") == Decimal("0.00")          # nothing typed: no change to give


@pytest.mark.parametrize("tendered", ["1000", "12,50", "abc"])
def test_short_or_unreadable_cash_is_refused(tendered: str) -> None:
    with pytest.raises(InvalidInput) as err:
        change_due(tendered, "1250")
    assert err.value.code == E_TENDERED


def test_short_cash_is_named_in_indian_grouping() -> None:
    with pytest.raises(InvalidInput, match=r"₹1,000.00\) is less than the amount paid \(₹1,25,000.00"):
        change_due("1000", "1,25,000")
