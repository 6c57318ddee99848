"""Reading MDMS v2 schema files in any of DIGIT's shapes (JSON or YAML), and what DIGIT's
`SchemaDefinitionValidator` refuses in a definition. Pure: files in, definitions and Problems out."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from digitctl.domain.mdms import Problem
from digitctl.domain.mdms_schema import (INVALID_JSON, INVALID_REF_SCHEMA, INVALID_REQUEST_JSON, INVALID_SCHEMA_CODE,
                                         INVALID_SCHEMA_DEFINITION, REQUIRED_ATTRIBUTE_LIST_ERR,
                                         UNIQUE_ATTRIBUTE_LIST_ERR, _json_path_values)
from digitctl.errors import InvalidInput

SCHEMA_SUFFIXES = (".json", ".yaml", ".yml")


def _load_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def _definition_problems(definition: Any) -> list[tuple[str, str]]:
    """What DIGIT's SchemaDefinitionValidator refuses, plus a draft-07 meta-schema check."""
    if not isinstance(definition, dict):
        return [(INVALID_SCHEMA_DEFINITION, "definition must be a JSON object (a draft-07 schema)")]
    out: list[tuple[str, str]] = []
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft7Validator.check_schema(definition)
    except SchemaError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append((INVALID_SCHEMA_DEFINITION, f"not a valid draft-07 schema at {where}: {err.message}"))
    required = definition.get("required")
    unique = definition.get("x-unique")
    if not isinstance(required, list) or not required:
        out.append((REQUIRED_ATTRIBUTE_LIST_ERR, "Required attribute list cannot be empty"))
    if not isinstance(unique, list) or not unique:
        out.append((UNIQUE_ATTRIBUTE_LIST_ERR, "Unique attribute list cannot be empty"))
    elif isinstance(required, list) and required:
        outside = [u for u in unique if u not in required]
        if outside:
            out.append((UNIQUE_ATTRIBUTE_LIST_ERR, "Fields provided under unique fields must be a subset "
                        f"of required attributes list: {', '.join(map(str, outside))} not in required"))
        props = definition.get("properties")
        unknown = [u for u in unique if not isinstance(props, dict) or str(u).split(".")[0] not in props]
        if unknown:
            out.append((UNIQUE_ATTRIBUTE_LIST_ERR,
                        f"x-unique names fields that are not among properties: {', '.join(map(str, unknown))}"))
    refs = definition.get("x-ref-schema")
    if refs is not None:
        bad = not isinstance(refs, list) or any(
            not isinstance(r, dict) or not isinstance(r.get("fieldPath"), str) or not r.get("fieldPath")
            or not isinstance(r.get("schemaCode"), str) or "." not in r.get("schemaCode", "")
            for r in refs)
        if bad:
            out.append((INVALID_REF_SCHEMA, "x-ref-schema must be a list of "
                        '{"fieldPath": "<dot path>", "schemaCode": "<module>.<master>"}'))
        else:
            for r in refs:
                try:
                    _json_path_values({}, r["fieldPath"])
                except ValueError as err:
                    out.append((INVALID_REF_SCHEMA, str(err)))
    return out


def _is_bare_definition(doc: dict[str, Any]) -> bool:
    return any(k in doc for k in ("$schema", "properties", "x-unique")) and "definition" not in doc


def parse_schema_file(path: str | Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Read a schema file in any of DIGIT's shapes (JSON or YAML):
    a search response {"SchemaDefinitions": [...]}, a create request {"SchemaDefinition": {...}},
    a list of SchemaDefinitions, or a bare draft-07 definition whose code is the file name.

    Returns the valid ones as DIGIT SchemaDefinition dicts {"tenantId" (None when the file does
    not say), "code", "description", "definition", "isActive"} and a Problem per refused one."""
    path = Path(path)
    src = str(path)
    try:
        doc = _load_document(path)
    except (OSError, UnicodeDecodeError, ValueError) as err:   # JSON and YAML errors are ValueErrors
        return [], [Problem(INVALID_JSON, f"Failed to deserialize json: {err}", file=src, severity="error")]
    except Exception as err:  # yaml.YAMLError is not a ValueError
        return [], [Problem(INVALID_JSON, f"Failed to deserialize yaml: {err}", file=src, severity="error")]

    candidates: list[Any]
    if isinstance(doc, dict) and isinstance(doc.get("SchemaDefinitions"), list):
        candidates = doc["SchemaDefinitions"]
    elif isinstance(doc, dict) and isinstance(doc.get("SchemaDefinition"), dict):
        candidates = [doc["SchemaDefinition"]]
    elif isinstance(doc, dict) and _is_bare_definition(doc):
        candidates = [{"code": path.stem, "definition": doc}]
    elif isinstance(doc, list):
        candidates = doc
    else:
        return [], [Problem(INVALID_REQUEST_JSON, "not a schema file: expected {\"SchemaDefinitions\": [...]}, "
                            "{\"SchemaDefinition\": {...}} or a draft-07 definition", file=src, severity="error")]

    found: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for index, item in enumerate(candidates):
        if not isinstance(item, dict):
            problems.append(Problem(INVALID_REQUEST_JSON, f"SchemaDefinitions[{index}] is not an object",
                                    file=src, severity="error"))
            continue
        code = item.get("code")
        tenant = item.get("tenantId")
        tenant = tenant if isinstance(tenant, str) and tenant.strip() else None
        module, _, master = code.partition(".") if isinstance(code, str) else ("", "", "")

        def problem(c: str, m: str) -> Problem:
            return Problem(c, m, file=src, tenant_id=tenant, module=module or None, master=master or None,
                           severity="error")

        if not isinstance(code, str) or not module or not master or not 2 <= len(code) <= 128:
            problems.append(problem(INVALID_SCHEMA_CODE,
                                    f"schema code {code!r} must be '<module>.<master>' (2-128 characters)"))
            continue
        issues = _definition_problems(item.get("definition"))
        if issues:
            problems.extend(problem(c, m) for c, m in issues)
            continue
        active = item.get("isActive", True)
        found.append({"tenantId": tenant, "code": code,
                      "description": item.get("description") if isinstance(item.get("description"), str) else None,
                      "definition": item["definition"],
                      "isActive": active if isinstance(active, bool) else str(active).lower() == "true"})
    return found, problems


def schema_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expand to every *.json / *.yaml / *.yml below them, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SCHEMA_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise InvalidInput("PATH_NOT_FOUND", f"no such file or folder: {p}", {"path": str(p)})
    return out
