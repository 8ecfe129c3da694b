"""The `fieldcheck` command: init, demo, run, serve, scheduler, plan, draw, import, users, audit-verify,
webhooks-deliver, backup, restore, check-config."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from sqlalchemy.engine import make_url


def _app():
    from . import create_app

    return create_app()


def register_cli(app) -> None:
    """Nothing extra under `flask`: the `fieldcheck` command is the one entry point."""


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _database_is_empty(app) -> bool:
    from .extensions import db
    from .models import Park, User

    with app.app_context():
        return (db.session.execute(sa.select(sa.func.count(Park.id))).scalar_one() == 0
                and db.session.execute(sa.select(sa.func.count(User.id))).scalar_one() == 0)


def _migrate(app) -> None:
    from .migrate import upgrade

    upgrade(app.config["SQLALCHEMY_DATABASE_URI"])


def _load_demo(app, seed: int) -> dict:
    from .extensions import db
    from .services.demo import build_demo

    with app.app_context():
        summary = build_demo(seed=seed)
        db.session.commit()
        return summary


def _print_logins() -> None:
    from .services.demo import DEMO_LOGINS

    click.echo("Demo logins (password for all: %s):" % DEMO_LOGINS[0][2])
    for username, role, _password in DEMO_LOGINS:
        click.echo(f"  {username:<14} {role}")


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log at INFO level")
def main(verbose: bool) -> None:
    """fieldcheck: field inspection for development-park enforcement bureaus."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--no-demo", is_flag=True, help="a real bureau: an empty database and the first admin")
@click.option("--admin", "admin_username", default="admin", show_default=True, help="the first admin's username")
@click.option("--admin-name", default="系统管理员", show_default=True)
@click.option("--password-stdin", is_flag=True, help="read the admin's password from standard input")
def init(no_demo: bool, admin_username: str, admin_name: str, password_stdin: bool) -> None:
    """Create or migrate the database; load the demo city into a new one unless --no-demo."""
    app = _app()
    _migrate(app)
    click.echo("database migrated to the newest schema")
    empty = _database_is_empty(app)
    if not no_demo:
        if empty:
            summary = _load_demo(app, seed=1)
            click.echo(f"demo city loaded: {summary}")
            _print_logins()
        else:
            click.echo("the database already holds data; no demo loaded")
        return
    from .extensions import db
    from .models import User
    from .services.users import UserError, create_user

    with app.app_context():
        if db.session.execute(sa.select(User.id).where(User.role == "admin")).first():
            click.echo("an admin exists already; nothing to do")
            return
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("password for the first admin", hide_input=True, confirmation_prompt=True)
        try:
            create_user(admin_username, admin_name, "admin", password)
        except UserError as e:
            raise click.ClickException(str(e)) from e
        from .services.policy import current

        current()  # policy version 1 with the defaults, before any request needs it
        db.session.commit()
    click.echo(f"first admin {admin_username!r} created")


@main.command()
@click.option("--seed", default=1, show_default=True, type=int, help="the same seed builds the same city")
def demo(seed: int) -> None:
    """Build the demo city (into an empty database only)."""
    app = _app()
    _migrate(app)
    if not _database_is_empty(app):
        raise click.ClickException("the database already holds data; the demo loads only into an empty database")
    summary = _load_demo(app, seed)
    click.echo(f"demo city loaded: {summary}")
    _print_logins()


