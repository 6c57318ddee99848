"""Documents: what digitctl hands to people and to other systems, rendered from DIGIT-shaped JSON.

Every front door (the CLI, the TUI, the hub) renders through these modules; none of them imports a
front door (import-linter checks it). Heavy packages (fpdf2) are imported inside the functions that
draw, so importing a module here stays cheap.

* `digit_json`  - the DIGIT JSON writer: amounts as JSON numbers written from the decimal text.
* `daybook`     - the day book (collection register): its sections, CSV and A4 PDF.
* `slips`       - the shift (open / close) slip and the bank deposit slip, as label / value rows.
* `receipt`     - the counter receipt PDF (`render`); its parts: `receipt_labels` (localization),
                  `receipt_layout` (template and Payment -> values), `receipt_fonts`, `receipt_draw`.
"""
