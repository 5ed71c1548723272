"""The reports: each turns validated parameter values into one query the runtime runs and exports.

A report function takes the database and the values the form or papermill gave, refuses
values the data contradicts (an unknown partner) with a ParameterError naming the field, and
returns a :class:`ReportQuery`. SQL runs unchanged on ClickHouse 18.16 and chDB 26.x.
"""

from __future__ import annotations

from .activity import audit_trail
from .audiences import past_audiences, push_audience, retargeting_audience
from .base import ReportQuery, default_period
from .builder import export_builder
from .cards import partner_cards, plastic_cards
from .experiments import ab_summary
from .monitoring import monitoring
from .pushes import push_report
from .raffle import weekly_raffle
from .recalculation import recalculate_days

__all__ = ["ReportQuery", "ab_summary", "audit_trail", "default_period", "export_builder", "monitoring", "partner_cards",
           "past_audiences", "plastic_cards", "push_audience", "push_report", "recalculate_days", "retargeting_audience",
           "weekly_raffle"]
