"""What the home page shows a person: the stored headlines as tiles, grouped by who uses them.

Everything here reads files (the stored tiles, the schedules, the alert episodes); nothing queries the
warehouse, so a home-page view costs no query however many people open it (``benchmarks/home.py``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import html
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from ..catalog import AUDIENCES, ReportEntry
from ..config import Settings
from ..errors import ConfigError
from ..results import Headline
from ..scheduler.jobs import job_folder
from ..scheduler.loop import period
from ..scheduler.schedules import Schedule, load_schedules
from ..scheduler.timing import next_run
from ..words import counted
from .freshness import Freshness, judge
from .store import StoredTile, read_tiles, tiles_folder

log = logging.getLogger(__name__)

ON_CALL = "monitoring"
FAILED = ("failed", "timed_out")


def _day_link(parameters: Mapping[str, Any], headline: Headline | None, **more: Any) -> dict[str, Any]:
    """The report for the one day the figure counts (its ``data_until``), else the job's own values."""
    day = headline.data_until if headline is not None else None
    if day is None:
        return dict(parameters)
    day = day.date() if isinstance(day, dt.datetime) else day
    return {**parameters, **more, "start": day, "end": day}


# The reports whose headline is a tile, and the form values that reproduce the tile's figure in the report.
TILE_REPORTS: dict[str, Callable[[Mapping[str, Any], Headline | None], dict[str, Any]]] = {
    "account_managers/plastic_cards.ipynb": _day_link,
    "marketing/past_audiences.ipynb": lambda parameters, headline: dict(parameters),
    "analysts/ab_summary.ipynb": lambda parameters, headline: dict(parameters),
    "admin/audit_trail.ipynb": lambda parameters, headline: _day_link(parameters, headline, action="export"),
}


@dataclass(frozen=True)
class Tile:
    """One tile as the template draws it: every text already in words."""

    title: str  # the report's title: what the tile opens
    url: str
    label: str = ""
    figure: str = ""  # "1,234", "+3.1%", or "" when the figure is words only
    compared: str = ""  # "vs 1,100 same weekday last week (06.11.2026): +12%"
    text: str = ""
    sparkline: str = ""  # inline SVG markup, built here from numbers only
    freshness: str = ""
    late: bool = False
    pending: bool = False  # not computed yet
    job: str = ""
    direction: str = ""  # "up" or "down": the comparison's colour


def direction(headline: Headline) -> str:
    """Which way the figure moved against its comparison (only colour: the words say it too)."""
    if headline.value is None or headline.compared_value is None or headline.value == headline.compared_value:
        return ""
    return "up" if headline.value > headline.compared_value else "down"


@dataclass(frozen=True)
class TileGroup:
    audience: str
    tiles: list[Tile] = field(default_factory=list)


def figure(value: float | None, unit: str) -> str:
    """A figure as a person reads it: thousands separated, shares as %, never e-notation or None."""
    if value is None:
        return ""
    if unit == "%":
        return signed(f"{value:+.1%}")
    number = f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"
    return signed(f"{number} {unit}".strip())


def signed(text: str) -> str:
    """A real minus sign: a hyphen before a number reads as a dash."""
    return text.replace("-", "\u2212")


def comparison(headline: Headline) -> str:
    """"+20% vs 10 on the same weekday last week": the change worked out for the reader, first."""
    if headline.compared_value is None or headline.value is None:
        return ""
    words = f"vs {figure(headline.compared_value, headline.unit)} {headline.compared_label}".rstrip()
    if headline.unit != "%" and headline.compared_value:
        words = signed(f"{headline.value / headline.compared_value - 1:+.0%} ") + words
    return words


