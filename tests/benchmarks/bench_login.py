"""Login cost: scrypt password hashing/verification, a whole `session.login` through the service
(lookup, verify, attempt row, session row, event + signed audit), and resolving a session
token to an actor, against the raw scrypt call measured in the same run."""
from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from digitctl.bootstrap import build  # noqa: E402
from digitctl.domain.identity import SCRYPT_N, SCRYPT_P, SCRYPT_R, hash_password, verify_password  # noqa: E402
from digitctl.resources import bundled  # noqa: E402


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DIGIT_CONFIG_DIR"] = tmp
        from digitctl import session
        from digitctl.services import mdms, users
        from digitctl.services.store import init_store

        app = build(f"sqlite:///{tmp}/login.db")
        init_store(app, app.context(), "pb", "C01")
        cfg = bundled("configs") / "mdms"
        mdms.apply(app, app.context("pb"), [cfg / "data" / "pb"], master_config=cfg / "master-config.json")
        users.create_user(app, app.context("pb.amritsar"), users.NewUser(
            user_name="clerk1", name="Harpreet Singh", type="EMPLOYEE", tenant_id="pb.amritsar",
            mobile="9814012345", roles=[("TL_CEMP", "pb.amritsar")], password="Clerk@12345"))

        salt = os.urandom(16)
        raw = timed(lambda: hashlib.scrypt(b"Clerk@12345", salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                                           maxmem=256 * 1024 * 1024, dklen=32), 20)
        stored = hash_password("Clerk@12345")
        verify = timed(lambda: verify_password("Clerk@12345", stored), 20)
        logins = timed(lambda: session.login(app, app.base_context(), "clerk1", "Clerk@12345"), 20)
        token = session.login(app, app.base_context(), "clerk1", "Clerk@12345").token
        resolve = timed(lambda: session.actor_for_token(app, app.base_context(), token), 200)
        ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
        print(f"scrypt N=2^{SCRYPT_N.bit_length() - 1} r={SCRYPT_R} p={SCRYPT_P} (16 MiB), raw hashlib : {ms(raw):7.1f} ms median")
        print(f"verify_password                                  : {ms(verify):7.1f} ms median")
        print(f"session.login (service, durable, audited)           : {ms(logins):7.1f} ms median "
              f"({ms(logins) / ms(raw):.2f}x raw scrypt)")
        print(f"session token -> actor                           : {ms(resolve):7.2f} ms median")
        app.close()


if __name__ == "__main__":
    main()
