"""``schedules/*.yaml``: one job per file, checked on load with messages that name the file and the field.

    job: events_hourly                 # a unique name (letters, digits, '_' and '-')
    notebook: monitoring/events.ipynb  # under the notebooks folder
    cron: "5 * * * *"                  # minute hour day month weekday
    timezone: Europe/Moscow            # an IANA time zone; the cron reads its wall clock
    parameters: {granularity: hour}    # values for the notebook's declared parameters
    timeout_minutes: 30
    retries: 0                         # off by default
    retry_delay_minutes: 5
    alert: slack                       # slack, file or none
    deliver: {to: [account_managers], slack: '#reports'}  # who receives each successful run (optional)

A recipient named in ``deliver.to`` who may not open the notebook is refused here, with the file and the field
(:mod:`analytics.delivery.recipients`).

The parameters go through the very ``resolve`` the form uses, so a value the form would refuse is
refused here, at load time, not at 3 a.m. YAML reads no dates: ``start: 2026-11-01`` is text the form's rules
convert, and ``start: 2026-13-01`` is refused naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter

from ..delivery.recipients import Deliver, RecipientError, parse_deliver, recipient_problems
from ..errors import ConfigError
from ..params import FormInvalid, check_names, declaration, resolve

ALERTS = ("slack", "file", "none")
_JOB = re.compile(r"[A-Za-z0-9_-]{1,64}")
FIELDS = {"job", "notebook", "cron", "timezone", "parameters", "timeout_minutes", "retries", "retry_delay_minutes",
          "grace_minutes", "alert", "deliver"}


class _Loader(yaml.SafeLoader):
    """YAML's safe loader without its implicit dates: ``start: 2026-13-01`` stays the text it is, and the form's
    rules refuse it naming the field, rather than the YAML library failing to make a date of it."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class ScheduleError(ConfigError):
    """Some schedule files are wrong; ``problems`` lists each as 'file: field: what to fix'."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Some schedules cannot be used:\n" + "\n".join(f"- {problem}" for problem in problems))


@dataclass(frozen=True)
class Schedule:
    job: str
    notebook: Path
    cron: str
    timezone: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout_minutes: float = 30.0
    retries: int = 0
    retry_delay_minutes: float = 5.0
    grace_minutes: float | None = None  # None: one period of the cron expression
    alert: str = "slack"
    source: Path | None = None
    deliver: Deliver | None = None  # who receives each successful run; None: nobody but the run's page


def load_schedules(folder: Path, notebooks: Path, users_file: Path | None = None) -> list[Schedule]:
    """Every ``*.yaml`` in ``folder``, checked; ScheduleError lists every problem at once. ``users_file`` is
    where ``deliver.to`` names are looked up (a schedule naming people cannot be checked without it)."""
    problems: list[str] = []
    found: list[Schedule] = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            found.append(load_schedule(path, notebooks, users_file))
        except ScheduleError as error:
            problems += error.problems
    names: dict[str, Path] = {}
    for schedule in found:
        if schedule.job in names:
            problems.append(f"{_name(schedule.source)}: job: the name '{schedule.job}' is also used by "
                            f"{_name(names[schedule.job])}; each job needs its own name")
        names.setdefault(schedule.job, schedule.source or Path())
    if problems:
        raise ScheduleError(problems)
    return found


def load_schedule(path: Path, notebooks: Path, users_file: Path | None = None) -> Schedule:
    """One schedule file, checked."""
    where = _name(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a safe loader, dates left as text
    except UnicodeDecodeError:
        raise ScheduleError([f"{where}: not UTF-8 text; save the file as UTF-8"]) from None
    except (yaml.YAMLError, ValueError, TypeError) as error:  # an explicit !!timestamp that is no day, say
        raise ScheduleError([f"{where}: not valid YAML ({(str(error).splitlines() or [type(error).__name__])[0]})"]) \
            from None
    if not isinstance(data, Mapping):
        raise ScheduleError([f"{where}: expected fields such as job, notebook, cron, timezone"])
    problems = [f"{where}: {name}: unknown field (known: {', '.join(sorted(FIELDS))})" for name in data
                if name not in FIELDS]
    problems += [f"{where}: {name}: required" for name in ("job", "notebook", "cron", "timezone") if not data.get(name)]
    if problems:
        raise ScheduleError(problems)
    job, cron, zone, alert = str(data["job"]), str(data["cron"]).strip(), str(data["timezone"]), str(data.get("alert", "slack"))
    if not _JOB.fullmatch(job):
        problems.append(f"{where}: job: use letters, digits, '_' and '-' (at most 64), not {job!r}")
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        problems.append(f"{where}: cron: {cron!r} is not a cron expression of five fields "
                        "(minute hour day month weekday), like '5 * * * *' or '30 2 * * 1-5'")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{where}: timezone: {zone!r} is not an IANA time zone, like 'Europe/Moscow' or 'UTC'")
    if alert not in ALERTS:
        problems.append(f"{where}: alert: one of {', '.join(ALERTS)}, not {alert!r}")
    numbers = {name: _number(data, name, default, problems, where) for name, default in
               (("timeout_minutes", 30.0), ("retries", 0), ("retry_delay_minutes", 5.0), ("grace_minutes", None))}
    notebook = (notebooks / str(data["notebook"])).resolve()
    parameters = data.get("parameters") or {}
    if not notebook.is_file() or notebooks.resolve() not in notebook.parents:
        problems.append(f"{where}: notebook: there is no notebook {data['notebook']!r} in {notebooks}")
    elif not isinstance(parameters, Mapping):
        problems.append(f"{where}: parameters: expected name: value pairs")
    else:
        problems += _parameter_problems(notebook, parameters, where)
    deliver = _deliver(data, notebooks, notebook, users_file, where, problems)
    if problems:
        raise ScheduleError(problems)
    return Schedule(job, notebook, cron, zone, dict(parameters), float(numbers["timeout_minutes"]),
                    int(numbers["retries"]), float(numbers["retry_delay_minutes"]),
                    None if numbers["grace_minutes"] is None else float(numbers["grace_minutes"]), alert, path, deliver)


def _deliver(data: Mapping[str, Any], notebooks: Path, notebook: Path, users_file: Path | None, where: str,
             problems: list[str]) -> Deliver | None:
    """The ``deliver`` field, its recipients checked against the notebook's access (problems appended)."""
    if data.get("deliver") is None:
        return None
    try:
        deliver = parse_deliver(data["deliver"])
    except RecipientError as error:
        problems += [f"{where}: {problem}" for problem in error.problems]
        return None
    if notebook.is_file() and notebooks.resolve() in notebook.parents:
        relative = notebook.relative_to(notebooks.resolve()).as_posix()
        problems += [f"{where}: {problem}" for problem in recipient_problems(deliver, notebooks, relative, users_file)]
    return deliver


def _parameter_problems(notebook: Path, parameters: Mapping[str, Any], where: str) -> list[str]:
    declared = declaration(notebook)
    try:
        check_names(declared, parameters)
        resolve(declared, dict(parameters))  # the form's rules; warehouse lists are checked when the job runs
    except FormInvalid as invalid:
        return [f"{where}: parameters: {name}: {text}" for name, text in invalid.errors.items()]
    return []


def _number(data: Mapping[str, Any], name: str, default: float | None, problems: list[str], where: str) -> float | None:
    value = data.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        problems.append(f"{where}: {name}: a number of zero or more, not {value!r}")
        return default
    return value


def _name(path: Path | None) -> str:
    return path.name if path is not None else "?"
