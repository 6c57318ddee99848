"""Signed audit: the store's Ed25519 signing key, `audit log`, and `audit verify`.

The unit of work writes one audit record per event at commit, chained by
`hash = sha256(prev_hash + audit_body(record))`, and asks a signer for an Ed25519 signature over
that hash. This module owns the signer's key and checks the chain:

- The key pair is made once per store (`ensure_signing_key`, called by `init` before its first
  event). The public key is kept in store_meta in the clear; the private key is wrapped by the
  master key (AES-GCM, the key id as associated data), so it is as safe as the master key. Keys are
  never deleted: a rotation adds a key and moves `audit_signing_key_id`, old signatures still verify.
- `verify` streams the chain in seq order and stops at the first bad record, saying what happened
  to it (edited, deleted, inserted, reordered, unsigned, badly signed, truncated). The public keys are
  authenticated first by unwrapping their private halves with the master key: somebody who can
  write to the database could otherwise swap in a key of their own and re-sign everything.
- A store that wrote audit records before it had a key (an older `init`) has the key sign the head
  of that unsigned history when the key is made ("adoption"); verify accepts unsigned records only
  up to that signed head, and demands signatures on everything after it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select

from digitctl.domain.canonical import canonical_json, sha256_hex
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.masterkey import MasterKeyError
from local_store.models import AuditRecord, StoreMeta
from local_store import seals
from local_store.models import OutboxEvent, Payment
from local_store.uow import AUDIT_HEAD, AUDIT_HEAD_SIGNED, GENESIS, audit_body

if TYPE_CHECKING:
    from digitctl.bootstrap import App
    from digitctl.context import RequestContext
    from digitctl.services.masterkey import MasterKey
    from local_store.uow import UnitOfWork

SEARCH_ACTION = "/digitctl/audit/_search"
VERIFY_ACTION = "/digitctl/audit/_verify"

CURRENT_KEY = "audit_signing_key_id"
PUBLIC_PREFIX = "audit_signing_public:"
PRIVATE_PREFIX = "audit_signing_private:"
ADOPTED = "audit_signing_adopted"
# Domain separation: a signature over a record hash can never pass for an adoption, or vice versa.
RECORD_CONTEXT = b"digitctl-audit-record-v1:"
ADOPT_CONTEXT = b"digitctl-audit-adopt-v1:"
HEAD_CONTEXT = b"digitctl-audit-head-v1:"
BATCH = 2000

_AUDIT = AuditRecord.__table__


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


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_id_for(public_raw: bytes) -> str:
    """A key's id is a fingerprint of its public half, so an id cannot be re-pointed silently."""
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def _aad(key_id: str) -> str:
    return "audit-signing:" + key_id


def _head_message(seq: int, head: str) -> bytes:
    return HEAD_CONTEXT + f"{seq}:{head}".encode("ascii")


