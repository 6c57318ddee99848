"""How fast are counter receipts rendered? Run: `python tests/benchmarks/bench_receipts.py [--n N]`.

Measures `digitctl.documents.receipt.render` on a Trade Licence payment (cheque, two tax heads):
  1. the first render in a fresh interpreter (imports fpdf2, parses the template and the fonts),
     per format, each in its own subprocess;
  2. receipts per second per format with everything warm, for a Punjabi payer name (Gurmukhi
     fallback font + HarfBuzz shaping), a Hindi one (Devanagari) and a Latin one (no Indic font);
  3. the same for a DUPLICATE reprint.
Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FORMATS = ("a4", "a5", "thermal")
TENANT = {"code": "pb.jalandhar", "name": "Jalandhar", "contactNumber": "0181-2227015",
          "address": "Municipal Corporation Office, Dr. B.R.Ambedkar Admin Complex, Nehru Garden, "
                     "Jalandhar City-144001", "domainUrl": "www.mcjalandhar.in"}


def payment(payer: str) -> dict:
    doc = {
        "tenantId": "pb.jalandhar", "totalDue": 12545.50, "totalAmountPaid": 12545.50,
        "transactionNumber": "TXN-PB-JAL-2026-000117", "transactionDate": 1795500120000,
        "paymentMode": "CHEQUE", "instrumentNumber": "004512", "instrumentDate": 1795285800000,
        "ifscCode": "PUNB0012300", "paidBy": "OWNER", "mobileNumber": "9876543210", "payerName": payer,
        "paymentDetails": [{
            "totalAmountPaid": 12545.50, "receiptNumber": "PB-TL-2026-27-000123",
            "receiptDate": 1795500120000, "businessService": "TL", "billId": "bill-1",
            "bill": {"consumerCode": "PB-TL-2026-11-20-000456", "billDetails": [{
                "fromPeriod": 1774981800000, "toPeriod": 1806517799000, "billAccountDetails": [
                    {"order": 1, "amount": 12000, "adjustedAmount": 12000, "taxHeadCode": "TL_TAX"},
                    {"order": 2, "amount": 545.50, "adjustedAmount": 545.50, "taxHeadCode": "TL_RENEWAL_PENALTY"},
                ]}]}}],
    }
    return json.loads(json.dumps(doc), parse_float=Decimal)


FIRST = """
import sys, time, json
from decimal import Decimal
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
t0 = time.perf_counter()
from bench_receipts import payment, TENANT
from digitctl.documents import receipt as receipts
p = payment("ਗੁਰਪ੍ਰੀਤ ਕੌਰ")
t1 = time.perf_counter()
receipts.render(p, fmt={fmt!r}, tenant=TENANT, collector="Harpreet Singh")
t2 = time.perf_counter()
receipts.render(p, fmt={fmt!r}, tenant=TENANT, collector="Harpreet Singh")
t3 = time.perf_counter()
print(json.dumps({{"first": t2 - t1, "second": t3 - t2}}))
"""


def first_render(fmt: str) -> dict:
    code = FIRST.format(root=str(ROOT), here=str(Path(__file__).resolve().parent), fmt=fmt)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rate(fmt: str, p: dict, n: int, **kw: Any) -> tuple[float, int]:
    from digitctl.documents import receipt as receipts

    receipts.render(p, fmt=fmt, tenant=TENANT, collector="Harpreet Singh", **kw)   # warm
    size = 0
    started = time.perf_counter()
    for _ in range(n):
        size = len(receipts.render(p, fmt=fmt, tenant=TENANT, collector="Harpreet Singh", **kw))
    return n / (time.perf_counter() - started), size


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60, help="receipts per measurement (default 60)")
    args = ap.parse_args()

    print("1. first render in a fresh interpreter (fpdf2 import + template + fonts), Punjabi payer")
    for fmt in FORMATS:
        r = first_render(fmt)
        print(f"   {fmt:8s} first {r['first'] * 1000:7.1f} ms   second {r['second'] * 1000:6.1f} ms")

    payers = {"Punjabi": "ਗੁਰਪ੍ਰੀਤ ਕੌਰ", "Hindi": "राम कुमार", "Latin": "Gurpreet Kaur"}
    print(f"2. warm, {args.n} receipts each: receipts/s (ms per receipt, PDF size)")
    for label, name in payers.items():
        p = payment(name)
        cells = []
        for fmt in FORMATS:
            per_s, size = rate(fmt, p, args.n)
            cells.append(f"{fmt} {per_s:6.1f}/s ({1000 / per_s:5.1f} ms, {size / 1024:4.1f} KiB)")
        print(f"   {label:8s} " + "   ".join(cells))
    print("3. warm, DUPLICATE reprint, Punjabi payer")
    p = payment(payers["Punjabi"])
    print("   " + "   ".join(f"{fmt} {rate(fmt, p, args.n, copy=True)[0]:6.1f}/s" for fmt in FORMATS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
