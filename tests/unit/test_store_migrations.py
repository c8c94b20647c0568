"""The store's migrations: from nothing they reach the models' schema, every revision chains to the
last, and a store is created or upgraded once."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from store import migrate
from store.db import Base, Store


def test_the_migrations_from_nothing_reach_the_models(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "head")  # every revision, not create_all
        # SQLite's INTEGER is 64 bits whatever it is called, so types are compared on PostgreSQL
        # (tests/integration/test_store_migrations_postgres.py)
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []
    assert migrate.current(engine) == migrate.head()


def test_revisions_form_one_line_from_the_baseline() -> None:
    scripts = ScriptDirectory.from_config(migrate._config())
    revs = list(scripts.walk_revisions())  # newest first
    assert len(scripts.get_heads()) == 1 and revs[-1].revision == migrate.BASELINE and revs[-1].down_revision is None
    assert all(r.down_revision == n.revision for r, n in zip(revs, revs[1:], strict=False))


def test_a_new_store_is_stamped_at_the_newest_revision_and_upgrading_again_does_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    Store(url).close()
    engine = sa.create_engine(url)
    assert migrate.current(engine) == migrate.head()
    assert migrate.upgrade(engine) == (migrate.head(), migrate.head())
