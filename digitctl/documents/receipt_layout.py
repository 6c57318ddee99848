"""Receipt layout data: the template (templates/receipts/consolidatedreceipt.yaml) and the mapping
from a DIGIT Payment to the text the receipt prints.

The template, in the spirit of DIGIT's pdf-service `consolidatedreceipt` data-config, names its
variables as JSONPaths into the Payment (`$tenant`: the MDMS tenant record, `$context`: the
collector), its labels as localization codes, and the a4 / a5 / thermal layouts. `_context()`
resolves them into the values and table rows the drawing fills in (money via
digitctl.domain.money, which refuses a float; dates from epoch milliseconds in the template's
time zone). The parsed template (with compiled JSONPaths) is cached per process. Nothing here
draws: no fpdf2.
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterable

from digitctl.domain.money import format_inr, in_words_inr, in_words_inr_hi, money
from digitctl.domain.money_words_pa import in_words_inr_pa
from digitctl.resources import bundled

TEMPLATE = "receipts/consolidatedreceipt.yaml"
_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


# --------------------------------------------------------------------------------------------
# template


class _Path:
    """A JSONPath from the template, with its root: payment ($), $tenant or $context."""

    __slots__ = ("root", "expr", "compiled")

    def __init__(self, text: str):
        import jsonpath  # python-jsonpath, already a dependency (MDMS filters)

        for root in ("$tenant", "$context"):
            if text.startswith(root):
                self.root, rest = root, "$" + text[len(root):]
                break
        else:
            self.root, rest = "$", text
        self.expr = text
        self.compiled = jsonpath.compile(rest)

    def all(self, roots: dict[str, Any]) -> list[Any]:
        data = roots.get(self.root)
        if data is None:
            return []
        return list(self.compiled.findall(data))

    def first(self, roots: dict[str, Any]) -> Any:
        found = self.all(roots)
        return found[0] if found else None


def _compile_value_spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    out["path"] = _Path(spec["path"])
    if spec.get("fallback"):
        out["fallback"] = _Path(spec["fallback"])
    return out


@lru_cache(maxsize=4)
def _template(name: str = TEMPLATE) -> dict[str, Any]:
    import yaml

    path = bundled("templates") / name
    tpl = yaml.safe_load(path.read_text(encoding="utf-8"))
    tpl["_dir"] = path.parent
    tpl["variables"] = {k: _compile_value_spec(v) for k, v in tpl.get("variables", {}).items()}
    for table in tpl.get("tables", {}).values():
        table["path"] = _Path(table["path"])
        table["columns"] = {k: _compile_value_spec(v) for k, v in table["columns"].items()}
    tz = tpl.get("timezone", "+05:30")
    sign = -1 if tz.startswith("-") else 1
    hh, mm = tz.lstrip("+-").split(":")
    tpl["_tz"] = _dt.timezone(sign * _dt.timedelta(hours=int(hh), minutes=int(mm)))
    out: dict[str, Any] = tpl
    return out


# --------------------------------------------------------------------------------------------
# values


LOCALE_KEY = "\x00locale"          # carried in the labels to the value formatter; no real code looks so
_WORDS = {"hi_IN": in_words_inr_hi, "pa_IN": in_words_inr_pa}


def _code(prefix: str, value: str) -> str:
    norm = re.sub(r"[.\-\s/]", "_", str(value)).upper()
    return f"{prefix}_{norm}" if prefix else norm


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _format_value(raw: Any, spec: dict[str, Any], tpl: dict[str, Any], labels: dict[str, str]) -> str:
    kind = spec.get("type", "text")
    if kind == "money":
        return format_inr(money(raw))          # money() refuses floats with a TypeError
    if kind == "words":       # in the receipt's language where digitctl can spell it, else English
        return _WORDS.get(labels.get(LOCALE_KEY, ""), in_words_inr)(money(raw))
    if kind == "date":
        if isinstance(raw, bool) or not isinstance(raw, (int, Decimal, str)):
            raise TypeError(f"a date is epoch milliseconds (int), got {type(raw).__name__} {raw!r}")
        ms = int(Decimal(str(raw)))
        when = _dt.datetime.fromtimestamp(ms / 1000, tz=tpl["_tz"])
        return when.strftime(tpl.get("dateFormat", "%d/%m/%Y"))
    text = str(raw)
    loc = spec.get("localisation")
    if loc is not None:
        text = labels.get(_code(loc.get("prefix") or "", text), text)
    return text


def _resolve(spec: dict[str, Any], roots: dict[str, Any], tpl: dict[str, Any],
             labels: dict[str, str]) -> str:
    if spec.get("pick") in ("min", "max"):       # e.g. the first and last period a payment covers
        found = [v for v in spec["path"].all(roots) if isinstance(v, (int, Decimal)) and not isinstance(v, bool)]
        raw = (min if spec["pick"] == "min" else max)(found) if found else None
    else:
        raw = spec["path"].first(roots)
    loc = spec.get("localisation")
    if loc is not None and not _is_empty(raw) and spec.get("fallback") is not None:
        # localized code when there is a message for it, else the fallback path (tenant name)
        code = _code(loc.get("prefix") or "", str(raw))
        if code in labels:
            return labels[code]
        raw, spec = spec["fallback"].first(roots), {**spec, "localisation": None}
    elif _is_empty(raw) and spec.get("fallback") is not None:
        raw = spec["fallback"].first(roots)
    if _is_empty(raw):
        return ""
    return _format_value(raw, spec, tpl, labels)


def _context(payment: dict[str, Any], tpl: dict[str, Any], tenant: dict | None,
             collector: str | None, labels: dict[str, str]) -> tuple[dict[str, str], dict[str, list]]:
    roots = {"$": payment, "$tenant": tenant or {}, "$context": {"collector": collector or ""}}
    values: dict[str, str] = {}
    for key, spec in tpl.get("labels", {}).items():
        values[key] = labels.get(spec["code"]) or spec.get("default", spec["code"])
    for key, spec in tpl["variables"].items():
        values[key] = _resolve(spec, roots, tpl, labels)
    tables: dict[str, list] = {}
    for name, table in tpl.get("tables", {}).items():
        rows = table["path"].all(roots)
        if table.get("sort"):
            rows = sorted(rows, key=lambda r: (r.get(table["sort"]) is None, r.get(table["sort"]) or 0))
        out_rows = []
        for row in rows:
            row_roots = {"$": row}
            cells = {k: _resolve(spec, row_roots, tpl, labels) for k, spec in table["columns"].items()}
            omit = table.get("omit_zero")
            if omit:
                spec = table["columns"][omit]
                raw = spec["path"].first(row_roots)
                if _is_empty(raw) and spec.get("fallback") is not None:
                    raw = spec["fallback"].first(row_roots)
                if _is_empty(raw) or money(raw) == 0:
                    continue
            out_rows.append(cells)
        tables[name] = out_rows
    return values, tables


def _fill(text: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values.get(m.group(1), ""), text)


def _refs_empty(text: str, values: dict[str, str], label_keys: Iterable[str]) -> bool:
    """True when a variable (not a label) the text refers to is empty."""
    labels = set(label_keys)
    return any(not values.get(k) for k in _VAR.findall(text) if k not in labels)


def _texts(values: dict[str, str], tables: dict[str, list]) -> Iterable[str]:
    yield from values.values()
    for rows in tables.values():
        for r in rows:
            yield from r.values()