@main.command()
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="HOST or 127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("PORT", "5000")), type=int, show_default="PORT or 5000")
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API and the PWA with gunicorn."""
    os.execvp(sys.executable, _gunicorn_argv(host, port, workers))


def _gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"{host}:{port}",
            "--access-logfile", "-", "--graceful-timeout", "10",
            # one control socket per user would be shared by every instance on the machine
            "--no-control-socket", "--config", "python:server.gunicorn_conf", "server:create_app()"]


@main.command()
def scheduler() -> None:
    """Run the job scheduler (one per database; a second one waits)."""
    from .jobs import run_scheduler

    logging.getLogger().setLevel(logging.INFO)
    run_scheduler(_app())


@main.command()
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"))
@click.option("--port", default=lambda: int(os.environ.get("PORT", "5000")), type=int)
def run(host: str, port: int) -> None:
    """`make run`: set up the database (with the demo city if it is new and embedded),
    then start gunicorn (2 workers) and the scheduler; Ctrl-C stops both."""
    app = _app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    created = False
    if _is_sqlite(url):
        created = not Path(make_url(url).database).exists() or _database_is_empty(app)
    _migrate(app)
    if created:
        summary = _load_demo(app, seed=1)
        click.echo(f"created {make_url(url).database} with the demo city: {summary}")
    procs = [
        subprocess.Popen(_gunicorn_argv(host, port, 2)),
        subprocess.Popen([sys.executable, "-m", "server.cli", "scheduler"]),
    ]
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    click.echo(f"\nfieldcheck is running at http://{shown_host}:{port}/  (API docs: /api/docs)")
    if created or _has_demo(app):
        _print_logins()
    click.echo("Ctrl-C stops the server and the scheduler.")

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    # Started in the background by a non-interactive shell, SIGINT arrives ignored: restore
    # Ctrl-C so it always stops both processes.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    code = max((p.returncode or 0) for p in procs)
    sys.exit(code if code > 0 else 0)


def _has_demo(app) -> bool:
    from .services.users import demo_accounts_exist

    with app.app_context():
        return demo_accounts_exist()


def _park_ids(codes) -> list[int] | None:
    from .extensions import db
    from .models import Park

    if not codes:
        return None
    found = dict(db.session.execute(sa.select(Park.code, Park.id).where(Park.code.in_(codes))).all())
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise click.ClickException(f"no park with code {unknown[0]!r}")
    return sorted(found[c] for c in codes)


@main.command("plan")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), help="default: the next working day")
@click.option("--park", "parks", multiple=True, help="park code; repeat for several (default: every park)")
@click.option("--solver", type=click.Choice(["pyvrp", "ortools"]), help="default: pyvrp")
@click.option("--publish", is_flag=True, help="publish it: it becomes the inspectors' day")
def plan_command(day, parks, solver, publish) -> None:
    """Generate a day's patrol plan (locked stops kept) and print its routes."""
    from .extensions import db
    from .services import planning
    from .services.errors import ServiceError

    app = _app()
    with app.app_context():
        try:
            day = planning.next_working_day() if day is None else day.date()
            options = {"solver": solver} if solver else {}
            planning.generate(day, None, park_ids=_park_ids(parks), options=options)
            if publish:
                planning.publish(day, None)
            plan = planning.describe(planning.load(day), None)
        except ServiceError as e:
            db.session.rollback()
            raise click.ClickException(str(e)) from e
        t = plan["totals"]
        click.echo(f"plan of {plan['day'].isoformat()} ({plan['status']}): {t['teams']} teams, {t['stops']} stops, "
                   f"{t['distance_km']:.1f} km; {t['not_scheduled']} not scheduled; "
                   f"{plan['solver']} in {plan['solve_seconds']:.1f} s")
        for r in plan["routes"]:
            names = " + ".join(o["name"] + ("*" if o["lead"] else "") for o in r["officers"])
            click.echo(f"team {r['team_no']} ({names}): {len(r['stops'])} stops, {r['distance_km']:.1f} km, "
                       f"{r['start']}-{r['end']}")
            for s in r["stops"]:
                lock = " [locked]" if s["locked"] else ""
                click.echo(f"  {s['seq']:>2}. {s['eta']} {s['site']['name']} ({s['kind']}, stop {s['id']}){lock}")
        reasons: dict[str, int] = {}
        for s in plan["not_scheduled"]:
            reasons[s["reason_words"]["en"]] = reasons.get(s["reason_words"]["en"], 0) + 1
        for words, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            click.echo(f"not scheduled: {n} ({words})")


