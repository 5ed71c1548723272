"""Who a scheduled run is delivered to: ``deliver: {to: [account_managers, anna], slack: '#reports'}``.

Each name in ``to`` is a person of the users file or a group some person there belongs to. Every one of them
must be allowed to open the schedule's notebook (:func:`analytics.access.rules.may_open`): a schedule that
would send a report to someone who may not see it is refused when it is loaded, naming the file and the field,
rather than leaking the result at 8 a.m. (Metabase, Superset and Redash do not check this).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..access.identity import ADMIN_GROUP, Person
from ..access.rules import allowed_groups, may_open
from ..access.users import UserError, UsersFile
from ..errors import ConfigError

FIELDS = ("to", "slack")
CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{6,20})$")


class RecipientError(ConfigError):
    """A ``deliver`` field that cannot be used; ``problems`` are 'field: what to fix' lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Deliver:
    """Who receives a scheduled run: names of people or groups (``to``) and a Slack channel (``slack``)."""

    to: tuple[str, ...] = ()
    slack: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"to": list(self.to), "slack": self.slack}


def parse_deliver(raw: Any) -> Deliver:
    """The field's shape only (a list of names, a channel); who the names are is :func:`recipient_problems`."""
    if not isinstance(raw, Mapping):
        raise RecipientError(["deliver: expected 'to' and/or 'slack', like {to: [account_managers], slack: '#reports'}"])
    problems = [f"deliver: {name}: unknown field (known: {', '.join(FIELDS)})" for name in raw if name not in FIELDS]
    names = raw.get("to") or []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(name, str) and name.strip() for name in names):
        problems.append("deliver.to: a list of names of people or groups, like [account_managers, anna]")
        names = []
    channel = raw.get("slack") or ""
    if not isinstance(channel, str) or (channel and not CHANNEL.match(channel)):
        problems.append(f"deliver.slack: a channel such as '#reports' (lower case, quoted: YAML reads # as a comment) "
                        f"or a channel ID such as C0123ABCD, not {channel!r}")
        channel = ""
    if not names and not channel and not problems:
        problems.append("deliver: name who receives the result: 'to' (people or groups), 'slack' (a channel), or both")
    if problems:
        raise RecipientError(problems)
    return Deliver(tuple(dict.fromkeys(name.strip() for name in names)), channel)


def recipient_problems(deliver: Deliver, notebooks: Path, notebook: str, users_file: Path | None) -> list[str]:
    """A 'deliver.to: ...' line for each name that is nobody known or may not open ``notebook`` (relative to
    ``notebooks``); empty when everyone named may open it."""
    if not deliver.to:
        return []
    if users_file is None:
        return ["deliver.to: the users file is not known here, so the names cannot be checked"]
    try:
        users = UsersFile(users_file)
        people = {name: users.person(name) for name in users.names()}
    except UserError as error:
        return [f"deliver.to: {error}"]
    groups = {group for person in people.values() if person is not None for group in person.groups}
    report_groups = allowed_groups(notebooks, notebook)
    return [problem for name in deliver.to
            if (problem := _problem(name, people.get(name), groups, report_groups, notebooks, notebook))]


def _problem(name: str, person: Person | None, groups: set[str], report_groups: frozenset[str], notebooks: Path,
             notebook: str) -> str:
    allowed = ", ".join(sorted(report_groups)) or "administrators only"
    if person is not None:
        if may_open(person, notebooks, notebook):
            return ""
        theirs = ", ".join(sorted(person.groups)) or "none"
        return (f"deliver.to: '{name}' may not open {notebook} (their groups: {theirs}; the report is for: {allowed}); "
                "remove them or add them to one of the report's groups")
    if name in groups or name in report_groups or name == ADMIN_GROUP:
        if name in report_groups or name == ADMIN_GROUP:
            return ""
        return (f"deliver.to: the group '{name}' may not open {notebook} (the report is for: {allowed}); "
                "name one of those groups instead")
    return (f"deliver.to: '{name}' is neither a person of the users file nor a group anyone there is in; "
            "check the spelling or add them with `analytics users add`")


def may_receive(person: Person, deliver_to: tuple[str, ...] | list[str]) -> bool:
    """True when ``person`` is named in ``to``, by name or by one of their groups."""
    return person.name in deliver_to or bool(person.groups & set(deliver_to))