def sparkline(trend: Sequence[tuple[dt.date, float]], width: int = 160, height: int = 36) -> str:
    """A small trend line as inline SVG (no script, no other site: the CSP allows it as it is)."""
    if len(trend) < 2:
        return ""
    values = [value for _, value in trend]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (value - low) / span * (height - 4):.1f}"
                      for i, value in enumerate(values))
    first, last = trend[0][0], trend[-1][0]
    title = html.escape(f"Trend from {first:%d.%m.%Y} to {last:%d.%m.%Y}: lowest {figure(low, '')}, "
                        f"highest {figure(high, '')}")
    last_x, last_y = points.rsplit(" ", 1)[-1].split(",")
    return (f"<svg class='sparkline' viewBox='-3 -3 {width + 6} {height + 6}' width='{width}' height='{height}' "
            f"role='img'><title>{title}</title><polyline fill='none' stroke='currentColor' stroke-width='1.6' "
            f"points='{points}'/><circle cx='{last_x}' cy='{last_y}' r='2.6' fill='currentColor'/></svg>")


def report_url(base_url: str, notebook: str, values: Mapping[str, Any]) -> str:
    """The report's form filled with ``values``, in the format of its "Link to this form"."""
    query = urlencode({name: value.isoformat() if isinstance(value, dt.date) else value
                       for name, value in values.items() if value not in (None, "")}, doseq=True)
    url = f"{base_url.rstrip('/')}/voila/render/{quote(notebook)}"
    return f"{url}?{query}" if query else url


def _local_words(moment: dt.datetime, zone: str, now: dt.datetime) -> str:
    """A UTC moment on the schedule's wall clock: "today at 10:10", "tomorrow at 07:20" or "05.12.2026 at 10:10"."""
    local = moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(zone))
    today = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(zone)).date()
    day = {today: "today", today + dt.timedelta(days=1): "tomorrow"}.get(local.date(), f"{local:%d.%m.%Y}")
    return f"{day} at {local:%H:%M} ({zone.rsplit('/', 1)[-1].replace('_', ' ')} time)"


def allowed_age(schedule: Schedule, now: dt.datetime) -> dt.timedelta:
    """One period of the job's cron plus its grace (by default another period), as the scheduler allows."""
    gap = period(schedule, now.replace(tzinfo=dt.UTC))
    return gap + (dt.timedelta(minutes=schedule.grace_minutes) if schedule.grace_minutes is not None else gap)