@main.command("draw")
@click.option("--replay", "replay_id", type=int, help="recompute draw ID from its record and compare")
@click.option("--subject", type=click.Choice(["sites", "inspectors"]), help="make a draw of sites or inspectors")
@click.option("--count", type=int, help="how many to draw")
@click.option("--park", "parks", multiple=True, help="park code; repeat for several (default: every park)")
@click.option("--risk", "risks", multiple=True, help="a risk grade the sites drawn from have; repeat for several")
@click.option("--visible-from", type=click.DateTime(formats=["%Y-%m-%d"]), help="the first day of the drawn visits")
@click.option("--visit-by", type=click.DateTime(formats=["%Y-%m-%d"]), help="the last day (default: visible-from)")
@click.option("--note", default="")
def draw_command(replay_id, subject, count, parks, risks, visible_from, visit_by, note) -> None:
    """Make a random draw (双随机), or replay one from its record (--replay ID): exit 1 if it does not match."""
    from .extensions import db
    from .services import draws
    from .services.errors import ServiceError

    app = _app()
    with app.app_context():
        try:
            if replay_id is not None:
                result = draws.replay(replay_id, None)
                row = draws.read(replay_id, None)
            else:
                if not (subject and count and visible_from):
                    raise click.UsageError("give --replay ID, or --subject, --count and --visible-from to make a draw")
                pool = {"park_ids": _park_ids(parks)} if parks else {}
                if risks:
                    pool["risk_grades"] = list(risks)
                made = draws.create(None, subject, count, pool, visible_from.date(),
                                    visit_by.date() if visit_by else None, note)
                row = draws.describe(made, None)
                result = None
        except ServiceError as e:
            db.session.rollback()
            raise click.ClickException(str(e)) from e
    click.echo(f"draw {row['id']} of {row['subject']}, {row['count']} from a pool of {row['pool_size']}")
    click.echo(f"seed         {row['seed']}")
    click.echo(f"seed_sha256  {row['seed_sha256']}  (recorded {row['created_at'].isoformat()})")
    click.echo(f"pool_sha256  {row['pool_sha256']}  (frozen {row['frozen_at'].isoformat()})")
    click.echo(f"pool         {' '.join(str(m) for m in row['pool'] or [])}")
    if result is None:
        click.echo(f"drawn        {' '.join(str(m) for m in row['drawn'] or [])}")
        return
    click.echo(f"recorded     {' '.join(str(m) for m in result['recorded']['drawn'] or [])}")
    click.echo(f"recomputed   {' '.join(str(m) for m in result['drawn'])}")
    if result["matches"]:
        click.echo("the replay matches the record")
        return
    click.echo("the replay DOES NOT MATCH the record: " + "; ".join(result["problems"]), err=True)
    sys.exit(1)


def _print_report(report: dict, lang: str) -> None:
    c = report["counts"]
    click.echo(f"import {report['id']} ({report['kind']}, {report['filename']}, crs {report['crs']}): "
               f"{report['status']}")
    click.echo(f"  create {c.get('create', 0)}, update {c.get('update', 0)}, unchanged {c.get('unchanged', 0)}, "
               f"refused {c.get('refused', 0)}, warnings {c.get('warnings', 0)}")
    for i in report["file_issues"]:
        click.echo(f"  file {i['severity']}: {i['message'][lang]}")
    for r in report["rows"]["items"]:
        if r["action"] == "create" and not r["issues"]:
            continue
        for i in r["issues"] or [{}]:
            column = i.get("header") or i.get("column")
            where = f"row {r['row']}" + (f", column {column}" if column else "")
            reason = i["message"][lang] if i else ", ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in r["changes"].items())
            click.echo(f"  {r['action']:<9} {where} ({r['key'] or r['label']}): {reason}")
    more = report["rows"]["total"] - len(report["rows"]["items"])
    if more > 0:
        click.echo(f"  ... {more} more rows in the report (GET /api/imports/{report['id']})")


