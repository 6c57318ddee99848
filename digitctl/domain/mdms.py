"""MDMS rules as DIGIT has them: master-config (isStateLevel, uniqueKeys, isMergeAllowed),
record identity from unique keys, and the problems a loader reports instead of crashing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digitctl.domain.canonical import canonical_json, content_hash


@dataclass(frozen=True)
class Problem:
    """A defect found while loading master data. `severity` is "warning" (loaded or skipped
    with a note; --strict refuses) or "error" (the record/file was not loaded)."""

    code: str
    message: str
    file: str | None = None
    tenant_id: str | None = None
    module: str | None = None
    master: str | None = None
    record: str | None = None
    severity: str = "warning"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "severity": self.severity}
        for key, value in (("file", self.file), ("tenantId", self.tenant_id), ("moduleName", self.module),
                           ("masterName", self.master), ("record", self.record)):
            if value is not None:
                out[key] = value
        return out

    def line(self) -> str:
        where = "/".join(x for x in (self.tenant_id, self.module, self.master) if x)
        rec = f" record {self.record}" if self.record else ""
        src = f" ({self.file})" if self.file else ""
        return f"{self.code}: {where}{rec}: {self.message}{src}"


@dataclass(frozen=True)
class MasterConfig:
    """One entry of master-config.json."""

    module: str
    master: str
    is_state_level: bool = True
    unique_keys: tuple[str, ...] = ()
    is_merge_allowed: bool = False


@dataclass
class MasterConfigs:
    """master-config.json as DIGIT's egov-mdms-service reads it. `doc` is the file as given (what
    `mdms config` shows and the store keeps); `by_key` indexes it by (module, master)."""

    by_key: dict[tuple[str, str], MasterConfig] = field(default_factory=dict)
    doc: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "MasterConfigs":
        out = cls(doc=doc)
        for module, masters in doc.items():
            if not isinstance(masters, dict):
                continue
            for key, cfg in masters.items():
                if not isinstance(cfg, dict):
                    continue
                keys = cfg.get("uniqueKeys") or []
                # DIGIT reads `$.isStateLevel` / `$.isMergeAllowed` as booleans: a missing or null
                # value counts as false (MDMSService.getMasterData, isMergeAllowedForMaster)
                mc = MasterConfig(module, str(cfg.get("masterName") or key),
                                  as_bool(cfg.get("isStateLevel") or False),
                                  tuple(str(k) for k in keys if isinstance(k, str)),
                                  as_bool(cfg.get("isMergeAllowed") or False))
                # master-config is keyed by the dict key, but masterName may differ (ASSET.NewTestMaster)
                out.by_key[(module, key)] = mc
                out.by_key.setdefault((module, mc.master), mc)
        return out

    def get(self, module: str, master: str) -> MasterConfig | None:
        return self.by_key.get((module, master))

    def is_state_level(self, module: str, master: str) -> bool:
        """A master master-config does not name is NOT state-level (DIGIT's default is false)."""
        cfg = self.by_key.get((module, master))
        return cfg is not None and cfg.is_state_level

    def is_merge_allowed(self, module: str, master: str) -> bool:
        cfg = self.by_key.get((module, master))
        return cfg is not None and cfg.is_merge_allowed


def serving_tenant(tenant_id: str, state_level: bool) -> str:
    """The tenant whose records DIGIT's MDMS search returns for a master asked at `tenant_id`:
    the state's for a state-level master (whatever the city has), else the tenant's own (no
    fallback to the state: a city without the master gets nothing)."""
    return tenant_id.split(".", 1)[0] if state_level else tenant_id


def as_bool(value: Any) -> bool:
    """The real data writes booleans as true, "true", "TRUE", 1."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value)


_MISSING = object()


def json_path_get(record: Any, path: str) -> Any:
    """Evaluate the simple JSONPaths master-config uses ($.code, $.a.b, $.tenantId)."""
    parts = [p for p in path.lstrip("$").split(".") if p]
    value = record
    for part in parts:
        if not isinstance(value, dict):
            return _MISSING
        if part in value:
            value = value[part]
            continue
        # the real data spells keys inconsistently (tenantid / tenantId): match case-insensitively
        folded = [k for k in value if k.lower() == part.lower()]
        if len(folded) != 1:
            return _MISSING
        value = value[folded[0]]
    return value


def unique_key(record: Any, paths: tuple[str, ...] | list[str]) -> tuple[str, list[str]]:
    """A record's identity within its master and tenant: the values at the unique-key paths,
    canonically encoded; without unique keys, the hash of the whole record (so re-applying the
    same record is a no-op and a changed record is a new one). Returns (key, missing paths)."""
    if not paths:
        return "sha256:" + content_hash(record), []
    values: list[Any] = []
    missing: list[str] = []
    for p in paths:
        v = json_path_get(record, p)
        if v is _MISSING:
            missing.append(p)
            v = None
        values.append(v)
    return canonical_json(values), missing
