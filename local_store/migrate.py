"""Run the Alembic migrations shipped in local_store/migrations programmatically.

Alembic is imported only to upgrade: every command asks for the head revision (is the store
current?), and importing Alembic and loading its script directory for that cost ~125 ms of CPU a
command (measured on `digitctl tui`'s start). `head_revision` reads the revision ids from the
version files instead; a test holds it equal to Alembic's answer."""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^revision\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]+)?=\s*(.+)$", re.M)
_IDS = re.compile(r"['\"]([^'\"]+)['\"]")


def alembic_config(engine: "Engine | None" = None) -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest revision of the shipped migrations: the one no other revision comes down from."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN.search(text)
        if rev is None or down is None:
            return _alembic_head()           # a layout this reader does not know: ask Alembic
        revisions.add(rev.group(1))
        downs.update(_IDS.findall(down.group(1)))
    heads = revisions - downs
    if len(heads) != 1:
        return _alembic_head()
    return heads.pop()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade_to_head(engine: "Engine") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
