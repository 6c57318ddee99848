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
        """DIGIT's error object: {"code", "message", "description", "params"}."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.description:
            out["description"] = self.description
        if self.params:
            out["params"] = self.params
        return out


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


def errors_envelope(errors: list[DigitError]) -> dict[str, Any]:
    return {"Errors": [e.as_digit() for e in errors]}
