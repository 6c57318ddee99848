"""ESC/POS receipts (digitctl.printing + digitctl.documents.escpos_receipt): DIGIT_PRINTER
escpos:usb / escpos:tcp read, the thermal receipt sent as a raster image (GS v 0) and cut, a
reprint also marked DUPLICATE in text, a printer that cannot be reached refused PRINTER_FAILED.
The bytes are read from python-escpos' Dummy printer, and once from a loopback TCP "printer"."""
from __future__ import annotations

import json
import shutil
import socket
import threading
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("escpos", reason="python-escpos is not installed (pip install 'digitctl[printer]')")
pytest.importorskip("fpdf", reason="fpdf2 is not installed (receipts need fpdf2 + uharfbuzz)")
if shutil.which("pdftoppm") is None:
    pytest.skip("poppler's pdftoppm is missing (apt-get install poppler-utils)", allow_module_level=True)

from escpos.printer import Dummy  # noqa: E402

from digitctl import printing  # noqa: E402
from digitctl.documents import escpos_receipt  # noqa: E402
from digitctl.documents import receipt as receipts  # noqa: E402
from digitctl.errors import DigitError  # noqa: E402
from tests.unit.test_receipts import PUNJABI, RECEIPT_NO, TENANT, payment_json  # noqa: E402

RASTER = b"\x1dv0"          # GS v 0: print raster bit image
CUT = b"\x1dV"              # GS V: cut the paper


def thermal(locale: str = "en_IN", copy: bool = False) -> bytes:
    doc = json.loads(payment_json(PUNJABI if locale == "pa_IN" else "Ram Kumar"), parse_float=Decimal)
    return receipts.render(doc, fmt="thermal", tenant=TENANT, locale=locale, copy=copy)


@pytest.fixture(scope="module")
def pdf_pa() -> bytes:
    return thermal("pa_IN")


@pytest.fixture
def dummy(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every printer opened is a Dummy; the list holds them to read their bytes."""
    opened: list[Any] = []

    def open_dummy(target: str) -> Any:
        opened.append(Dummy())
        return opened[-1]

    monkeypatch.setattr(printing, "open_escpos", open_dummy)
    return opened


@pytest.mark.parametrize(("spec", "target"), [("escpos:usb:0x04b8:0x0202", "usb:0x04b8:0x0202"),
                                              ("escpos:usb:4b8:202", "usb:0x04b8:0x0202"),
                                              ("escpos:tcp:192.168.1.50:9100", "tcp:192.168.1.50:9100")])
def test_escpos_settings_are_read(monkeypatch: pytest.MonkeyPatch, spec: str, target: str) -> None:
    monkeypatch.setenv("DIGIT_PRINTER", spec)
    out = printing.printer()
    assert (out.kind, out.target, out.fmt) == ("escpos", target, "thermal")


@pytest.mark.parametrize("spec", ["escpos:", "escpos:usb:0x04b8", "escpos:usb:zz:01", "escpos:tcp:host",
                                  "escpos:tcp:host:99999", "escpos:serial:/dev/ttyS0", "lpt:1"])
def test_malformed_escpos_settings_are_refused(spec: str) -> None:
    with pytest.raises(DigitError) as err:
        printing.printer(spec)
    assert err.value.code == "PRINTER_NOT_SUPPORTED" and "escpos:tcp:HOST:PORT" in err.value.message


@pytest.mark.parametrize("width", [576, 384])
def test_raster_is_one_bit_and_as_wide_as_the_roll(pdf_pa: bytes, width: int) -> None:
    img = escpos_receipt.raster(pdf_pa, width)
    assert img.mode == "1" and img.width == width and img.height > width     # a receipt is taller than wide
    black = img.histogram()[0] / (img.width * img.height)
    assert 0.02 < black < 0.4                                                 # text, not a blank or black page


def test_receipt_prints_as_raster_then_cut(dummy: list[Any], pdf_pa: bytes, capsys: pytest.CaptureFixture) -> None:
    where = printing.printer("escpos:usb:0x04b8:0x0202").deliver(RECEIPT_NO, pdf_pa)
    assert str(where) == "escpos:usb:0x04b8:0x0202"
    out = dummy[0].output
    assert RASTER in out and CUT in out and out.index(RASTER) < out.rindex(CUT)
    assert b"DUPLICATE" not in out
    # 576 dots = 72 bytes a line: GS v 0 m xL xH
    at = out.index(RASTER) + len(RASTER) + 1
    assert out[at:at + 2] == (72).to_bytes(2, "little")
    assert capsys.readouterr().out == ""        # python-escpos says nothing on stdout (-o json stays JSON)


def test_reprint_is_also_marked_duplicate_in_text(dummy: list[Any]) -> None:
    printing.printer("escpos:tcp:127.0.0.1:9100").deliver(RECEIPT_NO, thermal("en_IN", copy=True), copy=True)
    out = dummy[0].output
    assert b"*** DUPLICATE ***" in out and out.index(b"DUPLICATE") < out.index(RASTER) and CUT in out


def test_network_printer_gets_the_bytes_over_tcp(pdf_pa: bytes) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                got.extend(chunk)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    try:
        assert str(printing.printer(f"escpos:tcp:127.0.0.1:{port}").deliver(RECEIPT_NO, pdf_pa)) == \
            f"escpos:tcp:127.0.0.1:{port}"
        thread.join(10)
    finally:
        server.close()
    assert RASTER in got and CUT in got and got.rindex(CUT) > got.index(RASTER)


def test_unreachable_printer_is_printer_failed(pdf_pa: bytes) -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()                       # nothing listens there
    with pytest.raises(DigitError) as err:
        printing.printer(f"escpos:tcp:127.0.0.1:{port}").deliver(RECEIPT_NO, pdf_pa)
    assert err.value.code == "PRINTER_FAILED"


def test_usb_printer_that_is_not_there_is_printer_failed(pdf_pa: bytes) -> None:
    """No such USB device (or no pyusb on this PC): refused, nothing printed."""
    with pytest.raises(DigitError) as err:
        printing.printer("escpos:usb:0xfff0:0xfff1").deliver(RECEIPT_NO, pdf_pa)
    assert err.value.code == "PRINTER_FAILED"


def test_the_bytes_sent_are_the_receipt_image(dummy: list[Any]) -> None:
    """Decoding every GS v 0 block the printer gets gives back the Punjabi receipt, dot for dot
    (python-escpos sends a tall receipt, here a reprint with two banners, as blocks of at most 960 rows)."""
    from PIL import Image, ImageChops

    pdf_pa = thermal("pa_IN", copy=True)
    printing.printer("escpos:usb:0x04b8:0x0202").deliver(RECEIPT_NO, pdf_pa, copy=True)
    out, at, blocks = dummy[0].output, 0, []
    while (at := out.find(RASTER, at)) >= 0:
        width_bytes, rows = int.from_bytes(out[at + 4:at + 6], "little"), int.from_bytes(out[at + 6:at + 8], "little")
        data = out[at + 8:at + 8 + width_bytes * rows]
        blocks.append(Image.frombytes("1", (width_bytes * 8, rows), data, "raw", "1;I"))   # 1 = burnt dot
        at += 8 + width_bytes * rows
    printed = Image.new("1", (576, sum(b.height for b in blocks)), 1)
    top = 0
    for block in blocks:
        printed.paste(block, (0, top))
        top += block.height
    expected = escpos_receipt.raster(pdf_pa, 576)
    assert len(blocks) >= 2 and printed.size == expected.size
    assert ImageChops.difference(printed.convert("L"), expected.convert("L")).getbbox() is None
