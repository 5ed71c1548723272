"""The ``analytics`` command: thin over the library."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from .access.serving import how_to_sign_in, is_loopback, sign_in_configured
from .access.users import UserError
from .config import Settings, describe_settings, load_settings
from .db import Database, connect
from .delivery.links import record_serve_address
from .errors import AnalyticsError, ConfigError, ParameterError
from .exports.files import PRIVATE_UMASK, owner_only, sweep_temporaries
from .notebook_trust import sign_notebooks
from .warehouse import demo
from .words import counted

log = logging.getLogger("analytics")


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)  # what any command writes (and the app's kernels, which inherit it) is the owner's only
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return int(args.handler(args) or 0)
    except AnalyticsError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a full disk, a folder that may not be written: plain words, never a traceback
        from .runner import disk_message  # noqa: PLC0415

        print(f"Error: {disk_message(error)}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    settings_help = "\n".join(f"  {name}: {text}" for name, text in describe_settings())
    parser = argparse.ArgumentParser(prog="analytics", description="Self-service analytics notebooks.",
                                     epilog="Environment:\n" + settings_help,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    url_help = "database URL (default: $ANALYTICS_DB_URL, else the embedded store under $ANALYTICS_HOME/data)"
    sub = command("demo-data", _demo_data, "Fill the database with the demo warehouse (and, small or default, the demo CRM).")
    sub.add_argument("--scale", choices=list(demo.SCALES), default="small", help="how much data (default: small)")
    sub.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
    sub.add_argument("--url", help=url_help)
    sub.add_argument("--if-missing", action="store_true", help="do nothing when the demo data is already there")

    sub = command("sql", _sql, "Run a query and print the result as CSV with a header line.")
    sub.add_argument("query", help="the SQL text")
    sub.add_argument("--url", help=url_help)

    sub = command("run", _run, "Run a report notebook headless (papermill) and print the executed notebook and files.")
    sub.add_argument("notebook", type=Path, help="the report notebook, e.g. notebooks/account_managers/plastic_cards.ipynb")
    sub.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a parameter value (repeat the option for more; repeat a name for a list)")
    sub.add_argument("--url", help=url_help)
    sub.add_argument("--timeout", type=float, default=1800, help="seconds the run may take before it is stopped")
    sub.add_argument("--as", dest="user", help="who the run is for, in logs and records (default: the system user)")

    sub = command("serve", _serve, "Start the report app (Voilà) on this machine.")
    sub.add_argument("--port", type=int, default=8866)
    sub.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: loopback only)")
    sub.add_argument("--url", help=url_help)

    sub = command("users", _users, "Manage who may sign in to the app and their groups.")
    actions = sub.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a person, or set a new password and groups for them")
    add.set_defaults(action="add")
    add.add_argument("name")
    add.add_argument("--groups", default="", help="comma-separated groups, e.g. account_managers,marketing (admin: all)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input (for scripts)")
    remove = actions.add_parser("remove", help="remove a person; their sessions end at once")
    remove.set_defaults(action="remove")
    remove.add_argument("name")
    listing = actions.add_parser("list", help="list people and their groups")
    listing.set_defaults(action="list")

    sub = command("cleanup", _cleanup, "Remove export files and executed notebooks older than the kept age (audit rows stay).")
    sub.add_argument("--older-than", type=float, metavar="DAYS", help="age in days (default: $ANALYTICS_KEEP_FILES_DAYS, 30)")
    sub.add_argument("--dry-run", action="store_true", help="only list what would be removed")

    sub = command("jobs", _jobs, "List the scheduled jobs (schedules/*.yaml) with their next run; a wrong file is "
                                 "named with what to fix.")

    sub = command("run-job", _run_job, "Run one scheduled job now, as the scheduler would: recorded in job_runs, "
                                       "kept under reports/runs/<job>/, alerted if it fails.")
    sub.add_argument("job", help="the job's name (see `analytics jobs`)")

    sub = command("tiles", _tiles, "The home page's tiles: list them, or run their jobs now (--refresh) as the scheduler "
                                   "would, so the page has figures before the jobs' first ticks.")
    sub.add_argument("--refresh", action="store_true", help="run each tile's job now")
    sub.add_argument("--missing", action="store_true", help="with --refresh: only jobs whose tile is not stored yet")

    sub = command("scheduler", _scheduler, "Run the scheduled jobs when they are due, until stopped (Ctrl+C).")
    sub.add_argument("--poll", type=float, default=5.0, help="seconds between looks at the clock")

    sub = command("holdout", _holdout, "List the global hold-out's versions (set the share with ANALYTICS_HOLDOUT_SHARE; "
                                       "the next saved audience puts a changed share in force as a new version).")
    sub.add_argument("--url", help=url_help)

    sub = command("raffle-setup", _raffle_setup, "Set a weekly raffle up: its promo chain, time zone and a new secret "
                                                 "salt, whose SHA-256 it prints for you to publish.")
    sub.add_argument("raffle", help="the raffle's name, e.g. promo_weekly")
    sub.add_argument("--scenario", default="promo_chain", help="the scenario whose steps make the chain")
    sub.add_argument("--steps", default="1,2,3,4,5", help="the chain's steps in order (default: 1,2,3,4,5)")
    sub.add_argument("--timezone", default="Europe/Moscow", help="where weeks start on Monday 00:00")
    sub.add_argument("--title", default="", help="a name for people")
    sub.add_argument("--new-salt", action="store_true", help="start a new setup version with a new salt")

    sub = command("raffle-verify", _raffle_verify, "Recompute a raffle-week's winners from what is stored and the salt; "
                                                   "prints MATCH or MISMATCH (exit status 1).")
    sub.add_argument("raffle")
    sub.add_argument("week", help="any day of the week, e.g. 2026-11-09")
    sub.add_argument("--version", type=int, help="a draw version (default: the current one)")
    sub.add_argument("--salt", help="the salt as disclosed to you (default: the raffle's secret file)")
    sub.add_argument("--url", help=url_help)

    sub = command("lab", _lab, "Open JupyterLab on the report notebooks, with the library and the database configured.")
    sub.add_argument("--port", type=int, default=8888)
    sub.add_argument("--url", help=url_help)
    sub.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    return parser


def _demo_data(args: argparse.Namespace) -> int:
    """Load the demo warehouse and, for the small and default scales, the demo CRM. With ``--if-missing`` (what
    ``make run`` calls) nothing is loaded when the warehouse is there, and it says one line per step."""
    from .raffle import demo as raffle_demo  # noqa: PLC0415 - only this command sets up the demo raffle

    with connect(args.url) as db:
        present = "events" in db.tables() and db.scalar("SELECT count() FROM events")
        if args.if_missing and present:
            log.info("Demo data: ready (%s events)", _millions(int(present)))
        elif args.if_missing:
            log.info("Demo data: generating the %s warehouse (default: about 15 s)…", args.scale)
            with ThreadPoolExecutor(1) as beside:  # the CRM's load waits on its HTTP round trips: it fits in the gaps
                crm = beside.submit(_demo_crm_connected, args.url, args.scale)
                counts = demo.load(db, args.scale, args.seed)
                log.info("Demo data: ready (%s events)", _millions(counts.get("events", 0)))
                crm.result()
        else:
            counts = demo.load(db, args.scale, args.seed, progress=log.info)
            log.info("Done: %s", ", ".join(f"{table} {rows:,}" for table, rows in counts.items()))
            _demo_crm(db, args.scale, quiet=False)
        demo_raffle = raffle_demo.set_up_raffle(db, load_settings())
    if not args.if_missing:
        log.info("Demo raffle %s: its salt's SHA-256 (the commitment to publish) is %s", demo_raffle.raffle,
                 demo_raffle.commitment)
    return 0


CRM_SCALES = ("small", "default")  # the large warehouse is for measuring, not for showing the CRM


def _demo_crm_connected(url: str | None, scale: str) -> None:
    """The demo CRM on a connection of its own (``make run`` loads it beside the warehouse)."""
    with connect(url) as db:
        _demo_crm(db, scale, quiet=True)


def _demo_crm(db: Database, scale: str, *, quiet: bool) -> None:
    """The demo amoCRM account, loaded as scheduled loads would have over its months. It has its own seed: the demo
    app serves that same account, so the store and the app agree whatever ``--seed`` the warehouse took."""
    from .crm.demo import load_demo  # noqa: PLC0415 - only this command loads the demo CRM

    if scale not in CRM_SCALES:
        return
    if quiet:
        log.info("Demo CRM: loading the demo amoCRM account (about 15 s)…")
    done = load_demo(db, say=None if quiet else log.info)
    log.info("Demo CRM: ready (%s leads, %s versions from %s loads, %.0f s)", f"{done.leads:,}", f"{done.versions:,}",
             done.loads, done.seconds)


def _millions(count: int) -> str:
    """5,301,234 as "5.3 million": a size a person takes in at a glance."""
    return f"{count / 1e6:.1f} million" if count >= 1_000_000 else f"{count:,}"


def _raffle_setup(args: argparse.Namespace) -> int:
    from .raffle import setup, setups  # noqa: PLC0415

    settings = load_settings()
    steps = tuple(int(step) for step in args.steps.split(",") if step.strip())
    with connect(settings.writer_url, settings=settings) as db:
        existing = bool(setups(db, args.raffle))
        done = setup(db, settings, args.raffle, scenario=args.scenario, steps=steps, timezone=args.timezone,
                     title=args.title, user=getpass.getuser(), new_salt_version=args.new_salt)
    if existing and not args.new_salt:
        print(f"{done.raffle} is already set up (version {done.version}); nothing changed. Use --new-salt for a new salt.")
    print(f"{done.raffle} version {done.version}: steps {done.steps} of {done.scenario}, weeks in {done.timezone}.")
    print(f"Publish this commitment now (SHA-256 of the secret salt): {done.commitment}")
    return 0


def _raffle_verify(args: argparse.Namespace) -> int:
    from .raffle import setups, verify, week_of  # noqa: PLC0415

    settings = load_settings()
    with connect(args.url or settings.database_url, settings=settings, read_only=True) as db:
        versions = setups(db, args.raffle)
        if not versions:
            raise ParameterError("raffle", args.raffle, "a raffle that is set up")
        week = week_of(dt.date.fromisoformat(args.week), versions[-1].timezone)
        result = verify(db, settings, args.raffle, week, version=args.version, salt=args.salt)
    for name, passed, text in result.checks:
        print(f"{'ok ' if passed else 'BAD'} {name}: {text}")
    print(result.verdict)
    return 0 if result.matches else 1


def _sql(args: argparse.Namespace) -> int:
    with connect(args.url, read_only=True) as db:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        header_written = False
        for chunk in db.iter_chunks(args.query):
            if not header_written:
                writer.writerow(chunk.column_names)
                header_written = True
            writer.writerows(zip(*(map(_csv_value, column.to_pylist()) for column in chunk.columns), strict=True))
    return 0


def _csv_value(value: object) -> object:
    if value is None:
        return r"\N"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def _run(args: argparse.Namespace) -> int:
    from .runner import NotebookFailed, run_notebook  # noqa: PLC0415 - reads notebooks, starts papermill

    values: dict[str, object] = {}
    for name, value in args.parameter:
        if name in values:
            previous = values[name]
            values[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[name] = value
    try:
        run = run_notebook(args.notebook, values, settings=load_settings(db_url=args.url), timeout=args.timeout,
                           user=args.user)
    except NotebookFailed as failure:
        print(f"Error: {failure}", file=sys.stderr)
        if failure.executed is not None:
            print(failure.executed)
        return 1
    print(run.executed)
    for path in run.files:
        print(path)
    return 0


def _users(args: argparse.Namespace) -> int:
    from .access.users import UsersFile  # noqa: PLC0415

    settings = load_settings()
    users = UsersFile(settings.users_file)
    if args.action == "list":
        for name in users.names():
            person = users.person(name)
            print(f"{name}\t{','.join(sorted(person.groups)) if person else ''}")
        return 0
    if args.action == "remove":
        users.remove(args.name)
        log.info("Removed %s from %s.", args.name, settings.users_file)
        return 0
    password = _read_password(args.password_stdin)
    groups = [group.strip() for group in args.groups.split(",") if group.strip()]
    users.add(args.name, password, groups)
    log.info("%s can sign in now (groups: %s); the list is in %s.", args.name, ", ".join(groups) or "none",
             settings.users_file)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UserError("The two passwords differ; nothing was changed.")
    return first


def _cleanup(args: argparse.Namespace) -> int:
    from .retention import cleanup  # noqa: PLC0415

    result = cleanup(load_settings(), older_than_days=args.older_than, dry_run=args.dry_run)
    for path in result.removed:
        print(path)
    verb = "Would remove" if args.dry_run else "Removed"
    log.info("%s %s, %.1f MB; kept %s. Audit rows are kept.", verb, counted(len(result.removed), "file"),
             result.freed_bytes / 1e6, counted(result.kept, "newer file"))
    for line in result.parked:
        log.warning("%s", line)
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from .scheduler import load_schedules, next_run  # noqa: PLC0415

    settings = load_settings()
    schedules = load_schedules(settings.schedules, settings.notebooks, settings.users_file)
    now = dt.datetime.now(dt.UTC)
    last = _last_runs(settings)
    for schedule in schedules:
        upcoming = next_run(schedule.cron, schedule.timezone, now).astimezone(ZoneInfo(schedule.timezone))
        notebook = schedule.notebook.relative_to(settings.notebooks.resolve()).as_posix()
        previous = last.get(schedule.job)
        status = f"last {previous['status']} {previous['started_at']:%Y-%m-%d %H:%M} UTC" if previous else "never ran"
        print(f"{schedule.job}\t{schedule.cron} ({schedule.timezone})\tnext {upcoming:%Y-%m-%d %H:%M %Z}\t{status}"
              f"\t{notebook}")
    if not schedules:
        log.info("No jobs in %s: add one YAML file per job (see the README's 'How to add a schedule').", settings.schedules)
    return 0


def _last_runs(settings: Settings) -> dict[str, dict]:
    from .scheduler.jobs import JobLog  # noqa: PLC0415

    try:
        return {row["job"]: row for row in JobLog(settings).runs()}
    except AnalyticsError as error:  # the list of jobs is still worth showing
        log.warning("Last runs unknown: %s", error)
        return {}


def _run_job(args: argparse.Namespace) -> int:
    from .scheduler import load_schedules  # noqa: PLC0415
    from .scheduler.jobs import run_job, run_line  # noqa: PLC0415

    settings = load_settings()
    schedules = {schedule.job: schedule
                 for schedule in load_schedules(settings.schedules, settings.notebooks, settings.users_file)}
    if args.job not in schedules:
        log.error("There is no job '%s'. Jobs: %s", args.job, ", ".join(sorted(schedules)) or "none")
        return 1
    recover_interrupted(settings)
    run = run_job(settings, schedules[args.job])
    log.info("%s", run_line(settings, schedules[args.job], run))
    return 0 if run.status == "ran" else 1


def _tiles(args: argparse.Namespace) -> int:
    from .home.refresh import refresh_tiles  # noqa: PLC0415
    from .home.store import read_tiles, tiles_folder  # noqa: PLC0415
    from .home.tiles import tile_schedules  # noqa: PLC0415

    settings = load_settings()
    if args.refresh:
        refreshed = refresh_tiles(settings, missing_only=args.missing)
        for done in refreshed:
            log.info("Tile %s: %s in %.0f s%s", done.job, done.status, done.seconds, f" ({done.error})" if done.error else "")
        if not refreshed:
            log.info("Tiles: every tile is stored already" if args.missing else "Tiles: no tile jobs in %s", settings.schedules)
        return 0 if all(done.status == "ran" for done in refreshed) else 1
    stored = read_tiles(tiles_folder(settings))
    for schedule in tile_schedules(settings):
        tile = stored.get(schedule.job)
        said = tile.headline.label if tile and tile.headline else "not computed yet"
        print(f"{schedule.job}\t{said}")
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from .scheduler import load_schedules  # noqa: PLC0415
    from .scheduler.loop import Scheduler  # noqa: PLC0415

    settings = load_settings()
    recover_interrupted(settings)
    scheduler = Scheduler(settings, load_schedules(settings.schedules, settings.notebooks, settings.users_file))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        scheduler.run_forever(args.poll, stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def _holdout(args: argparse.Namespace) -> int:
    from .audiences import holdout  # noqa: PLC0415

    settings = load_settings()
    with connect(args.url or settings.database_url, settings=settings, read_only=True) as db:
        versions = holdout.versions(db)
        for version in versions:
            print(f"version {version.version}: {version.percent:g}% of users (buckets {version.bucket_from}-"
                  f"{version.bucket_to - 1} under salt {version.salt})")
    if not versions:
        log.info("No hold-out yet: the first saved audience creates version 1 at ANALYTICS_HOLDOUT_SHARE "
                 "(now %g%%).", settings.holdout_share)
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Become the web app (exec), so a SIGTERM or Ctrl-C reaches it and it stops its kernels itself."""
    settings = load_settings(db_url=args.url)
    if not is_loopback(args.ip) and not sign_in_configured(settings):
        raise ConfigError(how_to_sign_in(settings))
    recover_interrupted(settings)
    record_serve_address(settings, args.ip, args.port)  # where scheduled runs' messages link to, without a public URL
    notebooks = settings.notebooks
    sign_notebooks(notebooks)  # else Jupyter warns "not trusted" once per report at every start
    environment = {**os.environ, "ANALYTICS_DB_URL": settings.database_url, "ANALYTICS_HOME": str(settings.home)}
    command = [sys.executable, "-m", "analytics.web.app", str(notebooks), f"--port={args.port}", f"--Voila.ip={args.ip}",
               "--no-browser"]
    log.info("Serving on http://%s:%s/ — press Ctrl+C to stop (reports: %s; database: %s)", args.ip, args.port,
             notebooks, redacted(settings.database_url))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, environment)
    return 1  # not reached


