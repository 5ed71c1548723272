"""Report queries the notebooks call. SQL runs unchanged on ClickHouse 18.16 and chDB 26.x."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .db import Database, compose
from .errors import ParameterError
from .warehouse import columns as checked_columns

CARD_COLUMNS = ("card_id", "user_id", "card_number", "barcode", "origin", "issued_at", "added_at", "deleted_at")


@dataclass(frozen=True)
class PartnerCards:
    partner_id: int
    partner_name: str
    start: dt.date
    end: dt.date
    cards: pd.DataFrame
    per_day: pd.DataFrame

    @property
    def summary(self) -> str:
        return (f"{self.partner_name}: {len(self.cards):,} cards added to the app from {self.start:%d.%m.%Y} "
                f"to {self.end:%d.%m.%Y}.")


def _date(name: str, value: str | dt.date, default: dt.date) -> dt.date:
    if value in ("", None):
        return default
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ParameterError(name, value, "a date written as YYYY-MM-DD, for example 2026-11-01") from None


def partner_cards(db: Database, partner_id: int = 0, start: str | dt.date = "", end: str | dt.date = "",
                  columns: Sequence[str] = CARD_COLUMNS) -> PartnerCards:
    """Cards of one partner added in a period (both days included).

    ``partner_id`` 0 takes the partner with the most cards; empty dates take the last 30 days of data.
    """
    latest = db.scalar("SELECT toDate(max(added_at)) FROM cards") or dt.date.today()
    end_day = _date("end", end, latest)
    start_day = _date("start", start, end_day - dt.timedelta(days=29))
    if start_day > end_day:
        raise ParameterError("start", start_day.isoformat(), f"a day on or before the end ({end_day.isoformat()})")
    if not partner_id:
        partner_id = int(db.scalar("SELECT partner_id FROM cards GROUP BY partner_id ORDER BY count() DESC LIMIT 1"))
    name = db.scalar("SELECT name FROM partners WHERE partner_id = %(p)s", {"p": int(partner_id)})
    if name is None:
        raise ParameterError("partner_id", partner_id, "the number of a partner that exists")
    period = {"p": int(partner_id), "start": start_day, "end": end_day}
    where = " FROM cards WHERE partner_id = %(p)s AND toDate(added_at) BETWEEN %(start)s AND %(end)s"
    cards = db.query(compose("SELECT {c}", c=checked_columns("cards", columns)) + where + " ORDER BY added_at", period)
    per_day = db.query("SELECT toDate(added_at) AS day, count() AS cards, countIf(origin = 'plastic') AS plastic"
                       + where + " GROUP BY day ORDER BY day", period)
    return PartnerCards(int(partner_id), name, start_day, end_day, cards, per_day)
