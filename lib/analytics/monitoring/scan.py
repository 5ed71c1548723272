"""One scan: read the series a monitoring job watches, score them, and return the episodes.

A *check* names a source of series (``series.SOURCES``), its step and its detector settings. The
scan reads enough history for the baseline plus the window being judged, cuts the period still
being filled (the latest incomplete hour or day), and keeps the episodes that touch the window.
A backtest is the same scan over a longer window: what the job would have said, day by day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ..db import Database
from ..errors import ParameterError
from .detector import DetectorSettings, Episode, Scores, episodes, period_start, score
from .series import DAY, HOUR, SOURCES, MetricFrame


@dataclass(frozen=True)
class Check:
    """A set of series and how they are judged."""

    source: str  # a key of series.SOURCES
    step: dt.timedelta
    settings: DetectorSettings  # its kind ("count", "ratio", "level") is the kind of series it watches
    max_delay: dt.timedelta | None = None  # how old its newest data may be before "no new data" (default: by step)

    @property
    def expected_delay(self) -> dt.timedelta:
        """Hourly data may be three hours late, daily data two days (yesterday's numbers land in the morning)."""
        return self.max_delay or self.step * (3 if self.step < DAY else 2)

    @property
    def name(self) -> str:
        return f"{self.source} per {'hour' if self.step == HOUR else 'day'}"

    @property
    def quiet_before_resolved(self) -> dt.timedelta:
        """Hourly series go quiet overnight (too little volume to judge): an episode is resolved only after
        as long as the detector lets such points pass without ending it. A daily one, at its first normal day."""
        return self.step * self.settings.max_unscored if self.step == HOUR else dt.timedelta(0)


CHECKS = {
    "events_hourly": Check("events", HOUR, DetectorSettings.hourly()),
    "events_daily": Check("events", DAY, DetectorSettings.daily()),
    "errors_hourly": Check("errors", HOUR, DetectorSettings.hourly()),
    "errors_daily": Check("errors", DAY, DetectorSettings.daily()),
    "conversion_daily": Check("conversion", DAY, DetectorSettings.daily(kind="ratio", min_volume=50.0, min_change=0.15)),
    "product_daily": Check("product", DAY, DetectorSettings.daily()),
}
GROUPS = {  # what a monitoring notebook offers: a group of checks
    "events": ("events_hourly", "events_daily", "errors_hourly", "errors_daily"),
    "scenarios": ("conversion_daily",),
    "product": ("product_daily",),
}


@dataclass(frozen=True)
class Scan:
    """What one check saw: its series, their scores, and the episodes touching the judged window."""

    check: Check
    frame: MetricFrame
    scores: Scores
    episodes: list[Episode]
    window_start: dt.datetime
    until: dt.datetime  # the end of the latest complete period
    newest: dt.datetime  # the newest data the source holds (or the backtest's moment)


# weeks read before the baseline's own: the growth that brings past weeks to today's level is measured on the
# week-over-week changes of the baseline's weeks, so a short window judges exactly as a long backtest does
GROWTH_WEEKS = 2
LATEST_EVENT = "SELECT max(event_time) FROM events"


def newest_data(db: Database, as_of: dt.datetime | None = None) -> dt.datetime:
    """The newest event's time (or ``as_of``): where judging ends, and how fresh the source is."""
    latest = as_of or db.scalar(LATEST_EVENT)
    if latest is None or latest.year < 2000:
        raise ParameterError("as_of", "", "a moment after the first event: the events table is empty")
    return latest


def run_check(db: Database, check: Check, *, window: dt.timedelta, as_of: dt.datetime | None = None,
              sensitivity: float = 1.0) -> Scan:
    """Score ``check``'s series up to the latest complete period; keep episodes that touch the last ``window``.

    ``sensitivity`` scales the threshold and the minimum change: 1.5 is stricter (fewer alerts), 0.7 looser.
    """
    if sensitivity <= 0:
        raise ParameterError("sensitivity", sensitivity, "a number above 0 (1 is the default)")
    settings = replace(check.settings, threshold=check.settings.threshold * sensitivity,
                       min_change=check.settings.min_change * sensitivity)
    newest = newest_data(db, as_of)
    until = period_start(newest, check.step)
    window_start = period_start(until - window, check.step)
    history = dt.timedelta(days=7) * (settings.weeks + GROWTH_WEEKS)
    frame = SOURCES[check.source](db, window_start - history, until, check.step)
    scores = score(frame.values, settings, frame.volume)
    found = episodes(scores, frame.values, frame.times, settings, frame.names)
    touching = [episode for episode in found if episode.end >= window_start]
    return Scan(check, frame, scores, touching, window_start, until, newest)


def run_checks(db: Database, names: tuple[str, ...], **options: object) -> list[Scan]:
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise ParameterError("checks", ", ".join(unknown), f"known checks: {', '.join(CHECKS)}")
    return [run_check(db, CHECKS[name], **options) for name in names]  # type: ignore[arg-type]
