"""How fast are PII encryption, decryption, blind indexing and masking, and what do they cost over
the bare primitives? Run: `python tests/benchmarks/bench_crypto.py [--ops N] [--dir DIR]`.

Measures, in one run (SQLite store, keys already made and cached, i.e. the steady state):
  1. KeyRing.encrypt / decrypt / blind_index of a 10-digit mobile number and an Indic name;
  2. the baselines: raw AESGCM encrypt / decrypt (+ base64) with one key, raw HMAC-SHA256;
  3. decrypt on a fresh KeyRing (first use of a key: one DataKey read + master-key unwrap);
  4. masking.mask with patterns 001, 002 (ASCII and Gurmukhi) and 004 (the emulated \\G);
and prints ops/s and the KeyRing/baseline ratios. Takes a few seconds with the defaults.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def rate(fn: Callable[[int], Any], ops: int, repeat: int = 3) -> float:
    """Best of `repeat` runs, in operations per second."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(ops):
            fn(i)
        best = min(best, time.perf_counter() - start)
    return ops / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary store goes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench_crypto_", dir=args.dir))
    os.environ["DIGIT_CONFIG_DIR"] = str(folder / "config")
    os.environ.pop("DIGIT_MASTER_KEY", None)
    os.environ.pop("DIGIT_MASTER_KEY_FILE", None)

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from digitctl import bootstrap
    from digitctl.clock import IST, FixedClock
    from digitctl.services.crypto import KeyRing
    from digitctl.services.masking import mask
    from digitctl.services.store import init_store

    app = bootstrap.build(f"sqlite:///{folder / 'store.db'}",
                          clock=FixedClock(dt.datetime(2026, 11, 25, 10, 30, tzinfo=IST)))
    init_store(app, app.base_context() if hasattr(app, "base_context") else app.context(), "pb", "C01")
    ring = KeyRing(app)
    mobile, name = "9876543210", "ਗੁਰਪ੍ਰੀਤ ਕੌਰ ਸੰਧੂ"
    ops = args.ops
    figures: dict[str, float] = {}
    with app.uow(app.context("pb")) as uow:
        ring.encrypt(uow, "pb", "warm-up")             # makes and commits pb's first data key
        uow.commit()
    with app.uow(app.context("pb"), readonly=True) as uow:
        session = uow.session
        tokens = [ring.encrypt(session, "pb.amritsar", mobile) for _ in range(256)]
        figures["encrypt mobile"] = rate(lambda i: ring.encrypt(session, "pb.amritsar", mobile), ops)
        figures["encrypt name"] = rate(lambda i: ring.encrypt(session, "pb.amritsar", name), ops)
        figures["decrypt"] = rate(lambda i: ring.decrypt(session, tokens[i & 255]), ops)
    figures["decrypt (no session)"] = rate(lambda i: ring.decrypt(None, tokens[i & 255]), ops)
    figures["blind_index mobile"] = rate(lambda i: ring.blind_index("pb", "+91 98765 43210"), ops)

    cold: list[float] = []
    for _ in range(20):
        fresh = KeyRing(app)
        start = time.perf_counter()
        fresh.decrypt(None, tokens[0])
        cold.append(time.perf_counter() - start)
    figures["first decrypt of a key (fresh KeyRing), ms"] = sorted(cold)[len(cold) // 2] * 1000

    key = AESGCM.generate_key(bit_length=256)
    aes = AESGCM(key)
    aad = b"pb-1795582800-0123abcd"
    raw_tokens = [base64.b64encode((n := os.urandom(12)) + aes.encrypt(n, mobile.encode(), aad)) for _ in range(256)]

    def raw_encrypt(_: int) -> bytes:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + aes.encrypt(nonce, mobile.encode(), aad))

    def raw_decrypt(i: int) -> bytes:
        raw = base64.b64decode(raw_tokens[i & 255])
        return aes.decrypt(raw[:12], raw[12:], aad)

    figures["raw AESGCM encrypt"] = rate(raw_encrypt, ops)
    figures["raw AESGCM decrypt"] = rate(raw_decrypt, ops)
    hkey = os.urandom(32)
    figures["raw HMAC-SHA256"] = rate(lambda i: hmac.new(hkey, mobile.encode(), hashlib.sha256).hexdigest(), ops)

    mask_ops = max(ops // 4, 1000)
    mask("ਕੌਰ", "002")                                  # build the Unicode-boundary form once
    figures["mask 001 mobile"] = rate(lambda i: mask(mobile, "001"), mask_ops)
    figures["mask 002 Latin name"] = rate(lambda i: mask("Gurpreet Kaur Sandhu", "002"), mask_ops)
    figures["mask 002 Gurmukhi name"] = rate(lambda i: mask(name, "002"), mask_ops)
    figures["mask 004 email"] = rate(lambda i: mask("gurpreet.sandhu@gmail.com", "004"), mask_ops)
    app.close()

    width = max(len(k) for k in figures)
    print(f"bench_crypto: {ops} ops per figure (best of 3), SQLite store in {folder}")
    for label, value in figures.items():
        unit = "" if label.endswith("ms") else " ops/s"
        print(f"  {label:<{width}}  {value:>12,.1f}{unit}")
    ratios = {
        "encrypt / raw AESGCM encrypt": figures["encrypt mobile"] / figures["raw AESGCM encrypt"],
        "decrypt / raw AESGCM decrypt": figures["decrypt"] / figures["raw AESGCM decrypt"],
        "blind_index / raw HMAC": figures["blind_index mobile"] / figures["raw HMAC-SHA256"],
    }
    for label, value in ratios.items():
        print(f"  {label:<{width}}  {value:>12.2f}x")
    if args.json:
        print(json.dumps({"figures": figures, "ratios": ratios}, indent=2))
    if args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
