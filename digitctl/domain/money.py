"""Money, owned by one module (DESIGN.md rule 4, "money as beancount does it").

An amount is a `Decimal` built from a `str`, an `int` or another `Decimal`, never from a float:
a float reaching this module is a `TypeError`, because 0.1 cannot hold ten paise exactly and the
error would surface later as a one-paisa mismatch on a receipt. Read DIGIT's JSON with
`json_loads(text)` (json.loads with parse_float=Decimal) so amounts arrive here exact; a number
from JSON that was read with floats anyway (a JSON column, a stored MDMS record) goes through
`json_number`, which takes the float's shortest repr: what the sender wrote.

Rounding happens only at named points: `money()` (a value entering the books), `round_paise()`
and `to_paise()`, always to 2 places with ROUND_HALF_UP, the rule Indian receipts use.
Arithmetic in between stays exact.

Printing follows en_IN: `format_inr` groups the last three digits, then twos (₹1,23,456.00),
and `in_words_inr` spells an amount with thousand / lakh / crore ("Rupees One Lakh Twenty Three
Thousand Four Hundred Fifty Six and Fifty Paise Only"). DIGIT's own consolidatedreceipt has no
amount-in-words field (its format-config prints "₹ {{paidAmount}}"), so the wording here is the
style of Indian counter receipts and cheques: no "and" inside the rupees, "and … Paise" before
the closing "Only".
"""
from __future__ import annotations

import decimal
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Union

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")
RUPEE_SYMBOL = "₹"

# Precision well above what a state's books need (10^20 rupees), so quantize never traps.
_CONTEXT = decimal.Context(prec=50, rounding=ROUND_HALF_UP)

MoneyLike = Union[Decimal, int, str]


