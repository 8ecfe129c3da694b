"""Alembic environment: one migration history for SpatiaLite and PostGIS.

GeoAlchemy2's alembic helpers create geometry columns and their spatial indexes the
way each engine wants; SpatiaLite's own tables are never ours to drop.
"""
from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from server.db import configure_engine, engine_options, normalise_url
from server.migrate import include_object
from server.extensions import db
import server.models  # noqa: F401  (register the tables)

config = context.config
target_metadata = db.metadata

def run_migrations_online() -> None:
    url = normalise_url(config.get_main_option("sqlalchemy.url"))
    connectable = config.attributes.get("connection")
    if connectable is None:
        opts = engine_options(url)
        opts.pop("poolclass", None)
        engine = create_engine(url, **opts)
        configure_engine(engine)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        render_as_batch=True,
        compare_type=True,
        user_module_prefix="server.models.types.",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
