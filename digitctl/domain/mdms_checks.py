"""Checks over a master's records that report the real data's defects without refusing them:
string booleans, fields whose type changes between records, key spellings that differ only by
case, tax-period cycles outside the billing contract's enum, malformed IdFormats."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from digitctl.domain.mdms import Problem

TAX_PERIOD_CYCLES = ("MONTH", "QUARTER", "HALFYEAR", "ANNUAL")   # billing-service-v2.yml enum
_TOKEN = re.compile(r"\[(.*?)\]")


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return type(v).__name__


def record_label(record: Any, index: int) -> str:
    if isinstance(record, dict):
        for k in ("code", "idname", "id", "name", "rolecode", "key"):
            if k in record and isinstance(record[k], (str, int)):
                return f"{k}={record[k]}"
    return f"#{index}"


def check_master(tenant: str, module: str, master: str, records: list[Any], file: str) -> list[Problem]:
    out: list[Problem] = []
    p = dict(file=file, tenant_id=tenant, module=module, master=master)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    string_bools: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in records:
        if not isinstance(rec, dict):
            continue
        for key, value in rec.items():
            spellings[key.lower()][key] += 1
            if value is not None and not isinstance(value, (dict, list)):
                types[key][_type_name(value)] += 1
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                string_bools[key] += 1
    for key, n in string_bools.items():
        out.append(Problem("MDMS_STRING_BOOLEAN",
                           f"field '{key}' holds the string \"true\"/\"false\" in {n} record(s); read as a boolean",
                           **p))
    for key, counts in types.items():
        if len(counts) > 1:
            desc = ", ".join(f"{t} in {n}" for t, n in counts.most_common())
            out.append(Problem("MDMS_MIXED_TYPES", f"field '{key}' changes type between records ({desc})", **p))
    for lower, forms in spellings.items():
        if len(forms) > 1:
            desc = ", ".join(f"'{k}' in {n}" for k, n in forms.most_common())
            out.append(Problem("MDMS_KEY_CASE_MISMATCH",
                               f"one field spelled several ways ({desc}); matched case-insensitively", **p))
    if module == "BillingService" and master == "TaxPeriod":
        out += _tax_periods(records, p)
    if module == "common-masters" and master == "IdFormat":
        out += _id_formats(records, p)
    return out


def _tax_periods(records: list[Any], p: dict[str, Any]) -> Iterable[Problem]:
    bad: Counter[str] = Counter()
    for rec in records:
        cycle = rec.get("periodCycle") if isinstance(rec, dict) else None
        if cycle not in TAX_PERIOD_CYCLES:
            bad[str(cycle)] += 1
    for cycle, n in bad.items():
        yield Problem("TAXPERIOD_INVALID_CYCLE",
                      f"periodCycle '{cycle}' in {n} record(s) is not one of {', '.join(TAX_PERIOD_CYCLES)}", **p)


def id_format_error(fmt: Any) -> str | None:
    """Why an IdFormat string cannot be used, or None."""
    if not isinstance(fmt, str) or not fmt.strip():
        return "empty format"
    depth = 0
    for ch in fmt:
        depth += ch == "["
        depth -= ch == "]"
        if depth < 0:
            return "']' without '['"
    if depth:
        return "unclosed '['"
    if "[]" in fmt:
        return "empty token []"
    return None


def _id_formats(records: list[Any], p: dict[str, Any]) -> Iterable[Problem]:
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            continue
        why = id_format_error(rec.get("format"))
        if why:
            yield Problem("IDGEN_INVALID_FORMAT", f"format {rec.get('format')!r} cannot be used: {why}",
                          record=str(rec.get("idname", f"#{i}")), **p)
