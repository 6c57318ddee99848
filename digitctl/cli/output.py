"""Rendering for every command: table (rich; ids and amounts never cut at any width), json,
yaml, csv; and errors as DIGIT's envelope."""
from __future__ import annotations

import csv
import functools
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from digitctl.documents.digit_json import to_json

if TYPE_CHECKING:
    from rich.console import Console

    from digitctl.bootstrap import App

FORMATS = ("table", "json", "yaml", "csv")


@dataclass
class CliState:
    """What the global options said; the App is built on first use so --help stays cheap."""

    store: str | None = None
    output: str = "table"
    tenant: str | None = None
    wide: bool = False
    _app: "App | None" = field(default=None, repr=False)

    @property
    def app(self) -> "App":
        if self._app is None:
            from digitctl.bootstrap import build
            from digitctl.session import saved_actor as cli_actor

            if self.store and "://" in self.store and not self.store.split("://", 1)[0].lower().startswith(
                    ("sqlite", "postgres")):
                from digitctl.errors import InvalidInput

                raise InvalidInput("INVALID_STORE_URL", f"{self.store.split('://', 1)[0]}:// is not a store digitctl "
                                   "keeps: a file path or sqlite:///PATH, or postgresql://USER@HOST:PORT/DB",
                                   {"store": self.store.split("://", 1)[0] + "://..."})
            self._app = build(self.store)
            self._app.actor_resolver = cli_actor
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def state() -> CliState:
    """The CliState of the command being run (created by the root callback)."""
    import click

    root = click.get_current_context().find_root()
    if root.obj is None:
        root.obj = CliState()
    obj = root.obj
    assert isinstance(obj, CliState)
    return obj


_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
# a number (-125.00) or a duration (-2h 30m, an SLA overrun) cannot be a formula
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?|-?[0-9]+[dhms](?: [0-9]+[dhms])*")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: control characters escaped, and text that starts
    like a formula (`=`, `+`, `-`, `@`, tab, CR) prefixed with a quote, as OWASP advises. A
    plain number (-125.00) or duration (-2h 30m) is left alone: it cannot be a formula."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, (int, float, Decimal)):
            return value
        value = str(value)
    if value.startswith(_FORMULA_LEAD) and not _PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    return neutralise(value)


_INR_TEXT = re.compile(r"(-?)₹([0-9,]+(?:\.[0-9]+)?)")


def plain_amount(value: Any) -> Any:
    """An amount a table shows as ₹1,23,456.00 is the number 123456.00 in a CSV, for a
    spreadsheet to add up (in a cell of its own or inside text: "TL_TAX 1250.40")."""
    if isinstance(value, str) and "₹" in value:
        return _INR_TEXT.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), value)
    return value


def neutralise(text: str) -> str:
    """Terminal control characters in data made visible (ESC -> `\\x1b`): what a record holds
    can never clear a screen or draw over a table. Tabs and line feeds stay."""
    from digitctl.domain.safetext import neutralise as _neutralise

    return _neutralise(text)


@functools.lru_cache(maxsize=1)
def _safe_console_class() -> type:
    """rich's Console, but every piece of text it lays out (strings, markup, table cells) and
    every segment it writes has its control characters escaped first; rich's own styling
    (control segments) is untouched."""
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(neutralise(text), **kwargs)

        def render(self, renderable: Any, options: Any = None) -> Any:
            for seg in super().render(renderable, options):
                if seg.control is None and seg.text:
                    clean = neutralise(seg.text)
                    yield seg if clean is seg.text else Segment(clean, seg.style)
                else:
                    yield seg

    return SafeConsole


def _wide() -> bool:
    try:
        return state().wide
    except RuntimeError:          # no click context (called outside a command)
        return False


def console(stderr: bool = False) -> "Console":
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (scripts, logs) is not folded at 80 columns; --wide lays tables out at their
    # full width on a terminal too.
    width = None if stream.isatty() else 200
    if _wide():
        width = 100_000
    console_class = _safe_console_class()
    made: "Console" = console_class(stderr=stderr, soft_wrap=False, highlight=False, width=width)
    return made


def emit(document: Any, *, rows: Iterable[Sequence[Any]] | None = None,
         columns: Sequence[str] | None = None, title: str | None = None,
         human: Callable[["Console"], None] | None = None) -> None:
    """Print a command's result in the chosen format.

    `document` is the DIGIT-shaped JSON (json/yaml); `rows`+`columns` feed table and csv;
    `human`, if given, draws the table view itself (trees, summaries)."""
    fmt = state().output
    if fmt == "json":
        sys.stdout.write(to_json(document) + "\n")
    elif fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(json.loads(to_json(document)), sort_keys=False,
                                        allow_unicode=True))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        if columns:
            writer.writerow([csv_cell(c) for c in columns])
        for row in rows or []:
            writer.writerow([csv_cell(plain_amount(v)) for v in row])
        sys.stdout.write(buf.getvalue())
    else:
        con = console()
        if human is not None:
            human(con)
        elif columns is not None:
            con.print(fitted(con, columns, list(rows or []), title=title))
        else:
            con.print_json(to_json(document))


def fitted(con: "Console", columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None,
           justify: dict[str, str] | None = None, show_header: bool = True) -> Any:
    """A table for `con` that never cuts an id or an amount (fitted_table below); all columns
    with --wide."""
    return fitted_table(columns, rows, width=None if _wide() else con.width, title=title, justify=justify,
                        show_header=show_header)


class progress_bar:
    """A progress bar on standard error while a long command works, for a person at a terminal
    (not for scripts: none when stderr is piped or the output is json/yaml/csv). Use as a
    context manager; the object is the `progress(done, total)` callback services take."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "progress_bar":
        if sys.stderr.isatty() and state().output == "table":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn(self.what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()


def error_response_info() -> dict[str, Any]:
    """ResponseInfo (status FAILED) for an error envelope, on the command's clock (the store's
    app if one was built, else the clock a new App would get)."""
    from digitctl import bootstrap
    from digitctl.context import RequestContext

    clock = None
    try:
        obj = state()
        clock = obj._app.clock if obj._app is not None else None
    except RuntimeError:          # no click context (called outside a command)
        pass
    return RequestContext(clock=clock or bootstrap.clock_factory()).response_info("FAILED")


def emit_error(code: str, message: str, params: dict[str, Any] | None = None,
               description: str | None = None, fmt: str | None = None) -> None:
    """DIGIT's ErrorRes: {"ResponseInfo", "Errors": [{"code", "message", "description", "params"}]},
    params as a list of "key: value" strings (tracer's Error); people get one line per param."""
    from digitctl.errors import error_object

    fmt = fmt or state().output
    err = error_object(code, message, params, description)
    if fmt in ("json", "yaml"):
        sys.stdout.write(to_json({"ResponseInfo": error_response_info(), "Errors": [err]}) + "\n")
    else:
        detail = "".join(f"\n  {p}" for p in err["params"])
        sys.stderr.write(neutralise(f"Error {code}: {message}{detail}") + "\n")


# -- tables that fit the terminal -------------------------------------------------------------------
# Tables never cut what people copy: an id, a receipt number or an amount is never shortened
# ("PB-TL-20…", "₹2,000…"). Text with spaces (names, localities) wraps; when the kept columns
# still do not fit, the lower-value columns are left out and the table says which (`--wide`
# shows them all).
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
