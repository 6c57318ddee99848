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

Where: the key and the signer in `audit_chain`, the checks in `audit_verify`, the pure rules (what a
signature covers, Kind, Problem, VerifyReport, receipt series gaps) in `digitctl.domain.audit_rules`;
this module runs `verify`, gives the head and the log, and re-exports the rest as `audit.X`.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

# the audit services are split by seam; `audit.X` keeps naming every one of them
from digitctl.domain.audit_rules import (ADOPT_CONTEXT, HEAD_CONTEXT, RECORD_CONTEXT, AuditChainBroken,  # noqa: F401
                                         AuditKeyMissing, Kind, Problem, VerifyReport, key_id_for)
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.audit_chain import (ADOPTED, CURRENT_KEY, PRIVATE_PREFIX, PUBLIC_PREFIX,  # noqa: F401
                                           KeySigner, StoreSigner, ensure_signing_key, meta_value,
                                           rotate_signing_key, signer_for)
from digitctl.services.audit_verify import (check_live_rows, check_receipts, check_signed_head,  # noqa: F401
                                            payments_without_event, receipt_gaps, trusted_keys, walk)
from local_store import seals
from local_store.models import AuditRecord
from local_store.uow import AUDIT_HEAD, AUDIT_HEAD_SIGNED, GENESIS

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

SEARCH_ACTION = "/digitctl/audit/_search"
VERIFY_ACTION = "/digitctl/audit/_verify"

BATCH = 2000

_AUDIT = AuditRecord.__table__


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
        keys, problem = trusted_keys(conn, app)
        report.keys = sorted(keys)
        report.head = head = meta_value(conn, AUDIT_HEAD)
        sealed: dict[str, tuple[int, str | None]] = {}
        if problem is None:
            problem = walk(conn, keys, head, report, sealed, BATCH)
        if problem is None:
            problem = check_signed_head(conn, keys, report)
        if problem is None:
            problem = check_live_rows(conn, sealed, report)
        if problem is None:
            problem = check_receipts(conn)
        report.problem = problem
    report.seconds = time.perf_counter() - started
    return report


def head(app: "App") -> dict[str, Any]:
    """The chain's head as paper and the hub anchor it: {"seq", "hash", "short", "signed"} (seq 0
    and the genesis hash for an empty chain). `short` is what slips print: "#<seq> <12 hex>"."""
    with app.store.readonly_engine.connect() as conn:
        last = conn.execute(select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1)).first()
        signed = meta_value(conn, AUDIT_HEAD_SIGNED)
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
