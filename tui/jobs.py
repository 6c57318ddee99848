"""Store, PDF and network work off the UI thread: a thread worker runs a call and posts a typed
`JobDone` message back to the screen that asked, which hands it to `done_<tag>` (or shows the
refusal). A DigitError is the service's refusal; anything else is shown as the CLI would."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class Refusal:
    code: str
    message: str

    def text(self) -> str:
        return f"{self.code}: {self.message}"


class JobDone(Message):
    """What a worker did: its result, or the refusal that stopped it."""

    def __init__(self, tag: str, result: Any = None, error: Refusal | None = None) -> None:
        super().__init__()
        self.tag = tag
        self.result = result
        self.error = error


def refusal_of(err: Exception) -> Refusal:
    from digitctl.errors import DigitError

    if isinstance(err, DigitError):
        return Refusal(err.code, err.message)
    if type(err).__module__.startswith("sqlalchemy"):
        from digitctl.services.store import constraint_refusal, unavailable_reason

        reason = unavailable_reason(err)
        if reason:
            return Refusal("STORE_UNAVAILABLE", reason)
        refused = constraint_refusal(err)
        if refused is not None:
            return Refusal(refused.code, refused.message)
        orig = getattr(err, "orig", None)
        return Refusal("INTERNAL_ERROR", f"{type(orig or err).__name__}: "
                       f"{(str(orig or err).strip().splitlines() or [''])[0]}")
    return Refusal("INTERNAL_ERROR", f"{type(err).__name__}: {err}")


def run_call(tag: str, call: Callable[[], Any], post: Callable[[Message], Any]) -> None:
    """The worker's body: run `call`, post JobDone with what came of it."""
    try:
        result = call()
    except Exception as err:  # every failure reaches the screen; none kills the app
        post(JobDone(tag, error=refusal_of(err)))
        return
    post(JobDone(tag, result=result))
