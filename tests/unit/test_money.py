"""Money: strict Decimal construction, paise rounding, en_IN grouping and Indian amount in words."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitctl.domain.money import (
    format_inr, from_paise, in_words_inr, in_words_inr_hi, is_whole_rupees, json_loads, json_number, money, number,
    round_paise, to_paise, words_indian_hi,
)


# --- construction ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("123.456", Decimal("123.46")), ("0.005", Decimal("0.01")), ("-0.005", Decimal("-0.01")),
    ("2.675", Decimal("2.68")), (100, Decimal("100.00")), (Decimal("1.1"), Decimal("1.10")),
    (" 42 ", Decimal("42.00")), ("1E+3", Decimal("1000.00")),
])
def test_money_rounds_half_up_to_paise(value, expected):
    result = money(value)
    assert result == expected
    assert result.as_tuple().exponent == -2


def test_a_float_is_refused_with_a_clear_message():
    with pytest.raises(TypeError) as err:
        money(0.1)  # type: ignore[arg-type]
    assert "float" in str(err.value) and "'0.1'" in str(err.value) and "parse_float=Decimal" in str(err.value)
    with pytest.raises(TypeError):
        number(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        round_paise(2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_paise(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_inr(10.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [True, None, [1], b"1"])
def test_other_types_are_refused(bad):
    with pytest.raises(TypeError):
        money(bad)


@pytest.mark.parametrize("bad", ["", "abc", "1,000", "NaN", "Infinity", "₹10"])
def test_text_that_is_not_an_amount_is_refused(bad):
    with pytest.raises(ValueError):
        money(bad)


def test_json_parsed_with_decimal_stays_exact():
    doc = json.loads('{"taxAmount": 1234.565}', parse_float=Decimal)
    assert money(doc["taxAmount"]) == Decimal("1234.57")


def test_json_loads_reads_digit_numbers_exactly():
    doc = json_loads('{"Demands": [{"taxAmount": 1250.40, "minimumAmountPayable": 0, "rate": 0.1, "x": "7.5"}]}')
    [line] = doc["Demands"]
    assert line["taxAmount"] == Decimal("1250.40") and str(line["taxAmount"]) == "1250.40"   # as written
    assert type(line["minimumAmountPayable"]) is int and line["rate"] == Decimal("0.1")
    assert line["x"] == "7.5"                                                                # strings stay strings
    assert json_loads(b'[2.675]') == [Decimal("2.675")]                                     # bytes too, no rounding
    with pytest.raises(ValueError):
        json_loads("{not json")


@pytest.mark.parametrize("value, expected", [
    (Decimal("1250.40"), Decimal("1250.40")), (7, Decimal("7")), ("2.5", Decimal("2.5")), (" 3 ", Decimal("3")),
    # a JSON column or plain json.loads gave a float: its shortest repr is what the sender wrote
    (0.1, Decimal("0.1")), (1234.565, Decimal("1234.565")), (1e21, Decimal("1E+21")),
])
def test_json_number_reads_a_json_number_however_it_was_parsed(value, expected):
    result = json_number(value)
    assert isinstance(result, Decimal) and result == expected


@pytest.mark.parametrize("bad", [True, None, "", "abc", "NaN", float("inf"), float("nan"), [1], {"a": 1}])
def test_json_number_refuses_what_is_not_a_number(bad):
    with pytest.raises(ValueError):
        json_number(bad)


def test_negative_zero_prints_as_zero():
    assert str(money("-0.001")) == "0.00"
    assert format_inr("-0.004") == "₹0.00"


# --- paise ---------------------------------------------------------------------------------------------

def test_paise_round_trip():
    assert to_paise("1234.5") == 123450
    assert to_paise("-0.015") == -2
    assert from_paise(123450) == Decimal("1234.50")
    assert from_paise(-1) == Decimal("-0.01")
    with pytest.raises(TypeError):
        from_paise(True)
    with pytest.raises(TypeError):
        from_paise("100")  # type: ignore[arg-type]


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_paise_round_trip_property(paise):
    assert to_paise(from_paise(paise)) == paise


def test_whole_rupees():
    assert is_whole_rupees("100.00") and is_whole_rupees(0) and is_whole_rupees("-5")
    assert not is_whole_rupees("100.50") and not is_whole_rupees("0.01")


# --- en_IN grouping --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (0, "₹0.00"), (1, "₹1.00"), (99, "₹99.00"), (100, "₹100.00"), (999, "₹999.00"),
    (1000, "₹1,000.00"), (12345, "₹12,345.00"), (100000, "₹1,00,000.00"), ("123456", "₹1,23,456.00"),
    (10000000, "₹1,00,00,000.00"), ("123456789.05", "₹12,34,56,789.05"),
    (10**12, "₹10,00,00,00,00,000.00"),
    ("-1234.5", "-₹1,234.50"), ("-100000", "-₹1,00,000.00"), ("-0.5", "-₹0.50"),
])
def test_format_inr(value, text):
    assert format_inr(value) == text


def test_format_inr_without_symbol():
    assert format_inr("123456.7", symbol=False) == "1,23,456.70"
    assert format_inr("-1234.5", symbol=False) == "-1,234.50"


# --- in words ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, words", [
    (0, "Rupees Zero Only"),
    (1, "Rupees One Only"),
    (19, "Rupees Nineteen Only"),
    (20, "Rupees Twenty Only"),
    (99, "Rupees Ninety Nine Only"),
    (100, "Rupees One Hundred Only"),
    (101, "Rupees One Hundred One Only"),
    (1000, "Rupees One Thousand Only"),
    (100000, "Rupees One Lakh Only"),
    (10000000, "Rupees One Crore Only"),
    ("123456.50", "Rupees One Lakh Twenty Three Thousand Four Hundred Fifty Six and Fifty Paise Only"),
    ("123456789.05", "Rupees Twelve Crore Thirty Four Lakh Fifty Six Thousand Seven Hundred Eighty Nine"
                     " and Five Paise Only"),
    (10**12, "Rupees One Lakh Crore Only"),
    (10**14, "Rupees One Crore Crore Only"),
    ("999999999", "Rupees Ninety Nine Crore Ninety Nine Lakh Ninety Nine Thousand Nine Hundred Ninety Nine Only"),
    ("0.50", "Rupees Zero and Fifty Paise Only"),
    ("0.999", "Rupees One Only"),
    ("-1234.5", "Minus Rupees One Thousand Two Hundred Thirty Four and Fifty Paise Only"),
    ("-100000", "Minus Rupees One Lakh Only"),
])
def test_in_words_inr(value, words):
    assert in_words_inr(value) == words


def test_in_words_refuses_a_float():
    with pytest.raises(TypeError):
        in_words_inr(1.5)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**16))
def test_grouping_keeps_the_digits(paise):
    text = format_inr(from_paise(paise), symbol=False)
    rupees, frac = text.split(".")
    assert rupees.replace(",", "") == str(paise // 100)
    assert frac == f"{paise % 100:02d}"
    groups = rupees.split(",")
    assert len(groups[-1]) <= 3 and all(len(g) == 2 for g in groups[1:-1]) and 1 <= len(groups[0]) <= 3
    if len(groups) > 1:
        assert len(groups[-1]) == 3 and len(groups[0]) <= 2


@given(st.integers(min_value=0, max_value=10**13))
def test_words_are_well_formed(rupees):
    words = in_words_inr(rupees)
    assert words.startswith("Rupees ") and words.endswith(" Only")
    assert "  " not in words
    if rupees:
        assert "Zero" not in words


@pytest.mark.parametrize("n, words", [
    (0, "शून्य"), (7, "सात"), (45, "पैंतालीस"), (99, "निन्यानबे"), (100, "एक सौ"), (250, "दो सौ पचास"),
    (1250, "एक हज़ार दो सौ पचास"), (100000, "एक लाख"), (12345678, "एक करोड़ तेईस लाख पैंतालीस हज़ार छह सौ अठहत्तर"),
    (10**12, "एक लाख करोड़"),
])
def test_hindi_words_use_the_indian_scale(n, words):
    assert words_indian_hi(n) == words


def test_hindi_amount_in_words():
    assert in_words_inr_hi("1250") == "रुपये एक हज़ार दो सौ पचास मात्र"
    assert in_words_inr_hi("0.50") == "रुपये शून्य और पचास पैसे मात्र"
    assert in_words_inr_hi("-12") == "ऋण रुपये बारह मात्र"
