"""Where a receipt goes when the counter prints it: DIGIT_PRINTER (digitctl.printing, shared with
the CLI): pdf:FOLDER (./receipts by default), cups:QUEUE, escpos:usb:VID:PID or escpos:tcp:HOST:PORT.
A failed printer is PRINTER_FAILED and the print is not counted (the service counts a print only
once it is delivered)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from digitctl.printing import DEFAULT_FOLDER, PRINTER_ENV, Printer, printer

if TYPE_CHECKING:
    from tui.desk import Desk

__all__ = ["DEFAULT_FOLDER", "PRINTER_ENV", "Printer", "print_receipt", "printer"]


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
