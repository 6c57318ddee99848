"""Where a receipt goes when the counter prints it: DIGIT_PRINTER.

`pdf:FOLDER` writes RECEIPT-NO.pdf into FOLDER; with no DIGIT_PRINTER the folder is ./receipts.
`cups:QUEUE` hands the PDF to CUPS (`lp -d QUEUE`); a failed `lp` is PRINTER_FAILED and the
print is not counted (the service counts a print only once it is delivered).
(`escpos:...` is named by DESIGN.md but not built yet: refused with PRINTER_NOT_SUPPORTED rather
than silently printing somewhere else.)"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.desk import Desk

PRINTER_ENV = "DIGIT_PRINTER"
DEFAULT_FOLDER = "receipts"


@dataclass(frozen=True)
class Printer:
    kind: str
    target: str
    fmt: str = "a4"

    def path_for(self, receipt_no: str, copy: bool = False) -> Path:
        name = receipt_no.replace("/", "-") + ("-DUPLICATE" if copy else "") + ".pdf"
        return Path(self.target) / name

    def deliver(self, receipt_no: str, pdf: bytes, copy: bool = False) -> Path:
        """Write the PDF whole (a temporary file beside it, renamed); an existing copy is kept by
        numbering the new one. A CUPS printer then gets that file through `lp`."""
        if self.kind == "cups":
            return self._to_cups(receipt_no, pdf, copy)
        return self._to_folder(receipt_no, pdf, copy)

    def _to_cups(self, receipt_no: str, pdf: bytes, copy: bool) -> Path:
        import shutil
        import subprocess
        import tempfile

        from digitctl.errors import InvalidInput

        lp = shutil.which("lp")
        if lp is None:
            raise InvalidInput("PRINTER_FAILED", "CUPS's `lp` is not installed on this PC", {"printer": self.target})
        with tempfile.TemporaryDirectory(prefix="digitctl-print-") as spool:
            path = Printer("pdf", spool).path_for(receipt_no, copy)
            path.write_bytes(pdf)
            done = subprocess.run([lp, "-d", self.target, "-t", receipt_no, str(path)], capture_output=True,
                                  text=True, timeout=60)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise InvalidInput("PRINTER_FAILED", f"lp -d {self.target}: {reason[0] if reason else done.returncode}",
                               {"printer": self.target})
        return Path(f"cups:{self.target}")

    def _to_folder(self, receipt_no: str, pdf: bytes, copy: bool) -> Path:
        from digitctl.errors import InvalidInput

        target = self.path_for(receipt_no, copy)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            n = 1
            while target.exists():
                n += 1
                target = target.with_name(f"{self.path_for(receipt_no, copy).stem}-{n}.pdf")
            tmp = target.with_name("." + target.name + ".tmp")
            tmp.write_bytes(pdf)
            os.replace(tmp, target)
        except OSError as err:
            raise InvalidInput("INVALID_OUTPUT_PATH", f"cannot write the receipt to {target}: "
                               f"{err.strerror or err}", {"file": str(target)}) from None
        return target.resolve()


def printer() -> Printer:
    from digitctl.errors import InvalidInput

    spec = (os.environ.get(PRINTER_ENV) or "").strip()
    if not spec:
        return Printer("pdf", DEFAULT_FOLDER)
    kind, _, rest = spec.partition(":")
    if kind in ("pdf", "cups") and rest:
        return Printer(kind, rest)
    raise InvalidInput("PRINTER_NOT_SUPPORTED", f"{PRINTER_ENV}={spec!r}: this TUI prints to pdf:FOLDER or "
                       "cups:QUEUE (ESC/POS not yet)", {"printer": spec})


def print_receipt(desk: "Desk", receipt_no: str, copy: bool = False) -> dict[str, object]:
    """Render the receipt through the collection service and deliver it to the printer; the
    print is counted (and a reprint marked DUPLICATE) by the service, only once delivered."""
    from digitctl.services import collection
    from tui.labels import locale

    out = printer()
    written: list[Path] = []

    def deliver(pdf: bytes) -> None:
        written.append(out.deliver(receipt_no, pdf, copy))

    _, doc, duplicate = collection.receipt_pdf(desk.app, desk.ctx(), desk.tenant, receipt_no, fmt=out.fmt,
                                               copy=copy, locale=locale(), deliver=deliver)
    return {"receiptNumber": receipt_no, "path": str(written[0]) if written else "", "duplicate": duplicate,
            "paymentStatus": doc.get("paymentStatus")}
