"""Counting a drawer: NOTExCOUNT parsing, totals in paise, refusals that name the bad part."""
from __future__ import annotations

import pytest

from digitctl.domain.cash import DENOMINATIONS, parse_count, variance_paise


def test_parses_the_issue_example_and_totals_in_paise():
    drawer = parse_count("500x3,200x4,100x7,10x4,2x5,1x3")
    assert drawer.counts == ((500, 3), (200, 4), (100, 7), (10, 4), (2, 5), (1, 3))
    assert drawer.total_paise == (1500 + 800 + 700 + 40 + 10 + 3) * 100
    assert drawer.as_dict() == {"500": 3, "200": 4, "100": 7, "10": 4, "2": 5, "1": 3}
    assert drawer.lines()[0] == (500, 3, 150000)


def test_spaces_any_order_upper_x_and_zero_counts():
    drawer = parse_count("  1 x 3 , 2000X1, 50×2,5x0 ")
    assert drawer.counts == ((2000, 1), (50, 2), (5, 0), (1, 3))    # largest first
    assert drawer.total_paise == 210300
    assert parse_count("1x0").total_paise == 0


def test_every_rupee_denomination_is_known():
    text = ",".join(f"{d}x1" for d in DENOMINATIONS)
    assert parse_count(text).total_paise == sum(DENOMINATIONS) * 100


@pytest.mark.parametrize("text,names", [
    ("500x3,300x1", "300x1"),          # no ₹300 note
    ("500x3,0x4", "0x4"),
    ("500x-3", "500x-3"),
    ("-500x3", "-500x3"),
    ("500x1.5", "500x1.5"),
    ("500.0x1", "500.0x1"),
    ("500x3,100x2,500x1", "500x1"),    # duplicate
    ("500*3", "500*3"),
    ("500x", "500x"),
    ("x3", "x3"),
    ("500x3,,100x1", "empty part"),
    ("500x3,", "empty part"),
    ("500xthree", "500xthree"),
    ("500x٣", "500x٣"),                 # non-ASCII digit
    ("500x99999999", "500x99999999"),
])
def test_refusals_name_the_bad_part(text, names):
    with pytest.raises(ValueError) as err:
        parse_count(text)
    assert names in str(err.value)


def test_empty_count_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="1x0"):
        parse_count("   ")


def test_variance_is_counted_minus_expected():
    assert variance_paise(250000, 250000) == 0
    assert variance_paise(240000, 250000) == -10000
    assert variance_paise(250050, 250000) == 50