def number(value: MoneyLike) -> Decimal:
    """An exact Decimal from a str, int or Decimal; no rounding. Floats and bools are refused."""
    if isinstance(value, bool):
        raise TypeError(f"money needs a str, int or Decimal, got the bool {value!r}")
    if isinstance(value, float):
        raise TypeError(
            f"money needs a str, int or Decimal, got the float {value!r}: a float cannot hold "
            f"paise exactly; pass {repr(str(value))} instead, or parse JSON with parse_float=Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
    else:
        raise TypeError(f"money needs a str, int or Decimal, got {type(value).__name__} {value!r}")
    if not result.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return result


def round_paise(value: MoneyLike) -> Decimal:
    """The named rounding point: 2 places, ROUND_HALF_UP (12.345 → 12.35, -12.345 → -12.35)."""
    if not isinstance(value, Decimal):
        value = number(value)  # refuses floats with the explanation
    result = value.quantize(PAISA, context=_CONTEXT)
    return result if result else ZERO  # no "-0.00"


def money(value: MoneyLike) -> Decimal:
    """An amount entering the books: parsed strictly (see `number`) and rounded to paise."""
    return round_paise(number(value))


def to_paise(value: MoneyLike) -> int:
    """Integer paise, the way the store keeps money (rounded to paise first)."""
    return int(money(value).scaleb(2, context=_CONTEXT))


def from_paise(paise: int) -> Decimal:
    """Back from integer paise to a 2-place Decimal."""
    if isinstance(paise, bool) or not isinstance(paise, int):
        raise TypeError(f"paise are an int, got {type(paise).__name__} {paise!r}")
    return round_paise(Decimal(paise).scaleb(-2, context=_CONTEXT))


def json_loads(text: str | bytes) -> Any:
    """DIGIT JSON with its numbers exact: a number with a fraction or an exponent becomes a Decimal
    as written (1250.40 stays 1250.40), a whole number stays an int. Bad JSON is a ValueError."""
    return json.loads(text, parse_float=Decimal)


def json_number(value: Any) -> Decimal:
    """A number out of DIGIT JSON as an exact Decimal (no rounding: see `money` for that), however
    the JSON was read: a Decimal or int as it is, a str as written, a float through its shortest
    repr (0.1 -> Decimal("0.1"), what the sender wrote). Anything else is a ValueError."""
    if isinstance(value, float):
        value = repr(value)
    try:
        return number(value)
    except TypeError:
        raise ValueError(f"not a number: {value!r}") from None


def is_whole_rupees(value: MoneyLike) -> bool:
    """True when the amount has no paise (collection's "no fractional amounts" rule)."""
    amount = number(value)
    return amount == amount.to_integral_value(rounding=ROUND_HALF_UP)


def group_indian(digits: str) -> str:
    """'123456789' → '12,34,56,789': the last three digits, then groups of two."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail


def format_inr(value: MoneyLike, symbol: bool = True) -> str:
    """₹1,23,456.00 (en_IN grouping, always two decimals); negatives as -₹1,234.50."""
    amount = money(value)
    sign = "-" if amount < 0 else ""
    rupees, paise = f"{abs(amount):.2f}".split(".")
    return f"{sign}{RUPEE_SYMBOL if symbol else ''}{group_indian(rupees)}.{paise}"


_ONES = ("Zero One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen "
         "Fifteen Sixteen Seventeen Eighteen Nineteen").split()
_TENS = "_ _ Twenty Thirty Forty Fifty Sixty Seventy Eighty Ninety".split()


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{_ONES[hundreds]} Hundred"] if hundreds else []
    if rest:
        parts.append(_below_hundred(rest))
    return " ".join(parts)


def words_indian(n: int) -> str:
    """A non-negative integer in words with the Indian scale. Above 99 crore the crore count is
    itself spelt the same way, so 10^12 is "One Lakh Crore" and 10^14 "One Crore Crore"."""
    if n < 0:
        raise ValueError("words_indian takes a non-negative integer")
    if n == 0:
        return "Zero"
    crores, rest = divmod(n, 10**7)
    lakhs, rest = divmod(rest, 10**5)
    thousands, rest = divmod(rest, 1000)
    parts = []
    if crores:
        parts.append(f"{words_indian(crores)} Crore")
    if lakhs:
        parts.append(f"{_below_hundred(lakhs)} Lakh")
    if thousands:
        parts.append(f"{_below_hundred(thousands)} Thousand")
    if rest:
        parts.append(_below_thousand(rest))
    return " ".join(parts)


def in_words_inr(value: MoneyLike) -> str:
    """'Rupees One Lakh Twenty Three Thousand Four Hundred Fifty Six and Fifty Paise Only'.

    Zero is "Rupees Zero Only"; paise alone "Rupees Zero and Fifty Paise Only"; a negative
    amount (a refund, a rebate line) starts with "Minus"."""
    amount = money(value)
    paise_total = abs(to_paise(amount))
    rupees, paise = divmod(paise_total, 100)
    text = f"Rupees {words_indian(rupees)}"
    if paise:
        text += f" and {_below_hundred(paise)} Paise"
    text += " Only"
    return f"Minus {text}" if amount < 0 else text


# Hindi: 1-99 have their own words (no tens + ones rule), then सौ, हज़ार, लाख, करोड़ as in English.
_HI_BELOW_HUNDRED = (
    "शून्य एक दो तीन चार पाँच छह सात आठ नौ "
    "दस ग्यारह बारह तेरह चौदह पंद्रह सोलह सत्रह अठारह उन्नीस "
    "बीस इक्कीस बाईस तेईस चौबीस पच्चीस छब्बीस सत्ताईस अट्ठाईस उनतीस "
    "तीस इकतीस बत्तीस तैंतीस चौंतीस पैंतीस छत्तीस सैंतीस अड़तीस उनतालीस "
    "चालीस इकतालीस बयालीस तैंतालीस चवालीस पैंतालीस छियालीस सैंतालीस अड़तालीस उनचास "
    "पचास इक्यावन बावन तिरेपन चौवन पचपन छप्पन सत्तावन अट्ठावन उनसठ "
    "साठ इकसठ बासठ तिरेसठ चौंसठ पैंसठ छियासठ सड़सठ अड़सठ उनहत्तर "
    "सत्तर इकहत्तर बहत्तर तिहत्तर चौहत्तर पचहत्तर छिहत्तर सतहत्तर अठहत्तर उनासी "
    "अस्सी इक्यासी बयासी तिरासी चौरासी पचासी छियासी सत्तासी अट्ठासी नवासी "
    "नब्बे इक्यानबे बानबे तिरानबे चौरानबे पंचानबे छियानबे सत्तानबे अट्ठानबे निन्यानबे").split()
assert len(_HI_BELOW_HUNDRED) == 100


class IndicWords:
    """Amounts in words on the Indian scale for a language where 1-99 each have their own word
    (Hindi, Punjabi): then hundred, thousand, lakh and crore words, and the rupee phrase."""

    def __init__(self, below_hundred: list[str], scale: tuple[str, str, str, str],
                 phrase: tuple[str, str, str, str, str]) -> None:
        assert len(below_hundred) == 100
        self.below_hundred = below_hundred
        self.hundred, self.thousand, self.lakh, self.crore = scale
        self.rupees, self.and_, self.paise, self.only, self.minus = phrase

    def words(self, n: int) -> str:
        if n < 0:
            raise ValueError("amounts in words take a non-negative integer")
        if n < 100:
            return self.below_hundred[n]
        crores, rest = divmod(n, 10**7)
        lakhs, rest = divmod(rest, 10**5)
        thousands, rest = divmod(rest, 1000)
        hundreds, rest = divmod(rest, 100)
        parts = []
        if crores:
            parts.append(f"{self.words(crores)} {self.crore}")
        for count, word in ((lakhs, self.lakh), (thousands, self.thousand), (hundreds, self.hundred)):
            if count:
                parts.append(f"{self.below_hundred[count]} {word}")
        if rest:
            parts.append(self.below_hundred[rest])
        return " ".join(parts)

    def inr(self, value: MoneyLike) -> str:
        amount = money(value)
        rupees, paise = divmod(abs(to_paise(amount)), 100)
        text = f"{self.rupees} {self.words(rupees)}"
        if paise:
            text += f" {self.and_} {self.below_hundred[paise]} {self.paise}"
        text += f" {self.only}"
        return f"{self.minus} {text}" if amount < 0 else text


HINDI = IndicWords(_HI_BELOW_HUNDRED, ("सौ", "हज़ार", "लाख", "करोड़"), ("रुपये", "और", "पैसे", "मात्र", "ऋण"))


def words_indian_hi(n: int) -> str:
    """words_indian in Hindi: 1,23,45,678 is "एक करोड़ तेईस लाख पैंतालीस हज़ार छह सौ अठहत्तर"."""
    return HINDI.words(n)


def in_words_inr_hi(value: MoneyLike) -> str:
    """in_words_inr in Hindi, as receipts print it: "रुपये एक हज़ार दो सौ पचास मात्र";
    paise "... और पचास पैसे मात्र"; a negative amount starts with "ऋण"."""
    return HINDI.inr(value)
