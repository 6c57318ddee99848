"""The counter's HTTP client to the hub (sync/PROTOCOL.md): signed requests over httpx, retried
with backoff (stamina) on network errors, timeouts, 5xx and unreadable answers (a body cut off),
never on a 4xx: a refusal is an answer. The push loop that drives it is `sync.push`.

Each attempt is signed afresh (new timestamp and nonce) over the same body bytes, so the hub sees a
retry of a batch as the same batch (same batchId, same request hash) and replays its answer."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import stamina

from digitctl.domain.sync_protocol import H_COUNTER, H_NONCE, H_SIGNATURE, H_TIMESTAMP, sign
from digitctl.errors import DigitError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REGISTER_PATH = "/sync/v1/counters/_register"
PUSH_PATH = "/sync/v1/events/_push"
STATUS_PATH = "/sync/v1/counters/{code}/_status"
PULL_PATH = "/sync/v1/changes/_pull"

# The transport a client uses when given none: httpx's own. The one seam for tests, which put an
# in-process fake hub here (httpx.MockTransport); the shipped program never sets it.
default_transport: httpx.BaseTransport | None = None


class HubUnreachable(DigitError):
    """The hub did not answer (after retries): exit 1; nothing was marked sent, nothing is lost."""

    exit_code = 1
    http_status = 503


class HubRefused(DigitError):
    """The hub refused the request (a 4xx with DIGIT's error envelope): never retried as is."""

    def __init__(self, status: int, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, params)
        self.status = status
        self.exit_code = 3 if status in (401, 403) else 2
        self.http_status = status


class _Retry(Exception):
    """An answer worth asking again for: 5xx, or a body that is not the JSON the hub sends."""


@dataclass(frozen=True)
class Answer:
    status: int
    doc: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200

    def error(self) -> tuple[str, str, dict[str, str]]:
        """(code, message, params) of the first error of DIGIT's envelope."""
        errors = self.doc.get("Errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        params: dict[str, str] = {}
        raw = first.get("params") or []
        for item in raw if isinstance(raw, list) else []:
            key, sep, value = str(item).partition(": ")
            if sep:
                params[key] = value
        if isinstance(raw, dict):
            params = {str(k): str(v) for k, v in raw.items()}
        return (str(first.get("code") or f"HTTP_{self.status}"), str(first.get("message") or "refused"), params)

    def refusal(self) -> HubRefused:
        code, message, params = self.error()
        return HubRefused(self.status, code, f"the hub refused: {message}", params)


@dataclass
class RetryPolicy:
    attempts: int = 6
    timeout: float = 60.0          # seconds for all attempts of one request
    wait_initial: float = 0.2
    wait_max: float = 5.0
    request_timeout: float = 30.0  # one attempt


def _untrusted(exc: BaseException) -> bool:
    """A TLS certificate the counter does not trust: asking again will not help."""
    import ssl

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (httpx.TransportError, _Retry)) and not _untrusted(exc)


class HubClient:
    """One hub, one counter. `now_ms` is the counter's clock (the hub checks the skew)."""

    def __init__(self, base_url: str, *, counter_code: str | None = None, key: "Ed25519PrivateKey | None" = None,
                 now_ms: Callable[[], int], policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, verify: Any = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.counter_code = counter_code
        self.key = key
        self.now_ms = now_ms
        self.policy = policy or RetryPolicy()
        self._http = httpx.Client(base_url=self.base_url, timeout=self.policy.request_timeout,
                                  transport=transport or default_transport, verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "HubClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request, retried -----------------------------------------------------------------
    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.key is not None and self.counter_code:
            ts, nonce = self.now_ms(), uuid.uuid4().hex
            headers.update({H_COUNTER: self.counter_code, H_TIMESTAMP: str(ts), H_NONCE: nonce,
                            H_SIGNATURE: sign(self.key, method, path, ts, nonce, body)})
        return headers

    def _once(self, method: str, path: str, body: bytes) -> Answer:
        resp = self._http.request(method, path, content=body if method != "GET" else None,
                                  headers=self._headers(method, path, body))
        if resp.status_code >= 500:
            raise _Retry(f"HTTP {resp.status_code}")
        try:
            doc = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise _Retry(f"unreadable answer ({err})") from None
        if not isinstance(doc, dict):
            raise _Retry("the answer is not a JSON object")
        return Answer(resp.status_code, doc)

    def request(self, method: str, path: str, body: bytes = b"") -> Answer:
        p = self.policy
        last: Exception | None = None
        try:
            for attempt in stamina.retry_context(on=_retryable, attempts=p.attempts, timeout=p.timeout,
                                                 wait_initial=p.wait_initial, wait_max=p.wait_max):
                with attempt:
                    try:
                        return self._once(method, path, body)
                    except Exception as err:
                        last = err
                        raise
        except (httpx.TransportError, _Retry) as err:
            last = err
            if _untrusted(err):
                raise HubUnreachable("SYNC_HUB_TLS_UNTRUSTED", f"the hub at {self.base_url} showed a certificate this "
                                     "counter does not trust; if the hub uses its own certificate, point "
                                     "SSL_CERT_FILE at it (PEM)", {"hub": self.base_url}) from None
        raise HubUnreachable("SYNC_HUB_UNREACHABLE", f"the hub at {self.base_url} did not answer ({last}); nothing "
                             "was marked sent: push again when it is back", {"hub": self.base_url})

    # -- the protocol ---------------------------------------------------------------------------
    def register(self, doc: dict[str, Any]) -> dict[str, Any]:
        answer = self.request("POST", REGISTER_PATH, encode(doc))
        if not answer.ok:
            raise answer.refusal()
        return answer.doc

    def push(self, body: bytes) -> Answer:
        return self.request("POST", PUSH_PATH, body)

    def pull(self, stream: str, cursor: str | None, limit: int) -> dict[str, Any]:
        """One page of a stream since `cursor` (sync/PROTOCOL.md, "Down")."""
        answer = self.request("POST", PULL_PATH, encode({"stream": stream, "cursor": cursor, "limit": limit}))
        if not answer.ok:
            raise answer.refusal()
        return answer.doc

    def status(self) -> dict[str, Any]:
        answer = self.request("GET", STATUS_PATH.format(code=self.counter_code), b"")
        if not answer.ok:
            raise answer.refusal()
        return answer.doc


def encode(doc: dict[str, Any]) -> bytes:
    """A request body, encoded once: a retry sends these very bytes."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
