"""DIGIT_PRINTER as the TUI reads it: pdf:FOLDER, the ./receipts default, the rest refused."""
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


@pytest.mark.parametrize("spec", ["cups:counter1", "escpos:usb:0x04b8:0x0202", "pdf:"])
def test_printers_not_built_yet_are_refused(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv("DIGIT_PRINTER", spec)
    with pytest.raises(DigitError) as err:
        printer()
    assert err.value.code == "PRINTER_NOT_SUPPORTED"
