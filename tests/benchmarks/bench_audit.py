"""How fast does `digitctl audit verify` check a chain of 100,000 signed records on SQLite, and
what does it cost over its parts? Run: `python tests/benchmarks/bench_audit.py [--records N] [--dir DIR]`.

The records are written the way the product writes them: domain events recorded in a UnitOfWork
(BATCH events per commit) with the store's signer, so each one is hashed, signed, and inserted with
its outbox row. Then, in the same run and on the same file:
  1. `audit.verify` over the whole chain (records/s), and the peak Python memory it allocates
     (tracemalloc, a second run) to show it streams instead of loading the chain;
  2. baselines: streaming the rows alone (SQLAlchemy Core, yield_per), sha256 chain hashing of the
     same bodies alone, raw Ed25519 sign and verify (cryptography/OpenSSL);
and prints verify's rate against each. Takes about a minute with the defaults.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TENANT = "pb.amritsar"
BATCH = 1000                 # events per transaction while writing the chain


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>11,.0f} /s"


def build_chain(app, records: int) -> float:
    from digitctl.domain.events import Event
    from digitctl.services.audit import ensure_signing_key, signer_for
    from local_store.uow import UnitOfWork

    with UnitOfWork(app.store, app.context()) as uow:
        ensure_signing_key(uow, app.master_key)
        uow.commit()
    signer = signer_for(app)
    started = time.perf_counter()
    n = 0
    while n < records:
        with UnitOfWork(app.store, app.context(TENANT), signer=signer) as uow:
            for _ in range(min(BATCH, records - n)):
                receipt = f"PB-CR-2026-{n:07d}"
                uow.record(Event("collection.payment.created", TENANT, "Payment", receipt,
                                 "/collection-services/payments/_create",
                                 {"receiptNumber": receipt, "amount": "1250.00"},
                                 before=None, after={"status": "NEW", "amountPaid": "1250.00",
                                                     "payerName": "ਹਰਪ੍ਰੀਤ ਕੌਰ", "mode": "CASH"}))
                n += 1
            uow.commit()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dir", default=None, help="where to put the store (default: a temp dir)")
    args = parser.parse_args()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import func, select

    from digitctl import bootstrap
    from digitctl.clock import IST, FixedClock
    from digitctl.domain.canonical import sha256_hex
    from digitctl.services import audit
    from digitctl.services.store import init_store
    from local_store.models import AuditRecord
    from local_store.uow import GENESIS, audit_body

    workdir = Path(args.dir or tempfile.mkdtemp(prefix="bench_audit_"))
    # The store's master key goes beside it, never into the user's config dir.
    for name in ("DIGIT_MASTER_KEY", "DIGIT_MASTER_KEY_FILE"):
        os.environ.pop(name, None)
    os.environ["DIGIT_CONFIG_DIR"] = str(workdir / "config")
    url = f"sqlite:///{workdir / 'audit.db'}"
    app = bootstrap.build(url, clock=FixedClock(dt.datetime(2026, 11, 25, 10, 30, tzinfo=IST)))
    init_store(app, app.context(), "pb", "C01")

    wrote = build_chain(app, args.records)
    table = AuditRecord.__table__
    with app.store.readonly_engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table)).scalar_one()
    print(f"store: {url}  ({total:,} audit records; {Path(workdir / 'audit.db').stat().st_size / 1e6:.0f} MB)")
    print(f"write through UnitOfWork (hash+sign+insert, {BATCH}/tx): {rate(args.records, wrote)}  "
          f"({wrote:.1f} s)")

    # 1. verify, as `digitctl audit verify` runs it
    report = audit.verify(app, app.context())
    assert report.ok and report.records == total, report.summary()
    verify_rate = report.records / report.seconds
    print(f"audit.verify                               : {rate(report.records, report.seconds)}  "
          f"({report.seconds:.2f} s)  -> {report.summary()}")

    # 2. baselines, on the same rows
    started = time.perf_counter()
    bodies: list[tuple[str, str]] = []
    with app.store.readonly_engine.connect() as conn:
        result = conn.execute(select(table).order_by(table.c.seq).execution_options(yield_per=audit.BATCH))
        for row in result.mappings():
            bodies.append((row["prev_hash"], audit_body(row)))
    read_s = time.perf_counter() - started
    print(f"  stream rows + build bodies (no checks)   : {rate(total, read_s)}  ({read_s:.2f} s)")

    started = time.perf_counter()
    prev = GENESIS
    for _, body in bodies:
        prev = sha256_hex(prev + body)
    hash_s = time.perf_counter() - started
    print(f"  sha256 chain hashing alone               : {rate(total, hash_s)}  ({hash_s:.2f} s)")
    del bodies

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    samples = [sha256_hex(str(i)).encode() for i in range(min(total, 30_000))]
    started = time.perf_counter()
    sigs = [key.sign(m) for m in samples]
    sign_s = time.perf_counter() - started
    started = time.perf_counter()
    for m, s in zip(samples, sigs):
        public.verify(s, m)
    ver_s = time.perf_counter() - started
    started = time.perf_counter()
    for s in sigs:
        base64.b64decode(base64.b64encode(s), validate=True)
    b64_s = time.perf_counter() - started
    print(f"  raw Ed25519 sign                         : {rate(len(samples), sign_s)}")
    print(f"  raw Ed25519 verify                       : {rate(len(samples), ver_s)}")
    print(f"  base64 round trip of a signature         : {rate(len(samples), b64_s)}")

    floor = 1 / (1 / (total / read_s) + 1 / (total / hash_s) + 1 / (len(samples) / ver_s))
    print(f"ratios: verify / raw Ed25519 verify = {verify_rate / (len(samples) / ver_s):.2f}; "
          f"verify / (read + hash + Ed25519 verify, summed) = {verify_rate / floor:.2f}; "
          f"Ed25519 verify share of verify time = {(ver_s / len(samples)) * verify_rate:.0%}")

    # 3. memory: verify streams, so its peak does not grow with the chain
    tracemalloc.start()
    again = audit.verify(app, app.context())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert again.ok
    print(f"peak Python memory allocated during verify : {peak / 1e6:.1f} MB for {again.records:,} records "
          f"({peak / again.records:.0f} B/record; batches of {audit.BATCH})")
    app.close()
    if args.dir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
