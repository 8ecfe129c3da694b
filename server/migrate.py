"""Alembic, driven from code: `fieldcheck init`, `make run` and the tests apply the same
migrations to SpatiaLite and PostGIS."""
from __future__ import annotations

import warnings
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


# Tables SpatiaLite creates for itself (and the views and virtual tables beside them):
# never ours to create or drop.
SPATIALITE_PREFIXES = (
    "spatial_ref_sys", "spatialite_history", "sql_statements_log", "geometry_columns", "views_geometry_columns",
    "virts_geometry_columns", "geom_cols_ref_sys", "spatial_ref_sys_aux", "SpatialIndex", "ElementaryGeometries",
    "KNN", "KNN2", "data_licenses", "idx_", "vector_layers", "raster_coverages", "wms_", "topologies", "networks",
    "rl2map_configurations", "SE_", "ISO_metadata", "stored_", "gpkg_", "tmp_", "sqlite_",
)


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and reflected and compare_to is None and name and name.startswith(SPATIALITE_PREFIXES):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def schema_diff(connection, metadata) -> list:
    """What autogenerate would change to make the database match the models (empty: none)."""
    mc = MigrationContext.configure(connection, opts={
        "include_object": include_object, "compare_type": True, "render_item": alembic_helpers.render_item,
    })
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; the only one is PostGIS-only anyway.
        warnings.filterwarnings("ignore", message="autogenerate skipping metadata-specified expression-based index")
        return compare_metadata(mc, metadata)