@main.command("import")
@click.argument("kind", type=click.Choice(["enterprises", "parks", "people", "catalogue", "checklists"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84", show_default=True,
              help="the coordinate system of the file's coordinates")
@click.option("--reference", help="a known WGS 84 point 'lon,lat' (e.g. the park office), to spot GCJ-02 files")
@click.option("--reference-key", help="the credit code of the enterprise at the reference point")
@click.option("--initial-password-stdin", is_flag=True, help="people: read new users' first password from stdin")
@click.option("--apply", "do_apply", is_flag=True, help="apply after the dry run (default: dry run only)")
@click.option("--as", "actor", default=None, help="the admin's username recorded in the audit trail")
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
@click.option("--limit", default=200, show_default=True, help="report rows printed at most")
def import_command(kind, path, crs, reference, reference_key, initial_password_stdin, do_apply, actor, lang, limit):
    """Import a file: a dry run that reports every row, then with --apply write it in one transaction."""
    from .extensions import db
    from .services import imports
    from .services.errors import ServiceError

    options = {"crs": crs}
    if reference:
        try:
            lon, lat = (float(x) for x in reference.split(","))
        except ValueError:
            raise click.BadParameter("lon,lat in degrees", param_hint="--reference") from None
        options.update(reference_lon=lon, reference_lat=lat, reference_key=reference_key)
    if initial_password_stdin:
        options["initial_password"] = sys.stdin.readline().rstrip("\n")

    def progress(phase, done, total):
        of = f"/{total}" if total else ""
        click.echo(f"  {phase}: {done}{of} rows", err=True)

    app = _app()
    with app.app_context():
        actor_id = None
        if actor:
            from .models import User

            actor_id = db.session.execute(sa.select(User.id).where(User.username == actor)).scalar()
            if actor_id is None:
                raise click.ClickException(f"no user named {actor!r}")
        try:
            with open(path, "rb") as fh:
                job = imports.store_upload(kind, path.name, fh, options, actor_id)
            job = imports.dry_run(job.id, on_progress=progress)
            report = imports.describe(job, "issues", limit)
            _print_report(report, lang)
            if not do_apply:
                click.echo("dry run only: nothing was written; add --apply to write it")
                return
            job = imports.apply(job.id, actor_id, on_progress=progress)
        except ServiceError as e:
            db.session.rollback()
            raise click.ClickException(str(e)) from e
        c = job.counts
        click.echo(f"applied: {c.get('create', 0)} created, {c.get('update', 0)} updated, "
                   f"{c.get('unchanged', 0)} unchanged, {c.get('refused', 0)} refused (not written)")


@main.command("check-config")
@click.option("--workers", type=int, default=None,
              help="the web workers you will run (default: from WEB_CONCURRENCY or GUNICORN_CMD_ARGS)")
def check_config(workers: int | None) -> None:
    """Warn about unsafe settings: a default secret, demo accounts, debug mode, no TLS, SQLite with
    many workers... Exits 1 when FIELDCHECK_ENV=production and anything is wrong."""
    from .config import load_config
    from .config_check import check

    cfg = load_config()
    problems = check(cfg, workers=workers)
    production = cfg["ENV"] == "production"
    for p in problems:
        click.echo(f"{'ERROR' if production else 'warning'} [{p.key}]: {p.message}", err=True)
    if not problems:
        click.echo("configuration: no problems found")
        return
    click.echo(f"{len(problems)} problem(s){' (refused: FIELDCHECK_ENV=production)' if production else ''}", err=True)
    if production:
        sys.exit(1)


@main.command("audit-verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 and name the first broken entry if any."""
    from .services.audit import verify_chain

    app = _app()
    with app.app_context():
        result = verify_chain()
    if result["ok"]:
        click.echo(f"audit chain intact: {result['entries']} entries verified")
        return
    brk = result["first_broken"]
    click.echo(f"audit chain BROKEN at entry {brk['id']}: {brk['reason']} "
               f"({result['verified']} entries before it verified)", err=True)
    sys.exit(1)


@main.command("webhooks-deliver")
def webhooks_deliver() -> None:
    """Send the webhook deliveries that are due now, once (the scheduler does it every 30 s)."""
    from .services.webhooks import deliver_due

    app = _app()
    with app.app_context():
        result = deliver_due()
    click.echo(f"webhooks: {result['due']} due, {result['delivered']} delivered, "
               f"{result['not_delivered']} not delivered (retried later or given up), {result['purged']} old purged")


def _print_summary(verb: str, where, summary) -> None:
    rows = sum(summary.tables.values())
    click.echo(f"{verb} {where}: {summary.engine} database ({summary.database_bytes} bytes; {rows} rows in "
               f"{len(summary.tables)} tables), {summary.photos} photo objects ({summary.photo_bytes} bytes)")


@main.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
def backup_command(dest: str) -> None:
    """Back up the database and the photo store into the new folder DEST, while the app runs.

    SQLite: the online backup API; PostgreSQL: pg_dump -Fc. Then every photo object, and a
    manifest of their SHA-256 hashes. `fieldcheck restore DEST` puts it back.
    """
    from .backup import BackupError, backup

    try:
        summary = backup(_app(), dest)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    _print_summary("backed up into", dest, summary)


@main.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="replace a database and photo store that hold data")
def restore_command(src: str, force: bool) -> None:
    """Restore a backup folder into the configured (empty) database and photo store.

    Stop the web server and the scheduler first. Every hash is checked before anything is
    written; a database or store that holds data is refused unless --force. On PostgreSQL the
    database must exist with PostGIS created (CREATE EXTENSION postgis, as a superuser).
    """
    from .backup import BackupError, restore
    from .services.audit import verify_chain

    app = _app()
    try:
        summary = restore(app, src, force=force)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    _print_summary("restored from", src, summary)
    with app.app_context():
        result = verify_chain()
    if not result["ok"]:
        brk = result["first_broken"]
        click.echo(f"the restored audit chain is BROKEN at entry {brk['id']}: {brk['reason']}", err=True)
        sys.exit(1)
    click.echo(f"audit chain intact: {result['entries']} entries verified")


@main.group()
def users() -> None:
    """Create, list, disable, enable and reset users."""


def _user_action(fn):
    from .extensions import db
    from .services.users import UserError

    app = _app()
    with app.app_context():
        try:
            result = fn()
        except UserError as e:
            db.session.rollback()
            raise click.ClickException(str(e)) from e
        db.session.commit()
        return result


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("username")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["inspector", "supervisor", "legal_reviewer", "scheduler", "admin"]))
@click.option("--park", "parks", multiple=True, help="park code; repeat for several")
@click.option("--certificate-no")
@click.option("--certificate-expires", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--certified-domain", "domains", multiple=True)
@click.option("--auxiliary", is_flag=True)
@click.option("--password-stdin", is_flag=True)
def users_create(username, name, role, parks, certificate_no, certificate_expires, domains, auxiliary, password_stdin):
    """Create a user (the password is asked for, never printed)."""
    from .services.users import create_user

    password = _read_password(password_stdin)
    _user_action(lambda: create_user(
        username, name, role, password, list(parks), certificate_no=certificate_no,
        certificate_expires=certificate_expires.date() if certificate_expires else None,
        certified_domains=list(domains), auxiliary=auxiliary))
    click.echo(f"user {username!r} created")


@users.command("disable")
@click.argument("username")
def users_disable(username):
    """Disable a user and revoke their tokens."""
    from .services.users import set_active

    _user_action(lambda: set_active(username, False))
    click.echo(f"user {username!r} disabled; their tokens are revoked")


@users.command("enable")
@click.argument("username")
def users_enable(username):
    from .services.users import set_active

    _user_action(lambda: set_active(username, True))
    click.echo(f"user {username!r} enabled")


@users.command("reset")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
def users_reset(username, password_stdin):
    """Set a new password and revoke the user's tokens."""
    from .services.users import reset_password

    password = _read_password(password_stdin)
    _user_action(lambda: reset_password(username, password))
    click.echo(f"password of {username!r} reset; their tokens are revoked")


@users.command("list")
def users_list():
    from .extensions import db
    from .models import User

    app = _app()
    with app.app_context():
        for u in db.session.execute(sa.select(User).order_by(User.username)).scalars():
            state = "active" if u.active else "disabled"
            click.echo(f"{u.username:<16} {u.role:<15} {state:<9} parks={','.join(p.code for p in u.parks)}")


if __name__ == "__main__":
    main()
