"""`sync run`: push then pull, again every `interval` seconds, until stopped (also what the TUI
runs in the background). Quiet while the hub is unreachable: the counter keeps working and the
next round tries again; a refusal (revoked, flagged ...) is logged each round, not fatal. Each
round logs one line of what it did (to the `digitctl.sync` logger and to `log`)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from digitctl.errors import DigitError
from sync.client import HubUnreachable, RetryPolicy

if TYPE_CHECKING:
    from digitctl.bootstrap import App

log = logging.getLogger("digitctl.sync")
QUICK = RetryPolicy(attempts=2, timeout=20.0, request_timeout=15.0)


def one_round(app: "App", policy: RetryPolicy = QUICK) -> dict[str, Any]:
    """One push + pull: {"pushed", "pulled", "parked", "hub": "up" | "unreachable" | "refused", "error"}."""
    from sync.pull import pull
    from sync.push import client_for, push

    out: dict[str, Any] = {"pushed": 0, "pulled": 0, "parked": 0, "hub": "up", "error": None}
    try:
        with client_for(app, policy=policy) as client:
            pushed = push(app, client)
            out["pushed"], out["parked"] = pushed.sent, len(pushed.parked)
            out["pulled"] = sum(pull(app, client).received.values())
    except HubUnreachable:
        out["hub"] = "unreachable"
    except DigitError as err:
        out["hub"], out["error"] = "refused", err.code
    return out


def run(app: "App", interval: float, rounds: int | None = None, say: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep) -> int:
    """Rounds until `rounds` (None: forever); returns the rounds run."""
    done = 0
    was_down = False
    while rounds is None or done < rounds:
        r = one_round(app)
        done += 1
        if r["hub"] == "unreachable":
            if not was_down:                 # quiet: said once, not every round
                _say(say, "hub unreachable: working offline, will retry")
            was_down = True
        else:
            if was_down:
                _say(say, "hub reachable again")
            was_down = False
            if r["hub"] == "refused":
                _say(say, f"the hub refused: {r['error']}")
            elif r["pushed"] or r["pulled"] or r["parked"]:
                _say(say, f"pushed {r['pushed']} events, pulled {r['pulled']} rows, {r['parked']} parked at the hub")
        if rounds is not None and done >= rounds:
            break
        sleep(interval)
    return done


def _say(say: Callable[[str], None] | None, text: str) -> None:
    log.info(text)
    if say is not None:
        say(text)
