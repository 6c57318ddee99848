"""configs/ ships DIGIT's own data: every MDMS record in it is a record of the real pb data in
../shared/digit-reference (same path, same keys in the same order, same values), except the
inventions configs/README.md lists one by one. A record edited by hand, or invented without being
declared, fails here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mdms" / "data" / "pb"

# (file, master, identifying key, value): the inventions configs/README.md declares
INVENTED = {
    ("common-masters/IdFormat.json", "IdFormat", "idname", "counter.receipt.id"),
    ("common-masters/IdFormat.json", "IdFormat", "idname", "counter.pt.receipt.id"),
    ("common-masters/IdFormat.json", "IdFormat", "idname", "counter.ws.receipt.id"),
    ("ACCESSCONTROL-ACTIONS-TEST/actions-test.json", "actions-test", "id", 90001),
    ("ACCESSCONTROL-ROLES/roles.json", "roles", "code", "CR_TL"),
    ("ACCESSCONTROL-ROLEACTIONS/roleactions.json", "roleactions", "rolecode", "CR_TL"),
}
INVENTED_ROLE_ACTIONS = {("COLL_REMIT_TO_BANK", 1866)}
INVENTED_FILES = {"TradeLicense/FeeRates.json"}
# trimmed trees (nodes unchanged, children dropped): not comparable record by record
TRIMMED = {"jalandhar/egov-location/boundary-data.json"}


def _masters(doc: dict) -> dict[str, list]:
    return {k: v for k, v in doc.items() if isinstance(v, list)}


def _files() -> list[str]:
    """Every shipped MDMS file but the declared inventions and trimmed trees."""
    return sorted(rel for p in CONFIGS.rglob("*.json")
                  if (rel := str(p.relative_to(CONFIGS))) not in INVENTED_FILES | TRIMMED)


def _invented(rel: str, master: str, record: dict) -> bool:
    if master == "roleactions" and (record.get("rolecode"), record.get("actionid")) in INVENTED_ROLE_ACTIONS:
        return True
    return any(rel == f and master == m and record.get(k) == v for f, m, k, v in INVENTED)


@pytest.mark.parametrize("rel", _files())
def test_every_shipped_record_is_a_real_record_or_a_declared_invention(rel, reference):
    shipped = json.loads((CONFIGS / rel).read_text(encoding="utf-8"))
    source = reference / "mdms" / "data" / "pb" / rel
    assert source.is_file(), f"{rel} has no counterpart in the reference data and is not declared invented"
    real = json.loads(source.read_text(encoding="utf-8"))
    assert shipped.get("tenantId") == real.get("tenantId") and shipped.get("moduleName") == real.get("moduleName")
    real_masters = _masters(real)
    for master, records in _masters(shipped).items():
        known = [list(r.items()) if isinstance(r, dict) else r for r in real_masters.get(master, [])]
        for record in records:
            if isinstance(record, dict) and _invented(rel, master, record):
                continue
            as_items = list(record.items()) if isinstance(record, dict) else record
            assert as_items in known, f"{rel} {master}: {json.dumps(record)[:200]} is not a real record"


def test_the_declared_inventions_are_really_shipped():
    assert all((CONFIGS / f).is_file() for f in INVENTED_FILES | TRIMMED)
    found = set()
    for f, m, k, v in INVENTED:
        doc = json.loads((CONFIGS / f).read_text(encoding="utf-8"))
        if any(isinstance(r, dict) and r.get(k) == v for r in doc.get(m, [])):
            found.add((f, m, k, v))
    assert found == INVENTED
