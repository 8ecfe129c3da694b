"""Regenerate migrations/versions/0001 from the models (only while no release has shipped it).

Autogenerate cannot reflect expression indexes, so the PostGIS geography index is
added by hand here, the same way every time.
"""
import pathlib
import warnings

from alembic import command

from server.migrate import alembic_config

warnings.simplefilter("ignore")
versions = pathlib.Path("migrations/versions")
for f in versions.glob("0001_*.py"):
    f.unlink()
db = pathlib.Path("/tmp/fieldcheck-regen.db")
db.unlink(missing_ok=True)
command.revision(alembic_config(f"sqlite:///{db}"), message="initial schema", autogenerate=True, rev_id="0001")
path = next(versions.glob("0001_*.py"))
s = path.read_text()
s = "\n".join(line for line in s.splitlines() if not line.startswith("Create Date:")) + "\n"
anchor = "        batch_op.create_index(batch_op.f('ix_sites_risk_grade'), ['risk_grade'], unique=False)\n"
s = s.replace(anchor, anchor + """
    # PostGIS only: the `near` query's geography ST_DWithin uses this expression index
    # (autogenerate cannot reflect expression indexes, so it is written by hand).
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_sites_geog ON sites USING gist ((geom::geography))')
""", 1)
drop = "    with op.batch_alter_table('sites', schema=None) as batch_op:\n        batch_op.drop_index"
s = s.replace(drop, "    if op.get_bind().dialect.name == 'postgresql':\n        op.execute('DROP INDEX IF EXISTS ix_sites_geog')\n" + drop, 1)
assert s.count("ix_sites_geog") == 2, "anchor lines moved: update this script"
path.write_text(s)
db.unlink(missing_ok=True)
print("wrote", path)
