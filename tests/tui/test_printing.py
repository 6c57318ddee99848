"""DIGIT_PRINTER as the TUI reads it: pdf:FOLDER, the ./receipts default, cups:QUEUE through\n`lp`, escpos:... (tests/unit/test_escpos_printer.py), the rest refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from digitctl.errors import DigitError
from tui.printing import printer


def test_pdf_folder_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DIGIT_PRINTER", raising=False)
    assert printer().target == "receipts"
    monkeypatch.setenv("DIGIT_PRINTER", f"pdf:{tmp_path}")
    out = printer()
    first = out.deliver("C01/107/2026-27/000001", b"%PDF-1")
    again = out.deliver("C01/107/2026-27/000001", b"%PDF-2")          # never overwrites a print
    assert first.name == "C01-107-2026-27-000001.pdf" and again.name == "C01-107-2026-27-000001-2.pdf"
    assert first.read_bytes() == b"%PDF-1"


def test_cups_queue_gets_the_pdf_through_lp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "lp.log"
    lp = bin_dir / "lp"        # a stand-in for CUPS's lp: records its arguments and the file's first bytes
    lp.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\nhead -c 5 \"$5\" >> {log}\n")
    lp.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("DIGIT_PRINTER", "cups:counter1")
    assert str(printer().deliver("C01/107/2026-27/000001", b"%PDF-1.4 ...")) == "cups:counter1"
    args, head = log.read_text().splitlines()
    assert args.startswith("-d counter1 -t C01/107/2026-27/000001 ") and head == "%PDF-"
    lp.write_text("#!/bin/sh\necho 'lp: The printer or class does not exist.' >&2\nexit 1\n")
    with pytest.raises(DigitError) as err:
        printer().deliver("C01/107/2026-27/000001", b"%PDF-1.4")
    assert err.value.code == "PRINTER_FAILED" and "does not exist" in err.value.message


@pytest.mark.parametrize("spec", ["escpos:usb:0x04b8", "pdf:", "cups:", "lpt:1"])
def test_unreadable_printers_are_refused(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv("DIGIT_PRINTER", spec)
    with pytest.raises(DigitError) as err:
        printer()
    assert err.value.code == "PRINTER_NOT_SUPPORTED"
