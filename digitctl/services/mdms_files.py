"""Reading master data from disk in the shapes DIGIT administrators have: the v1 folder layout
(`data/<state>[/<city>]/<Module>/<master>.json`, the file's own tenantId and moduleName are
authoritative), single JSON/YAML files, MDMS v2 exports (`[{"tenantId", "data"}]`) and v2
create/search bodies (`{"Mdms": [...]}`)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitctl.domain.mdms import MasterConfigs, Problem
from digitctl.errors import InvalidInput

DATA_SUFFIXES = {".json", ".yaml", ".yml", ""}
ENVELOPE_KEYS = {"tenantid", "modulename"}


@dataclass
class MasterBatch:
    """The records one file gives one master at one tenant."""

    tenant_id: str
    module: str
    master: str
    records: list[Any]
    file: str


@dataclass
class ReadResult:
    batches: list[MasterBatch] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    ignored: list[str] = field(default_factory=list)
    master_configs: MasterConfigs = field(default_factory=MasterConfigs)
    master_config_files: list[str] = field(default_factory=list)

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _files(path: Path) -> list[Path]:
    """Files in the order DIGIT's MDMS reads them (MDMSApplicationRunnerImpl.readFiles: each
    folder's entries in turn, descending into sub-folders where they come). Where two files give
    one non-mergeable master the first read wins, so the order matters: entries are taken by name,
    ignoring case (`amritsar/` before `Sanitation/`), the same on every machine."""
    if path.is_file():
        return [path]
    out: list[Path] = []
    for entry in sorted(path.iterdir(), key=lambda p: (p.name.casefold(), p.name)):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            out.extend(_files(entry))
        elif entry.is_file():
            out.append(entry)
    return out


YAML_ALIAS_BUDGET = 10_000     # nodes that YAML aliases may add to a file, all aliases together


class YamlAliasLimit(ValueError):
    """A YAML file whose aliases expand beyond the budget (a "billion laughs")."""


def _expanded_size(root: Any) -> tuple[int, int]:
    """(distinct nodes, nodes once every alias is expanded) of a composed YAML node graph,
    without recursion and without expanding anything."""
    import yaml

    size: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            size[id(node)] = 1
            continue
        if done:
            size[id(node)] = 1 + sum(size[id(c)] for c in children)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
    return len(size), size[id(root)]


def safe_yaml(text: str, budget: int = YAML_ALIAS_BUDGET) -> Any:
    """yaml.safe_load, but aliases may add at most `budget` nodes to the document: a file of
    nested aliases (9 levels of 10 make a billion) is refused before anything is built."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        distinct, expanded = _expanded_size(node)
        if expanded - distinct > budget:
            raise YamlAliasLimit(f"YAML aliases expand the file by {expanded - distinct} nodes: at most {budget} "
                                 "(write the records out instead of repeating them through anchors)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _parse(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return safe_yaml(text)
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deep to read") from None


def find_master_config(paths: list[Path]) -> list[Path]:
    """DIGIT keeps master-config.json at the root of the MDMS repo, beside data/: look in each
    path and up to three of its parents."""
    found: list[Path] = []
    for p in paths:
        base = p if p.is_dir() else p.parent
        for candidate in [base, *list(base.parents)[:3]]:
            mc = candidate / "master-config.json"
            if mc.is_file():
                if mc.resolve() not in [f.resolve() for f in found]:
                    found.append(mc)
                break
    return found


def read_paths(paths: list[Path], master_config: Path | None = None) -> ReadResult:
    result = ReadResult()
    for p in paths:
        if not p.exists():
            raise InvalidInput("MDMS_PATH_NOT_FOUND", f"no such file or folder: {p}", {"path": str(p)})
    configs = [master_config] if master_config else find_master_config(paths)
    merged: dict[str, Any] = {}
    for mc in configs:
        try:
            doc = json.loads(mc.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as err:
            result.problems.append(Problem("MDMS_PARSE_ERROR", f"master-config not readable: {err}",
                                           file=str(mc), severity="error"))
            continue
        for module, masters in doc.items():
            merged.setdefault(module, {}).update(masters if isinstance(masters, dict) else {})
        result.master_config_files.append(str(mc))
    result.master_configs = MasterConfigs.from_json(merged)
    seen: set[Path] = set()
    for root in paths:
        for f in _files(root):
            rf = f.resolve()
            if rf in seen or f.name == "master-config.json":
                continue
            seen.add(rf)
            if f.suffix.lower() not in DATA_SUFFIXES:
                result.ignored.append(str(f))
                continue
            _read_file(f, root, result)
    _check_folders(result)
    return result


def _read_file(f: Path, root: Path, result: ReadResult) -> None:
    name = str(f)
    try:
        doc = _parse(f)
    except UnicodeDecodeError:
        result.ignored.append(name)
        return
    except YamlAliasLimit as err:
        result.problems.append(Problem("MDMS_YAML_ALIAS_LIMIT", str(err), file=name, severity="error"))
        return
    except Exception as err:  # JSON or YAML syntax: report the file, keep loading the rest
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        if f.suffix == "" and not f.read_bytes()[:1].strip().startswith((b"{", b"[")):
            result.ignored.append(name)
            return
        result.problems.append(Problem("MDMS_PARSE_ERROR", f"not valid {'YAML' if f.suffix in ('.yaml', '.yml') else 'JSON'}: {msg}",
                                       file=name, severity="error"))
        return
    result.files_read += 1
    if isinstance(doc, list):
        _read_v2_export(doc, f, result)
    elif isinstance(doc, dict) and isinstance(doc.get("Mdms"), list):
        _read_v2_export(doc["Mdms"], f, result)
    elif isinstance(doc, dict):
        _read_v1(doc, name, result)
    else:
        result.problems.append(Problem("MDMS_INVALID_FILE", "neither an MDMS v1 file nor a v2 export",
                                       file=name, severity="error"))


def _envelope(doc: dict[str, Any], key: str) -> tuple[str | None, str | None]:
    """(value, spelling) of tenantId/moduleName, tolerating DIGIT's lower-case `tenantid`."""
    for k, v in doc.items():
        if k.lower() == key and isinstance(v, str):
            return v, k
    return None, None


def _read_v1(doc: dict[str, Any], name: str, result: ReadResult) -> None:
    tenant, tkey = _envelope(doc, "tenantid")
    module, mkey = _envelope(doc, "modulename")
    if not tenant or not module:
        result.problems.append(Problem("MDMS_MISSING_ENVELOPE",
                                       "file has no tenantId/moduleName; DIGIT cannot tell where it belongs",
                                       file=name, severity="error"))
        return
    if tkey != "tenantId" or mkey != "moduleName":
        result.problems.append(Problem("MDMS_KEY_CASE_MISMATCH",
                                       f"envelope spelled {tkey!r}/{mkey!r} instead of 'tenantId'/'moduleName'",
                                       file=name, tenant_id=tenant, module=module))
    for key, value in doc.items():
        if key.lower() in ENVELOPE_KEYS:
            continue
        if not isinstance(value, list):
            result.problems.append(Problem("MDMS_INVALID_MASTER", f"master '{key}' is not an array; skipped",
                                           file=name, tenant_id=tenant, module=module, master=key,
                                           severity="error"))
            continue
        result.batches.append(MasterBatch(tenant, module, key, value, name))


def _read_v2_export(items: list[Any], f: Path, result: ReadResult) -> None:
    """`[{"tenantId", "schemaCode"?, "data": {...}}]`; the schema code is the item's own
    `schemaCode` or the file name (`common-masters.Department.json`)."""
    groups: dict[tuple[str, str], MasterBatch] = {}
    stem_code = f.stem if "." in f.stem else None
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "data" not in item:
            result.problems.append(Problem("MDMS_INVALID_RECORD", f"item {i} has no 'data'", file=str(f),
                                           record=f"#{i}", severity="error"))
            continue
        tenant = item.get("tenantId") or item.get("tenantid")
        code = item.get("schemaCode") or stem_code
        if not tenant or not code or "." not in code:
            result.problems.append(Problem("MDMS_UNKNOWN_SCHEMA_CODE",
                                           f"item {i}: needs tenantId and a schema code (Module.master) in the item or the file name",
                                           file=str(f), record=f"#{i}", severity="error"))
            continue
        if item.get("isActive") is False:
            continue
        module, master = code.split(".", 1)
        batch = groups.setdefault((tenant, code), MasterBatch(tenant, module, master, [], str(f)))
        batch.records.append(item["data"])
    result.batches.extend(groups.values())


def _check_folders(result: ReadResult) -> None:
    """The file's tenantId wins over its folder; say so when they disagree."""
    cities = {b.tenant_id.split(".", 1)[1] for b in result.batches if "." in b.tenant_id}
    reported: set[str] = set()
    for b in result.batches:
        if b.file in reported:
            continue
        parts = Path(b.file).parts[:-1]
        declared = b.tenant_id.split(".", 1)[1] if "." in b.tenant_id else None
        folder_cities = [c for c in parts if c in cities]
        if (declared and declared not in parts) or (folder_cities and declared not in folder_cities):
            where = folder_cities[-1] if folder_cities else "the state folder"
            result.problems.append(Problem("MDMS_TENANT_FOLDER_MISMATCH",
                                           f"file lies under {where} but declares tenantId {b.tenant_id}; "
                                           f"loaded as {b.tenant_id} (the file's tenantId is authoritative)",
                                           file=b.file, tenant_id=b.tenant_id, module=b.module))
            reported.add(b.file)
