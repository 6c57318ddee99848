"""The pure rules of the signed audit chain: what a signature covers (each kind of message has its own
context prefix, so a record signature never passes for an adoption or a head), a key's id, what
`audit verify` finds and reports, and the gaps in a receipt series. No store, no keys."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from digitctl.errors import InvalidInput

# Domain separation: a signature over a record hash can never pass for an adoption, or vice versa.
RECORD_CONTEXT = b"digitctl-audit-record-v1:"
ADOPT_CONTEXT = b"digitctl-audit-adopt-v1:"
HEAD_CONTEXT = b"digitctl-audit-head-v1:"


class Kind:
    """What verify found wrong with the first bad record."""

    EDITED = "EDITED"                # its content (or prev_hash) changed: the hash does not recompute
    DELETED = "DELETED"              # the record it follows is gone
    INSERTED = "INSERTED"            # a record that is not part of the signed chain
    REORDERED = "REORDERED"          # it follows a record stored after it
    UNSIGNED = "UNSIGNED"            # no signature where one is required
    BAD_SIGNATURE = "BAD_SIGNATURE"  # the signature fails, or is by a key the store does not have
    TRUNCATED = "TRUNCATED"          # the chain stops short of the store's head: last records deleted
    HEAD_MISMATCH = "HEAD_MISMATCH"  # the head is missing or points inside the chain
    HEAD_UNSIGNED = "HEAD_UNSIGNED"  # the store's signed head is missing or its signature fails
    LIVE_ROW_MISMATCH = "LIVE_ROW_MISMATCH"  # a live row differs from its last audited state
    RECEIPT_GAP = "RECEIPT_GAP"      # a receipt number is missing from its series
    EVENT_MISSING = "EVENT_MISSING"  # a payment has no matching outbox event
    UNTRUSTED_KEY = "UNTRUSTED_KEY"  # a stored public key is not the master key's


class AuditChainBroken(InvalidInput):
    """`audit verify` found a bad record: exit 2, code AUDIT_CHAIN_BROKEN."""


class AuditKeyMissing(InvalidInput):
    """The store has no audit signing key yet (made by an older `digitctl init`)."""


def key_id_for(public_raw: bytes) -> str:
    """A key's id is a fingerprint of its public half, so an id cannot be re-pointed silently."""
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def key_aad(key_id: str) -> str:
    """The associated data a wrapped private key is sealed with."""
    return "audit-signing:" + key_id


def head_message(seq: int, head: str) -> bytes:
    return HEAD_CONTEXT + f"{seq}:{head}".encode("ascii")


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    seq: int | None = None
    record_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    code: str = "AUDIT_CHAIN_BROKEN"
    detail: dict[str, Any] = field(default_factory=dict)   # e.g. table, key, field of a live row

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "recordId": self.record_id, "entityType": self.entity_type,
                "entityId": self.entity_id, "kind": self.kind, "code": self.code, "message": self.message,
                **self.detail}


@dataclass
class VerifyReport:
    records: int = 0
    seconds: float = 0.0
    head: str | None = None
    keys: list[str] = field(default_factory=list)
    unsigned_adopted: int = 0      # unsigned records from before the key, vouched for by adoption
    head_seq: int | None = None    # the last record's seq (with `head`, what paper and the hub anchor)
    rows_checked: int = 0          # live payment/demand/bill/user entities compared with their seals
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        if self.problem is None:
            return (f"{self.records} records verified, chain intact"
                    + (f"; {self.rows_checked} live rows match their audited state" if self.rows_checked else ""))
        p = self.problem
        if p.code != "AUDIT_CHAIN_BROKEN":
            return p.message
        where = f"seq {p.seq}" if p.seq is not None else "the store"
        what = ", ".join(x for x in (f"record {p.record_id}" if p.record_id else "",
                                     f"{p.entity_type} {p.entity_id}" if p.entity_type else "") if x)
        return f"audit chain broken at {where}{f' ({what})' if what else ''}: {p.kind}: {p.message}"

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "seconds": round(self.seconds, 3),
                "recordsPerSecond": round(self.rate, 1), "head": self.head, "headSeq": self.head_seq,
                "keys": self.keys, "unsignedAdopted": self.unsigned_adopted, "liveRowsChecked": self.rows_checked,
                "firstBad": self.problem.as_json() if self.problem else None}

    def raise_if_broken(self) -> None:
        if self.problem is not None:
            p = self.problem
            raise AuditChainBroken(p.code, self.summary(),
                                   {"seq": p.seq, "recordId": p.record_id, "entityType": p.entity_type,
                                    "entityId": p.entity_id, "kind": p.kind, "recordsChecked": self.records,
                                    **p.detail})


_SERIES = re.compile(r"^(.*?)(\d+)$")


def series_key(tenant: str, number: str | None) -> tuple[str, str] | None:
    """The receipt series (tenant, number with its last digits as #) a number belongs to."""
    m = _SERIES.match(number or "")
    return None if m is None else (tenant, m.group(1) + "#")


def series_gaps(receipts: Iterable[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Numbers missing inside each receipt series of (tenant, receipt number) pairs: a series is a
    tenant + the number with its last digits as #, from its first number to its last."""
    books: dict[tuple[str, str], list[int]] = {}
    width: dict[tuple[str, str], int] = {}
    for tenant, number in receipts:
        m = _SERIES.match(number or "")
        if m is None:
            continue
        book = (tenant, m.group(1) + "#")
        books.setdefault(book, []).append(int(m.group(2)))
        width[book] = len(m.group(2))
    gaps = []
    for (tenant, series), numbers in sorted(books.items()):
        have = set(numbers)
        missing = [n for n in range(min(have), max(have)) if n not in have]
        if missing:
            fmt = lambda n: series.replace("#", str(n).zfill(width[(tenant, series)]))  # noqa: E731
            gaps.append({"tenantId": tenant, "series": series, "missing": [fmt(n) for n in missing[:20]],
                         "missingCount": len(missing)})
    return gaps
