"""Canonical JSON: one byte-exact encoding for hashing, comparing and chaining records."""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(value: Any) -> str:
    return sha256_hex(canonical_json(value))


def canonical_json_with(doc: dict[str, Any], key: str, text: str) -> str:
    """canonical_json(doc) when `text` is already canonical_json(doc[key]) (a large member encoded
    once for two uses); the same bytes, as json.dumps writes sorted members this way."""
    return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{text if k == key else canonical_json(v)}"
                          for k, v in sorted(doc.items())) + "}"
