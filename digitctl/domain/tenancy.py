"""Tenant ids: `pb` is a state, `pb.amritsar` a city of it. Master data falls back city -> state."""
from __future__ import annotations


def state_of(tenant_id: str) -> str:
    return tenant_id.split(".", 1)[0]


def fallback_chain(tenant_id: str) -> list[str]:
    """DIGIT looks a master up at the tenant, then each parent: pb.amritsar.x -> pb.amritsar -> pb."""
    parts = tenant_id.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
