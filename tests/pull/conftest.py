"""A counter and a hub made from the same template (the hub apply helper's fixtures, reused)."""
from tests.hub_apply.conftest import clerk, counter, hub, hub_url, wire  # noqa: F401
