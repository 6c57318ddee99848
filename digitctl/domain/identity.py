"""Identity rules as DIGIT's egov-user has them: the password policy, the lockout window,
OTPs, mobile numbers and user names, a new user's spec and who may grant which role. Plain Python;
hashing is scrypt (memory-hard, stdlib)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from digitctl.errors import InvalidInput

USER_TYPES = ("CITIZEN", "EMPLOYEE", "SYSTEM")


@dataclass(frozen=True)
class PasswordPolicy:
    """DIGIT's default: 8-15 characters, a digit, a lower- and an upper-case letter, one of
    @#$%, no white space."""

    min_length: int = 8
    max_length: int = 15
    specials: str = "@#$%"
    need_digit: bool = True
    need_lower: bool = True
    need_upper: bool = True

    def problems(self, password: str) -> list[str]:
        out: list[str] = []
        if not self.min_length <= len(password) <= self.max_length:
            out.append(f"be {self.min_length}-{self.max_length} characters long")
        if self.need_digit and not re.search(r"\d", password):
            out.append("contain a digit")
        if self.need_lower and not re.search(r"[a-z]", password):
            out.append("contain a lower-case letter")
        if self.need_upper and not re.search(r"[A-Z]", password):
            out.append("contain an upper-case letter")
        if self.specials and not any(c in self.specials for c in password):
            out.append(f"contain one of {self.specials}")
        if re.search(r"\s", password):
            out.append("contain no spaces")
        return out


@dataclass(frozen=True)
class LockoutPolicy:
    """5 failed logins within 30 minutes lock the account for 60 minutes."""

    max_failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=30)
    lock_for: dt.timedelta = dt.timedelta(minutes=60)

    def should_lock(self, failures: Sequence[dt.datetime], now: dt.datetime) -> bool:
        recent = [t for t in failures if now - t <= self.window]
        return len(recent) >= self.max_failures


# scrypt: N=2^14, r=8 -> 16 MiB per hash; ~50 ms here, tunable without breaking old hashes.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return "scrypt${}${}${}${}${}".format(n, r, p, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=256 * 1024 * 1024, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


MOBILE_RE = re.compile(r"^[6-9]\d{9}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")


def normalize_mobile(value: str) -> str:
    """'+91 98765-43210' -> '9876543210' (Indian mobile numbers as DIGIT stores them)."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) == 12 and digits.startswith("91"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        digits = digits[1:]
    return digits


def valid_mobile(value: str) -> bool:
    return bool(MOBILE_RE.match(value))


OTP_LENGTH = 6
OTP_VALIDITY = dt.timedelta(seconds=900)
OTP_MAX_ATTEMPTS = 5


def new_otp() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(OTP_LENGTH))


# -- a new user, and who may grant which role -------------------------------------------------------
@dataclass
class EmployeeSpec:
    department: str
    designation: str
    code: str | None = None
    from_date: dt.date | None = None
    jurisdictions: list[str] = field(default_factory=list)
    employee_type: str = "PERMANENT"


@dataclass
class NewUser:
    user_name: str
    name: str
    type: str
    tenant_id: str | None = None
    mobile: str | None = None
    email: str | None = None
    gender: str | None = None
    locale: str = "en_IN"
    roles: list[tuple[str, str]] = field(default_factory=list)   # (code, tenantId)
    password: str | None = None
    employee: EmployeeSpec | None = None
    uuid: str | None = None       # kept when given (the hub storing a user a counter created), else new


def parse_role(text: str, default_tenant: str) -> tuple[str, str]:
    """'TL_CEMP@pb.amritsar' -> ('TL_CEMP', 'pb.amritsar'); 'CITIZEN' -> ('CITIZEN', default)."""
    code, _, tenant = text.partition("@")
    if not code.strip():
        raise InvalidInput("INVALID_ROLE", f"role {text!r} has no code", {"role": text})
    return code.strip().upper(), (tenant.strip() or default_tenant)


def covers(granter_tenant: str, tenant: str) -> bool:
    """A role held at `granter_tenant` reaches `tenant`: the same tenant, or the state of a city
    ('*' is the local SYSTEM administrator's). A city never covers the state or another city."""
    return granter_tenant in ("*", tenant) or ("." not in granter_tenant and tenant.startswith(granter_tenant + "."))


def ungranted(held: Sequence[tuple[str, str]], roles: Sequence[tuple[str, str]]) -> list[str]:
    """The roles ('CODE@tenant', sorted) that someone holding `held` may not grant: besides
    CITIZEN, a role needs that role or SUPERUSER held at its tenant or at a tenant covering it."""
    return sorted({f"{code}@{t}" for code, t in roles if code != "CITIZEN" and not any(
        hc in (code, "SUPERUSER") and covers(ht, t) for hc, ht in held)})
