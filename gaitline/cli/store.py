"""``gaitline store upgrade`` and ``gaitline store current``: the store's schema migrations.

The track stage and the demo migrate the store they write to when they open it; this command does
it ahead of a rollout (the chart's pre-upgrade Job runs it), so the stages' database role never
needs the right to alter tables. See :mod:`store.migrate`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from gaitline.cli.query import StoreOpt
from gaitline.errors import GaitlineError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(help="The store's schema: migrate it to the newest revision, or say which it is at.",
                  no_args_is_help=True)


def _engine(url: str) -> Engine:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from store.db import driver_url, mask_url

    try:
        return create_engine(driver_url(url), future=True, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise GaitlineError(f"cannot open store {mask_url(url)}: {exc.__class__.__name__}") from exc


@app.command("upgrade")
def upgrade(store: str | None = StoreOpt) -> None:
    """Migrate the store to the newest schema revision (a new store is created at it)."""
    from sqlalchemy.exc import SQLAlchemyError

    from store import migrate
    from store.db import default_store_url, mask_url

    store = store or default_store_url()
    engine = _engine(store)
    try:
        before, after = migrate.upgrade(engine)
    except SQLAlchemyError as exc:
        raise GaitlineError(f"cannot migrate store {mask_url(store)}: {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"store {mask_url(store)} is at revision {after}, the newest: nothing to do")
    else:
        typer.echo(f"store {mask_url(store)}: revision {before or 'none (made before migrations or new)'} -> {after}")


@app.command("current")
def current(store: str | None = StoreOpt) -> None:
    """Print the store's schema revision and the newest one."""
    from sqlalchemy.exc import SQLAlchemyError

    from store import migrate
    from store.db import default_store_url, mask_url

    store = store or default_store_url()
    engine = _engine(store)
    try:
        rev = migrate.current(engine)
    except SQLAlchemyError as exc:
        raise GaitlineError(f"cannot read store {mask_url(store)}: {exc.__class__.__name__}") from exc
    finally:
        engine.dispose()
    typer.echo(f"store {mask_url(store)}: revision {rev or 'none'}; newest {migrate.head()}")
