"""Localization rules as egov-localization has them, with no store: what a message is, how an
`_upsert` body reads, which tenants a lookup walks (default -> state -> city, the more specific
winning), and how a template's placeholders are filled (`<1>`, `{receiptNumber}`, `%s`)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from digitctl.errors import InvalidInput

DEFAULT_TENANT = "default"            # egov-localization's Tenant.DEFAULT_TENANT
ENGLISH = "en_IN"                    # MessageService.ENGLISH_INDIA: the language every code falls back to
LOCALE = re.compile(r"[a-z]{2,3}_[A-Z]{2}")
_MODULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TENANT = re.compile(r"[a-z][a-z0-9]*(\.[a-z0-9_]+)*")
CODE_MAX, MESSAGE_MAX = 256, 10_000
_POSITIONAL = re.compile(r"<(\d+)>")
_NAMED = re.compile(r"\{([A-Za-z0-9_][A-Za-z0-9_.]*)\}")


@dataclass(frozen=True)
class Message:
    tenant_id: str
    locale: str
    module: str
    code: str
    message: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.tenant_id, self.locale, self.module, self.code)

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "module": self.module, "locale": self.locale}


def check_locale(locale: str) -> str:
    if not isinstance(locale, str) or not LOCALE.fullmatch(locale):
        raise InvalidInput("INVALID_LOCALE", f"a locale is like en_IN, hi_IN, pa_IN (got {locale!r})",
                           {"locale": str(locale)[:32]})
    return locale


def check_tenant(tenant_id: Any) -> str:
    if not isinstance(tenant_id, str) or not (tenant_id == DEFAULT_TENANT or _TENANT.fullmatch(tenant_id)):
        raise InvalidInput("INVALID_TENANTID", f"tenantId must be a tenant like pb or pb.amritsar "
                           f"(or {DEFAULT_TENANT!r}), got {tenant_id!r}", {"tenantId": str(tenant_id)[:64]})
    return tenant_id


def check_module(module: Any) -> str:
    if not isinstance(module, str) or not _MODULE.fullmatch(module):
        raise InvalidInput("INVALID_MODULE", f"a module is a name like rainmaker-common (got {module!r})",
                           {"module": str(module)[:64]})
    return module


def parse_message(tenant_id: str, item: Any, where: str) -> Message:
    """One `{code, message, module, locale}` of an upsert body, checked."""
    if not isinstance(item, dict):
        raise InvalidInput("INVALID_MESSAGE", f"{where}: a message is an object {{code, message, module, locale}}",
                           {"at": where})
    missing = [k for k in ("code", "message", "module", "locale") if not isinstance(item.get(k), str)]
    if missing:
        raise InvalidInput("INVALID_MESSAGE", f"{where}: {', '.join(missing)} missing or not text",
                           {"at": where, "fields": missing})
    code, text = item["code"], item["message"]
    if not code.strip() or len(code) > CODE_MAX or any(ord(c) < 32 for c in code):
        raise InvalidInput("INVALID_MESSAGE_CODE", f"{where}: code must be 1-{CODE_MAX} printable characters",
                           {"at": where})
    if len(text) > MESSAGE_MAX or "\x00" in text or "\x1b" in text:
        raise InvalidInput("INVALID_MESSAGE", f"{where}: message too long or holds control characters",
                           {"at": where, "code": code})
    try:
        return Message(tenant_id, check_locale(item["locale"]), check_module(item["module"]), code, text)
    except InvalidInput as err:
        raise InvalidInput(err.code, f"{where}: {err.message}", {"at": where, **err.params}) from None


def parse_upsert(doc: Any, where: str, default_tenant: str | None) -> list[Message]:
    """DIGIT's `_upsert` body {"tenantId", "messages": [...]} (RequestInfo ignored), or a bare
    list of messages as the real bundles are shipped (tenant: `default_tenant`)."""
    if isinstance(doc, list):
        tenant, items = default_tenant, doc
    elif isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        tenant, items = doc.get("tenantId") or default_tenant, doc["messages"]
    else:
        raise InvalidInput("INVALID_UPSERT_REQUEST", f"{where}: expected {{\"tenantId\", \"messages\": [...]}} "
                           "or a list of messages", {"file": where})
    if tenant is None:
        raise InvalidInput("INVALID_TENANTID", f"{where}: no tenantId in the file; give --tenant", {"file": where})
    tenant = check_tenant(tenant)
    return [parse_message(tenant, m, f"{where}: messages[{i}]") for i, m in enumerate(items)]


def tenant_hierarchy(tenant_id: str | None) -> list[str]:
    """Least to most specific, as Tenant.getTenantHierarchy: default, pb, pb.amritsar."""
    chain = [DEFAULT_TENANT]
    if tenant_id and tenant_id != DEFAULT_TENANT:
        parts = tenant_id.split(".")
        chain += [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return chain


def resolve(messages: Iterable[Message], tenant_id: str | None) -> dict[tuple[str, str], Message]:
    """(module, code) -> the most specific message along the tenant hierarchy
    (MessageService.getMessagesForGivenLocale)."""
    rank = {t: i for i, t in enumerate(tenant_hierarchy(tenant_id))}
    out: dict[tuple[str, str], Message] = {}
    for m in messages:
        r = rank.get(m.tenant_id)
        if r is None:
            continue
        have = out.get((m.module, m.code))
        if have is None or rank[have.tenant_id] <= r:
            out[(m.module, m.code)] = m
    return out


def fill(template: str, args: Sequence[Any] = (), params: Mapping[str, Any] | None = None) -> str:
    """DIGIT's placeholders: `<1>`, `<2>` ... (the modules' notification templates) and `{0}` from
    `args`; `{name}` from `params`; `%s` in turn from `args` (egov-user's OTP texts). A
    placeholder with no value is left as it is."""
    params = params or {}

    def positional(m: re.Match[str]) -> str:
        i = int(m.group(1)) - 1
        return str(args[i]) if 0 <= i < len(args) else m.group(0)

    def named(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in params:
            return str(params[name])
        if name.isdigit() and int(name) < len(args):
            return str(args[int(name)])
        return m.group(0)

    text = _POSITIONAL.sub(positional, template)
    text = _NAMED.sub(named, text)
    if "%s" in text and args:
        parts = text.split("%s")
        text = parts[0] + "".join((str(args[i]) if i < len(args) else "%s") + p for i, p in enumerate(parts[1:]))
    return text
