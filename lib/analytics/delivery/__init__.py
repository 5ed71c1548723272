"""Scheduled runs that reach people, and "Send to Slack" from a report page.

* :mod:`.recipients`: a schedule's ``deliver`` field (people, groups, a Slack channel), checked at load so
  nobody is sent a report they may not open;
* :mod:`.links`: the addresses a person follows (the run's page, the filled form), never a server file path;
* :mod:`.runs`: the manifest beside a scheduled run (who may open its page and files) and its page;
* :mod:`.message`: the one Slack message a run or a button sends, through the alerts' durable outbox.
"""

from __future__ import annotations

from .recipients import Deliver, RecipientError, parse_deliver

__all__ = ["Deliver", "RecipientError", "parse_deliver"]
