"""The DIGIT JSON writer: a document as DIGIT's contracts type it.

DIGIT's contracts type money as JSON numbers; the services keep exact decimal strings. In the
DIGIT envelopes (`DIGIT_ENVELOPES`), the amount fields (`DIGIT_AMOUNTS`) go out as number literals
written from the decimal text itself (never through a float): "1250.00" -> 1250.00. Everything
else is plain JSON: a Decimal as its text, a date or an instant as ISO 8601.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

DIGIT_ENVELOPES = ("Payments", "Bill", "Bills", "Demands")
DIGIT_AMOUNTS = frozenset({"totalDue", "totalAmountPaid", "amount", "adjustedAmount", "totalAmount", "amountPaid",
                           "minimumAmountToBePaid", "minimumAmountPayable", "taxAmount", "collectionAmount"})
_NUMBER = "\x00number:"
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _amounts_as_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_NUMBER + str(v) if k in DIGIT_AMOUNTS and isinstance(v, (str, Decimal))
                    and _DECIMAL_TEXT.fullmatch(str(v)) else _amounts_as_numbers(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_amounts_as_numbers(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """`value` as indented JSON (UTF-8 text kept); in a DIGIT envelope, amounts as JSON numbers."""
    if isinstance(value, dict) and any(k in value for k in DIGIT_ENVELOPES):
        value = {k: _amounts_as_numbers(v) if k in DIGIT_ENVELOPES else v for k, v in value.items()}
        text = json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)
        return re.sub(r'"\\u0000number:(-?[0-9.]+)"', r"\1", text)
    return json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)