# -- signing ----------------------------------------------------------------------------------
class KeySigner:
    """Signs record hashes with one private key: hash -> (key_id, base64 signature)."""

    def __init__(self, key_id: str, private: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self._private = private

    def __call__(self, record_hash: str) -> tuple[str, str]:
        return self.key_id, _b64(self._private.sign(RECORD_CONTEXT + record_hash.encode("ascii")))

    def sign_head(self, seq: int, head: str) -> tuple[str, str]:
        """The chain's head (last seq and hash) signed, kept beside the bare head in store_meta."""
        return self.key_id, _b64(self._private.sign(_head_message(seq, head)))


class StoreSigner:
    """The signer `App.uow` hands to every unit of work: loads the store's current key on first
    use (one read, one unwrap with the master key) and keeps it for the life of the App."""

    def __init__(self, app: "App") -> None:
        self._app = app
        self._key: KeySigner | None = None

    def __call__(self, record_hash: str) -> tuple[str, str]:
        if self._key is None:
            self._key = self._load()
        return self._key(record_hash)

    def sign_head(self, seq: int, head: str) -> tuple[str, str]:
        if self._key is None:
            self._key = self._load()
        return self._key.sign_head(seq, head)

    def _load(self) -> KeySigner:
        with self._app.store.readonly_engine.connect() as conn:
            key_id = _meta(conn, CURRENT_KEY)
            wrapped = _meta(conn, PRIVATE_PREFIX + key_id) if key_id else None
        if key_id is None or wrapped is None:
            raise AuditKeyMissing("AUDIT_SIGNING_KEY_MISSING",
                                  "this store has no audit signing key; run `digitctl init` to upgrade it")
        private = Ed25519PrivateKey.from_private_bytes(self._app.master_key.unwrap(wrapped, _aad(key_id)))
        if key_id_for(private.public_key().public_bytes_raw()) != key_id:
            raise AuditKeyMissing("AUDIT_SIGNING_KEY_INVALID",
                                  f"the stored audit signing key {key_id} does not match its id", {"keyId": key_id})
        return KeySigner(key_id, private)


def signer_for(app: "App") -> StoreSigner:
    """The callable UnitOfWork's `signer` takes (keep one per App: it caches the unwrapped key)."""
    return StoreSigner(app)


def _create_key(uow: "UnitOfWork", master_key: "MasterKey") -> tuple[str, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes_raw()
    key_id = key_id_for(public_raw)
    uow.set_meta(PUBLIC_PREFIX + key_id, _b64(public_raw))
    uow.set_meta(PRIVATE_PREFIX + key_id, master_key.wrap(private.private_bytes_raw(), aad=_aad(key_id)))
    uow.set_meta(CURRENT_KEY, key_id)
    # This transaction's own events are signed with the new key; an App-wide StoreSigner is left
    # alone, so a rollback leaves no phantom key cached anywhere.
    uow.signer = KeySigner(key_id, private)
    return key_id, private


def ensure_signing_key(uow: "UnitOfWork", master_key: "MasterKey") -> str:
    """The store's current signing key id, creating the key pair (in `uow`, not committed) if
    there is none. Call it before recording events: `uow` then signs them with the new key."""
    current = uow.meta(CURRENT_KEY)
    if current is not None:
        return current
    head = uow.session.execute(select(StoreMeta.value).where(StoreMeta.key == AUDIT_HEAD)
                               .with_for_update()).scalar_one_or_none()
    key_id, private = _create_key(uow, master_key)
    if head is not None and head != GENESIS:
        # Records written before any key existed: vouch for exactly that history, no more.
        sig = private.sign(ADOPT_CONTEXT + head.encode("ascii"))
        uow.set_meta(ADOPTED, canonical_json({"keyId": key_id, "head": head, "signature": _b64(sig)}))
    return key_id


def rotate_signing_key(uow: "UnitOfWork", master_key: "MasterKey") -> str:
    """A new current key; the old public keys stay so their signatures keep verifying."""
    if uow.meta(CURRENT_KEY) is None:
        return ensure_signing_key(uow, master_key)
    return _create_key(uow, master_key)[0]


# -- verification -----------------------------------------------------------------------------
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


def _meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(StoreMeta.value).where(StoreMeta.key == key)).scalar_one_or_none()


def _trusted_keys(conn: Connection, app: "App") -> tuple[dict[str, Ed25519PublicKey], Problem | None]:
    """Public keys whose private halves open with the master key (AES-GCM authenticates them)."""
    stored = dict(conn.execute(select(StoreMeta.key, StoreMeta.value)
                               .where(StoreMeta.key.like("audit_signing_%"))).all())
    keys: dict[str, Ed25519PublicKey] = {}
    for name, public_b64 in sorted(stored.items()):
        if not name.startswith(PUBLIC_PREFIX):
            continue
        key_id = name[len(PUBLIC_PREFIX):]
        wrapped = stored.get(PRIVATE_PREFIX + key_id)
        try:
            if wrapped is None:
                raise ValueError("its private key is missing")
            private = Ed25519PrivateKey.from_private_bytes(app.master_key.unwrap(wrapped, _aad(key_id)))
            public_raw = private.public_key().public_bytes_raw()
            if public_raw != base64.b64decode(public_b64, validate=True) or key_id_for(public_raw) != key_id:
                raise ValueError("its public key is not the stored private key's")
        except MasterKeyError as err:
            if err.code != "MASTER_KEY_MISMATCH":
                raise
            return keys, Problem(Kind.UNTRUSTED_KEY, f"signing key {key_id}: its wrapped private key does not "
                                 "open with this store's master key (the stored keys were altered)")
        except (ValueError, binascii.Error) as err:
            return keys, Problem(Kind.UNTRUSTED_KEY, f"signing key {key_id}: {err}")
        keys[key_id] = private.public_key()
    return keys, None


def _adopted_head(conn: Connection, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """The head of pre-key history a trusted key vouched for, if its signature holds."""
    text = _meta(conn, ADOPTED)
    if text is None:
        return None
    try:
        doc = json.loads(text)
        keys[doc["keyId"]].verify(base64.b64decode(doc["signature"], validate=True),
                                  ADOPT_CONTEXT + str(doc["head"]).encode("ascii"))
        return str(doc["head"])
    except (ValueError, KeyError, TypeError, InvalidSignature, binascii.Error):
        return None                         # ignored: unsigned records are then reported


def _signature_status(row: Any, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """None when the signature holds, else why not (UNSIGNED / unknown key / BAD_SIGNATURE)."""
    signature, key_id = row["signature"], row["key_id"]
    if signature is None:
        return Kind.UNSIGNED
    key = keys.get(key_id) if key_id is not None else None
    if key is None:
        return "UNKNOWN_KEY"
    try:
        key.verify(base64.b64decode(signature, validate=True), RECORD_CONTEXT + row["hash"].encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError):
        return Kind.BAD_SIGNATURE
    return None


@dataclass
class _Failure:
    row: dict[str, Any]
    prev: dict[str, Any] | None
    link_ok: bool
    hash_ok: bool
    signature: str | None


def verify(app: "App", ctx: "RequestContext") -> VerifyReport:
    """Check the whole chain, every signature and the head; name the first bad record."""
    authorize(app, ctx, VERIFY_ACTION, ctx.tenant_id)
    started = time.perf_counter()
    report = VerifyReport()
    conn = app.store.readonly_engine.connect()
    if conn.dialect.name == "postgresql":
        # One snapshot for head, keys and rows, or a concurrent commit would look like tampering.
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    with conn:
        keys, problem = _trusted_keys(conn, app)
        report.keys = sorted(keys)
        report.head = head = _meta(conn, AUDIT_HEAD)
        sealed: dict[str, tuple[int, str | None]] = {}
        if problem is None:
            problem = _walk(conn, keys, head, report, sealed)
        if problem is None:
            problem = _check_signed_head(conn, keys, report)
        if problem is None:
            problem = _check_live_rows(conn, sealed, report)
        if problem is None:
            problem = _check_receipts(conn)
        report.problem = problem
    report.seconds = time.perf_counter() - started
    return report


def _walk(conn: Connection, keys: dict[str, Ed25519PublicKey], head: str | None,
          report: VerifyReport, sealed: dict[str, tuple[int, str | None]]) -> Problem | None:
    adopted = _adopted_head(conn, keys)
    unsigned_ok = adopted is not None          # until the adopted head is passed
    expected = GENESIS
    prev: dict[str, Any] | None = None
    failure: _Failure | None = None
    n = 0
    # Streamed BATCH rows at a time (a server-side cursor on PostgreSQL): never the whole chain.
    result = conn.execute(select(_AUDIT).order_by(_AUDIT.c.seq).execution_options(yield_per=BATCH))
    try:
        for row in result.mappings():
            n += 1
            record_hash = row["hash"]
            link_ok = row["prev_hash"] == expected
            hash_ok = sha256_hex(row["prev_hash"] + audit_body(row)) == record_hash
            status = _signature_status(row, keys) if link_ok and hash_ok else None
            if status == Kind.UNSIGNED and unsigned_ok:
                status = None
                report.unsigned_adopted += 1
            if not (link_ok and hash_ok and status is None):
                failure = _Failure(dict(row), prev, link_ok, hash_ok, status)
                break
            if record_hash == adopted:
                unsigned_ok = False
            for entity, seal in (row["row_hashes"] or {}).items():
                sealed[entity] = (row["seq"], seals.digest(seal))     # the entity's last audited state
            report.head_seq = row["seq"]
            expected = record_hash
            prev = {"seq": row["seq"], "record_id": row["record_id"], "prev_hash": row["prev_hash"]}
    finally:
        result.close()
    report.records = n
    if failure is not None:
        return _classify(conn, failure, head, adopted if unsigned_ok else None)
    return _check_head(conn, head, expected, prev, adopted if unsigned_ok else None)


def _problem(kind: str, row: dict[str, Any], message: str) -> Problem:
    return Problem(kind, message, row["seq"], row["record_id"], row["entity_type"], row["entity_id"])


def _seq_with_hash(conn: Connection, record_hash: str) -> int | None:
    return conn.execute(select(_AUDIT.c.seq).where(_AUDIT.c.hash == record_hash)
                        .order_by(_AUDIT.c.seq).limit(1)).scalar()


def _classify(conn: Connection, f: _Failure, head: str | None, pending_adoption: str | None) -> Problem:
    row, prev = f.row, f.prev
    if not f.link_ok:
        if prev is not None and row["prev_hash"] == prev["prev_hash"]:
            return _problem(Kind.INSERTED, row, f"it claims the same predecessor as seq {prev['seq']}: "
                            "a second record was inserted into the chain")
        if not f.hash_ok:
            return _problem(Kind.EDITED, row, "its prev_hash or content was changed after it was written "
                            "(its hash does not recompute)")
        if pending_adoption is not None and row["prev_hash"] == pending_adoption:
            return _problem(Kind.EDITED, row, "the unsigned records written before the signing key existed "
                            f"(up to seq {prev['seq'] if prev else '?'}) were rewritten")
        found = _seq_with_hash(conn, row["prev_hash"])
        if found is not None:
            return _problem(Kind.REORDERED, row, f"it follows seq {found}, which is stored "
                            f"{'after' if found > row['seq'] else 'before'} it: records were reordered")
        if prev is None:
            return _problem(Kind.DELETED, row, "the chain does not start at the genesis hash: "
                            f"the record(s) before seq {row['seq']} were deleted")
        gap = (f"seq {prev['seq'] + 1}" if row["seq"] - prev["seq"] == 2 else
               f"seq {prev['seq'] + 1}..{row['seq'] - 1}" if row["seq"] - prev["seq"] > 2 else "")
        return _problem(Kind.DELETED, row, "the record it follows is missing: "
                        + (f"{gap} was deleted" if gap else
                           f"a record between seq {prev['seq']} and seq {row['seq']} was deleted "
                           "(and the rows renumbered)"))
    if not f.hash_ok:
        return _problem(Kind.EDITED, row, "its content was changed after it was written "
                        "(its hash does not recompute)")
    nxt = conn.execute(select(_AUDIT.c.seq, _AUDIT.c.prev_hash).where(_AUDIT.c.seq > row["seq"])
                       .order_by(_AUDIT.c.seq).limit(1)).first()
    if nxt is not None and nxt.prev_hash == row["prev_hash"]:
        return _problem(Kind.INSERTED, row, f"it is not signed by the store and seq {nxt.seq} follows "
                        "its predecessor directly: this record was inserted")
    if nxt is None and head == row["prev_hash"]:
        return _problem(Kind.INSERTED, row, "it is not signed by the store and lies beyond the store's "
                        "head: this record was appended")
    key = row["key_id"]
    if f.signature == Kind.UNSIGNED:
        return _problem(Kind.UNSIGNED, row, "it has no signature" + (
            "" if key else " (the store had no signing key? run `digitctl init` to create one)"))
    if f.signature == "UNKNOWN_KEY":
        return _problem(Kind.BAD_SIGNATURE, row, f"it is signed with key {key}, which is not one of "
                        "this store's keys: forged")
    return _problem(Kind.BAD_SIGNATURE, row, f"its signature does not verify with key {key}: "
                    "the record was rewritten or forged (the hash chain alone looks intact)")


def _check_head(conn: Connection, head: str | None, last_hash: str, last: dict[str, Any] | None,
                pending_adoption: str | None) -> Problem | None:
    if head is None and last is None:
        return None
    if head is None:
        return Problem(Kind.HEAD_MISMATCH, "the store has audit records but no audit head (store_meta "
                       f"{AUDIT_HEAD} was deleted)")
    last_seq = last["seq"] if last else 0
    if head != last_hash:
        found = _seq_with_hash(conn, head)
        if found is not None:
            nxt = conn.execute(select(_AUDIT).where(_AUDIT.c.seq > found).order_by(_AUDIT.c.seq)
                               .limit(1)).mappings().first()
            row = dict(nxt) if nxt else {"seq": None, "record_id": None, "entity_type": None, "entity_id": None}
            return _problem(Kind.HEAD_MISMATCH, row, f"the store's head points at seq {found}, but the chain "
                            f"goes on to seq {last_seq}: the head was moved back")
        return Problem(Kind.TRUNCATED, f"the chain ends at seq {last_seq}"
                       + (f" (record {last['record_id']})" if last else "")
                       + " but the store's head is a later record: the last record(s) were deleted",
                       last_seq + 1)
    if pending_adoption is not None:
        return Problem(Kind.TRUNCATED, "the chain ends before the record the signing key adopted as the "
                       f"head of the unsigned history: records after seq {last_seq} were deleted "
                       "and the head moved back", last_seq + 1)
    return None


# -- the signed head, the live rows, the receipt books ---------------------------------------
def _check_signed_head(conn: Connection, keys: dict[str, Ed25519PublicKey], report: VerifyReport) -> Problem | None:
    """The signed head must name the chain's last record: a tail cut off with the bare head moved
    back still leaves the signed head pointing past the new end."""
    if report.head_seq is None:
        return None
    last = conn.execute(select(_AUDIT.c.key_id).where(_AUDIT.c.seq == report.head_seq)).scalar()
    text = _meta(conn, AUDIT_HEAD_SIGNED)
    if text is None:
        if last is None:            # an unsigned (pre-key) history: nothing signed the head yet
            return None
        return Problem(Kind.HEAD_UNSIGNED, f"the store has no signed audit head ({AUDIT_HEAD_SIGNED} was "
                       "deleted): the end of the chain cannot be trusted", report.head_seq)
    try:
        doc = json.loads(text)
        seq, head = int(doc["seq"]), str(doc["hash"])
        keys[doc["keyId"]].verify(base64.b64decode(doc["signature"], validate=True), _head_message(seq, head))
    except (ValueError, KeyError, TypeError, InvalidSignature, binascii.Error):
        return Problem(Kind.HEAD_UNSIGNED, "the store's signed audit head does not verify with its keys: "
                       f"{AUDIT_HEAD_SIGNED} was rewritten", report.head_seq)
    if seq > report.head_seq:
        return Problem(Kind.TRUNCATED, f"the signed head is seq {seq} but the chain ends at seq {report.head_seq}: "
                       f"the last record(s) seq {report.head_seq + 1}..{seq} were deleted and the head moved back",
                       report.head_seq + 1)
    if (seq, head) != (report.head_seq, report.head):
        return Problem(Kind.HEAD_MISMATCH, f"the signed head is seq {seq} ({head[:12]}) but the chain ends at "
                       f"seq {report.head_seq} ({(report.head or '')[:12]}): the head was rewritten", seq)
    return None


def _sealed_state(conn: Connection, seq: int, entity: str) -> seals.Seal | None:
    row_hashes = conn.execute(select(_AUDIT.c.row_hashes).where(_AUDIT.c.seq == seq)).scalar()
    return (row_hashes or {}).get(entity)


def _check_live_rows(conn: Connection, sealed: dict[str, tuple[int, str | None]],
                     report: VerifyReport) -> Problem | None:
    """Each live payment, demand, bill and user (with its details / roles) against the seal its
    last audit record holds; names the first table, key and field that differs."""
    seen: set[str] = set()
    for kind in seals.KINDS:
        for key, live in seals.live_seals(conn, kind):
            entity = seals.entity_key(kind, key)
            seen.add(entity)
            report.rows_checked += 1
            seq, digest = sealed.get(entity, (None, None))
            if digest is not None and digest == seals.digest(live):
                continue
            return _row_problem(conn, entity, seq, live)
    for entity, (seq, digest) in sorted(sealed.items(), key=lambda item: item[1][0]):
        if digest is not None and entity not in seen:      # sealed as existing, gone from the store
            return _row_problem(conn, entity, seq, None)
    return None


def _row_problem(conn: Connection, entity: str, seq: int | None, live: seals.Seal | None) -> Problem:
    kind, key = seals.split_key(entity)
    before = _sealed_state(conn, seq, entity) if seq is not None else None
    table, row_key, column, what = seals.first_difference(before, live)
    if seq is None:
        what = "it has no audited state: the row was written into the store directly, not by digitctl"
    where = f"{table} {row_key}" + (f" field {column}" if column != "*" else "")
    return Problem(Kind.LIVE_ROW_MISMATCH, f"live row differs from the audit chain: {where}: {what}"
                   + (f" (last audited at seq {seq})" if seq is not None else ""),
                   seq, None, kind, key, code="AUDIT_LIVE_ROW_MISMATCH",
                   detail={"table": table, "key": row_key, "field": column})


_SERIES = re.compile(r"^(.*?)(\d+)$")


def receipt_gaps(conn: Connection) -> list[dict[str, Any]]:
    """Numbers missing inside each receipt series (tenant + number with its last digits as #),
    from the series' first number to its last: a deleted or renumbered receipt leaves one."""
    books: dict[tuple[str, str], list[int]] = {}
    width: dict[tuple[str, str], int] = {}
    for tenant, number in conn.execute(select(Payment.tenant_id, Payment.receipt_number)):
        m = _SERIES.match(number or "")
        if m is None:
            continue
        series = (tenant, m.group(1) + "#")
        books.setdefault(series, []).append(int(m.group(2)))
        width[series] = len(m.group(2))
    gaps = []
    for (tenant, pattern), numbers in sorted(books.items()):
        have = set(numbers)
        missing = [n for n in range(min(have), max(have)) if n not in have]
        if missing:
            fmt = lambda n: pattern.replace("#", str(n).zfill(width[(tenant, pattern)]))  # noqa: E731
            gaps.append({"tenantId": tenant, "series": pattern, "missing": [fmt(n) for n in missing[:20]],
                         "missingCount": len(missing)})
    return gaps


def payments_without_event(conn: Connection) -> list[dict[str, Any]]:
    """Payments with no `collection.payment.created` outbox event for their id and receipt number."""
    events: dict[str, set[str]] = {}
    for entity_id, payload in conn.execute(select(OutboxEvent.entity_id, OutboxEvent.payload).where(
            OutboxEvent.event_type == "collection.payment.created")):
        numbers = events.setdefault(entity_id, set())
        for doc in (payload or {}).get("Payments") or []:
            for detail in doc.get("paymentDetails") or []:
                numbers.add(str(detail.get("receiptNumber")))
    out = []
    for pid, tenant, number in conn.execute(select(Payment.id, Payment.tenant_id, Payment.receipt_number)
                                            .order_by(Payment.receipt_date, Payment.id)):
        if number not in events.get(pid, ()):
            out.append({"paymentId": pid, "tenantId": tenant, "receiptNumber": number,
                        "event": "missing" if pid not in events else "receipt number differs"})
    return out


def _check_receipts(conn: Connection) -> Problem | None:
    gaps = receipt_gaps(conn)
    if gaps:
        g = gaps[0]
        return Problem(Kind.RECEIPT_GAP, f"receipt series {g['series']} at {g['tenantId']} has a gap: "
                       f"{', '.join(g['missing'])} {'is' if g['missingCount'] == 1 else 'are'} missing "
                       "(a receipt was deleted or renumbered)", code="AUDIT_RECEIPT_GAP",
                       detail={"table": "payment", "series": g["series"], "missing": g["missing"]})
    orphans = payments_without_event(conn)
    if orphans:
        o = orphans[0]
        return Problem(Kind.EVENT_MISSING, f"payment {o['paymentId']} (receipt {o['receiptNumber']}) has no "
                       f"matching outbox event ({o['event']}): the hub would never receive it",
                       None, None, "Payment", o["paymentId"], code="AUDIT_EVENT_MISSING",
                       detail={"table": "outbox_event", "key": o["paymentId"], "field": "payload"})
    return None


def head(app: "App") -> dict[str, Any]:
    """The chain's head as paper and the hub anchor it: {"seq", "hash", "short", "signed"} (seq 0
    and the genesis hash for an empty chain). `short` is what slips print: "#<seq> <12 hex>"."""
    with app.store.readonly_engine.connect() as conn:
        last = conn.execute(select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1)).first()
        signed = _meta(conn, AUDIT_HEAD_SIGNED)
    seq, value = (int(last.seq), str(last.hash)) if last is not None else (0, GENESIS)
    return {"seq": seq, "hash": value, "short": f"#{seq} {value[:12]}", "signed": signed}


def seal_existing_rows(uow: "UnitOfWork") -> int:
    """Seal every live payment, demand, bill and user not sealed yet (rows from before row seals):
    `init` calls it once per store; the unit of work writes one record holding the seals."""
    conn = uow.session.connection()
    sealed = {e for (rh,) in conn.execute(select(_AUDIT.c.row_hashes).where(_AUDIT.c.row_hashes.is_not(None)))
              for e in (rh or {})}
    n = 0
    for kind in seals.KINDS:
        for key, _live in seals.live_seals(conn, kind):
            if seals.entity_key(kind, key) not in sealed:
                uow.touch(kind, key)
                n += 1
    return n


# -- log --------------------------------------------------------------------------------------
def log(app: "App", ctx: "RequestContext", entity: str | None = None, limit: int = 50,
        tenant: str | None = None) -> list[dict[str, Any]]:
    """Audit records, newest first, as camelCase documents (before/after as stored: PII encrypted)."""
    authorize(app, ctx, SEARCH_ACTION, tenant or ctx.tenant_id)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise InvalidInput("INVALID_LIMIT", f"limit must be 1..10000, got {limit!r}", {"limit": limit})
    stmt = select(_AUDIT).order_by(_AUDIT.c.seq.desc()).limit(limit)
    if entity is not None:
        stmt = stmt.where(_AUDIT.c.entity_id == entity)
    if tenant is not None:
        stmt = stmt.where(_AUDIT.c.tenant_id == tenant)
    with app.store.readonly_engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{"seq": r["seq"], "recordId": r["record_id"], "occurredAt": r["occurred_at"].isoformat(),
             "actor": {"uuid": r["actor_uuid"], "userName": r["actor_name"]}, "tenantId": r["tenant_id"],
             "operation": r["operation"], "entityType": r["entity_type"], "entityId": r["entity_id"],
             "before": r["before"], "after": r["after"], "hash": r["hash"], "keyId": r["key_id"],
             "signed": r["signature"] is not None} for r in rows]


__all__ = ["AuditChainBroken", "AuditKeyMissing", "Kind", "KeySigner", "Problem", "StoreSigner",
           "VerifyReport", "ensure_signing_key", "head", "log", "payments_without_event", "receipt_gaps",
           "rotate_signing_key", "seal_existing_rows", "signer_for", "verify"]
