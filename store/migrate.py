"""Schema migrations of the store (Alembic; revisions in ``store/migrations/versions``).

A new, empty store is created from the models at the newest revision and stamped with it. A store
made by a release before migrations (tables but no ``alembic_version``) is stamped at the baseline
``0001`` and upgraded. The track stage and the demo upgrade the store they write to when they open
it; ``gaitline store upgrade`` (and the chart's pre-upgrade Job) does it ahead of a rollout, so that
a writer without the right to alter tables never has to.

A change to a model in :mod:`store.db` needs a new revision file next to the others, with
``down_revision`` naming the previous head; ``tests/unit/test_store_migrations.py`` checks that the
head's schema equals the models'.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.engine import Engine

BASELINE = "0001"  # the schema of the releases before migrations
_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision."""
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


def current(engine: Engine) -> str | None:
    """The revision the store at ``engine`` is at (None: not versioned, or empty)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the store at ``engine`` to ``revision``; returns (revision before, revision after)."""
    from store.db import Base

    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg = _config(conn)
        if before is None:
            if not inspect(conn).has_table("sightings"):
                Base.metadata.create_all(conn)  # a new store: the models are the newest schema
                command.stamp(cfg, "head")
                return None, head()
            command.stamp(cfg, BASELINE)  # made before migrations
        command.upgrade(cfg, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after
