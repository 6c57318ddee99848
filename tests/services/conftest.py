"""Service-test fixtures shared by the counter's modules (shifts, day book): employees of
pb.amritsar made on the spot, and a counter clerk on the bundled state."""
from __future__ import annotations

from typing import Any

import pytest

from digitctl.context import RequestContext

TENANT = "pb.amritsar"
PASSWORD = "Counter@123"


@pytest.fixture
def make_user():
    """make_user(app, user_name, roles, mobile): an employee of pb.amritsar with these roles."""
    from digitctl.services import users

    def make(app: Any, user_name: str, roles: list[tuple[str, str]], mobile: str) -> None:
        users.create_user(app, app.context(TENANT), users.NewUser(
            user_name=user_name, name="Harpreet Singh", type="EMPLOYEE", tenant_id=TENANT, mobile=mobile,
            roles=roles, password=PASSWORD))

    return make


@pytest.fixture
def ctx_as(as_user):
    """ctx_as(app, user_name): that pb.amritsar user's RequestContext."""
    return lambda app, user_name: as_user(app, user_name, TENANT)


@pytest.fixture
def clerk(state_app, make_user, ctx_as) -> RequestContext:
    """clerk1, a TL counter clerk (TL_CEMP) at pb.amritsar, on the bundled state."""
    make_user(state_app, "clerk1", [("TL_CEMP", TENANT)], "9814012345")
    return ctx_as(state_app, "clerk1")
