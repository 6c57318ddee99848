"""A receipt for an ESC/POS thermal printer: the thermal PDF receipt as a 1-bit raster image.

Why rasterize the PDF rather than draw the receipt again with Pillow: the thermal PDF
(receipt.render(fmt="thermal")) already lays the receipt out from the template and shapes
Devanagari / Gurmukhi with HarfBuzz (conjuncts, matras, reph); rasterizing it (poppler's
`pdftoppm`) prints exactly that receipt, with one layout to keep right, while a second Pillow
drawing would have to copy every block of the template. ESC/POS printers' own code pages have
no Indic script at all, hence a raster image (GS v 0) rather than text.

Widths: 576 dots (80 mm roll at 203 dpi) or 384 dots (58 mm). The image is cut to black and white
at a fixed threshold (no dithering: crisp text on thermal paper). Pillow and python-escpos are
imported inside the functions (DESIGN.md rule 8: only when printing).
"""
from __future__ import annotations

import shutil
import subprocess
from io import BytesIO
from typing import Any

WIDTHS = {80: 576, 58: 384}          # paper width (mm) -> printable dots at 203 dpi
_THRESHOLD = 160                     # grey level below which a dot is burnt


def raster(pdf: bytes, width: int = 576) -> Any:
    """The first page of a (thermal) receipt PDF as a 1-bit PIL image `width` dots wide."""
    from PIL import Image

    from digitctl.errors import InvalidInput

    if width not in WIDTHS.values():
        raise ValueError(f"an ESC/POS receipt is 384 or 576 dots wide, not {width}")
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise InvalidInput("PRINTER_FAILED", "poppler's pdftoppm is not installed on this PC "
                           "(needed to print on an ESC/POS printer)")
    done = subprocess.run([exe, "-png", "-gray", "-singlefile", "-f", "1", "-l", "1", "-scale-to-x", str(width),
                           "-scale-to-y", "-1", "-aa", "yes", "-aaVector", "yes", "-"],
                          input=pdf, capture_output=True, timeout=60)
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidInput("PRINTER_FAILED", f"pdftoppm: {reason[0] if reason else done.returncode}")
    grey = Image.open(BytesIO(done.stdout)).convert("L")
    return grey.point(lambda v: 255 if v >= _THRESHOLD else 0, mode="1")


def send(device: Any, image: Any, *, duplicate: bool = False) -> None:
    """Print the raster on an open python-escpos printer (Usb, Network, Dummy) and cut the paper.

    A DUPLICATE receipt carries its banner in the image already; it also gets a plain-text
    "*** DUPLICATE ***" line before the image (ASCII, every code page has it), so a copy is
    recognisable even where a printer drops the image's top."""
    _tell_width(device, image.width)
    if duplicate:
        device.set(align="center", bold=True)
        device.text("*** DUPLICATE ***\n")
        device.set(align="left", bold=False)
    device.image(image, impl="bitImageRaster", center=False)
    device.cut()


def _tell_width(device: Any, dots: int) -> None:
    """The printer profile's paper width in dots. python-escpos' default profile leaves it
    "Unknown" and then `image()` print()s a warning to stdout, which would corrupt `-o json`.
    The profile data is shared by the profile class: this printer gets its own copy."""
    import copy

    profile: Any = getattr(device, "profile", None)
    data = getattr(profile, "profile_data", None)
    if not isinstance(data, dict):
        return
    width = data.get("media", {}).get("width", {})
    if width.get("pixels") in (None, "Unknown"):
        data = copy.deepcopy(data)
        data.setdefault("media", {}).setdefault("width", {})["pixels"] = dots
        profile.profile_data = data
