"""Where messages leave: an HTTP SMS gateway configured as DIGIT's egov-notification-sms is
(`sms.provider.url`, `requestType`, `contentType`, `sms.config.map` with `$mobileno` / `$message`
..., `sms.mobile.prefix`, `sms.success.codes`), SMTP e-mail, and a file sink for offline counters
(one JSON file per message, picked up later). Each sender has a rate limit.

Settings (environment): DIGIT_SMS_GATEWAY_URL, DIGIT_SMS_REQUEST_TYPE (POST|GET),
DIGIT_SMS_CONTENT_TYPE (application/x-www-form-urlencoded | application/json),
DIGIT_SMS_CONFIG_MAP (JSON: parameter -> template), DIGIT_SMS_MOBILE_PREFIX, DIGIT_SMS_SUCCESS_CODES,
DIGIT_SMS_RATE (per second); DIGIT_SMTP_URL (smtp://[user:password@]host:port), DIGIT_SMTP_FROM,
DIGIT_SMTP_RATE; DIGIT_NOTIFY_FILE_DIR (the file sink, for the channels with no provider).

The address and text pass through memory only: no error text here carries either."""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DEFAULT_SMS_MAP = {"mobileno": "$mobileno", "content": "$message", "reference": "$reference",
                   "category": "$category"}


@dataclass(frozen=True)
class Outgoing:
    channel: str
    address: str
    subject: str
    body: str
    key: str                 # the notification's idempotency key: the same on every attempt
    category: str = "NOTIFICATION"


class SendFailed(Exception):
    """A delivery that did not happen; `transient` ones are worth another try."""

    def __init__(self, reason: str, transient: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class Sender(Protocol):
    name: str
    idempotent: bool          # a repeat with the same key delivers nothing twice

    def send(self, msg: Outgoing) -> str: ...


@dataclass
class RateLimit:
    """At most `per_second` sends, spaced evenly (a provider's throughput contract)."""

    per_second: float
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self) -> None:
        if self.per_second <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.per_second
        if slot > now:
            time.sleep(slot - now)


@dataclass
class HttpSms:
    url: str
    request_type: str = "POST"
    content_type: str = "application/x-www-form-urlencoded"
    config_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SMS_MAP))
    mobile_prefix: str = ""
    success_codes: frozenset[int] = frozenset({200, 201, 202})
    rate: RateLimit = field(default_factory=lambda: RateLimit(50))
    timeout: float = 10.0
    name: str = "sms-http"
    idempotent: bool = True

    def _params(self, msg: Outgoing) -> dict[str, str]:
        values = {"$mobileno": self.mobile_prefix + msg.address, "$message": msg.body, "$reference": msg.key,
                  "$category": msg.category}
        out = {}
        for param, template in self.config_map.items():
            text = str(template)
            for k, v in values.items():
                text = text.replace(k, v)
            out[param] = text
        return out

    def send(self, msg: Outgoing) -> str:
        import urllib.error
        import urllib.parse
        import urllib.request

        self.rate.wait()
        params = self._params(msg)
        headers = {"Idempotency-Key": msg.key}
        if self.request_type.upper() == "GET":
            sep = "&" if "?" in self.url else "?"
            req = urllib.request.Request(self.url + sep + urllib.parse.urlencode(params), headers=headers)
        else:
            if "json" in self.content_type:
                data = json.dumps(params, ensure_ascii=False).encode()
            else:
                data = urllib.parse.urlencode(params).encode()
            req = urllib.request.Request(self.url, data=data, method="POST",
                                         headers={**headers, "Content-Type": self.content_type})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:   # noqa: S310 (configured URL)
                status, body = res.status, res.read(4096)
        except urllib.error.HTTPError as err:
            status, body = err.code, b""
        except (urllib.error.URLError, OSError) as err:
            raise SendFailed(f"SMS gateway unreachable ({type(err).__name__})") from None
        if status not in self.success_codes:
            raise SendFailed(f"SMS gateway answered HTTP {status}", transient=status >= 500 or status == 429)
        return _message_id(body) or msg.key


