"""The deposit slip of `payment remit` as a PDF (A4): slip number, bank, who deposited and when,
each instrument, the cash as one sum, the total, and a line for the bank's stamp. The rows are
`slips.deposit_rows`, the same the terminal shows; Noto Sans for the ₹ sign."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from digitctl.documents.slips import DEPOSIT_COLUMNS, deposit_rows, deposit_title


def write_pdf(slip: dict[str, Any], path: Path) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    from digitctl.clock import people_time
    from digitctl.resources import bundled

    fonts = bundled("templates") / "fonts"
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(deposit_title(slip))
    pdf.set_creator("digitctl")
    pdf.add_font("NotoSans", "", str(fonts / "NotoSans-Regular.subset.ttf"))
    pdf.add_font("NotoSans", "B", str(fonts / "NotoSans-Bold.subset.ttf"))
    pdf.add_page()
    pdf.set_font("NotoSans", "B", 14)
    pdf.cell(0, 9, deposit_title(slip), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("NotoSans", "", 10)
    for label, value in (("Tenant", slip.get("tenantId")), ("Bank", slip.get("bank") or "-"),
                         ("Deposited by", slip.get("depositedBy") or "-"),
                         ("Date", people_time(slip.get("depositDate")))):
        pdf.cell(0, 6, f"{label}: {value}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    rows = deposit_rows(slip)
    head = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    align = tuple("RIGHT" if c == "amount" else "LEFT" for c in DEPOSIT_COLUMNS)
    with pdf.table(headings_style=head, text_align=align, col_widths=(45, 20, 40, 45, 30), width=pdf.epw) as table:
        table.row(DEPOSIT_COLUMNS)
        for row in rows:
            table.row(row)
    pdf.ln(14)
    pdf.cell(0, 6, "Bank's stamp and signature: ____________________________", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
