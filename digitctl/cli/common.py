"""Helpers every CLI command group shares. Imports no command group (groups import this, and
main imports the groups), so digitctl/cli has no import circle."""
from __future__ import annotations

import sys

from digitctl.cli.output import state
from digitctl.domain.workflow import sla_text  # noqa: F401  (the CLI's tables name it from here)

TENANT_CODE = "INVALID_TENANTID"     # DIGIT's code for a missing or unknown tenant (egov services' CustomException)


def tenant_option_value(explicit: str | None) -> str | None:
    """A command's own --tenant, else the global one / DIGIT_TENANT, else the logged-in user's
    own tenant (a clerk at pb.amritsar works at pb.amritsar)."""
    if explicit or state().tenant:
        return explicit or state().tenant
    from digitctl.errors import DigitError, Unauthenticated
    from digitctl.session import home_tenant

    try:
        actor = state().app.actor
    except Unauthenticated:   # an expired session is the thing to say, not a missing --tenant
        raise
    except DigitError:   # no store: the command itself will say so
        return None
    return home_tenant(actor)


def require_tenant(explicit: str | None, example: str = "pb.amritsar", what: str = "a tenant") -> str:
    """The tenant a command acts at (as tenant_option_value), refused with INVALID_TENANTID when
    there is none."""
    from digitctl.errors import InvalidInput

    tenant_id = tenant_option_value(explicit)
    if not tenant_id:
        raise InvalidInput(TENANT_CODE, f"{what} is needed (--tenant {example})")
    return tenant_id


def read_password_stdin() -> str:
    line = sys.stdin.readline()
    if not line:
        from digitctl.errors import InvalidInput

        raise InvalidInput("INVALID_PASSWORD", "--password-stdin: nothing on standard input")
    return line.rstrip("\r\n")




def people_iso(value: str | None) -> str:
    """An ISO-8601 instant from a service's JSON as people read it (07/12/2026 17:30 IST); '-'
    when there is none. JSON output keeps the ISO text."""
    import datetime as dt

    from digitctl.clock import people_time

    if not value:
        return "-"
    try:
        return people_time(dt.datetime.fromisoformat(value))
    except ValueError:
        return value