def _message_id(body: bytes) -> str | None:
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return None
    if isinstance(doc, dict):
        for k in ("messageId", "message_id", "id", "requestId"):
            if isinstance(doc.get(k), (str, int)):
                return str(doc[k])[:128]
    return None


@dataclass
class Smtp:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "noreply@digit.local"
    rate: RateLimit = field(default_factory=lambda: RateLimit(20))
    timeout: float = 10.0
    name: str = "smtp"
    idempotent: bool = False      # SMTP has no idempotency key: an interrupted send is not repeated blindly

    def send(self, msg: Outgoing) -> str:
        import smtplib
        from email.message import EmailMessage

        self.rate.wait()
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, msg.address, msg.subject
        mail["Message-ID"] = f"<{msg.key}@digitctl>"
        mail.set_content(msg.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.user:
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise SendFailed("SMTP server refused the recipient", transient=False) from None
        except (smtplib.SMTPException, OSError) as err:
            raise SendFailed(f"SMTP failed ({type(err).__name__})") from None
        if refused:
            raise SendFailed("SMTP server refused the recipient", transient=False)
        return str(mail["Message-ID"])


@dataclass
class FileSink:
    """One `<key>.json` per message in `folder` (written whole, 0600): for a counter with no
    network, collected later. Writing the same key again changes nothing."""

    folder: Path
    name: str = "file"
    idempotent: bool = True

    def send(self, msg: Outgoing) -> str:
        from digitctl.settings import write_private

        target = self.folder / f"{msg.key}.json"
        if not target.exists():
            doc = {"channel": msg.channel, "to": msg.address, "subject": msg.subject, "message": msg.body,
                   "category": msg.category, "idempotencyKey": msg.key}
            try:
                write_private(target, json.dumps(doc, ensure_ascii=False).encode())
            except OSError as err:
                raise SendFailed(f"file sink not writable ({type(err).__name__})") from None
        return msg.key


def _smtp(url: str, env: Mapping[str, str]) -> Smtp:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return Smtp(host=parts.hostname or "127.0.0.1", port=parts.port or 25,
                user=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                sender=env.get("DIGIT_SMTP_FROM") or "noreply@digit.local",
                rate=RateLimit(float(env.get("DIGIT_SMTP_RATE") or 20)))


def _sms(url: str, env: Mapping[str, str]) -> HttpSms:
    raw_map = env.get("DIGIT_SMS_CONFIG_MAP")
    codes = env.get("DIGIT_SMS_SUCCESS_CODES") or "200,201,202"
    return HttpSms(url=url, request_type=env.get("DIGIT_SMS_REQUEST_TYPE") or "POST",
                   content_type=env.get("DIGIT_SMS_CONTENT_TYPE") or "application/x-www-form-urlencoded",
                   config_map=json.loads(raw_map) if raw_map else dict(DEFAULT_SMS_MAP),
                   mobile_prefix=env.get("DIGIT_SMS_MOBILE_PREFIX") or "",
                   success_codes=frozenset(int(c) for c in codes.split(",") if c.strip()),
                   rate=RateLimit(float(env.get("DIGIT_SMS_RATE") or 50)))


def from_settings(env: Mapping[str, str] | None = None) -> dict[str, Sender]:
    """channel -> sender from the deployment's settings; a channel with neither provider nor
    file sink has no sender (its messages wait, queued)."""
    from digitctl.errors import InvalidInput

    env = os.environ if env is None else env
    out: dict[str, Sender] = {}
    try:
        if env.get("DIGIT_SMS_GATEWAY_URL"):
            out["sms"] = _sms(env["DIGIT_SMS_GATEWAY_URL"], env)
        if env.get("DIGIT_SMTP_URL"):
            out["email"] = _smtp(env["DIGIT_SMTP_URL"], env)
    except (ValueError, TypeError) as err:
        raise InvalidInput("INVALID_NOTIFY_CONFIG", f"notification provider settings: {err}") from None
    if env.get("DIGIT_NOTIFY_FILE_DIR"):
        sink = FileSink(Path(env["DIGIT_NOTIFY_FILE_DIR"]))
        for channel in ("sms", "email"):
            out.setdefault(channel, sink)
    return out
