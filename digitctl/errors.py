"""One error family, DIGIT-style codes; converted to exit codes / HTTP / notices only at the edges."""
from __future__ import annotations

from typing import Any


class DigitError(Exception):
    """An error a user can act on: `code` is DIGIT-style (UPPER_SNAKE), `params` name the culprit."""

    exit_code = 1
    http_status = 500

    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None,
                 description: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.params = params or {}
        self.description = description

    def as_digit(self) -> dict[str, Any]:
        """DIGIT's error object (tracer's Error): {"code", "message", "description", "params"},
        `params` a list of strings ("key: value")."""
        return error_object(self.code, self.message, self.params, self.description)


def param_strings(params: dict[str, Any] | None) -> list[str]:
    """DIGIT's `params` is a list of strings: each of ours as "key: value", the value as text
    (strings and decimals as they are, anything else as compact JSON)."""
    import json
    from decimal import Decimal

    out = []
    for key, value in (params or {}).items():
        if isinstance(value, (str, Decimal)):
            text = str(value)
        else:
            text = json.dumps(value, ensure_ascii=False, default=str)
        out.append(f"{key}: {text}")
    return out


def error_object(code: str, message: str, params: dict[str, Any] | None = None,
                 description: str | None = None) -> dict[str, Any]:
    """One entry of DIGIT's `Errors`: all four keys always (description null when there is
    none, params an empty list), as tracer's Error is written."""
    return {"code": code, "message": message, "description": description or None,
            "params": param_strings(params)}


class InvalidInput(DigitError):
    """Refused input: nothing was written."""

    exit_code = 2
    http_status = 400


class NotFound(InvalidInput):
    http_status = 404


class Conflict(InvalidInput):
    http_status = 409


class Forbidden(DigitError):
    exit_code = 3
    http_status = 403


class Unauthenticated(Forbidden):
    http_status = 401


def errors_envelope(errors: list[DigitError], response_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """DIGIT's ErrorRes: {"ResponseInfo", "Errors": [...]}."""
    return {"ResponseInfo": response_info, "Errors": [e.as_digit() for e in errors]}
