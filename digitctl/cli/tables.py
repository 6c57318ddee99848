"""Tables that fit the terminal without cutting what people copy: an id, a receipt number or an
amount is never shortened ("PB-TL-20…", "₹2,000…"). Text with spaces (names, localities) wraps;
when the kept columns still do not fit, the lower-value columns are left out and the table says
which (`--wide` shows them all)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# one space of padding either side of a cell and one rule between cells, plus the two edges
_CHROME_PER_COLUMN = 3


def _plain(cell: Any) -> str:
    plain = getattr(cell, "plain", None)            # rich Text
    return plain if isinstance(plain, str) else ("" if cell is None else str(cell))


def _width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((_width(w) for w in text.split()), default=0)


_AMOUNT = re.compile(r"-?₹[0-9,]+(?:\.[0-9]+)?|-?[0-9][0-9,]*\.[0-9]{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}.*|[0-9]{2}/[0-9]{2}/[0-9]{4}.*")


class _Column:
    """A column's kind, which decides whether it may wrap and how soon it is left out: amounts
    (4) and ids (3) go last, then codes (2), uuids (1.5: a person copies the number beside
    it), dates (1), wrapping text (0)."""

    def __init__(self, index: int, name: str, values: list[str]) -> None:
        filled = [v for v in values if v.strip()]
        self.index, self.name = index, name
        self.rank: float
        # a value without spaces (an id, an amount, a code, a status) must not be cut or folded
        self.whole = bool(filled) and all(len(v.split()) == 1 for v in filled)
        if filled and all(_AMOUNT.fullmatch(v.strip()) for v in filled):
            self.rank = 4
        elif self.whole and all(_UUID.fullmatch(v) for v in filled):
            self.rank = 1.5
        elif self.whole and all(_DATE.fullmatch(v) for v in filled):
            self.rank = 1
        elif self.whole:
            self.rank = 3 if any(ch.isdigit() for v in filled for ch in v) else 2
        else:
            self.rank = 0
        widest = max((_width(v) for v in filled), default=0)
        # a column that may not wrap does not wrap its heading either
        self.min = max(widest, _width(name)) if self.whole else max(_longest_word_all(filled), _longest_word(name), 1)


def _longest_word_all(values: list[str]) -> int:
    return max((_longest_word(v) for v in values), default=0)


def fit_columns(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int | None) -> list[int]:
    """Indexes of the columns shown at `width` (None: all of them)."""
    cols = [_Column(i, c, [_plain(r[i]) if i < len(r) else "" for r in rows]) for i, c in enumerate(columns)]
    if width is None:
        return [c.index for c in cols]
    # the first column names the row: it stays, unless it is a uuid; then the others by value
    # (amounts, ids, codes, uuids, dates, text; left to right), each if it still fits
    first = [] if cols[0].rank == 1.5 and len(cols) > 1 else [cols[0]]
    shown = list(first)
    used = sum(c.min + _CHROME_PER_COLUMN for c in shown) + 1
    for c in sorted((c for c in cols if c not in first), key=lambda c: (-c.rank, c.index)):
        if used + c.min + _CHROME_PER_COLUMN <= width or not shown:
            shown.append(c)
            used += c.min + _CHROME_PER_COLUMN
    return sorted(c.index for c in shown)


def fitted_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int | None,
                 title: str | None = None, justify: dict[str, str] | None = None,
                 show_header: bool = True) -> Any:
    """A rich Table of `rows` that never cuts an unspaced value; columns that cannot fit at
    `width` are left out and named in the caption."""
    from rich.table import Table

    keep = fit_columns(columns, rows, width)
    hidden = [c for i, c in enumerate(columns) if i not in keep]
    caption = f"not shown at {width} columns: {', '.join(hidden)} (--wide shows all)" if hidden else None
    table = Table(title=title, caption=caption, show_header=show_header, caption_justify="left")
    for i in keep:
        values = [_plain(r[i]) if i < len(r) else "" for r in rows]
        col = _Column(i, columns[i], values)
        if col.whole:
            table.add_column(columns[i], no_wrap=True, min_width=col.min, justify=_justify(justify, columns[i]))
        else:
            table.add_column(columns[i], overflow="fold", justify=_justify(justify, columns[i]))
    for r in rows:
        table.add_row(*[_cell(r[i]) if i < len(r) else "" for i in keep])
    return table


def _justify(justify: dict[str, str] | None, name: str) -> Any:
    return (justify or {}).get(name, "left")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return value if hasattr(value, "plain") else str(value)
