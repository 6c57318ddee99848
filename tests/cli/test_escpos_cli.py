"""`digitctl pay --printer escpos:tcp:...` and `digitctl receipt print --printer ...`: the receipt
reaches an ESC/POS network printer (a loopback socket here) as a raster image and is cut; a
reprint is marked DUPLICATE; a printer setting that cannot be read is refused before the payment
is written; a printer that cannot be reached is PRINTER_FAILED and the print is not counted."""
from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_collection_cli import _bill, _code, run

pytest.importorskip("escpos", reason="python-escpos is not installed (pip install 'digitctl[printer]')")
if shutil.which("pdftoppm") is None:
    pytest.skip("poppler's pdftoppm is missing (apt-get install poppler-utils)", allow_module_level=True)

RASTER, CUT = b"\x1dv0", b"\x1dV"


@pytest.fixture
def store(clerk_cli_store) -> str:
    return clerk_cli_store


class Jobs:
    """A network receipt printer on 127.0.0.1: every connection's bytes are one job."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.jobs: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def spec(self) -> str:
        return f"escpos:tcp:127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            got = bytearray()
            with conn:
                while chunk := conn.recv(65536):
                    got.extend(chunk)
            self.jobs.append(bytes(got))

    def wait(self, n: int) -> list[bytes]:
        for _ in range(200):
            if len(self.jobs) >= n:
                break
            threading.Event().wait(0.05)
        return self.jobs


@pytest.fixture
def escpos_printer() -> Iterator[Jobs]:
    jobs = Jobs()
    yield jobs
    jobs.sock.close()


def test_pay_prints_on_the_thermal_printer_and_reprint_is_duplicate(store, tmp_path: Path, escpos_printer: Jobs):
    bill = _bill(store, tmp_path, "TL-ESC-1")
    assert run(store, "shift", "open", "--float", "500").exit_code == 0
    bad = run(store, "-o", "json", "pay", "--bill", bill["billNumber"], "--tenant", "pb.amritsar", "--mode", "CASH",
              "--amount", "1250", "--printer", "escpos:tcp:printer-without-port")
    assert bad.exit_code == 2, bad.output
    assert _code(bad) == "PRINTER_NOT_SUPPORTED"        # refused before paying

    res = run(store, "-o", "json", "pay", "--bill", bill["billNumber"], "--tenant", "pb.amritsar", "--mode", "CASH",
              "--amount", "1250", "--printer", escpos_printer.spec)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    printed = doc["Receipt"]
    assert printed["file"] == escpos_printer.spec
    assert printed["format"] == "thermal" and printed["marks"] == []
    [first] = escpos_printer.wait(1)
    assert RASTER in first and CUT in first and b"DUPLICATE" not in first

    receipt = printed["receiptNumber"]
    again = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar", "--copy",
                "--printer", escpos_printer.spec)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["Receipt"]["marks"] == ["DUPLICATE"]
    second = escpos_printer.wait(2)[1]
    assert b"*** DUPLICATE ***" in second and RASTER in second and CUT in second

    both = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar",
               "--printer", escpos_printer.spec, "--out", str(tmp_path / "r.pdf"))
    assert both.exit_code == 2 and _code(both) == "INVALID_OPTIONS"


def test_unreachable_printer_fails_and_the_print_is_not_counted(store, tmp_path: Path, escpos_printer: Jobs):
    bill = _bill(store, tmp_path, "TL-ESC-2")
    assert run(store, "shift", "open", "--float", "500").exit_code == 0
    res = run(store, "-o", "json", "pay", "--bill", bill["billNumber"], "--tenant", "pb.amritsar", "--mode", "CASH",
              "--amount", "1250")
    receipt = json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"]
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    dead = f"escpos:tcp:127.0.0.1:{free.getsockname()[1]}"
    free.close()                                       # nothing listens there
    failed = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar", "--printer", dead)
    assert failed.exit_code == 2 and _code(failed) == "PRINTER_FAILED"
    ok = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar",
             "--printer", escpos_printer.spec)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["Receipt"]["marks"] == []     # the failed print did not count: still the original
