"""Account managers' card reports: a partner's cards in the app, plastic cards issued."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..context import RunContext
from ..db import compose
from ..home.headlines import plastic_cards_headline
from ..warehouse import WAREHOUSE
from ..warehouse import columns as checked_columns
from .base import ReportQuery, biggest_partner, default_period, partner_name

CARD_LABELS = WAREHOUSE["cards"].labels
CARDS = ("card", "cards")
_LATEST_ADDED = "SELECT toDate(max(added_at)) FROM cards"


def partner_cards(ctx: RunContext, partner_id: int = 0, start: dt.date | None = None, end: dt.date | None = None,
                  columns: Sequence[str] = ("card_number", "barcode", "origin", "added_at")) -> ReportQuery:
    """Cards of one partner added to the app in a period, with the chosen columns."""
    db = ctx.db
    partner_id = partner_id or biggest_partner(db)
    name = partner_name(db, partner_id)
    start, end = default_period(db, start, end, _LATEST_ADDED)
    sql = (compose("SELECT {c} FROM cards", c=checked_columns("cards", columns))
           + " WHERE partner_id = %(partner)s AND added_at >= toDateTime(toDate(%(start)s)) "
             "AND added_at < toDateTime(toDate(%(end)s)) + 86400 ORDER BY added_at, card_id")
    return ReportQuery(
        name="partner_cards", title=f"Cards of {name} added to the app from {start:%d.%m.%Y} to {end:%d.%m.%Y}",
        sql=sql, params={"partner": partner_id, "start": start, "end": end},
        key_params={"partner": name, "from": start, "to": end}, headers=CARD_LABELS,
        effective={"start": start, "end": end}, row_noun=CARDS)


def plastic_cards(ctx: RunContext, partner_id: int = 0, start: dt.date | None = None,
                  end: dt.date | None = None) -> ReportQuery:
    """Plastic cards of one partner issued in a period, with card numbers and barcodes."""
    db = ctx.db
    partner_id = partner_id or biggest_partner(db)
    name = partner_name(db, partner_id)
    start, end = default_period(db, start, end, "SELECT toDate(max(issued_at)) FROM cards WHERE origin = 'plastic'")
    sql = ("SELECT card_number, barcode, issued_at, added_at, user_id FROM cards"
           " WHERE partner_id = %(partner)s AND origin = 'plastic' AND issued_at >= toDateTime(toDate(%(start)s))"
           " AND issued_at < toDateTime(toDate(%(end)s)) + 86400 ORDER BY issued_at, card_id")
    return ReportQuery(
        name="plastic_cards", title=f"Plastic cards of {name} issued from {start:%d.%m.%Y} to {end:%d.%m.%Y}",
        sql=sql, params={"partner": partner_id, "start": start, "end": end},
        key_params={"partner": name, "from": start, "to": end}, headers=CARD_LABELS,
        effective={"start": start, "end": end}, row_noun=CARDS,
        headline=plastic_cards_headline(db, partner_id, name, end))
