"""Is the hub there? The status line asks the registered hub's `GET /health` (sync/PROTOCOL.md)
from a worker every HUB_PROBE_SECONDS; a counter works offline either way."""
from __future__ import annotations

HUB_PROBE_SECONDS = 30.0
TIMEOUT_SECONDS = 2.0


def reachable(hub_url: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    """True when the hub answers /health with 200 and status UP."""
    import httpx

    try:
        answer = httpx.get(hub_url.rstrip("/") + "/health", timeout=timeout)
        return answer.status_code == 200 and answer.json().get("status") == "UP"
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