def computing(folder: Path) -> bool:
    """Whether the job is running now: its run lock (:func:`analytics.scheduler.jobs.exclusive`) is held."""
    try:
        with open(folder / ".running", "rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no lock file: it never ran here
        return False
    return False


def report_tile(schedule: Schedule, entry: ReportEntry, stored: StoredTile | None, base_url: str,
                now: dt.datetime, running: bool = False) -> Tile:
    """A tile from the job's stored headline; before its first run, when it will be computed."""
    if stored is None or stored.headline is None:
        when = next_run(schedule.cron, schedule.timezone, now.replace(tzinfo=dt.UTC)).replace(tzinfo=None)
        failed = f"The last run failed ({stored.error}). " if stored is not None and stored.status in FAILED else ""
        words = ("Not computed yet — being computed now: reload the page in a minute" if running else
                 f"{failed}Not computed yet — refreshed {_local_words(when, schedule.timezone, now)}")
        return Tile(entry.title, report_url(base_url, entry.path, schedule.parameters), pending=True, job=schedule.job,
                    freshness=words)
    headline = stored.headline
    fresh: Freshness = judge(headline.data_until, stored.refreshed_at, allowed_age(schedule, now), now,
                             _local_words(stored.refreshed_at, schedule.timezone, now) if stored.refreshed_at else "")
    values = TILE_REPORTS.get(entry.path, lambda parameters, _: dict(parameters))(stored.parameters, headline)
    return Tile(entry.title, report_url(base_url, entry.path, values), headline.label,
                figure(headline.value, headline.unit), comparison(headline), headline.text, sparkline(headline.trend),
                fresh.words, fresh.late, job=schedule.job, direction=direction(headline))


def open_episodes(settings: Settings) -> list[str]:
    """Titles of the monitoring episodes still open (quiet ones on their way to resolved are left out)."""
    titles = []
    for path in sorted((settings.reports_dir / "alerts" / "episodes").glob("*.json")):
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as trouble:
            log.warning("home page: the alert state %s cannot be read and is skipped (%s)", path, trouble)
            continue
        titles += [episode.get("title", fingerprint) for check in state.values() if isinstance(check, dict)
                   for fingerprint, episode in check.items() if isinstance(episode, dict) and "quiet_since" not in episode]
    return list(dict.fromkeys(titles))  # one table's "no new data", seen by three jobs, is one open alert


def on_call_tile(settings: Settings, stored: Mapping[str, StoredTile], entry: ReportEntry, base_url: str) -> Tile:
    """Open alerts and the jobs whose last run failed, read from the alert and tile files at view time."""
    episodes = open_episodes(settings)
    failed = sorted(job for job, tile in stored.items() if tile.status in FAILED)
    jobs = (f"{counted(len(failed), 'job')} failed on the last run: {', '.join(failed)}."
            if failed else "Every scheduled job succeeded on its last run.")
    shown = "; ".join(episodes[:3]) + ("; …" if len(episodes) > 3 else "")
    return Tile(entry.title, report_url(base_url, entry.path, {}), "Open alerts", f"{len(episodes):,}",
                text=f"{shown + '. ' if shown else ''}{jobs}", freshness="Live: read from the alert files as you open the page",
                late=False, job="on_call")


def tile_schedules(settings: Settings) -> list[Schedule]:
    """The schedules whose report declares a tile; a wrong schedule file leaves the tiles out, logged. Read
    again only when a schedule file changes (parsing the YAML was most of a home-page view's time)."""
    folder = settings.schedules
    stamp = tuple((path.name, path.stat().st_mtime_ns) for path in sorted(folder.glob("*.yaml"))) \
        if folder.is_dir() else ()
    return _tile_schedules(folder, settings.notebooks, settings.users_file, stamp)


@lru_cache(maxsize=8)
def _tile_schedules(folder: Path, notebooks: Path, users_file: Path,
                    _stamp: tuple[tuple[str, int], ...]) -> list[Schedule]:
    try:
        schedules = load_schedules(folder, notebooks, users_file)
    except ConfigError as wrong:
        log.warning("home page: tiles left out: %s", wrong)
        return []
    root = notebooks.resolve()
    return [schedule for schedule in schedules if _relative(schedule.notebook, root) in TILE_REPORTS]


def _relative(notebook: Path, root: Path) -> str:
    return notebook.resolve().relative_to(root).as_posix() if root in notebook.resolve().parents else ""


def home_tiles(settings: Settings, visible: Iterable[ReportEntry], base_url: str,
               now: dt.datetime | None = None) -> list[TileGroup]:
    """The tiles of the reports ``visible`` to the person, grouped by audience in the catalog's order."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    entries = {entry.path: entry for entry in visible}
    stored = read_tiles(tiles_folder(settings))
    root = settings.notebooks.resolve()
    groups: dict[str, list[Tile]] = {title: [] for title in AUDIENCES.values()}
    for schedule in tile_schedules(settings):
        entry = entries.get(_relative(schedule.notebook, root))
        if entry is not None:
            groups.setdefault(entry.audience, []).append(report_tile(
                schedule, entry, stored.get(schedule.job), base_url, now, computing(job_folder(settings, schedule.job))))
    on_call = next((entry for path, entry in sorted(entries.items()) if path.startswith(f"{ON_CALL}/")), None)
    if on_call is not None:
        groups.setdefault(on_call.audience, []).append(on_call_tile(settings, stored, on_call, base_url))
    return [TileGroup(audience, tiles) for audience, tiles in groups.items() if tiles]


def search(entries: Sequence[ReportEntry], words: str) -> list[ReportEntry]:
    """Reports whose title or description holds every word typed (any case)."""
    wanted = words.casefold().split()
    return [entry for entry in entries
            if all(word in f"{entry.title} {entry.description}".casefold() for word in wanted)]
