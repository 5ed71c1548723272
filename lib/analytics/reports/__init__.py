"""The reports: each turns validated parameter values into one query the runtime runs and exports.

A report function takes the database and the values the form or papermill gave, refuses
values the data contradicts (an unknown partner) with a ParameterError naming the field, and
returns a :class:`ReportQuery`. SQL runs unchanged on ClickHouse 18.16 and chDB 26.x.

A report's module is imported when the report is first asked for (``from analytics.reports import
push_report``): every notebook's kernel imports this package, and loading all reports cost each one
SciPy and statsmodels it never used (the A/B summary's), about 0.6 s of CPU per kernel.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import ReportQuery, default_period
from .monitoring import monitoring  # its module has its name: bound here once, so the name is always the report

_MODULE_OF = {
    "audit_trail": "activity", "past_audiences": "audiences", "push_audience": "audiences",
    "retargeting_audience": "audiences", "export_builder": "builder", "partner_cards": "cards",
    "plastic_cards": "cards", "ab_summary": "experiments", "push_report": "pushes", "weekly_raffle": "raffle",
    "recalculate_days": "recalculation",
    "load_crm": "crm_load", "clean_contact_list": "contact_lists", "sales_funnel": "crm_funnel",
}

__all__ = ["ReportQuery", "ab_summary", "audit_trail", "clean_contact_list", "default_period", "export_builder",
           "load_crm", "monitoring", "partner_cards", "past_audiences", "plastic_cards", "push_audience",
           "push_report", "recalculate_days", "retargeting_audience", "sales_funnel", "weekly_raffle"]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    report = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = report  # asked once, then a plain attribute
    return report