def _lab(args: argparse.Namespace) -> int:
    """Become JupyterLab on notebooks/ (loopback only): the analyst's bench, with the same database as the app."""
    settings = load_settings(db_url=args.url)
    sign_notebooks(settings.notebooks)  # the reports open as trusted, not with Jupyter's warning
    environment = {**os.environ, "ANALYTICS_DB_URL": settings.database_url, "ANALYTICS_HOME": str(settings.home)}
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={settings.notebooks}", f"--port={args.port}",
               "--ServerApp.ip=127.0.0.1"] + (["--no-browser"] if args.no_browser else [])
    if os.geteuid() == 0:  # containers and CI machines run as root; Jupyter refuses that unless told
        command.append("--allow-root")
    log.info("JupyterLab on %s (database: %s); a report cell run here runs the report headless.", settings.notebooks,
             redacted(settings.database_url))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, environment)
    return 1  # not reached


def recover_interrupted(settings: Settings) -> None:
    """At the start of the app, the scheduler and ``run-job``: record the runs a killed process left unfinished
    as failed (job_runs rows for jobs, audit rows for reports), remove the hidden temporaries no live process
    writes, and make what an older version wrote world-readable the owner's only."""
    from .pipeline import recover_interrupted_reports  # noqa: PLC0415
    from .scheduler.jobs import recover_interrupted_jobs  # noqa: PLC0415

    jobs, reports = recover_interrupted_jobs(settings), recover_interrupted_reports(settings)
    if jobs or reports:
        log.info("Recorded as failed, interrupted when their process stopped: %s.",
                 ", ".join([f"job {run.job} (run {run.run_id})" for run in jobs] + [f"run {run}" for run in reports]))
    removed = sweep_temporaries(settings.reports_dir, settings.home / "secrets")
    if removed:
        log.info("Removed %s of stopped runs (%.1f MB).", counted(len(removed), "unfinished temporary file"),
                 sum(size for _, size in removed) / 1e6)
    private = [settings.reports_dir, settings.home / "secrets", settings.users_file, settings.home / ".env"]
    private += [Path(unquote(url[len("chdb://"):])) for url in {settings.database_url, settings.writer_url}
                if url.startswith("chdb://")]
    changed = owner_only(*private)
    if changed:
        log.info("Made %s readable by their owner only.", counted(len(changed), "file or folder", "files and folders"))


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


if __name__ == "__main__":
    raise SystemExit(main())
