"""How many notifications does `digitctl notify` compose and send per second? Run:
`python tests/benchmarks/bench_notify.py [--events N] [--dir DIR]`.

On a fresh SQLite store, N "collection.payment.created" events (payer name and mobile as
ciphertext, as the collection service writes them) go into the outbox; then
  1. composing: `notify.plan` reads them after its cursor, resolves the payer, fills the
     digitctl-notifications template in en_IN and writes one encrypted row each (messages/s);
  2. sending: `notify_send.send_due` claims, decrypts and posts each to a loopback fake SMS
     gateway (tests/notify_fakes.py) with no rate limit, recording the outcome (messages/s);
  3. the same with the gateway's rate limit at 100/s, to show the limiter holds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TENANT = "pb.amritsar"


def frozen_app(url: str):
    from digitctl import bootstrap
    from digitctl.clock import IST, FixedClock

    return bootstrap.build(url, clock=FixedClock(dt.datetime(2026, 11, 25, 10, 30, tzinfo=IST)))


def fill_outbox(app, n: int) -> None:
    from digitctl.domain.events import Event

    ctx = app.context(TENANT)
    done = 0
    while done < n:
        with app.uow(ctx) as uow:
            ring = app.keyring
            for i in range(done, min(n, done + 500)):
                mobile = f"98{i:08d}"
                doc = {"id": str(uuid.uuid4()), "tenantId": TENANT, "totalAmountPaid": "1350.00", "paymentMode": "CASH",
                       "payerName": ring.encrypt(uow, TENANT, f"Payer {i}"), "mobileNumber": ring.encrypt(uow, TENANT, mobile),
                       "paymentDetails": [{"receiptNumber": f"C01/AMR/2026-27/{i:06d}", "businessService": "TL",
                                           "bill": {"consumerCode": f"TL-{i}", "payerName": None, "mobileNumber": None}}]}
                uow.record(Event("collection.payment.created", TENANT, "Payment", doc["id"],
                                 "/collection-services/payments/_create", {"Payments": [doc]}))
            uow.commit()
        done = min(n, done + 500)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    from digitctl.services import notify, notify_send
    from digitctl.services.notify_senders import HttpSms, RateLimit
    from digitctl.services.store import init_store
    from tests.notify_fakes import fake_gateway

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = frozen_app(url)
        init_store(app, app.context(), "pb", "C01")
        fill_outbox(app, args.events)
        ctx = app.context()
        start = time.perf_counter()
        queued = 0
        while True:
            got = notify.plan(app, ctx)
            if not got:
                break
            queued += got
        composed_s = time.perf_counter() - start
        print(f"composed {queued} messages in {composed_s:.2f} s: {queued / composed_s:,.0f} messages/s")
        policy = notify_send.Policy(retry_wait=0)
        with fake_gateway() as gw:
            sender = HttpSms(url=gw.url, rate=RateLimit(0))
            start = time.perf_counter()
            counts = notify_send.send_due(app, ctx, {"sms": sender}, policy, limit=args.events)
            sent_s = time.perf_counter() - start
            sent = counts.get("sent", 0)
            print(f"sent {sent} messages to the fake gateway in {sent_s:.2f} s: {sent / sent_s:,.0f} messages/s "
                  f"({len(gw.delivered)} delivered, {len(gw.requests)} requests)")
            assert sent == queued == len(gw.delivered), (sent, queued, len(gw.delivered))
        # the limiter: 200 more at 100/s take about 2 s whatever the machine
        fill_outbox(app, 200)
        while notify.plan(app, ctx):
            pass
        with fake_gateway() as gw:
            sender = HttpSms(url=gw.url, rate=RateLimit(100))
            start = time.perf_counter()
            counts = notify_send.send_due(app, ctx, {"sms": sender}, policy)
            took = time.perf_counter() - start
            print(f"rate-limited to 100/s: {counts.get('sent', 0)} sent in {took:.2f} s "
                  f"({counts.get('sent', 0) / took:,.0f} messages/s)")
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
